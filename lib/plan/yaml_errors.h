// YamlErrors: yaml-cpp's syntax errors in a person's words, at the line that
// is wrong. yaml-cpp says "end of map not found" or "illegal map value" and
// marks where its parser gave up, which for a key without its colon is the
// line after the mistake. This looks at the lines around that mark and names
// the mistake that is most likely: a tab in the indentation, a line indented
// to no key's level, a line indented under a key whose value is already
// given, a key without a colon, a list item among keys, an unclosed [ or {.
#ifndef PARALLELRUN_PLAN_YAML_ERRORS_H_
#define PARALLELRUN_PLAN_YAML_ERRORS_H_

#include <string>

namespace parallelrun {

struct YamlErrorPlace {
  int line = 0;    // 0-based, as yaml-cpp's Mark
  int column = 0;  // 0-based
  std::string message;
};

// `text` is the whole document; `line`, `column` and `message` are what
// yaml-cpp threw (a null mark is -1). Returns where to point and what to say;
// a mistake it does not recognize keeps yaml-cpp's place and words, after
// "invalid YAML: ".
YamlErrorPlace ExplainYamlError(const std::string& text, int line, int column,
                                const std::string& message);

}  // namespace parallelrun

#endif  // PARALLELRUN_PLAN_YAML_ERRORS_H_
