#include "data/table_source.h"
#include "temp_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
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

struct Split {
  std::vector<TableRange> ranges;
  std::vector<std::string> warnings;
  std::string header;
};

Split SplitFile(const std::string& path, const TableReadOptions& options, uint64_t size,
                bool has_header, size_t chunk = 1u << 20, const std::string* header_text = nullptr) {
  Split out;
  RangeSink sink = [&](TableRange&& r) {
    out.ranges.push_back(std::move(r));
    return true;
  };
  Status s = SplitTextFile(path, options, size, has_header, header_text, {}, sink, &out.warnings,
                           &out.header, chunk);
  REQUIRE(s.ok());
  return out;
}

// The ranges follow one another without gap and end at the end of the file;
// what comes before the first one is returned (the header part).
std::string CheckCoverage(const std::string& data, const std::vector<TableRange>& ranges) {
  REQUIRE(!ranges.empty());
  for (size_t i = 0; i + 1 < ranges.size(); i++) {
    CHECK(ranges[i].offset + ranges[i].length == ranges[i + 1].offset);
  }
  CHECK(ranges.back().offset + ranges.back().length == data.size());
  std::string joined = data.substr(0, ranges.front().offset);
  for (const auto& r : ranges) joined += data.substr(r.offset, r.length);
  CHECK(joined == data);
  return data.substr(0, ranges.front().offset);
}

// A CSV whose records are awkward: quoted fields with newlines, delimiters,
// doubled quotes, and a field that goes on after its closing quote. Returns
// the data and the offsets where records end.
std::string AwkwardCsv(int rows, const std::string& eol, std::set<uint64_t>* record_ends) {
  std::string data = "id,text,note" + eol;
  record_ends->insert(data.size());
  for (int i = 0; i < rows; i++) {
    std::string text;
    switch (i % 5) {
      case 0: text = "\"multi" + eol + "line, with comma\""; break;
      case 1: text = "\"say \"\"hi\"\"" + eol + "\"\"\""; break;  // "say ""hi""<eol>"""
      case 2: text = "plain text"; break;
      case 3: text = "\"\"";  break;  // empty quoted
      case 4: text = "\"a\"b"; break;  // closing quote then more field
    }
    data += std::to_string(i) + "," + text + ",n" + std::to_string(i * 7) + eol;
    record_ends->insert(data.size());
  }
  return data;
}

TEST_CASE("table_source: quoted multi-line fields are never split", "[table_source]") {
  TempDir dir("table_source_test");
  for (std::string eol : {"\n", "\r\n", "\r"}) {
    std::set<uint64_t> ends;
    std::string data = AwkwardCsv(400, eol, &ends);
    std::string path = dir.path() + "/a.csv";
    WriteFile(path, data);
    for (size_t chunk : {size_t(1) << 20, size_t(7), size_t(1)}) {
      Split s = SplitFile(path, TableReadOptions(), 1024, true, chunk);
      INFO("eol " << eol.size() << " chunk " << chunk);
      REQUIRE(s.ranges.size() > 5);
      CHECK(s.warnings.empty());
      CHECK(CheckCoverage(data, s.ranges) == "id,text,note" + eol);
      CHECK(s.header == "id,text,note");
      for (const auto& r : s.ranges) {
        CHECK(ends.count(r.offset) == 1);             // starts at a record start
        CHECK(ends.count(r.offset + r.length) == 1);  // ends at a record end
        CHECK(r.has_header);
        CHECK(r.header == "id,text,note");
        CHECK(!r.whole_file);
      }
      // Sizes: at least mini_batch_size, less than that plus one record.
      for (size_t i = 0; i + 1 < s.ranges.size(); i++) {
        CHECK(s.ranges[i].length >= 1024);
        CHECK(s.ranges[i].length < 1024 + 64);
      }
      CHECK(s.ranges.back().length <= 1024 + 64);
    }
  }
}

TEST_CASE("table_source: random CSVs split only at record ends", "[table_source]") {
  TempDir dir("table_source_test");
  std::mt19937 rng(20240101);
  auto pick = [&](const std::string& from) { return from[rng() % from.size()]; };
  for (int round = 0; round < 150; round++) {
    const std::vector<std::string> eols = {"\n", "\r\n", "\r"};
    std::string data = "h1,h2" + eols[rng() % 3];
    std::set<uint64_t> ends{data.size()};
    int records = 1 + rng() % 40;
    for (int r = 0; r < records; r++) {
      int fields = 1 + rng() % 4;
      for (int f = 0; f < fields; f++) {
        if (f) data += ',';
        switch (rng() % 3) {
          case 0:  // plain, a quote may follow its first character
            data += pick("ab1");
            for (int k = rng() % 5; k > 0; k--) data += pick("ab \"");
            break;
          case 1: {  // quoted, with delimiters, line ends and doubled quotes
            data += '"';
            for (int k = rng() % 8; k > 0; k--) {
              char c = pick("ab,\n\r\"");
              data += c == '"' ? std::string("\"\"") : std::string(1, c);
            }
            data += '"';
            if (rng() % 4 == 0) data += pick("xy");  // goes on unquoted
            break;
          }
          default:
            break;  // empty field
        }
      }
      data += eols[rng() % 3];
      ends.insert(data.size());
    }
    std::string path = dir.path() + "/r.csv";
    WriteFile(path, data);
    uint64_t size = 1 + rng() % 64;
    size_t chunk = 1 + rng() % 50;
    Split s = SplitFile(path, TableReadOptions(), size, true, chunk);
    INFO("round " << round << " size " << size << " chunk " << chunk);
    REQUIRE(!s.ranges.empty());
    CheckCoverage(data, s.ranges);
    CHECK(s.warnings.empty());
    for (const auto& r : s.ranges) {
      CHECK(ends.count(r.offset) == 1);
      CHECK(ends.count(r.offset + r.length) == 1);
    }
  }
}

TEST_CASE("table_source: a file smaller than the size is one range", "[table_source]") {
  TempDir dir("table_source_test");
  std::string path = dir.path() + "/small.csv";
  std::string data = "a,b\n1,2\n3,4\n";
  WriteFile(path, data);
  Split s = SplitFile(path, TableReadOptions(), 1u << 20, true);
  REQUIRE(s.ranges.size() == 1);
  CHECK(s.ranges[0].offset == 4);
  CHECK(s.ranges[0].length == 8);
  CHECK(s.ranges[0].header == "a,b");
  CHECK(s.ranges[0].path == path);
}

TEST_CASE("table_source: the size is reached exactly at a record end", "[table_source]") {
  TempDir dir("table_source_test");
  std::string path = dir.path() + "/exact.csv";
  // Header "h\n" (2 bytes), then records of 4 bytes each "xyz\n".
  std::string data = "h\n";
  for (int i = 0; i < 10; i++) data += "r" + std::to_string(i) + "z\n";
  WriteFile(path, data);
  Split s = SplitFile(path, TableReadOptions(), 8, true);
  REQUIRE(s.ranges.size() == 5);
  for (const auto& r : s.ranges) CHECK(r.length == 8);
  s = SplitFile(path, TableReadOptions(), 9, true);  // one byte more: three records a range
  REQUIRE(s.ranges.size() == 4);
  CHECK(s.ranges[0].length == 12);
  CHECK(s.ranges[3].length == 4);
  CheckCoverage(data, s.ranges);
}

TEST_CASE("table_source: empty and header-only files make no range", "[table_source]") {
  TempDir dir("table_source_test");
  std::vector<std::string> cases = {"", "a,b,c", "a,b,c\n", "a,b,c\r\n\r\n\n", "\n\na,b\n\n"};
  for (const auto& data : cases) {
    std::string path = dir.path() + "/h.csv";
    WriteFile(path, data);
    Split s = SplitFile(path, TableReadOptions(), 4, true);
    INFO("data: " << data);
    CHECK(s.ranges.empty());
  }
  // With no header, an empty file or only blank lines make nothing either.
  for (const std::string data : {"", "\n\r\n"}) {
    std::string path = dir.path() + "/n.csv";
    WriteFile(path, data);
    CHECK(SplitFile(path, TableReadOptions(), 4, false).ranges.empty());
  }
}

TEST_CASE("table_source: blank lines at the end join the last range", "[table_source]") {
  TempDir dir("table_source_test");
  std::string path = dir.path() + "/blank.csv";
  std::string data = "a\n1\n2\n\n\n\n";
  WriteFile(path, data);
  Split s = SplitFile(path, TableReadOptions(), 2, true);
  REQUIRE(s.ranges.size() == 2);
  CHECK(s.ranges[0].offset == 2);
  CHECK(s.ranges[0].length == 2);
  CHECK(s.ranges[1].offset == 4);
  CHECK(s.ranges[1].length == 5);  // "2\n" + three blank lines
  CheckCoverage(data, s.ranges);
  // Blank lines before the header belong to it; a BOM is not in its text.
  data = "\xEF\xBB\xBF\n\nx,y\n1,2";
  WriteFile(path, data);
  s = SplitFile(path, TableReadOptions(), 100, true);
  REQUIRE(s.ranges.size() == 1);
  CHECK(s.ranges[0].header == "x,y");
  CHECK(s.ranges[0].offset == 9);
  CHECK(s.ranges[0].length == 3);  // the last record has no line end
}

TEST_CASE("table_source: header modes", "[table_source]") {
  TempDir dir("table_source_test");
  std::string path = dir.path() + "/d.csv";
  std::string data = "1,2\n3,4\n";
  WriteFile(path, data);
  // no_header: everything is data.
  Split s = SplitFile(path, TableReadOptions(), 100, false);
  REQUIRE(s.ranges.size() == 1);
  CHECK(s.ranges[0].offset == 0);
  CHECK(!s.ranges[0].has_header);
  // from_first_file, a later file: the first file's header names the columns.
  std::string first = "a,b";
  s = SplitFile(path, TableReadOptions(), 100, false, 1u << 20, &first);
  REQUIRE(s.ranges.size() == 1);
  CHECK(s.ranges[0].offset == 0);
  CHECK(s.ranges[0].has_header);
  CHECK(s.ranges[0].header == "a,b");
  // A quoted header with a newline in it.
  data = "\"first\nname\",b\nx,y\n";
  WriteFile(path, data);
  s = SplitFile(path, TableReadOptions(), 100, true);
  REQUIRE(s.ranges.size() == 1);
  CHECK(s.ranges[0].header == "\"first\nname\",b");
  CHECK(ReadHeaderRecord(path, TableReadOptions()).value() == "\"first\nname\",b");
}

TEST_CASE("table_source: the delimiter decides where a quote opens a field", "[table_source]") {
  TempDir dir("table_source_test");
  std::string path = dir.path() + "/t.tsv";
  // With a tab delimiter, a quote after a comma is inside a plain field and
  // does not open a quoted one; after a tab it does.
  std::string data = "a\tb\n1,\"x\t2\n3\t\"multi\nline\"\n4\t5\n";
  WriteFile(path, data);
  TableReadOptions tsv;
  tsv.delimiter = "\t";
  Split s = SplitFile(path, tsv, 1, true);
  REQUIRE(s.ranges.size() == 3);
  CHECK(data.substr(s.ranges[0].offset, s.ranges[0].length) == "1,\"x\t2\n");
  CHECK(data.substr(s.ranges[1].offset, s.ranges[1].length) == "3\t\"multi\nline\"\n");
  CHECK(data.substr(s.ranges[2].offset, s.ranges[2].length) == "4\t5\n");
}

TEST_CASE("table_source: an unterminated quote is reported", "[table_source]") {
  TempDir dir("table_source_test");
  std::string path = dir.path() + "/bad.csv";
  WriteFile(path, "a,b\n1,2\n3,\"oops\n4,5\n6,7\n");
  Split s = SplitFile(path, TableReadOptions(), 1, true);
  REQUIRE(s.ranges.size() == 2);
  CHECK(s.ranges[1].offset == 8);
  CHECK(s.ranges[1].offset + s.ranges[1].length == 24);
  REQUIRE(s.warnings.size() == 1);
  CHECK(s.warnings[0] == path + ": a quoted field opened at byte 10 is not closed at the end of the file");
}

TEST_CASE("table_source: JSON Lines split at newlines", "[table_source]") {
  TempDir dir("table_source_test");
  std::string path = dir.path() + "/j.jsonl";
  std::string data;
  std::set<uint64_t> ends{0};
  for (int i = 0; i < 100; i++) {
    data += "{\"id\": " + std::to_string(i) + ", \"s\": \"a \\\"quoted\\\" \\n text\"}\n";
    ends.insert(data.size());
  }
  WriteFile(path, data);
  TableReadOptions o;
  o.format = TableFormat::kJsonLines;
  Split s = SplitFile(path, o, 500, true /* ignored for JSON Lines */, 13);
  REQUIRE(s.ranges.size() > 5);
  CHECK(CheckCoverage(data, s.ranges).empty());
  for (const auto& r : s.ranges) {
    CHECK(ends.count(r.offset) == 1);
    CHECK(ends.count(r.offset + r.length) == 1);
    CHECK(!r.has_header);
  }
}

TEST_CASE("table_source: UTF-16 files are one range each", "[table_source]") {
  TempDir dir("table_source_test");
  std::string path = dir.path() + "/w.csv";
  std::string data("\xFF\xFE" "a\0,\0b\0\n\0" "1\0,\0" "2\0\n\0", 18);
  WriteFile(path, data);
  TableReadOptions o;
  o.encoding = "utf16";
  Split s = SplitFile(path, o, 2, true);
  REQUIRE(s.ranges.size() == 1);
  CHECK(s.ranges[0].whole_file);
  CHECK(s.ranges[0].file_header);
  CHECK(s.ranges[0].length == 18);
}

TEST_CASE("table_source: a missing file is an error naming it", "[table_source]") {
  RangeSink sink = [](TableRange&&) { return true; };
  Status s = SplitTextFile("/nonexistent/x.csv", TableReadOptions(), 10, true, nullptr, {}, sink,
                           nullptr);
  CHECK(s.message() == "/nonexistent/x.csv: No such file or directory");
}

TEST_CASE("table_source: the sink can stop the split", "[table_source]") {
  TempDir dir("table_source_test");
  std::string path = dir.path() + "/many.csv";
  std::string data = "h\n";
  for (int i = 0; i < 1000; i++) data += "row\n";
  WriteFile(path, data);
  int calls = 0;
  RangeSink sink = [&](TableRange&&) { return ++calls < 3; };
  REQUIRE(SplitTextFile(path, TableReadOptions(), 4, true, nullptr, {}, sink, nullptr).ok());
  CHECK(calls == 3);
}

// The C++ splitter and the Python reader together: every range, read by
// worker_tabular.load_table, gives back exactly the rows of the whole file.
TEST_CASE("table_source: ranges read by the worker give every row once", "[table_source]") {
  const std::string module = std::string(PARALLELRUN_TEST_DATA) + "/../../lib/node/worker_tabular.py";
  if (system("/usr/bin/python3 -c 'import pandas' 2>/dev/null") != 0) {
    WARN("SKIPPED: pandas is not installed in /usr/bin/python3");
    return;
  }
  TempDir dir("table_source_test");
  for (std::string eol : {"\n", "\r\n"}) {
    std::set<uint64_t> ends;
    std::string path = dir.path() + "/rows.csv";
    WriteFile(path, AwkwardCsv(997, eol, &ends));
    Split s = SplitFile(path, TableReadOptions(), 1024, true, 4096);
    REQUIRE(s.ranges.size() > 20);
    std::string list = dir.path() + "/ranges.bin";
    {
      std::ofstream out(list, std::ios::binary);
      for (const auto& r : s.ranges) {
        std::string enc = EncodeTableRange(r);
        uint32_t n = static_cast<uint32_t>(enc.size());
        out.write(reinterpret_cast<const char*>(&n), 4);
        out << enc;
      }
    }
    std::string script = dir.path() + "/check.py";
    WriteFile(script,
              "import importlib.util, struct, sys\n"
              "import pandas as pd\n"
              "spec = importlib.util.spec_from_file_location('wt', sys.argv[1])\n"
              "wt = importlib.util.module_from_spec(spec); spec.loader.exec_module(wt)\n"
              "data = open(sys.argv[2], 'rb').read(); pos = 0; frames = []\n"
              "while pos < len(data):\n"
              "    (n,) = struct.unpack_from('<I', data, pos); pos += 4\n"
              "    frames.append(wt.load_table(data[pos:pos + n])); pos += n\n"
              "joined = pd.concat(frames, ignore_index=True)\n"
              "pd.testing.assert_frame_equal(joined, pd.read_csv(sys.argv[3]))\n"
              "print('rows', len(joined), 'ranges', len(frames))\n");
    std::string command = "/usr/bin/python3 " + script + " " + module + " " + list + " " + path + " 2>&1";
    FILE* p = popen(command.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string output;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
    int rc = pclose(p);
    INFO(output);
    CHECK(rc == 0);
    CHECK(output == "rows 997 ranges " + std::to_string(s.ranges.size()) + "\n");
  }
}

// ---- descriptors ----------------------------------------------------------------

TEST_CASE("table_source: descriptors round-trip, paths as raw bytes", "[table_source]") {
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

TEST_CASE("table_source: the descriptor encoding is pinned", "[table_source]") {
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
  std::string hex;
  for (unsigned char c : EncodeTableRange(r)) {
    const char* digits = "0123456789abcdef";
    hex += digits[c >> 4];
    hex += digits[c & 15];
  }
  CHECK(hex ==
        "01000e0000002f642f636166c3a920ff2e637376020100000000000001000100000000000100000002000000"
        "030000000000000004000000000000000500000000000000090107000000613b2262206322010000003b0600"
        "00006c6174696e31050000006572726f720300000073726301000000030000006461790a000000323032342f"
        "30312f30320800000025592f256d2f2564");
}

// ---- Parquet ------------------------------------------------------------------------

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
  int64_t rows = 0;
  for (auto& g : groups) rows += g.first;
  w.I64(3, rows);
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

TEST_CASE("table_source: the Parquet footer gives the row groups", "[table_source]") {
  TempDir dir("table_source_test");
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

TEST_CASE("table_source: a real Parquet file's footer decodes", "[table_source]") {
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

TEST_CASE("table_source: Parquet errors name the file", "[table_source]") {
  TempDir dir("table_source_test");
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

TEST_CASE("table_source: Parquet row groups are grouped up to the size", "[table_source]") {
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

TEST_CASE("table_source: one big Parquet row group is cut into row ranges", "[table_source]") {
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

// ---- globs, path lists and the source ---------------------------------------------------

TEST_CASE("table_source: glob patterns", "[table_source]") {
  struct Case {
    const char* pattern;
    const char* path;
    bool match;
  } cases[] = {
      {"/d/*.csv", "/d/a.csv", true},       {"/d/*.csv", "/d/x/a.csv", false},
      {"/d/**/*.csv", "/d/a.csv", true},    {"/d/**/*.csv", "/d/x/y/a.csv", true},
      {"/d/**", "/d/x/y", true},            {"/d/?.csv", "/d/ab.csv", false},
      {"/d/?.csv", "/d/a.csv", true},       {"/d/[ab].csv", "/d/b.csv", true},
      {"/d/[a-c]1.csv", "/d/c1.csv", true}, {"/d/[!a]1.csv", "/d/a1.csv", false},
      {"/d/[!a]1.csv", "/d/b1.csv", true},  {"/d/*", "/d/", true},
      {"/d/a*b*c", "/d/aXbYc", true},       {"/d/a*b*c", "/d/aXbY", false},
      {"/d/[a.csv", "/d/[a.csv", true},     {"/d/*.csv", "/e/a.csv", false},
  };
  for (const auto& c : cases) {
    INFO(c.pattern << " vs " << c.path);
    CHECK(GlobMatch(c.pattern, c.path) == c.match);
  }
}

// Waits, with a deadline, for a source to finish; returns its ranges.
class Waiter {
 public:
  std::function<void()> Callback() {
    return [this] {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        count_++;
      }
      cv_.notify_all();
    };
  }
  template <typename Source, typename Item>
  void Drain(Source& source, std::vector<Item>* out) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      uint64_t seen;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        seen = count_;
      }
      while (source.Take(1000, out) > 0) {
      }
      if (source.finished()) return;
      std::unique_lock<std::mutex> lock(mutex_);
      REQUIRE(cv_.wait_until(lock, deadline, [&] { return count_ != seen; }));
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  uint64_t count_ = 0;
};

TEST_CASE("table_source: path lists with patterns, folders and files", "[table_source]") {
  TempDir dir("table_source_test");
  fs::create_directories(dir.path() + "/data/sub");
  for (const char* f : {"/data/a.csv", "/data/b.txt", "/data/sub/c.csv", "/one.csv"}) {
    WriteFile(dir.path() + f, "x\n");
  }
  Waiter waiter;
  TablePathLister lister({{TablePath::Kind::kPattern, dir.path() + "/data/**/*.csv"},
                          {TablePath::Kind::kFile, dir.path() + "/one.csv"},
                          {TablePath::Kind::kFile, dir.path() + "/missing.csv"},
                          {TablePath::Kind::kPattern, dir.path() + "/data/*.parquet"},
                          {TablePath::Kind::kFolder, dir.path() + "/data/sub"}},
                         waiter.Callback());
  std::vector<std::string> files;
  waiter.Drain(lister, &files);
  CHECK(files == std::vector<std::string>{dir.path() + "/data/a.csv", dir.path() + "/data/sub/c.csv",
                                          dir.path() + "/one.csv", dir.path() + "/data/sub/c.csv"});
  CHECK(lister.errors() ==
        std::vector<std::string>{dir.path() + "/missing.csv: No such file or directory",
                                 dir.path() + "/data/*.parquet: the pattern matched no file"});
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
