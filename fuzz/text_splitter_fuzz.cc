// libFuzzer target for data/text_splitter.h: CSV/TSV and JSON Lines files
// are bytes from outside. The first bytes of the input choose the format,
// the delimiter, the header, the encoding, the mini-batch size and the read
// chunk size; the rest is the file. Besides "no crash, hang or unbounded
// allocation" it checks the splitter's contract: the header bytes and the
// ranges, in order, cover the file exactly, and the ranges do not depend on
// the size of the chunks the file is read in (the state carried from one
// chunk to the next is complete). A mismatch aborts, which libFuzzer reports
// like a crash. Build and run with fuzz/run.sh.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/text_splitter.h"
#include "fuzz_file.h"

namespace parallelrun {
namespace {

struct Split {
  Status status = Status::Ok();
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // offset, length
  std::string header;
};

Split Run(const std::string& path, const TableReadOptions& options, uint64_t mini_batch_size,
          bool has_header, size_t chunk) {
  Split s;
  std::vector<std::string> warnings;
  s.status = SplitTextFile(
      path, options, mini_batch_size, has_header, nullptr, {},
      [&s](TableRange&& r) {
        s.ranges.emplace_back(r.offset, r.length);
        return true;
      },
      &warnings, has_header ? &s.header : nullptr, chunk);
  return s;
}

void FuzzOne(const uint8_t* data, size_t size) {
  if (size < 3) return;
  static const char* const kDelimiters[] = {",", "\t", ";", "|", "\"", "\n", "ab", ""};
  static const char* const kEncodings[] = {"utf8", "utf-8-sig", "latin1", "utf16"};
  TableReadOptions options;
  options.format = (data[0] & 1) ? TableFormat::kJsonLines : TableFormat::kDelimited;
  options.delimiter = kDelimiters[(data[0] >> 1) & 7];
  options.encoding = kEncodings[(data[0] >> 4) & 3];
  bool has_header = data[0] & 0x40;
  uint64_t mini_batch_size = (data[1] % 97) + 1;
  size_t chunk = (data[2] % 61) + 1;
  std::string file(reinterpret_cast<const char*>(data) + 3, size - 3);
  std::string path = WriteFuzzFile(file);

  Split small = Run(path, options, mini_batch_size, has_header, chunk);
  Split whole = Run(path, options, mini_batch_size, has_header, 1 << 20);
  if (!small.status.ok() || !whole.status.ok()) {
    std::fprintf(stderr, "a readable file was refused: %s / %s\n",
                 small.status.message().c_str(), whole.status.message().c_str());
    std::abort();
  }
  if (small.ranges != whole.ranges || small.header != whole.header) {
    std::fprintf(stderr, "read in chunks of %zu: %zu ranges; whole: %zu ranges\n", chunk,
                 small.ranges.size(), whole.ranges.size());
    std::abort();
  }
  // The ranges follow each other to the end of the file; the bytes before
  // the first are the header's (and blank lines).
  if (!whole.ranges.empty()) {
    uint64_t at = whole.ranges.front().first;
    for (const auto& [offset, length] : whole.ranges) {
      if (offset != at || length == 0) {
        std::fprintf(stderr, "range at %llu (+%llu) where %llu was expected\n",
                     (unsigned long long)offset, (unsigned long long)length,
                     (unsigned long long)at);
        std::abort();
      }
      at += length;
    }
    if (at != file.size()) {
      std::fprintf(stderr, "the ranges end at %llu, the file at %zu\n", (unsigned long long)at,
                   file.size());
      std::abort();
    }
    if (!has_header && options.format == TableFormat::kDelimited &&
        whole.ranges.front().first != 0 && options.encoding != "utf-8-sig") {
      std::fprintf(stderr, "no header, but the first range starts at %llu\n",
                   (unsigned long long)whole.ranges.front().first);
      std::abort();
    }
  }
}

}  // namespace
}  // namespace parallelrun

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  parallelrun::FuzzOne(data, size);
  return 0;
}
