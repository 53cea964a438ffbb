#include "plan/yaml_overrides.h"

#include <catch2/catch.hpp>

#include "parallelrun/spec.h"
#include "temp_dir.h"

namespace parallelrun {
namespace {

YAML::Node Apply(const std::string& yaml, const std::vector<std::string>& sets, Status* status) {
  YAML::Node root = YAML::Load(yaml);
  std::vector<YamlOverride> overrides;
  for (const auto& s : sets) {
    auto o = ParseYamlOverride(s);
    REQUIRE(o.ok());
    overrides.push_back(o.value());
  }
  *status = ApplyYamlOverrides(root, overrides);
  return root;
}

TEST_CASE("ParseYamlOverride splits at the first '='") {
  auto o = ParseYamlOverride("program_arguments=--a=1 --b");
  REQUIRE(o.ok());
  CHECK(o.value().first == "program_arguments");
  CHECK(o.value().second == "--a=1 --b");
  CHECK(!ParseYamlOverride("mini_batch_size").ok());
  CHECK(!ParseYamlOverride("=3").ok());
  CHECK(!ParseYamlOverride("jobs..x=3").ok());
}

TEST_CASE("ApplyYamlOverrides sets, creates and indexes") {
  Status s;
  YAML::Node n = Apply("a: 1\njobs:\n  score:\n    mini_batch_size: 10\nlist: [x, y]\n",
                       {"jobs.score.mini_batch_size=20", "inputs.data.mode=direct", "list.1=z",
                        "a=[p, q]"},
                       &s);
  REQUIRE(s.ok());
  CHECK(n["jobs"]["score"]["mini_batch_size"].as<int>() == 20);
  CHECK(n["inputs"]["data"]["mode"].as<std::string>() == "direct");
  CHECK(n["list"][1].as<std::string>() == "z");
  CHECK(n["a"].IsSequence());
  CHECK(n["a"].size() == 2);
}

TEST_CASE("ApplyYamlOverrides refuses paths through scalars and bad indexes") {
  Status s;
  Apply("a: 1\n", {"a.b=2"}, &s);
  CHECK(s.code() == Status::Code::kUsage);
  CHECK(s.message().find("'a' is a scalar") != std::string::npos);
  Apply("l: [1]\n", {"l.3=2"}, &s);
  CHECK(s.message().find("not an index") != std::string::npos);
}

TEST_CASE("run --set: values are read as if written in the spec") {
  TempDir dir("yaml_overrides_test");
  dir.Write("score.py", "def run(mini_batch):\n    return mini_batch\n");
  const std::string spec_path = dir.Write(
      "spec.yml",
      "type: parallel\n"
      "inputs:\n  data:\n    type: uri_folder\n"
      "input_data: ${{inputs.data}}\n"
      "mini_batch_size: 10\n"
      "task:\n  type: run_function\n  code: .\n  entry_script: score.py\n");
  auto plain = ParseSpecFile(spec_path);
  REQUIRE(plain.ok());
  CHECK(plain.value().settings.at("mini_batch_size").value == "10");
  auto set = ParseSpecFile(spec_path, {{"mini_batch_size", "20"}, {"inputs.data.mode", "direct"}});
  REQUIRE(set.ok());
  CHECK(set.value().settings.at("mini_batch_size").value == "20");
  CHECK(set.value().FindInput("data")->mode == "direct");
  auto typo = ParseSpecFile(spec_path, {{"mini_batch_sise", "20"}});
  REQUIRE(!typo.ok());
  CHECK(typo.status().message().find("did you mean 'mini_batch_size'") != std::string::npos);
}

}  // namespace
}  // namespace parallelrun
