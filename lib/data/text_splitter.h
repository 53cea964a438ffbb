// The splitter of delimited (CSV, TSV, …) and JSON Lines files into byte
// ranges of about mini_batch_size bytes, aligned to whole records (all in one
// streaming pass per file, chunked reads, memory independent of the file's
// size):
//  - Delimited: at a line end that is not inside a quoted field.
//    The quote state is tracked from the start of the file with the state
//    machine of pandas' C tokenizer (a '"' opens a quoted field only at the
//    start of a field; "" inside one is a quote; after the closing quote a
//    field may go on unquoted), so quoted fields holding newlines, delimiters
//    and doubled quotes stay whole. Line ends are "\n", "\r\n" and a lone "\r"
//    (pandas accepts all three). The header record (when the file has one) is
//    not in any range; its bytes are recorded so the worker can name the
//    columns. Blank lines before the header belong to it; a range made only
//    of blank lines is merged into the one before it, so no mini-batch is
//    empty. A quote still open at the end of the file is reported (the rest
//    of the file is then one range; pandas will reject it with its own words).
//  - JSON Lines: at any "\n" (a JSON string cannot hold a raw newline).
//  - Files in a UTF-16 or UTF-32 encoding are one range each: their line ends
//    are not single bytes.
// Offsets and lengths cover the file exactly: header bytes + the ranges in
// order = the file. Empty files and files with only a header (and blank
// lines) make no range.
#ifndef PARALLELRUN_DATA_TEXT_SPLITTER_H_
#define PARALLELRUN_DATA_TEXT_SPLITTER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/table_range.h"
#include "parallelrun/status.h"

namespace parallelrun {

// Splits one delimited or JSON Lines file into ranges of about
// `mini_batch_size` bytes (each range ends at the first record end at or
// after that many bytes; the last may be shorter). `has_header`: the file's
// first record is a header. `header_text` is the header to give ranges when
// the file has none of its own (HeaderMode::kFromFirstFile), or nullptr.
// `warnings` receives notes such as an unterminated quoted field. Reads the
// file once in `chunk_size` pieces. When `has_header` and `header_found` is
// not null, the header record is stored there ("" for an empty file).
// Errors: the file cannot be opened or read.
Status SplitTextFile(const std::string& path, const TableReadOptions& options,
                     uint64_t mini_batch_size, bool has_header, const std::string* header_text,
                     const std::vector<TableRange::PathColumn>& path_columns,
                     const RangeSink& sink, std::vector<std::string>* warnings,
                     std::string* header_found = nullptr, size_t chunk_size = 1u << 20);

// A range that is the whole file `path` (a partition's files are read whole).
// `first_header`: for HeaderMode::kFromFirstFile, the header of the input's
// first file when `path` is not that file, else nullptr.
TableRange MakeWholeFileRange(const std::string& path, const TableReadOptions& options,
                              const std::string* first_header,
                              std::vector<TableRange::PathColumn> path_columns);

// Reads the first record of a delimited file (its header), as SplitTextFile
// records it. "" for an empty file.
Result<std::string> ReadHeaderRecord(const std::string& path, const TableReadOptions& options);

}  // namespace parallelrun

#endif  // PARALLELRUN_DATA_TEXT_SPLITTER_H_
