#include "data/table_range.h"

#include <catch2/catch.hpp>
#include <string>

namespace parallelrun {
namespace {

TEST_CASE("table_range: descriptors round-trip, paths as raw bytes", "[table_range]") {
  TableRange r;
  r.path = std::string("/data/na\xffme \nwith newline.csv");
  r.options.format = TableFormat::kParquet;
  r.options.delimiter = ";";
  r.options.header = HeaderMode::kFromFirstFile;
  r.options.encoding = "latin1";
  r.options.include_path_column = true;
  r.options.empty_as_string = true;
  r.options.invalid_lines = "drop";
  r.options.path_column = "source";
  r.offset = 1ull << 40;
  r.length = 12345;
  r.group_begin = 2;
  r.group_end = 3;
  r.group_first_row = 1000;
  r.row_begin = 1100;
  r.row_end = 1200;
  r.has_header = true;
  r.header = "a;\"b\nc\"";
  r.whole_file = true;
  r.file_header = true;
  r.path_columns = {{"day", "2024/01/02", "%Y/%m/%d"}, {"shop", "x", ""}};
  std::string enc = EncodeTableRange(r);
  TableRange d;
  REQUIRE(DecodeTableRange(enc, &d));
  CHECK(d.path == r.path);
  CHECK(d.options.format == TableFormat::kParquet);
  CHECK(d.options.delimiter == ";");
  CHECK(d.options.header == HeaderMode::kFromFirstFile);
  CHECK(d.options.encoding == "latin1");
  CHECK(d.options.include_path_column);
  CHECK(d.options.empty_as_string);
  CHECK(!d.options.support_multi_line);
  CHECK(d.options.invalid_lines == "drop");
  CHECK(d.options.path_column == "source");
  CHECK(d.offset == r.offset);
  CHECK(d.length == r.length);
  CHECK(d.group_begin == 2);
  CHECK(d.group_end == 3);
  CHECK(d.group_first_row == 1000);
  CHECK(d.known_rows() == 100);
  CHECK(d.has_header);
  CHECK(d.header == r.header);
  CHECK(d.whole_file);
  CHECK(d.file_header);
  REQUIRE(d.path_columns.size() == 2);
  CHECK(d.path_columns[0].datetime_format == "%Y/%m/%d");
  CHECK(d.path_columns[1].value == "x");
  // Truncated or extended encodings are refused.
  for (size_t n = 0; n < enc.size(); n++) CHECK(!DecodeTableRange(enc.substr(0, n), &d));
  CHECK(!DecodeTableRange(enc + "x", &d));
}

TEST_CASE("table_range: the descriptor encoding is pinned", "[table_range]") {
  // tests/e2e/test_tabular_units.py decodes these same bytes with
  // worker_tabular.decode_descriptor: change both or neither.
  TableRange r;
  r.path = std::string("/d/caf\xc3\xa9 \xff.csv");
  r.options.delimiter = ";";
  r.options.header = HeaderMode::kFromFirstFile;
  r.options.encoding = "latin1";
  r.options.include_path_column = true;
  r.options.path_column = "src";
  r.offset = 258;
  r.length = 65537;
  r.group_begin = 1;
  r.group_end = 2;
  r.group_first_row = 3;
  r.row_begin = 4;
  r.row_end = 5;
  r.has_header = true;
  r.header = "a;\"b c\"";
  r.path_columns = {{"day", "2024/01/02", "%Y/%m/%d"}};
  r.options.transforms = "{}";
  r.keep_begin = 6;
  r.keep_end = 7;
  std::string hex;
  for (unsigned char c : EncodeTableRange(r)) {
    const char* digits = "0123456789abcdef";
    hex += digits[c >> 4];
    hex += digits[c & 15];
  }
  // Version 1's fields, then (version 2) transforms, keep_begin, keep_end.
  const std::string v1_fields =
      "000e0000002f642f636166c3a920ff2e637376020100000000000001000100000000000100000002000000"
      "030000000000000004000000000000000500000000000000090107000000613b2262206322010000003b0600"
      "00006c6174696e31050000006572726f720300000073726301000000030000006461790a000000323032342f"
      "30312f30320800000025592f256d2f2564";
  CHECK(hex == "02" + v1_fields + "020000007b7d" "0600000000000000" "0700000000000000");

  // A version 1 descriptor (a journal written before) still decodes: no
  // transforms, every row kept.
  std::string v1;
  const std::string v1_hex = "01" + v1_fields;
  for (size_t i = 0; i < v1_hex.size(); i += 2) {
    v1.push_back(static_cast<char>(std::stoi(v1_hex.substr(i, 2), nullptr, 16)));
  }
  TableRange d;
  REQUIRE(DecodeTableRange(v1, &d));
  CHECK(d.path == r.path);
  CHECK(d.options.transforms.empty());
  CHECK(d.keep_begin == 0);
  CHECK(d.keep_end == TableRange::kAllRows);
  CHECK(!DecodeTableRange("\x03" + v1.substr(1), &d));
}

}  // namespace
}  // namespace parallelrun
