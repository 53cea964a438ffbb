// libFuzzer target for data/parquet_footer.h: a Parquet file's footer is
// bytes from outside (any file in an input folder). DecodeParquetFooter on
// the input as a footer, ReadParquetLayout on the input as a whole file,
// and SplitParquet on what decodes. None may crash, hang, read out of
// bounds or allocate without bound; the ranges SplitParquet makes must cover
// each row once, in order, and be no more than the file's bytes allow.
// Build and run with fuzz/run.sh.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "data/parquet_footer.h"
#include "fuzz_file.h"

namespace parallelrun {
namespace {

void CheckSplit(const ParquetLayout& layout, uint64_t file_size, uint64_t mini_batch_size) {
  uint64_t next_row = 0, ranges = 0;
  // A mini-batch per byte of the file at most (mini_batch_size is at least 1).
  const uint64_t limit = file_size + layout.row_groups.size() + 1;
  SplitParquet("f.parquet", TableReadOptions{}, layout, mini_batch_size, {},
               [&](TableRange&& r) {
                 if (r.row_begin != next_row || r.row_end <= r.row_begin) {
                   std::fprintf(stderr, "range rows [%llu, %llu) after row %llu\n",
                                (unsigned long long)r.row_begin, (unsigned long long)r.row_end,
                                (unsigned long long)next_row);
                   std::abort();
                 }
                 next_row = r.row_end;
                 if (++ranges > limit) {
                   std::fprintf(stderr, "more than %llu ranges from a file of %llu bytes\n",
                                (unsigned long long)limit, (unsigned long long)file_size);
                   std::abort();
                 }
                 return true;
               });
}

void FuzzOne(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  // 1. The input as a footer (what DecodeParquetFooter is given).
  auto decoded = DecodeParquetFooter(bytes);
  if (!decoded.ok() && decoded.status().message().empty()) std::abort();
  // 2. The input as a whole file, as an input folder would hold it; and
  //    again wrapped as a Parquet file around the input as its footer.
  std::string wrapped = "PAR1" + bytes;
  uint32_t n = static_cast<uint32_t>(size);
  for (int i = 0; i < 4; i++) wrapped.push_back(static_cast<char>(n >> (8 * i)));
  wrapped += "PAR1";
  for (const std::string* file : {&bytes, &wrapped}) {
    std::string path = WriteFuzzFile(*file);
    auto layout = ReadParquetLayout(path);
    if (!layout.ok()) {
      if (layout.status().message().empty()) std::abort();
      continue;
    }
    uint64_t mini_batch_size = size > 0 ? (data[0] % 64) + 1 : 1;
    CheckSplit(layout.value(), file->size(), mini_batch_size);
    CheckSplit(layout.value(), file->size(), 1 << 20);
  }
}

}  // namespace
}  // namespace parallelrun

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  parallelrun::FuzzOne(data, size);
  return 0;
}
