// Counting the rows of a table range before a worker reads it, for an
// MLTable's skip/take (TableInput::skip_rows, take_rows): the batcher must
// know where each range's rows lie in the whole table to cut the kept rows
// exactly, though the ranges are read by different workers in parallel.
#ifndef PARALLELRUN_DATA_TABLE_ROWS_H_
#define PARALLELRUN_DATA_TABLE_ROWS_H_

#include <cstdint>
#include <string>

#include "data/table_range.h"
#include "parallelrun/status.h"

namespace parallelrun {

// The rows a worker gets from `range`. Parquet: from the footer (the range's
// rows). Delimited: records by line ends outside quoted fields, with the
// splitter's quote rules (text_splitter.h), not counting blank lines (pandas
// skips them); the header is not in the range. JSON Lines: non-blank lines.
// Errors (Status::Usage, naming the file): the file cannot be read; ranges
// whose rows cannot be counted without decoding them (a whole-file range: a
// UTF-16/32 file or a pickle), JSON Lines with invalid_lines: drop (the rows
// dropped are only known when parsed).
Result<uint64_t> CountRangeRows(const TableRange& range);

// Counts the records of delimited `text` as CountRangeRows does (for tests).
uint64_t CountDelimitedRecords(const std::string& text, char delimiter);

}  // namespace parallelrun

#endif  // PARALLELRUN_DATA_TABLE_ROWS_H_
