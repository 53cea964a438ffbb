// The fast readers of processed_mini-batches.csv (report/job_reports.h)
// against the general ones they replace for the timeline: ISO times by hand
// against strptime and timegm, plain decimals against strtod, and the
// one-scan record reader (ForEachAttempt, which skips what it does not need
// and reads views of blocks) against NextCsvRecord of the whole text with
// the checks the old reader made, on hostile text across block ends.
#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "base/text.h"
#include "report/job_reports.h"
#include "temp_dir.h"

namespace parallelrun {
namespace {

// The reader as it was: strptime, timegm and strtod of the fraction.
bool ReferenceIsoTime(const std::string& text, double* epoch_seconds) {
  struct tm tm = {};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) rest = strptime(text.c_str(), "%Y-%m-%d %H:%M:%S", &tm);
  if (!rest) return false;
  double frac = 0;
  if (*rest == '.' || *rest == ',') {
    std::string digits = std::string("0.") + (rest + 1);
    frac = strtod(digits.c_str(), nullptr);
  }
  *epoch_seconds = static_cast<double>(timegm(&tm)) + frac;
  return true;
}

bool ReferenceDouble(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  *out = strtod(s.c_str(), &end);
  return end && *end == '\0';
}

bool ReferenceU64(const std::string& s, uint64_t* out) {
  if (s.empty() || s[0] == '-') return false;
  char* end = nullptr;
  errno = 0;
  *out = strtoull(s.c_str(), &end, 10);
  return errno == 0 && end && *end == '\0';
}

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

double Unit(std::mt19937_64& g) { return static_cast<double>(g() >> 11) * 0x1.0p-53; }

void CheckIsoTime(const std::string& text) {
  double fast = -1, reference = -1;
  bool fast_ok = ParseIsoTime(text, &fast);
  bool reference_ok = ReferenceIsoTime(text, &reference);
  INFO(text);
  REQUIRE(fast_ok == reference_ok);
  if (fast_ok) REQUIRE(SameBits(fast, reference));
}

TEST_CASE("job reports: ISO times read as strptime and timegm read them", "[trace]") {
  std::mt19937_64 g(7);
  // What IsoTime writes, over 1970-2100, with every kind of fraction.
  for (int i = 0; i < 200000; i++) {
    double t = std::floor(Unit(g) * 4.1e9) + (i % 3 == 0 ? Unit(g) : (g() % 1000000) / 1e6);
    CheckIsoTime(IsoTime(t));
  }
  // The first days of the epoch: small values, whose fraction's last bit
  // is not rounded away by the seconds.
  for (int i = 0; i < 100000; i++) {
    CheckIsoTime(IsoTime(static_cast<double>(g() % 172800) + (g() % 1000000) / 1e6));
  }
  for (int micros = 0; micros < 1000000; micros += 1 + static_cast<int>(g() % 7)) {
    CheckIsoTime(fmt::format("1970-01-01T00:00:00.{:06d}", micros));
  }
  // Days at the edges of months, leap years and centuries.
  for (int year : {1900, 1970, 1999, 2000, 2024, 2026, 2100, 2400, 9999}) {
    for (int month : {1, 2, 3, 12}) {
      for (int day : {1, 28, 29, 30, 31}) {
        CheckIsoTime(fmt::format("{:04d}-{:02d}-{:02d}T23:59:59.999999", year, month, day));
        CheckIsoTime(fmt::format("{:04d}-{:02d}-{:02d}T00:00:00.000000", year, month, day));
      }
    }
  }
  // Near misses: one byte changed, dropped or added anywhere; each must
  // read as the general parser reads it (or fail as it fails).
  const std::string alphabet = "0123456789-T:., Z+x";
  for (int i = 0; i < 20000; i++) {
    std::string text = IsoTime(std::floor(Unit(g) * 4.1e9) + (g() % 1000000) / 1e6);
    size_t at = g() % text.size();
    switch (g() % 3) {
      case 0: text[at] = alphabet[g() % alphabet.size()]; break;
      case 1: text.erase(at, 1); break;
      default: text.insert(at, 1, alphabet[g() % alphabet.size()]); break;
    }
    CheckIsoTime(text);
  }
  for (const char* text : {"2026-00-01T00:00:00.000000", "2026-13-01T00:00:00.000000",
                           "2026-12-00T00:00:00.000000", "2026-12-32T00:00:00.000000",
                           "2026-12-01T24:00:00.000000", "2026-12-01T23:60:00.000000",
                           "2026-12-01T23:59:60.000000", "2026-12-01T23:59:61.000000",
                           "1899-12-31T23:59:59.999999", "0000-01-01T00:00:00.000000",
                           "2026-12-01 10:00:00.000000", "2026-12-01T10:00:00,250000",
                           "2026-12-01T10:00:00", "", "yesterday"}) {
    CheckIsoTime(text);
  }
}

TEST_CASE("job reports: CSV numbers read as strtod reads them", "[trace]") {
  std::mt19937_64 g(11);
  auto check = [](const std::string& text) {
    double fast = -1, reference = -1;
    bool fast_ok = ParseCsvDouble(text, &fast);
    bool reference_ok = ReferenceDouble(text, &reference);
    INFO(text);
    REQUIRE(fast_ok == reference_ok);
    REQUIRE(SameBits(fast, reference));  // also what a failed read leaves
  };
  // What JobLog writes ({:.6f}), over many magnitudes.
  for (int i = 0; i < 200000; i++) {
    double v = Unit(g) * std::pow(10.0, static_cast<double>(g() % 24) - 8);
    check(fmt::format("{:.6f}", v));
  }
  // Digit strings of every length, with and without a point anywhere.
  for (int i = 0; i < 100000; i++) {
    std::string text;
    size_t n = 1 + g() % 22;
    for (size_t k = 0; k < n; k++) text += static_cast<char>('0' + g() % 10);
    if (g() % 4 != 0) text.insert(g() % (n + 1), 1, '.');
    check(text);
  }
  for (const char* text : {"0", "-0", "+1", " 2.5", "1e3", "1e-3", "0x10", "inf", "nan", ".5",
                           "5.", "1.5x", "", "00.000000", "999999999999999",
                           "9999999999999999", "123456789.123456", "1234567890.123456"}) {
    check(text);
  }
}

// The rows of a CSV text as the reader before ForEachAttempt made them:
// NextCsvRecord over the whole text, then the same checks in the same
// order. `error` is "line: what" of the first row that failed, or "".
std::vector<AttemptRow> ReferenceRows(const std::string& text, std::string* error) {
  std::vector<AttemptRow> rows;
  error->clear();
  size_t pos = 0;
  std::vector<std::string> fields;
  std::map<std::string, size_t> cols;
  bool header = false;
  int line = 0;
  while (NextCsvRecord(text, &pos, &fields)) {
    line++;
    if (!header) {
      for (size_t i = 0; i < fields.size(); i++) cols[fields[i]] = i;
      header = true;
      continue;
    }
    if (fields.size() == 1 && fields[0].empty()) continue;
    auto get = [&](const char* name) -> std::string {
      auto it = cols.find(name);
      return it != cols.end() && it->second < fields.size() ? fields[it->second] : "";
    };
    AttemptRow r;
    uint64_t attempt = 0, node = 0;
    const char* what = nullptr;
    if (!ReferenceU64(get("Mini-batch Id"), &r.id)) {
      what = "Mini-batch Id is not a number";
    } else if (!ReferenceU64(get("Picked Count"), &attempt)) {
      what = "Picked Count is not a number";
    } else if (!ReferenceIsoTime(get("Start Time"), &r.start)) {
      what = "Start Time is not a time";
    } else if (!ReferenceU64(get("Total"), &r.total) ||
               !ReferenceU64(get("Succeeded"), &r.succeeded)) {
      what = "Total or Succeeded is not a number";
    } else if (!ReferenceDouble(get("Elapsed Seconds"), &r.elapsed)) {
      what = "Elapsed Seconds is not a number";
    }
    if (what) {
      *error = fmt::format(":{}: {}", line, what);
      return rows;
    }
    ReferenceDouble(get("Process Seconds"), &r.cpu);
    ReferenceDouble(get("Run Method Seconds"), &r.run);
    ReferenceU64(get("Node"), &node);
    r.attempt = static_cast<uint32_t>(attempt);
    r.node = static_cast<uint32_t>(node);
    r.process = get("Process");
    r.status = get("Status");
    r.category = get("Error Category");
    r.message = get("Error Message");
    rows.push_back(std::move(r));
  }
  if (!header) *error = ": empty file, no header";
  return rows;
}

// A field of hostile bytes, quoted as CSV needs (or, when `raw`, not: a
// stray quote then starts quoted text in the middle of a field).
std::string HostileField(std::mt19937_64& g, bool raw) {
  static const char* const pieces[] = {"a", "bc", ",", "\"", "\"\"", "\n", "\r", "\r\n", " ",
                                       "\xff", "\xc3\xa9", "process001", "0.5", "RUN_DONE"};
  std::string s;
  size_t n = g() % 8;
  for (size_t k = 0; k < n; k++) s += pieces[g() % 14];
  return raw ? s : CsvField(s);
}

std::string TimeField(std::mt19937_64& g) {
  switch (g() % 8) {
    case 0: return "2026-12-01 10:00:05";
    case 1: return "\"2026-12-01T10:00:05,5\"";
    default: return IsoTime(1796119200.0 + Unit(g) * 86400.0);
  }
}

std::string NumberField(std::mt19937_64& g) {
  switch (g() % 10) {
    case 0: return " 1.5";
    case 1: return "1e-3";
    case 2: return "";
    default: return fmt::format("{:.6f}", Unit(g) * 100.0);
  }
}

// A CSV in the columns `order` (a permutation of the header's), `rows`
// records; `junk`: now and then a field that is not what its column wants.
std::string HostileCsv(std::mt19937_64& g, int rows, bool junk, size_t detail_bytes) {
  std::vector<std::string> names = {
      "Mini-batch Id", "Picked Count",    "Process",          "Start Time",
      "Total",         "Succeeded",       "Failed",           "Elapsed Seconds",
      "Process Seconds", "Run Method Seconds", "Status",      "Error Category",
      "Error Message", "Mini-batch Detail", "Node",           "Extra"};
  std::shuffle(names.begin(), names.end(), g);
  std::string text;
  for (size_t i = 0; i < names.size(); i++) text += (i ? "," : "") + names[i];
  text += g() % 2 ? "\r\n" : "\n";
  for (int r = 0; r < rows; r++) {
    if (g() % 40 == 0) text += g() % 2 ? "\n" : "\r\n";  // an empty line
    for (size_t i = 0; i < names.size(); i++) {
      const std::string& c = names[i];
      std::string f;
      if (c == "Mini-batch Id" || c == "Picked Count" || c == "Total" || c == "Succeeded" ||
          c == "Failed" || c == "Node") {
        f = std::to_string(g() % 1000);
      } else if (c == "Start Time") {
        f = TimeField(g);
      } else if (c == "Elapsed Seconds" || c == "Process Seconds" || c == "Run Method Seconds") {
        f = NumberField(g);
        if (c == "Elapsed Seconds" && f.empty()) f = "0.25";
      } else if (c == "Mini-batch Detail") {
        std::string detail = "{\"items\":[\"" + std::string(g() % detail_bytes, 'x') + "\"]}";
        AppendCsvQuoted(detail, &f);
      } else {
        f = HostileField(g, false);
      }
      if (junk && g() % 400 == 0) f = HostileField(g, true);
      text += (i ? "," : "") + f;
    }
    // Rows end in \n or \r\n, or lose trailing fields; the last may have
    // no line end.
    if (r + 1 < rows || g() % 2) text += g() % 3 == 0 ? "\r\n" : "\n";
  }
  return text;
}

void CheckSameRows(const std::string& text, const std::string& path) {
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
  }
  std::string expected_error;
  std::vector<AttemptRow> expected = ReferenceRows(text, &expected_error);
  auto got = ReadAttemptRows(path);
  if (!expected_error.empty()) {
    REQUIRE_FALSE(got.ok());
    CHECK_THAT(got.status().message(), Catch::Matchers::EndsWith(expected_error));
    // The rows before the error were given, and are the same.
  }
  std::vector<AttemptRow> rows;
  Status s = ForEachAttemptRow(path, [&rows](AttemptRow&& r) { rows.push_back(std::move(r)); });
  CHECK(s.ok() == expected_error.empty());
  REQUIRE(rows.size() == expected.size());
  for (size_t i = 0; i < rows.size(); i++) {
    const AttemptRow& a = rows[i];
    const AttemptRow& b = expected[i];
    INFO("row " << i);
    CHECK(a.id == b.id);
    CHECK(a.attempt == b.attempt);
    CHECK(a.node == b.node);
    CHECK(SameBits(a.start, b.start));
    CHECK(a.total == b.total);
    CHECK(a.succeeded == b.succeeded);
    CHECK(SameBits(a.elapsed, b.elapsed));
    CHECK(SameBits(a.cpu, b.cpu));
    CHECK(SameBits(a.run, b.run));
    CHECK(a.process == b.process);
    CHECK(a.status == b.status);
    CHECK(a.category == b.category);
    CHECK(a.message == b.message);
  }
}

TEST_CASE("job reports: the one-scan reader reads what NextCsvRecord reads", "[trace]") {
  TempDir dir("trace_reader_test");
  std::string path = dir.path() + "/processed_mini-batches.csv";
  std::mt19937_64 g(3);
  // Several MB: records cross block ends at many places, quoted line ends
  // and doubled quotes among them.
  for (int i = 0; i < 3; i++) CheckSameRows(HostileCsv(g, 9000, false, 600), path);
  // Small ones with junk: the first bad row's error, on the same line.
  for (int i = 0; i < 200; i++) CheckSameRows(HostileCsv(g, 60, true, 40), path);
  // Edge texts.
  for (const char* text :
       {"", "\n", "Mini-batch Id", "Mini-batch Id\r", "\"Mini-batch\nId\",Total\n",
        "Mini-batch Id,Picked Count,Start Time,Total,Succeeded,Elapsed Seconds\r\n"
        "1,1,2026-12-01T10:00:00.000000,1,1,0.5\r",
        "Mini-batch Id,Picked Count,Start Time,Total,Succeeded,Elapsed Seconds\n"
        "1,1,2026-12-01T10:00:00.000000,1,1,\"0.5\"\"",
        "Mini-batch Id,Picked Count,Start Time,Total,Succeeded,Elapsed Seconds,Mini-batch Id\n"
        "1,1,2026-12-01T10:00:00.000000,1,1,0.5,2\n"}) {
    CheckSameRows(text, path);
  }
}

TEST_CASE("job reports: the one-scan reader reads records across a block's end", "[trace]") {
  // ForEachAttempt reads 1 MiB at a time. A long first row puts each byte
  // of a few awkward rows in turn at the block's end: a doubled quote cut
  // in two, a closing quote last, "\r" then "\n", a lone "\r".
  TempDir dir("trace_reader_test");
  std::string path = dir.path() + "/processed_mini-batches.csv";
  constexpr size_t kBlock = 1 << 20;
  const std::string header =
      "Mini-batch Id,Picked Count,Process,Start Time,Total,Succeeded,Elapsed Seconds,Status,"
      "Error Message,Mini-batch Detail\r\n";
  const std::string row = ",1,process001,2026-12-01T10:00:00.500000,2,1,0.5,RUN_EXCEPTION,";
  const std::string awkward = "1" + row + "\"say \"\"hi\"\"\",\"\"\"\"\"\"\"\r\n" +
                              "2" + row + "\"a\rb\nc\r\nd\",x\"y\"z\r" +
                              "3" + row + "\"\",\"\"\n" +
                              "4" + row + "plain,\"{\"\"items\"\":[]}\"\r\n";
  const std::string first = "0" + row + "\"", first_end = "\",\r\n";
  for (size_t shift = 0; shift < awkward.size(); shift++) {
    // The first row ends so that byte `shift` of the awkward rows is the
    // block's last.
    size_t fill = kBlock - 1 - header.size() - first.size() - first_end.size() - shift;
    std::string text = header + first + std::string(fill, 'x') + first_end + awkward;
    REQUIRE(text.size() - awkward.size() + shift == kBlock - 1);
    CheckSameRows(text, path);
  }
}

}  // namespace
}  // namespace parallelrun
