// AsciiLower: the one case rule for names a person typed.
#include "base/text.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <fmt/format.h>
#include <string>

namespace parallelrun {
namespace {

TEST_CASE("AsciiLower: A-Z lower case, every other byte as it is", "[text]") {
  CHECK(AsciiLower("") == "");
  CHECK(AsciiLower("Mini_Batch_SIZE") == "mini_batch_size");
  CHECK(AsciiLower("UTF-16LE") == "utf-16le");
  CHECK(AsciiLower("@[`{09") == "@[`{09");  // the neighbours of A-Z and a-z
  CHECK(AsciiLower("\xC3\x89T\xC3\x89") == "\xC3\x89t\xC3\x89");  // "ÉTÉ": UTF-8 untouched
  CHECK(AsciiLower(std::string("A\0B", 3)) == std::string("a\0b", 3));
}

TEST_CASE("AppendFixed6 writes what fmt's {:.6f} writes, halves and edges included", "[text]") {
  std::vector<double> values = {0.0, -0.0, 5e-7, 1.5e-6, 2.5e-6, 4.9999999e-7, 5.0000001e-7,
                                0.1234565, 0.9999995, 0.99999949999, 1.0, 59.9999996,
                                999999.9999994, 999999.9999995, 999999.9999996, 1e6, 1e6 + 0.5,
                                1.7e9, -1e-7, -3.25, 1e300,
                                std::numeric_limits<double>::infinity(),
                                -std::numeric_limits<double>::infinity(),
                                std::numeric_limits<double>::quiet_NaN(),
                                std::numeric_limits<double>::denorm_min()};
  std::mt19937_64 rng(7);
  for (double scale : {1e-6, 1e-3, 1.0, 60.0, 3600.0, 1e6}) {
    std::uniform_real_distribution<double> any(0, scale);
    for (int i = 0; i < 20000; i++) values.push_back(any(rng));
    // Decimal halves between two microseconds, and their neighbours.
    std::uniform_int_distribution<int64_t> micros(0, static_cast<int64_t>(scale * 1e6));
    for (int i = 0; i < 2000; i++) {
      double half = (static_cast<double>(micros(rng)) + 0.5) / 1e6;
      values.push_back(half);
      values.push_back(std::nextafter(half, 0.0));
      values.push_back(std::nextafter(half, 2e6));
    }
  }
  size_t mismatches = 0;
  for (double v : values) {
    std::string out = "x";
    AppendFixed6(v, &out);
    std::string expected = "x" + fmt::format("{:.6f}", v);
    if (out != expected && ++mismatches <= 5) {
      FAIL_CHECK(fmt::format("{:.17g}: {} != {}", v, out, expected));
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("IsoTimeWriter appends what IsoTime makes, across seconds, days and back in time",
          "[text]") {
  IsoTimeWriter writer;
  std::string out = "row,";
  std::string expected = "row,";
  auto both = [&](double t) {
    writer.AppendTo(t, &out);
    expected += IsoTime(t);
    out += ',';
    expected += ',';
  };
  // Steps that cross second boundaries at every fraction, a day's and a
  // year's end, a time before the last one (a late result), the epoch.
  const double bases[] = {1764720000.0, 1798761599.5, 1767225599.9999996, 0.0, 1764720000.0};
  for (double base : bases) {
    for (int k = 0; k < 400; k++) both(base + k * 0.0137731);
  }
  both(1764720123.999999);
  both(1764720123.9999999);  // rounds down, as IsoTime does
  both(1764720122.000001);   // an earlier second after a later one
  CHECK(out == expected);
  CHECK(out.size() > 2000 * 27);
}

TEST_CASE("AppendJsonPrintable is AppendJsonString of Printable, for any bytes", "[text]") {
  auto slow = [](const std::string& bytes) {
    std::string out;
    AppendJsonString(Printable(bytes), &out);
    return out;
  };
  auto fast = [](const std::string& bytes) {
    std::string out = "x";  // appends: what was there stays
    AppendJsonPrintable(bytes, &out);
    return out.substr(1);
  };
  for (std::string bytes : {std::string(""), std::string("a/b c.txt"), std::string("q\"uote"),
                            std::string("back\\slash"), std::string("tab\there"),
                            std::string("nl\n"), std::string("del\x7f"), std::string("\xc3\xa9t\xc3\xa9"),
                            std::string("bad\xff"), std::string("nul\0in", 6), std::string("~ !")}) {
    CHECK(fast(bytes) == slow(bytes));
  }
  std::mt19937 rng(20261202);
  for (int i = 0; i < 20000; i++) {
    std::string bytes(rng() % 12, '\0');
    // Mostly plain ASCII, sometimes any byte: both paths taken.
    for (char& c : bytes) c = static_cast<char>(rng() % 8 ? 0x20 + rng() % 0x5f : rng() % 256);
    REQUIRE(fast(bytes) == slow(bytes));
  }
}

TEST_CASE("AppendCsvQuoted quotes always, doubling quotes, as CsvField does when it quotes",
          "[text]") {
  auto quoted = [](const std::string& s) {
    std::string out = "x";
    AppendCsvQuoted(s, &out);
    return out.substr(1);
  };
  CHECK(quoted("") == "\"\"");
  CHECK(quoted("plain") == "\"plain\"");
  CHECK(quoted("\"") == "\"\"\"\"");
  CHECK(quoted("{\"items\":[\"a,b\"]}") == CsvField("{\"items\":[\"a,b\"]}"));
  CHECK(quoted("a\"\"b\"") == CsvField("a\"\"b\""));
  CHECK(quoted("line\nend\"") == CsvField("line\nend\""));
}

}  // namespace
}  // namespace parallelrun
