// A spec that is not a file of its own but a node of a larger YAML document:
// a pipeline's inline `type: parallel` job. Parsed by the spec parser with
// the document's text and path, so that every error points into the
// pipeline file at the job's own lines.
#ifndef PARALLELRUN_PLAN_SPEC_NODE_H_
#define PARALLELRUN_PLAN_SPEC_NODE_H_

#include <string>

#include <yaml-cpp/yaml.h>

#include "parallelrun/spec.h"
#include "parallelrun/status.h"

namespace parallelrun {

// Parses `node` (a mapping) as a v2 parallel or ParallelComponent spec.
// `text` and `path` are the whole document's (relative paths are anchored
// at its folder); `what` names the node where messages would say "the spec"
// ("job score"); `overridden` says --set changed the document, so that a
// node without a place in the file is said to come from --set. Errors as
// ParseSpecText's.
Result<Spec> ParseSpecNode(const YAML::Node& node, const std::string& text, const std::string& path,
                           const std::string& what, bool overridden);

}  // namespace parallelrun

#endif  // PARALLELRUN_PLAN_SPEC_NODE_H_
