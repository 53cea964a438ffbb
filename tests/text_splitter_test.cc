#include "data/text_splitter.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace parallelrun {
namespace {

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

TEST_CASE("text_splitter: quoted multi-line fields are never split", "[text_splitter]") {
  TempDir dir("text_splitter_test");
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

TEST_CASE("text_splitter: random CSVs split only at record ends", "[text_splitter]") {
  TempDir dir("text_splitter_test");
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
    // Records longer than the tiny mini_batch_size are noted; nothing else is.
    for (const auto& w : s.warnings) CHECK(w.find("more than mini_batch_size") != std::string::npos);
    for (const auto& r : s.ranges) {
      CHECK(ends.count(r.offset) == 1);
      CHECK(ends.count(r.offset + r.length) == 1);
    }
  }
}

TEST_CASE("text_splitter: a file smaller than the size is one range", "[text_splitter]") {
  TempDir dir("text_splitter_test");
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

TEST_CASE("text_splitter: the size is reached exactly at a record end", "[text_splitter]") {
  TempDir dir("text_splitter_test");
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

TEST_CASE("text_splitter: empty and header-only files make no range", "[text_splitter]") {
  TempDir dir("text_splitter_test");
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

TEST_CASE("text_splitter: blank lines at the end join the last range", "[text_splitter]") {
  TempDir dir("text_splitter_test");
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

TEST_CASE("text_splitter: header modes", "[text_splitter]") {
  TempDir dir("text_splitter_test");
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

TEST_CASE("text_splitter: the delimiter decides where a quote opens a field", "[text_splitter]") {
  TempDir dir("text_splitter_test");
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

TEST_CASE("text_splitter: an unterminated quote is reported", "[text_splitter]") {
  TempDir dir("text_splitter_test");
  std::string path = dir.path() + "/bad.csv";
  WriteFile(path, "a,b\n1,2\n3,\"oops\n4,5\n6,7\n");
  Split s = SplitFile(path, TableReadOptions(), 1, true);
  REQUIRE(s.ranges.size() == 2);
  CHECK(s.ranges[1].offset == 8);
  CHECK(s.ranges[1].offset + s.ranges[1].length == 24);
  REQUIRE(s.warnings.size() == 2);
  CHECK(s.warnings[0] == path + ": a quoted field opened at byte 10 is not closed at the end of the file");
  CHECK(s.warnings[1] == path + ": the record at byte 4 is 4 bytes, more than mini_batch_size (1 "
                             "bytes); its mini-batch holds it whole (and 1 more such records in "
                             "this file)");
}

TEST_CASE("text_splitter: a record larger than mini_batch_size is named", "[text_splitter]") {
  TempDir dir("text_splitter_test");
  std::string path = dir.path() + "/big.csv";
  std::string big = "3,\"" + std::string(100, 'x') + "\n" + std::string(50, 'y') + "\"\n";
  WriteFile(path, "a,b\n1,2\n" + big + "4,5\n");
  Split s = SplitFile(path, TableReadOptions(), 64, true);
  REQUIRE(s.warnings.size() == 1);
  CHECK(s.warnings[0] == path + ": the record at byte 8 is " + std::to_string(big.size()) +
                             " bytes, more than mini_batch_size (64 bytes); its mini-batch holds "
                             "it whole");
  // Records within the size give no warning.
  CHECK(SplitFile(path, TableReadOptions(), 1024, true).warnings.empty());
}

TEST_CASE("text_splitter: JSON Lines split at newlines", "[text_splitter]") {
  TempDir dir("text_splitter_test");
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

TEST_CASE("text_splitter: UTF-16 files are one range each", "[text_splitter]") {
  TempDir dir("text_splitter_test");
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

TEST_CASE("text_splitter: a missing file is an error naming it", "[text_splitter]") {
  RangeSink sink = [](TableRange&&) { return true; };
  Status s = SplitTextFile("/nonexistent/x.csv", TableReadOptions(), 10, true, nullptr, {}, sink,
                           nullptr);
  CHECK(s.message() == "/nonexistent/x.csv: No such file or directory");
}

TEST_CASE("text_splitter: the sink can stop the split", "[text_splitter]") {
  TempDir dir("text_splitter_test");
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
TEST_CASE("text_splitter: ranges read by the worker give every row once", "[text_splitter]") {
  const std::string module = std::string(PARALLELRUN_TEST_DATA) + "/../../lib/node/worker_tabular.py";
  if (system("/usr/bin/python3 -c 'import pandas' 2>/dev/null") != 0) {
    WARN("SKIPPED: pandas is not installed in /usr/bin/python3");
    return;
  }
  TempDir dir("text_splitter_test");
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

}  // namespace
}  // namespace parallelrun
