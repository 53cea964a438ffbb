#include "plan/mltable.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace parallelrun {
namespace {

namespace fs = std::filesystem;

const std::string kFile = "/data/iris/MLTable";

MLTable Parse(const std::string& text) {
  Result<MLTable> t = ParseMLTable(text, kFile);
  INFO(t.status().message());
  REQUIRE(t.ok());
  return std::move(t).value();
}

std::string Error(const std::string& text) {
  Result<MLTable> t = ParseMLTable(text, kFile);
  REQUIRE(!t.ok());
  return t.status().message();
}

TEST_CASE("mltable: a delimited table with every option", "[mltable]") {
  MLTable t = Parse(R"(
$schema: https://azuremlschemas.azureedge.net/latest/MLTable.schema.json
type: mltable
paths:
  - file: ./iris.csv
  - folder: more
  - pattern: ./parts/**/*.csv
  - file: /abs/x.csv
  - file: file:///abs/y.csv
transformations:
  - read_delimited:
      delimiter: ';'
      encoding: latin1
      header: from_first_file
      include_path_column: true
      path_column: source
      empty_as_string: true
      support_multi_line: true
      infer_column_types: true
traits:
  index_columns: [id]
)");
  CHECK(t.file == kFile);
  CHECK(t.folder == "/data/iris");
  REQUIRE(t.paths.size() == 5);
  CHECK(t.paths[0].kind == TablePath::Kind::kFile);
  CHECK(t.paths[0].value == "/data/iris/iris.csv");
  CHECK(t.paths[1].kind == TablePath::Kind::kFolder);
  CHECK(t.paths[1].value == "/data/iris/more");
  CHECK(t.paths[2].kind == TablePath::Kind::kPattern);
  CHECK(t.paths[2].value == "/data/iris/parts/**/*.csv");
  CHECK(t.paths[3].value == "/abs/x.csv");
  CHECK(t.paths[4].value == "/abs/y.csv");
  REQUIRE(t.tabular());
  CHECK(t.read->format == TableFormat::kDelimited);
  CHECK(t.read->delimiter == ";");
  CHECK(t.read->encoding == "latin1");
  CHECK(t.read->header == HeaderMode::kFromFirstFile);
  CHECK(t.read->include_path_column);
  CHECK(t.read->path_column == "source");
  CHECK(t.read->empty_as_string);
  CHECK(t.read->support_multi_line);
  CHECK(!t.partition_format);
  TableInput in = t.ToTableInput("iris");
  CHECK(in.name == "iris");
  CHECK(in.root == "/data/iris");
  CHECK(in.paths.size() == 5);
  CHECK(in.read->delimiter == ";");
}

TEST_CASE("mltable: defaults, JSON Lines and Parquet", "[mltable]") {
  MLTable t = Parse("paths:\n  - folder: .\ntransformations:\n  - read_delimited\n");
  CHECK(t.paths[0].value == "/data/iris");
  CHECK(t.read->delimiter == ",");
  CHECK(t.read->header == HeaderMode::kAllFilesSameHeaders);
  CHECK(t.read->encoding == "utf8");
  CHECK(!t.read->include_path_column);

  t = Parse("paths:\n  - folder: logs\ntransformations:\n  - read_json_lines:\n"
            "      encoding: utf8\n      invalid_lines: drop\n      include_path_column: yes\n");
  CHECK(t.read->format == TableFormat::kJsonLines);
  CHECK(t.read->invalid_lines == "drop");
  CHECK(t.read->include_path_column);

  t = Parse("paths:\n  - pattern: ./*.parquet\ntransformations:\n  - read_parquet:\n"
            "      include_path_column: false\n");
  CHECK(t.read->format == TableFormat::kParquet);
}

TEST_CASE("mltable: a file list has no read transformation", "[mltable]") {
  MLTable t = Parse("type: mltable\npaths:\n  - pattern: ./images/*.png\n");
  CHECK(!t.tabular());
  REQUIRE(t.paths.size() == 1);
  CHECK(t.paths[0].value == "/data/iris/images/*.png");
}

TEST_CASE("mltable: partition formats in each of their spellings", "[mltable]") {
  const char* forms[] = {
      "  - extract_columns_from_partition_format: '{Store}/{Brand}/*.csv'\n",
      "  - extract_columns_from_partition_format:\n      partition_format: '{Store}/{Brand}/*.csv'\n",
      "  - extract_columns_from_partition_format: {partition_format: '{Store}/{Brand}/*.csv', "
      "path_column: Path}\n",
  };
  for (const char* form : forms) {
    MLTable t = Parse(std::string("paths:\n  - folder: oj\ntransformations:\n  - read_delimited:\n"
                                  "      header: all_files_same_headers\n") + form);
    REQUIRE(t.partition_format);
    CHECK(t.partition_format->keys() == std::vector<std::string>{"Store", "Brand"});
    CHECK(t.ToTableInput("oj").partition_format->text() == "{Store}/{Brand}/*.csv");
  }
  // The documented unquoted form is a YAML flow mapping.
  MLTable t = Parse("paths:\n  - folder: x\ntransformations:\n"
                    "  - extract_columns_from_partition_format: {timestamp:yyyy/MM/dd}\n");
  REQUIRE(t.partition_format);
  CHECK(t.partition_format->text() == "{timestamp:yyyy/MM/dd}");
  CHECK(t.partition_format->datetime_format(0) == "%Y/%m/%d");
  CHECK(!t.tabular());  // partitioned files
}

TEST_CASE("mltable: unsupported and unknown keys are errors at their place", "[mltable]") {
  CHECK(Error("paths:\n  - file: a.csv\ntransformations:\n  - read_delimited:\n      delimiter: ','\n"
              "  - filter: 'col(\"a\") > 1'\n") ==
        kFile + ":6:5: transformation 'filter' is not supported by parallelrun (supported: "
                "read_delimited, read_json_lines, read_parquet, extract_columns_from_partition_format)\n"
                "    - filter: 'col(\"a\") > 1'\n"
                "      ^");
  CHECK(Error("paths:\n  - file: a.csv\ntransformations:\n  - read_delimited:\n      delimeter: ';'\n") ==
        kFile + ":5:7: unknown key 'delimeter' in read_delimited; did you mean 'delimiter'?\n"
                "        delimeter: ';'\n"
                "        ^");
  std::string unknown = Error("paths:\n  - file: a.csv\ntransformations:\n  - read_csv:\n");
  CHECK(unknown.rfind(kFile + ":4:5: unknown transformation 'read_csv'", 0) == 0);
  CHECK(Error("paths:\n  - file: a.csv\ntransformations:\n  - read_delimited:\n      header: first\n") ==
        kFile + ":5:15: read_delimited.header: unknown value 'first'; allowed values: "
                "all_files_same_headers, from_first_file, no_header, all_files_different_headers\n"
                "        header: first\n"
                "                ^");
  CHECK(Error("paths:\n  - file: a.csv\ntransformations:\n  - read_delimited:\n      encoding: utf-8\n") ==
        kFile + ":5:17: read_delimited.encoding: unknown value 'utf-8'; did you mean 'utf8'?\n"
                "        encoding: utf-8\n"
                "                  ^");
  CHECK(Error("paths:\n  - file: a.csv\ntransformations:\n  - read_parquet:\n"
              "      include_path_column: maybe\n") ==
        kFile + ":5:28: read_parquet.include_path_column must be true or false, not 'maybe'\n"
                "        include_path_column: maybe\n"
                "                             ^");
  CHECK(Error("paths:\n  - url: a.csv\n") ==
        kFile + ":2:5: unknown key 'url' in a paths entry; allowed keys: file, folder, pattern\n"
                "    - url: a.csv\n"
                "      ^");
  CHECK(Error("paths:\n  - file: azureml://datastores/x/paths/a.csv\n") ==
        kFile + ":2:11: 'azureml://datastores/x/paths/a.csv' is a cloud location; parallelrun reads "
                "local files: download the data and point the MLTable's paths at it\n"
                "    - file: azureml://datastores/x/paths/a.csv\n"
                "            ^");
  CHECK(Error("type: mltable\n") ==
        kFile + ":1:1: missing required key 'paths' in the MLTable file\n  type: mltable\n  ^");
  CHECK(Error("type: table\npaths:\n  - file: a\n") ==
        kFile + ":1:7: type must be 'mltable', not 'table'\n  type: table\n        ^");
  CHECK(Error("paths:\n  - file: a\ntransformations:\n  - read_parquet\n  - read_json_lines\n") ==
        kFile + ":5:5: a second read transformation ('read_json_lines'); the first is at line 4\n"
                "    - read_json_lines\n"
                "      ^");
  CHECK(Error("paths:\n  - file: a\ntransformations:\n  - extract_columns_from_partition_format: '{a'\n") ==
        kFile + ":4:44: partition format '{a': '{' at position 1 is not closed\n"
                "    - extract_columns_from_partition_format: '{a'\n"
                "                                             ^");
  CHECK(Error("paths: [\n") .rfind(kFile + ":", 0) == 0);  // invalid YAML, with a place
  CHECK(Error("").rfind(kFile + ":1:1: the MLTable file is empty", 0) == 0);
  CHECK(Error("paths:\n  - file: a\npaths:\n  - file: b\n") ==
        kFile + ":3:1: duplicate key 'paths' in the MLTable file\n  paths:\n  ^");
}

TEST_CASE("mltable: loading from a folder", "[mltable]") {
  std::string pattern = (fs::temp_directory_path() / "mltable_test.XXXXXX").string();
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  {
    std::ofstream f(pattern + "/MLTable");
    f << "paths:\n  - file: ./a.csv\ntransformations:\n  - read_delimited:\n      delimiter: '\\t'\n";
  }
  CHECK(IsMLTable(pattern));
  CHECK(IsMLTable(pattern + "/MLTable"));
  CHECK(!IsMLTable(pattern + "/nothing"));
  Result<MLTable> t = LoadMLTable(pattern);
  REQUIRE(t.ok());
  CHECK(t->file == pattern + "/MLTable");
  CHECK(t->paths[0].value == pattern + "/a.csv");
  CHECK(t->read->delimiter == "\t");
  Result<TableInput> in = ResolveTableInput("iris", pattern);
  REQUIRE(in.ok());
  CHECK(in->root == pattern);
  CHECK(in->read->delimiter == "\t");
  in = ResolveTableInput("iris", pattern + "/MLTable");
  CHECK(in.ok());
  {
    std::ofstream f(pattern + "/a.csv");
    f << "x\n";
  }
  in = ResolveTableInput("plain", pattern + "/a.csv");
  REQUIRE(in.ok());
  CHECK(!in->read);
  REQUIRE(in->paths.size() == 1);
  CHECK(in->paths[0].kind == TablePath::Kind::kFile);
  fs::create_directories(pattern + "/folder");
  in = ResolveTableInput("plain", pattern + "/folder");
  REQUIRE(in.ok());
  CHECK(in->paths[0].kind == TablePath::Kind::kFolder);
  CHECK(ResolveTableInput("plain", pattern + "/nothing").status().message() ==
        "input plain " + pattern + "/nothing: No such file or directory");
  fs::create_directories(pattern + "/list");
  {
    std::ofstream f(pattern + "/list/MLTable");
    f << "paths:\n  - pattern: ./*.png\n";
  }
  CHECK(ResolveTableInput("images", pattern + "/list").status().message() ==
        "input images: " + pattern + "/list/MLTable is a file-list MLTable: it has no "
        "read_delimited, read_json_lines or read_parquet transformation");
  Result<MLTable> missing = LoadMLTable(pattern + "/nothing");
  CHECK(missing.status().message() == pattern + "/nothing: No such file or directory");
  fs::remove_all(pattern);
}

}  // namespace
}  // namespace parallelrun
