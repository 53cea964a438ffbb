#include "plan/mltable.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
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
              "  - take_random_sample: {probability: 0.5}\n")
            .rfind(kFile + ":6:5: transformation 'take_random_sample' is not supported by "
                           "parallelrun (supported: read_delimited, ", 0) == 0);
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

namespace parallelrun {
namespace {

const std::string kRead = "paths:\n  - pattern: ./**/*.csv\ntransformations:\n"
                          "  - read_delimited:\n      delimiter: ','\n";

nlohmann::json Transforms(const MLTable& t) {
  REQUIRE(t.read);
  REQUIRE(!t.read->transforms.empty());
  return nlohmann::json::parse(t.read->transforms);
}

TEST_CASE("mltable: the many-models partition step's MLTable", "[mltable]") {
  // As the official partition_data.py writes it with yaml.dump.
  MLTable t = Parse(R"(paths:
- pattern: ./**/*.csv
transformations:
- read_delimited:
    delimiter: ','
    empty_as_string: false
    encoding: ascii
    header: all_files_same_headers
    include_path_column: true
- extract_columns_from_partition_format:
    partition_format: '{Store}/{Brand}/{file_name}.{extension}'
- drop_columns:
  - Path
  - file_name
  - extension
type: mltable
)");
  REQUIRE(t.tabular());
  REQUIRE(t.partition_format);
  CHECK(t.partition_format->keys() == std::vector<std::string>{"Store", "Brand", "file_name", "extension"});
  nlohmann::json j = Transforms(t);
  CHECK(j["infer"] == true);
  REQUIRE(j["steps"].size() == 1);
  CHECK(j["steps"][0]["op"] == "drop_columns");
  CHECK(j["steps"][0]["columns"] == nlohmann::json({"Path", "file_name", "extension"}));
  CHECK(j["steps"][0]["line"] == 12);
  CHECK(!t.ToTableInput("x").limits_rows());
}

TEST_CASE("mltable: read_delimited alone is typed as mltable types it, Parquet is not", "[mltable]") {
  MLTable csv = Parse(kRead);
  CHECK(Transforms(csv) == nlohmann::json({{"infer", true}, {"steps", nlohmann::json::array()}}));
  MLTable parquet = Parse("paths:\n  - file: a.parquet\ntransformations:\n  - read_parquet\n");
  REQUIRE(parquet.read);
  CHECK(parquet.read->transforms.empty());
  MLTable dropped = Parse("paths:\n  - file: a.parquet\ntransformations:\n  - read_parquet\n"
                          "  - drop_columns: x\n");
  CHECK(Transforms(dropped)["steps"].size() == 1);
}

TEST_CASE("mltable: column steps in the order written", "[mltable]") {
  MLTable t = Parse(kRead + R"(      infer_column_types: false
  - keep_columns: [a, b, c]
  - drop_columns: c
  - convert_column_types:
      - columns: a
        column_type: int
      - columns: [b]
        column_type:
          boolean:
            true_values: ["yes", "y"]
            false_values: ["no"]
            mismatch_as: false
      - columns: d
        column_type:
          datetime:
            formats: ["%d/%m/%Y", "%Y-%m-%d"]
      - columns: e
        column_type: string
      - columns: f
        column_type: float
  - filter: 'col("a") >= 10'
)");
  nlohmann::json j = Transforms(t);
  CHECK(j["infer"] == false);
  nlohmann::json steps = j["steps"];
  REQUIRE(steps.size() == 4);
  CHECK(steps[0]["op"] == "keep_columns");
  CHECK(steps[1]["op"] == "drop_columns");
  CHECK(steps[1]["columns"] == nlohmann::json({"c"}));
  CHECK(steps[2]["op"] == "convert_column_types");
  nlohmann::json c = steps[2]["conversions"];
  REQUIRE(c.size() == 5);
  CHECK(c[0] == nlohmann::json({{"columns", {"a"}}, {"type", "int"}}));
  CHECK(c[1]["type"] == "boolean");
  CHECK(c[1]["true_values"] == nlohmann::json({"yes", "y"}));
  CHECK(c[1]["false_values"] == nlohmann::json({"no"}));
  CHECK(c[1]["mismatch_as"] == "false");
  CHECK(c[2]["formats"] == nlohmann::json({"%d/%m/%Y", "%Y-%m-%d"}));
  CHECK(c[3]["type"] == "string");
  CHECK(c[4]["type"] == "float");
  CHECK(steps[3] == nlohmann::json({{"op", "filter"}, {"column", "a"}, {"cmp", ">="},
                                    {"kind", "number"}, {"value", 10}, {"line", 26},
                                    {"expression", "col(\"a\") >= 10"}}));
}

TEST_CASE("mltable: filter's simple comparisons", "[mltable]") {
  auto filter = [](const std::string& expr) {
    MLTable t = Parse(kRead + "  - filter: '" + expr + "'\n");
    nlohmann::json f = Transforms(t)["steps"][0];
    f.erase("line");
    f.erase("expression");
    f.erase("op");
    return f;
  };
  CHECK(filter("col(\"name\") == \"Ann\"") ==
        nlohmann::json({{"column", "name"}, {"cmp", "=="}, {"kind", "string"}, {"value", "Ann"}}));
  CHECK(filter("col(\"x\")!=2.5") ==
        nlohmann::json({{"column", "x"}, {"cmp", "!="}, {"kind", "number"}, {"value", 2.5}}));
  CHECK(filter("col(\"ok\") == True") ==
        nlohmann::json({{"column", "ok"}, {"cmp", "=="}, {"kind", "bool"}, {"value", true}}));
  CHECK(filter("col(\"when\") < datetime(2024, 1, 2)") ==
        nlohmann::json({{"column", "when"}, {"cmp", "<"}, {"kind", "datetime"}, {"value", {2024, 1, 2}}}));
  CHECK(filter("col(\"n\") > -3") ==
        nlohmann::json({{"column", "n"}, {"cmp", ">"}, {"kind", "number"}, {"value", -3}}));
  for (const std::string expr : {"col(\"a\") > 1 and col(\"b\") < 2", "col(\"a\") in [1, 2]",
                                 "1 < col(\"a\")", "col(\"a\") > x", "col(a) > 1", "col(\"a\") >"}) {
    INFO(expr);
    std::string e = Error(kRead + "  - filter: '" + expr + "'\n");
    CHECK(e.rfind(kFile + ":6:13: transformation 'filter' (line 6): the expression '" + expr +
                      "' is not supported; parallelrun supports one comparison",
                  0) == 0);
  }
}

TEST_CASE("mltable: skip and take become the input's row limits", "[mltable]") {
  MLTable t = Parse(kRead + "  - skip: 10\n  - take: 5\n  - skip: 2\n  - drop_columns: [a]\n");
  TableInput in = t.ToTableInput("x");
  CHECK(in.skip_rows == 12);
  REQUIRE(in.take_rows);
  CHECK(*in.take_rows == 3);
  CHECK(in.limits_rows());
  MLTable only_take = Parse(kRead + "  - take: 7\n  - take: 9\n");
  CHECK(only_take.skip_rows == 0);
  CHECK(*only_take.take_rows == 7);
  // A filter before skip/take: the rows it keeps are not known when cutting.
  std::string e = Error(kRead + "  - filter: 'col(\"a\") > 1'\n  - take: 5\n");
  CHECK(e.rfind(kFile + ":7:5: transformation 'take' (line 7) comes after the filter at line 6: "
                        "parallelrun cuts skip and take into mini-batches before reading the rows",
                0) == 0);
  CHECK(Error("paths:\n  - file: a.jsonl\ntransformations:\n  - read_json_lines:\n"
              "      invalid_lines: drop\n  - take: 5\n")
            .rfind(kFile + ":6:5: transformation 'take' (line 6) cannot be cut into mini-batches "
                           "here: invalid_lines: drop leaves out lines only a JSON parser finds",
                   0) == 0);
  CHECK(Error(kRead + "      encoding: utf16\n  - skip: 1\n")
            .find("transformation 'skip' (line 7) cannot be cut into mini-batches here: a file "
                  "in utf16 is read whole") != std::string::npos);
  CHECK(Error(kRead + "  - take: -1\n").rfind(
            kFile + ":6:11: transformation 'take' (line 6) must be a whole number of rows, not '-1'", 0) == 0);
  CHECK(Error(kRead + "  - skip: many\n").rfind(
            kFile + ":6:11: transformation 'skip' (line 6) must be a whole number of rows", 0) == 0);
}

TEST_CASE("mltable: errors of the column steps name the step and its line", "[mltable]") {
  CHECK(Error(kRead + "  - drop_columns: [a, a]\n").rfind(
            kFile + ":6:23: transformation 'drop_columns' (line 6): column 'a' is named twice", 0) == 0);
  CHECK(Error(kRead + "  - keep_columns: {a: 1}\n").rfind(
            kFile + ":6:19: transformation 'keep_columns' (line 6) must be a column name or a list", 0) == 0);
  CHECK(Error(kRead + "  - convert_column_types:\n      - columns: a\n        column_type: integer\n")
            .rfind(kFile + ":8:22: transformation 'convert_column_types' (line 6): unknown column_type "
                           "'integer'",
                   0) == 0);
  CHECK(Error(kRead + "  - convert_column_types:\n      - columns: a\n        column_type: stream_info\n")
            .find("column_type 'stream_info' is not supported by parallelrun") != std::string::npos);
  CHECK(Error(kRead + "  - convert_column_types:\n      - columns: a\n        column_type: datetime\n")
            .find("datetime needs its formats") != std::string::npos);
  CHECK(Error(kRead + "  - convert_column_types:\n      - columns: a\n        column_type:\n"
                      "          boolean:\n            true_values: [y]\n")
            .find("boolean needs both true_values and false_values") != std::string::npos);
  CHECK(Error(kRead + "  - convert_column_types:\n      - columns: a\n        column_type:\n"
                      "          boolean: {mismatch_as: maybe}\n")
            .find("boolean.mismatch_as: unknown value 'maybe'") != std::string::npos);
  CHECK(Error(kRead + "  - convert_column_types:\n      - column: a\n        column_type: int\n")
            .find("unknown key 'column' in a convert_column_types entry; did you mean 'columns'?") !=
        std::string::npos);
  CHECK(Error(kRead + "  - convert_column_types: []\n")
            .find("convert_column_types' (line 6) must be a list of {columns") != std::string::npos);
  // A column step without a read: nothing to take columns from.
  CHECK(Error("paths:\n  - file: a.csv\ntransformations:\n  - drop_columns: [a]\n") ==
        kFile + ":4:5: transformation 'drop_columns' needs a table: add a read_delimited, "
                "read_json_lines or read_parquet transformation before it\n"
                "    - drop_columns: [a]\n"
                "      ^");
}

// Found by fuzz/mltable_fuzz: a step's text that is not UTF-8 made the
// JSON for the worker throw, and the exception ended the process.
TEST_CASE("mltable: a transformation with text that is not UTF-8 is refused where it is",
          "[mltable]") {
  CHECK(Error("paths:\n  - file: ./one.csv\ntransformations:\n  - read_delimited:\n"
              "      delimiter: \";\"\n  - keep_columns: [a, \"b\xff\"]\n")
            .rfind(kFile + ":6:5: transformation 'keep_columns' holds text that is not UTF-8; "
                           "an MLTable file is read as UTF-8",
                   0) == 0);
}

}  // namespace
}  // namespace parallelrun
