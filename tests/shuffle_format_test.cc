#include "data/shuffle_format.h"

#include <catch2/catch.hpp>
#include <string>

#include "base/wire.h"

namespace parallelrun {
namespace {

TEST_CASE("shuffle_format: a good line parses", "[shuffle_format]") {
  auto r = ParseShuffleLine(
      R"({"range": 7, "groups": [{"key_values": [["store", "1"], ["brand", "x"]],)"
      R"( "path": "/rows/ab/7.pkl", "rows": 40, "extra": true},)"
      R"( {"key_values": [], "path": "/rows/cd/7.pkl", "rows": 0}]})");
  REQUIRE(r.ok());
  CHECK(r->range == 7);
  REQUIRE(r->groups.size() == 2);
  CHECK(r->groups[0].key_values ==
        std::vector<std::pair<std::string, std::string>>{{"store", "1"}, {"brand", "x"}});
  CHECK(r->groups[0].path == "/rows/ab/7.pkl");
  CHECK(r->groups[0].rows == 40);
  CHECK(r->groups[1].key_values.empty());

  auto empty = ParseShuffleLine(R"({"range": 0, "groups": []})");
  REQUIRE(empty.ok());
  CHECK(empty->groups.empty());
}

TEST_CASE("shuffle_format: each malformed shape is an error saying what", "[shuffle_format]") {
  struct Case {
    const char* line;
    const char* error;
  } cases[] = {
      {"", "an empty line"},
      {"{\"range\": 1, \"gro", "not JSON: {\"range\": 1, \"gro"},
      {"Traceback (most recent call last):", "not JSON: Traceback (most recent call last):"},
      {"[1, 2]", "not a JSON object"},
      {R"({"groups": []})", "no \"range\""},
      {R"({"range": -1, "groups": []})", "\"range\" is not an unsigned integer"},
      {R"({"range": "3", "groups": []})", "\"range\" is not an unsigned integer"},
      {R"({"range": 1.5, "groups": []})", "\"range\" is not an unsigned integer"},
      {R"({"range": 1})", "no \"groups\""},
      {R"({"range": 1, "groups": {}})", "\"groups\" is not an array"},
      {R"({"range": 1, "groups": [3]})", "groups[0] is not an object"},
      {R"({"range": 1, "groups": [{"path": "p", "rows": 1}]})",
       "groups[0].key_values is missing or not an array"},
      {R"({"range": 1, "groups": [{"key_values": [["a"]], "path": "p", "rows": 1}]})",
       "groups[0].key_values[0] is not a [key, value] pair of strings"},
      {R"({"range": 1, "groups": [{"key_values": [["a", 1]], "path": "p", "rows": 1}]})",
       "groups[0].key_values[0] is not a [key, value] pair of strings"},
      {R"({"range": 1, "groups": [{"key_values": [], "rows": 1}]})",
       "groups[0].path is missing or not a non-empty string"},
      {R"({"range": 1, "groups": [{"key_values": [], "path": "", "rows": 1}]})",
       "groups[0].path is missing or not a non-empty string"},
      {R"({"range": 1, "groups": [{"key_values": [], "path": "p", "rows": 1},)"
       R"( {"key_values": [], "path": "p"}]})",
       "groups[1].rows is missing or not an unsigned integer"},
      {R"({"range": 1, "groups": [{"key_values": [], "path": "p", "rows": -2}]})",
       "groups[0].rows is missing or not an unsigned integer"},
  };
  for (const auto& c : cases) {
    INFO(c.line);
    auto r = ParseShuffleLine(c.line);
    REQUIRE(!r.ok());
    CHECK(r.status().message() == c.error);
  }
}

TEST_CASE("shuffle_format: a ranges record is u64 index, u32 length, the range",
          "[shuffle_format]") {
  TableRange range;
  range.path = "/data/a.csv";
  range.length = 10;
  std::string data;
  AppendShuffleRange(3, range, &data);
  AppendShuffleRange(5, range, &data);
  std::string encoded = EncodeTableRange(range);
  WireWriter w;
  w.U64(3);
  w.U32(static_cast<uint32_t>(encoded.size()));
  std::string one = w.Take() + encoded;
  REQUIRE(data.size() == 2 * one.size());
  CHECK(data.substr(0, one.size()) == one);
  CHECK(data.substr(0, 8) == std::string("\x03\0\0\0\0\0\0\0", 8));
  CHECK(data.substr(one.size(), 8) == std::string("\x05\0\0\0\0\0\0\0", 8));
}

TEST_CASE("shuffle_format: the command line", "[shuffle_format]") {
  CHECK(ShuffleCommandArgs("/j/ranges-0.bin", "/j/rows", {"store", "brand"}, "/j/wt.py") ==
        std::vector<std::string>{"shuffle", "/j/ranges-0.bin", "/j/rows", R"(["store","brand"])",
                                 "/j/wt.py"});
}

}  // namespace
}  // namespace parallelrun
