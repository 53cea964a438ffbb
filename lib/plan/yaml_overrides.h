// `--set PATH=VALUE`, as `az ml job create --set` takes it: a value put into
// the YAML document before it is read, so that an override is checked
// exactly as if it had been written in the file. PATH is dotted keys
// (`jobs.score.mini_batch_size`, `inputs.data.mode`); a number indexes a
// list. VALUE is read as YAML (`20`, `true`, `[a, b]`), or as text when it
// does not parse.
#ifndef PARALLELRUN_PLAN_YAML_OVERRIDES_H_
#define PARALLELRUN_PLAN_YAML_OVERRIDES_H_

#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "parallelrun/status.h"

namespace parallelrun {

// One `--set` as given: the dotted path and the value's text.
using YamlOverride = std::pair<std::string, std::string>;

// Splits "PATH=VALUE". Errors (Usage) name the text: no '=', an empty path
// or an empty key ("a..b").
Result<YamlOverride> ParseYamlOverride(const std::string& text);

// Applies `overrides` in order to `root` (a mapping). Keys that are missing
// are created as mappings; a path through a scalar, or a list index out of
// range, is a Usage error "--set PATH=VALUE: 'KEY' is a … in the file".
Status ApplyYamlOverrides(YAML::Node root, const std::vector<YamlOverride>& overrides);

}  // namespace parallelrun

#endif  // PARALLELRUN_PLAN_YAML_OVERRIDES_H_
