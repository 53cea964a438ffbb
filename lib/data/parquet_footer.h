// The row groups of a Parquet file, read from its footer (Thrift compact
// FileMetaData; only the row-group list is decoded, the rest skipped), and
// their split into ranges: consecutive row groups are put together up to
// mini_batch_size (compressed bytes); a row group larger than mini_batch_size
// is cut into row ranges, so a file of one big row group still makes many
// mini-batches (the original made it one, reference §6 #11). The worker
// reads such a range by streaming that row group and keeping only its rows.
// A Parquet file with no rows makes no range.
#ifndef PARALLELRUN_DATA_PARQUET_FOOTER_H_
#define PARALLELRUN_DATA_PARQUET_FOOTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "data/table_range.h"
#include "parallelrun/status.h"

namespace parallelrun {

// The row groups of a Parquet file, from its footer.
struct ParquetRowGroup {
  uint64_t rows = 0;
  uint64_t bytes = 0;  // total_compressed_size when present, else total_byte_size
};
struct ParquetLayout {
  uint64_t rows = 0;
  std::vector<ParquetRowGroup> row_groups;
};
// Errors: not a Parquet file (magic bytes), a footer that does not decode.
Result<ParquetLayout> ReadParquetLayout(const std::string& path);

// Decodes a serialized FileMetaData (the footer without its length and
// magic). Exposed for tests.
Result<ParquetLayout> DecodeParquetFooter(const std::string& footer);

// Splits a Parquet file's layout into ranges (see the file comment).
void SplitParquet(const std::string& path, const TableReadOptions& options,
                  const ParquetLayout& layout, uint64_t mini_batch_size,
                  const std::vector<TableRange::PathColumn>& path_columns, const RangeSink& sink);

}  // namespace parallelrun

#endif  // PARALLELRUN_DATA_PARQUET_FOOTER_H_
