#include "data/table_rows.h"
#include "data/table_source.h"
#include "source_waiter.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

namespace parallelrun {
namespace {

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
  REQUIRE(out.good());
}

TEST_CASE("table_rows: delimited records as pandas reads them", "[table_rows]") {
  CHECK(CountDelimitedRecords("", ',') == 0);
  CHECK(CountDelimitedRecords("1,2\n3,4\n", ',') == 2);
  CHECK(CountDelimitedRecords("1,2\n\n  \n3,4", ',') == 2);  // blank lines are not rows
  CHECK(CountDelimitedRecords("1,\"a\nb\"\r\n2,\"c \"\"q\"\"\"\r\n", ',') == 2);
  CHECK(CountDelimitedRecords("1\r2\r3\r", ',') == 3);
  // A broken quote: every non-blank line, as the worker counts it.
  CHECK(CountDelimitedRecords("1,\"a\n2,b\n", ',') == 2);
}

// The rows of `ranges` that skip/take keep, as "file:row" of the file's rows.
std::vector<std::string> Kept(const std::vector<TableRange>& ranges,
                              const std::vector<uint64_t>& first_rows_of_range) {
  std::vector<std::string> out;
  for (size_t i = 0; i < ranges.size(); i++) {
    const TableRange& r = ranges[i];
    uint64_t n = CountRangeRows(r).value();
    uint64_t end = std::min<uint64_t>(r.keep_end, n);
    for (uint64_t k = r.keep_begin; k < end; k++) {
      out.push_back(r.path.substr(r.path.rfind('/') + 1) + ":" +
                    std::to_string(first_rows_of_range[i] + k));
    }
  }
  return out;
}

TEST_CASE("table_rows: skip and take cut the ranges of the whole table", "[table_rows]") {
  TempDir dir("table_rows_test");
  std::string root = dir.path();
  std::string a = "id\n", b = "id\n";
  for (int i = 0; i < 10; i++) a += std::to_string(i) + "\n";
  for (int i = 0; i < 10; i++) b += std::to_string(10 + i) + "\n";
  WriteFile(root + "/a.csv", a);
  WriteFile(root + "/b.csv", b);
  WriteFile(root + "/c.csv", "id\n99\n");

  TableInput input;
  input.name = "t";
  input.root = root;
  input.paths = {{TablePath::Kind::kFile, root + "/a.csv"}, {TablePath::Kind::kFile, root + "/b.csv"},
                 {TablePath::Kind::kFile, root + "/c.csv"}};
  input.read = TableReadOptions();
  input.skip_rows = 7;
  input.take_rows = 6;  // rows 7..12: a.csv 7-9, b.csv 0-2
  Waiter waiter;
  TableSource::Options options;
  options.mini_batch_size = 4;  // two records a range
  TableSource source(input, options, waiter.Callback());
  std::vector<TableRange> ranges;
  waiter.Drain(source, &ranges);
  CHECK(source.errors().empty());
  // Each range's first row within its file, from its byte offset (after the
  // 3-byte header, a.csv's rows are 2 bytes long, b.csv's 3).
  std::vector<uint64_t> first;
  for (const auto& r : ranges) first.push_back((r.offset - 3) / (r.path == root + "/a.csv" ? 2 : 3));
  CHECK(Kept(ranges, first) ==
        std::vector<std::string>{"a.csv:7", "a.csv:8", "a.csv:9", "b.csv:0", "b.csv:1", "b.csv:2"});
  // Ranges before the skip are dropped, and nothing after the take is cut.
  CHECK(ranges.front().path == root + "/a.csv");
  CHECK(ranges.back().path == root + "/b.csv");
  CHECK(source.SkipWarnings("t").empty());
}

TEST_CASE("table_rows: a range whose rows cannot be counted stops the input", "[table_rows]") {
  TableRange r;
  r.path = "/x.jsonl";
  r.options.format = TableFormat::kJsonLines;
  r.options.invalid_lines = "drop";
  Result<uint64_t> n = CountRangeRows(r);
  REQUIRE(!n.ok());
  CHECK(n.status().message() ==
        "/x.jsonl: the MLTable's skip/take cannot count this file's rows before reading it "
        "(invalid_lines: drop leaves out lines only a JSON parser finds)");
}

}  // namespace
}  // namespace parallelrun
