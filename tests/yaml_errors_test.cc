// ParseSpecText on YAML with the mistakes people make: the error points at
// the line that is wrong and says what was expected.
#include "plan/yaml_errors.h"

#include <catch2/catch.hpp>

#include "parallelrun/spec.h"
#include "temp_dir.h"

namespace parallelrun {
namespace {

std::string ErrorOf(const std::string& text) {
  auto spec = ParseSpecText(text, "c.yaml");
  REQUIRE_FALSE(spec.ok());
  return spec.status().message();
}

const char* kHead = "name: x\nversion: 1\ntype: ParallelComponent\n";

TEST_CASE("YAML errors: a line indented to no key's level", "[yaml]") {
  CHECK(ErrorOf(std::string(kHead) + "inputs:\n  data:\n    type: path\n   optional: true\n") ==
        "c.yaml:7:4: this line is indented 3 spaces, which matches no key above it; indent it "
        "like 'type:' (4 spaces) or 'data:' (2 spaces)\n"
        "     optional: true\n"
        "     ^");
}

TEST_CASE("YAML errors: a key that lost its colon is the line named, not the next", "[yaml]") {
  CHECK(ErrorOf(std::string(kHead) + "inputs:\n  data:\n    type: path\noutputs\n  out: {type: path}\n") ==
        "c.yaml:7:8: 'outputs' needs a colon to be a key: 'outputs:'\n"
        "  outputs\n"
        "         ^");
}

TEST_CASE("YAML errors: a key indented under a key whose value is given", "[yaml]") {
  CHECK(ErrorOf(std::string(kHead) + "inputs:\n  data:\n    type: path\n      optional: true\n") ==
        "c.yaml:7:7: this line is indented more than 'type:' above it, whose value is already "
        "given; to make 'optional' a key beside it, indent it 4 spaces like 'type:'\n"
        "        optional: true\n"
        "        ^");
}

TEST_CASE("YAML errors: tabs, unclosed lists, list items among keys", "[yaml]") {
  CHECK(ErrorOf("name: x\ninputs:\n\tdata: 1\n") ==
        "c.yaml:3:1: a tab in the indentation: YAML indents with spaces only\n"
        "  \tdata: 1\n"
        "  ^");
  CHECK(ErrorOf("name: x\nargs: [a, b\nversion: 1\n") ==
        "c.yaml:2:7: this '[' is not closed: end the list with ']' on the same line, or write "
        "one '- item' per line\n"
        "  args: [a, b\n"
        "        ^");
  CHECK(ErrorOf("parallel:\n  input_data: inputs.data\n  - entry: x\n") ==
        "c.yaml:3:3: a list item ('- …') among keys: a mapping's entries are either all "
        "'key: value' or all '- item'\n"
        "    - entry: x\n"
        "    ^");
}

TEST_CASE("YAML errors: what is not recognized keeps yaml-cpp's words", "[yaml]") {
  YamlErrorPlace p = ExplainYamlError("a: b\n", 0, 3, "unknown token");
  CHECK(p.line == 0);
  CHECK(p.column == 3);
  CHECK(p.message == "invalid YAML: unknown token");
}

TEST_CASE("v2 spec: a v1 placeholder in program_arguments is a warning", "[yaml][spec]") {
  CHECK(V1PlaceholdersInV2("--out {outputs.result} --in ${{inputs.data}} --lit {{x}} {y}") ==
        std::vector<std::string>{"{outputs.result}"});
  CHECK(V1PlaceholdersInV2("--a {inputs.a} --b {inputs.b}") ==
        std::vector<std::string>{"{inputs.a}", "{inputs.b}"});
  TempDir tmp("yaml_errors_test");
  std::ofstream(tmp.path() + "/score.py") << "def run(mini_batch):\n    return mini_batch\n";
  const std::string path = tmp.path() + "/v.yaml";
  std::ofstream(path)
      << "type: parallel\nname: v\nversion: 1\ninputs:\n  data:\n    type: uri_folder\n"
         "outputs:\n  result:\n    type: uri_folder\ninput_data: ${{inputs.data}}\ntask:\n"
         "  type: run_function\n  entry_script: score.py\n"
         "  program_arguments: --out {outputs.result}\n";
  auto spec = ParseSpecFile(path);
  REQUIRE(spec.ok());
  CHECK(spec->warnings == std::vector<std::string>{
            path + ":14:22: warning: program_arguments has {outputs.result}, the v1 spelling, "
            "which a v2 spec passes to the entry script as literal text; write "
            "${{outputs.result}}"});
}

}  // namespace
}  // namespace parallelrun
