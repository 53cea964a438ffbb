#include "data/parquet_footer.h"
#include "temp_dir.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace parallelrun {
namespace {

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
  REQUIRE(out.good());
}

// Writes Thrift compact protocol, enough to build a FileMetaData.
class CompactWriter {
 public:
  void FieldHeader(int16_t id, uint8_t type) {
    int delta = id - last_.back();
    if (delta > 0 && delta <= 15) {
      out_.push_back(static_cast<char>((delta << 4) | type));
    } else {
      out_.push_back(static_cast<char>(type));
      Varint(Zigzag(id));
    }
    last_.back() = id;
  }
  void I64(int16_t id, int64_t v) {
    FieldHeader(id, 6);
    Varint(Zigzag(v));
  }
  void I32(int16_t id, int32_t v) {
    FieldHeader(id, 5);
    Varint(Zigzag(v));
  }
  void Binary(int16_t id, const std::string& s) {
    FieldHeader(id, 8);
    Varint(s.size());
    out_ += s;
  }
  void BoolField(int16_t id, bool v) { FieldHeader(id, v ? 1 : 2); }
  void ListBegin(int16_t id, uint8_t elem, size_t n) {
    FieldHeader(id, 9);
    if (n < 15) {
      out_.push_back(static_cast<char>((n << 4) | elem));
    } else {
      out_.push_back(static_cast<char>(0xf0 | elem));
      Varint(n);
    }
  }
  void StructBegin() { last_.push_back(0); }  // a struct as a list element
  void StructEnd() {
    out_.push_back(0);
    last_.pop_back();
  }
  void Raw(const std::string& s) { out_ += s; }
  std::string Take() {
    out_.push_back(0);  // the outer struct's STOP
    return out_;
  }

 private:
  static uint64_t Zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  std::string out_;
  std::vector<int16_t> last_{0};
};

// A FileMetaData with the given row groups (rows, compressed bytes), and the
// fields a real writer adds around them so that skipping is exercised.
std::string Footer(const std::vector<std::pair<int64_t, int64_t>>& groups) {
  CompactWriter w;
  w.I32(1, 1);  // version
  w.ListBegin(2, 12, 2);  // schema: two SchemaElements
  for (int i = 0; i < 2; i++) {
    w.StructBegin();
    w.Binary(4, i == 0 ? "schema" : "col");
    w.I32(5, 1);
    w.StructEnd();
  }
  uint64_t rows = 0;  // unsigned: a test may give counts whose sum is too large
  for (auto& g : groups) rows += static_cast<uint64_t>(g.first);
  w.I64(3, static_cast<int64_t>(rows));
  w.ListBegin(4, 12, groups.size());
  for (auto& g : groups) {
    w.StructBegin();
    w.ListBegin(1, 12, 1);  // columns: one ColumnChunk with nested meta data
    w.StructBegin();
    w.I64(2, 4);  // file_offset
    w.FieldHeader(3, 12);  // meta_data struct
    w.StructBegin();
    w.I32(1, 2);
    w.ListBegin(2, 5, 2);  // encodings: list<i32>
    w.Raw("\x02\x06");
    w.ListBegin(3, 8, 1);  // path_in_schema: list<binary>
    w.Raw("\x03" "col");
    w.I64(7, g.second);
    w.StructEnd();
    w.StructEnd();
    w.I64(2, g.second * 3);  // total_byte_size (uncompressed)
    w.I64(3, g.first);
    w.I64(6, g.second);  // total_compressed_size
    w.BoolField(8, true);  // a field this decoder does not know
    w.StructEnd();
  }
  w.Binary(6, "parquet-cpp test writer");
  return w.Take();
}

void WriteParquet(const std::string& path, const std::string& footer) {
  std::string data = "PAR1";
  data += std::string(100, 'x');  // stands for the column data
  data += footer;
  uint32_t n = static_cast<uint32_t>(footer.size());
  for (int i = 0; i < 4; i++) data.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  data += "PAR1";
  WriteFile(path, data);
}

std::vector<TableRange> SplitLayout(const ParquetLayout& layout, uint64_t size) {
  std::vector<TableRange> out;
  SplitParquet("f.parquet", TableReadOptions(), layout, size, {}, [&](TableRange&& r) {
    out.push_back(std::move(r));
    return true;
  });
  return out;
}

TEST_CASE("parquet_footer: the Parquet footer gives the row groups", "[parquet_footer]") {
  TempDir dir("parquet_footer_test");
  std::string path = dir.path() + "/t.parquet";
  WriteParquet(path, Footer({{10, 100}, {20, 200}, {30, 300}}));
  Result<ParquetLayout> layout = ReadParquetLayout(path);
  REQUIRE(layout.ok());
  CHECK(layout->rows == 60);
  REQUIRE(layout->row_groups.size() == 3);
  CHECK(layout->row_groups[1].rows == 20);
  CHECK(layout->row_groups[1].bytes == 200);

  // Many row groups need the long list header.
  std::vector<std::pair<int64_t, int64_t>> many(40, {5, 50});
  Result<ParquetLayout> l2 = DecodeParquetFooter(Footer(many));
  REQUIRE(l2.ok());
  CHECK(l2->row_groups.size() == 40);
  CHECK(l2->rows == 200);
}

TEST_CASE("parquet_footer: a real Parquet file's footer decodes", "[parquet_footer]") {
  // Written by pyarrow (parquet-cpp 1.5.1); shipped with Debian's pandas tests.
  const std::string path = "/usr/lib/python3/dist-packages/pandas/tests/io/data/parquet/simple.parquet";
  if (access(path.c_str(), R_OK) != 0) {
    WARN("SKIPPED: " << path << " is not installed");
    return;
  }
  Result<ParquetLayout> layout = ReadParquetLayout(path);
  REQUIRE(layout.ok());
  CHECK(layout->rows == 3);
  REQUIRE(layout->row_groups.size() == 1);
  CHECK(layout->row_groups[0].rows == 3);
  CHECK(layout->row_groups[0].bytes > 0);
}

TEST_CASE("parquet_footer: Parquet errors name the file", "[parquet_footer]") {
  TempDir dir("parquet_footer_test");
  std::string path = dir.path() + "/not.parquet";
  WriteFile(path, "a,b\n1,2\n");
  CHECK(ReadParquetLayout(path).status().message() ==
        path + ": not a Parquet file (no PAR1 magic at its start and end)");
  std::string footer = Footer({{10, 100}});
  WriteParquet(path, footer.substr(0, footer.size() / 2));
  Result<ParquetLayout> l = ReadParquetLayout(path);
  REQUIRE(!l.ok());
  CHECK(l.status().message().rfind(path + ": the Parquet footer does not decode: ", 0) == 0);
  // Garbage of any length never crashes the decoder.
  for (size_t n = 0; n < footer.size(); n++) (void)DecodeParquetFooter(footer.substr(0, n));
}

TEST_CASE("parquet_footer: Parquet row groups are grouped up to the size", "[parquet_footer]") {
  ParquetLayout layout;
  for (int i = 0; i < 10; i++) layout.row_groups.push_back({100, 300});
  std::vector<TableRange> r = SplitLayout(layout, 1000);
  REQUIRE(r.size() == 3);  // 4 + 4 + 2 groups
  CHECK(r[0].group_begin == 0);
  CHECK(r[0].group_end == 4);
  CHECK(r[0].row_begin == 0);
  CHECK(r[0].row_end == 400);
  CHECK(r[0].length == 1200);
  CHECK(r[2].group_begin == 8);
  CHECK(r[2].group_end == 10);
  CHECK(r[2].group_first_row == 800);
  CHECK(r[2].row_end == 1000);
}

TEST_CASE("parquet_footer: one big Parquet row group is cut into row ranges", "[parquet_footer]") {
  ParquetLayout layout;
  layout.row_groups.push_back({10, 100});
  layout.row_groups.push_back({1000, 10000});  // ten times the size
  layout.row_groups.push_back({10, 100});
  std::vector<TableRange> r = SplitLayout(layout, 1000);
  REQUIRE(r.size() == 12);
  CHECK(r[0].group_begin == 0);
  CHECK(r[0].group_end == 1);
  CHECK(r[0].row_end == 10);
  uint64_t next = 10;
  for (int i = 1; i <= 10; i++) {
    CHECK(r[i].group_begin == 1);
    CHECK(r[i].group_end == 2);
    CHECK(r[i].group_first_row == 10);
    CHECK(r[i].row_begin == next);
    CHECK(r[i].known_rows() == 100);
    next = r[i].row_end;
  }
  CHECK(r[11].row_begin == 1010);
  CHECK(r[11].row_end == 1020);
  // A one-row group cannot be cut; empty groups make nothing.
  ParquetLayout one;
  one.row_groups = {{1, 5000}, {0, 0}};
  r = SplitLayout(one, 1000);
  REQUIRE(r.size() == 1);
  CHECK(r[0].known_rows() == 1);
  ParquetLayout empty;
  empty.row_groups = {{0, 10}};
  CHECK(SplitLayout(empty, 1000).empty());
}

// Found by fuzz/parquet_footer_fuzz: a footer's counts near 2^62 made
// rows × i overflow (ranges out of order, rows lost) and asked for a
// mini-batch per byte of a row group larger than the file.
TEST_CASE("parquet_footer: huge counts in a footer cannot overflow or flood the split",
          "[parquet_footer]") {
  ParquetLayout layout;
  const uint64_t rows = uint64_t{1} << 62;
  layout.row_groups.push_back({rows, 4000});
  std::vector<TableRange> r = SplitLayout(layout, 1000);
  REQUIRE(r.size() == 4);
  uint64_t next = 0;
  for (const auto& range : r) {
    CHECK(range.row_begin == next);
    CHECK(range.row_end > range.row_begin);
    next = range.row_end;
  }
  CHECK(next == rows);

  TempDir dir("parquet_footer_test");
  std::string path = dir.path() + "/huge.parquet";
  WriteParquet(path, Footer({{int64_t{1} << 62, int64_t{1} << 61}}));
  Result<ParquetLayout> l = ReadParquetLayout(path);
  REQUIRE(l.ok());
  REQUIRE(l->row_groups.size() == 1);
  uint64_t file_size = 0;
  {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    file_size = static_cast<uint64_t>(in.tellg());
  }
  CHECK(l->row_groups[0].bytes == file_size);  // held to the file's size
  size_t count = 0;
  SplitParquet(path, TableReadOptions(), l.value(), 1, {}, [&](TableRange&&) {
    return ++count <= file_size;
  });
  CHECK(count == file_size);

  // Row groups whose rows add up past 2^63 are refused, with the reason.
  Result<ParquetLayout> many =
      DecodeParquetFooter(Footer({{INT64_MAX / 2 + 1, 10}, {INT64_MAX / 2 + 1, 10}}));
  REQUIRE(!many.ok());
  CHECK(many.status().message().find("the row groups hold more than 2^63 rows") !=
        std::string::npos);
}

}  // namespace
}  // namespace parallelrun
