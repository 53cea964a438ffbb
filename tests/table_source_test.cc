#include "data/table_source.h"
#include "source_waiter.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace parallelrun {
namespace {

namespace fs = std::filesystem;

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
  REQUIRE(out.good());
}

TEST_CASE("table_source: a folder of mixed tables", "[table_source]") {
  TempDir dir("table_source_test");
  std::string root = dir.path() + "/tables";
  fs::create_directories(root + "/country=US/state=CA");
  fs::create_directories(root + "/country=FR/state=IDF");
  WriteFile(root + "/README.md", "not data\n");
  WriteFile(root + "/country=FR/state=IDF/a.tsv", "x\ty\n1\t2\n");
  WriteFile(root + "/country=US/state=CA/b.csv", "x,y\n1,2\n3,4\n5,6\n");
  WriteFile(root + "/country=US/state=CA/c.jsonl", "{\"x\": 1}\n{\"x\": 2}\n");
  WriteFile(root + "/country=US/state=CA/empty.csv", "");

  TableInput input;
  input.name = "tables";
  input.root = root;
  input.paths = {{TablePath::Kind::kFolder, root}};
  input.partition_format = PartitionFormat::Parse("country={country}/state={state}").value();
  Waiter waiter;
  TableSource::Options options;
  options.mini_batch_size = 4;
  TableSource source(input, options, waiter.Callback());
  std::vector<TableRange> ranges;
  waiter.Drain(source, &ranges);
  CHECK(source.errors().empty());
  CHECK(source.skipped_files() == 1);  // README.md
  CHECK(source.files_done() == 5);
  REQUIRE(ranges.size() == 1 + 3 + 2);
  CHECK(ranges[0].path == root + "/country=FR/state=IDF/a.tsv");
  CHECK(ranges[0].options.delimiter == "\t");
  CHECK(ranges[0].header == "x\ty");
  REQUIRE(ranges[0].path_columns.size() == 2);
  CHECK(ranges[0].path_columns[0].name == "country");
  CHECK(ranges[0].path_columns[0].value == "FR");
  CHECK(ranges[0].path_columns[1].value == "IDF");
  CHECK(ranges[1].path == root + "/country=US/state=CA/b.csv");
  CHECK(ranges[1].path_columns[0].value == "US");
  CHECK(ranges[4].options.format == TableFormat::kJsonLines);
  CHECK(ranges[5].offset == 9);
}

TEST_CASE("table_source: from_first_file carries the first header on", "[table_source]") {
  TempDir dir("table_source_test");
  WriteFile(dir.path() + "/1.csv", "a,b\n1,2\n");
  WriteFile(dir.path() + "/2.csv", "3,4\n");
  TableInput input;
  input.root = dir.path();
  input.paths = {{TablePath::Kind::kFolder, dir.path()}};
  TableReadOptions read;
  read.header = HeaderMode::kFromFirstFile;
  input.read = read;
  Waiter waiter;
  TableSource source(input, TableSource::Options(), waiter.Callback());
  std::vector<TableRange> ranges;
  waiter.Drain(source, &ranges);
  REQUIRE(ranges.size() == 2);
  CHECK(ranges[0].offset == 4);
  CHECK(ranges[1].offset == 0);
  CHECK(ranges[1].has_header);
  CHECK(ranges[1].header == "a,b");
}

TEST_CASE("table_source: the buffer bounds what is read ahead", "[table_source]") {
  TempDir dir("table_source_test");
  std::string data = "h\n";
  for (int i = 0; i < 2000; i++) data += "r\n";
  WriteFile(dir.path() + "/big.csv", data);
  TableInput input;
  input.root = dir.path();
  input.paths = {{TablePath::Kind::kFolder, dir.path()}};
  TableSource::Options options;
  options.mini_batch_size = 2;
  options.max_buffered = 10;
  Waiter waiter;
  {
    // Destroyed while the helper waits on a full buffer: must not hang.
    TableSource stopped(input, options, waiter.Callback());
  }
  TableSource source(input, options, waiter.Callback());
  std::vector<TableRange> ranges;
  waiter.Drain(source, &ranges);
  CHECK(ranges.size() == 2000);
}

}  // namespace
}  // namespace parallelrun
