// LoadYamlDocuments, and the parsers that use it, on the inputs with which
// fuzz/spec_fuzz and fuzz/mltable_fuzz made yaml-cpp 0.7's LoadAll loop
// without end (allocating a null document each time): each is now an error
// that says where.
#include "plan/yaml_documents.h"

#include <catch2/catch.hpp>

#include <string>

#include "parallelrun/spec.h"
#include "plan/mltable.h"

namespace parallelrun {
namespace {

TEST_CASE("yaml_documents: what LoadAll reads, as LoadAll reads it", "[yaml_documents]") {
  CHECK(LoadYamlDocuments("").empty());
  auto one = LoadYamlDocuments("a: 1\n");
  REQUIRE(one.size() == 1);
  CHECK(one[0]["a"].as<int>() == 1);
  auto three = LoadYamlDocuments("a: 1\n---\nb: 2\n---\n- x\n");
  REQUIRE(three.size() == 3);
  CHECK(three[2][0].as<std::string>() == "x");
  CHECK(LoadYamlDocuments("---\n---\n").size() == 2);
  CHECK_THROWS_AS(LoadYamlDocuments("a: [1, 2\n"), YAML::ParserException);
}

TEST_CASE("yaml_documents: a document the parser cannot start is an error, not a loop",
          "[yaml_documents]") {
  for (const std::string& text : {std::string(",&\xff"), std::string(" ,ta:an\n"),
                                 std::string(","), std::string("a: 1\n---\n,\n")}) {
    INFO(text);
    try {
      LoadYamlDocuments(text);
      FAIL("no exception");
    } catch (const YAML::ParserException& e) {
      CHECK(e.msg == "',' is not where a YAML value can start");
      CHECK(e.mark.pos == static_cast<int>(text.find(',')));
    }
  }
}

TEST_CASE("yaml_documents: the spec and MLTable parsers refuse such a file with its place",
          "[yaml_documents]") {
  auto spec = ParseSpecText(",&\xff", "/jobs/spec.yaml");
  REQUIRE(!spec.ok());
  CHECK(spec.status().message().rfind("/jobs/spec.yaml:1:1: ", 0) == 0);
  CHECK(spec.status().message().find("',' is not where a YAML value can start") !=
        std::string::npos);
  auto table = ParseMLTable(" ,ta:an\n", "/data/MLTable");
  REQUIRE(!table.ok());
  CHECK(table.status().message().rfind("/data/MLTable:1:2: ", 0) == 0);
}

// Found by the fuzzers as well: text that is not UTF-8 where the parsers
// make JSON of it threw out of the parser and ended the process.
TEST_CASE("yaml_documents: partition keys that are not UTF-8 are refused where they are",
          "[yaml_documents]") {
  auto spec = ParseSpecText(
      "{type: parallel, inputs: {d: {type: uri_file}}, input_data: \"${{inputs.d}}\", "
      "partition_keys: [\"u\xff\"], task: {entry_script: score.py}}",
      "/jobs/spec.yaml");
  REQUIRE(!spec.ok());
  CHECK(spec.status().message().rfind(
            "/jobs/spec.yaml:1:94: partition_keys holds a key that is not UTF-8 text", 0) == 0);
}

}  // namespace
}  // namespace parallelrun
