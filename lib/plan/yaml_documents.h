// LoadYamlDocuments: yaml-cpp's LoadAll, without its endless loop. Debian's
// yaml-cpp 0.7 reads a document that starts with a token no value can start
// with (a "," at the top, as in ",&\xff" or " ,a:b") again and again, each
// time as one more null document, until memory runs out (jbeder/yaml-cpp
// #1040, fixed upstream after 0.8). fuzz/spec_fuzz found it: a spec or an
// MLTable file of three bytes could hang parallelrun.
#ifndef PARALLELRUN_PLAN_YAML_DOCUMENTS_H_
#define PARALLELRUN_PLAN_YAML_DOCUMENTS_H_

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace parallelrun {

// The documents of `text`, as YAML::LoadAll returns them. Throws what
// LoadAll throws (YAML::ParserException with the place), and a
// YAML::ParserException at the token where the parser stops moving ("… is
// not where a YAML value can start") instead of looping.
std::vector<YAML::Node> LoadYamlDocuments(const std::string& text);

}  // namespace parallelrun

#endif  // PARALLELRUN_PLAN_YAML_DOCUMENTS_H_
