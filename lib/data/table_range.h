// TableRange: one mini-batch of a tabular input (a piece of one file, or a
// whole file), its binary encoding for the worker, and its label for people.
#ifndef PARALLELRUN_DATA_TABLE_RANGE_H_
#define PARALLELRUN_DATA_TABLE_RANGE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/mini_batch.h"
#include "data/table_format.h"

namespace parallelrun {

// One mini-batch of a tabular input.
struct TableRange {
  std::string path;
  TableReadOptions options;
  // Delimited, JSON Lines: bytes [offset, offset + length) of the file.
  // Parquet: the compressed size of the rows' row groups (for reports).
  uint64_t offset = 0;
  uint64_t length = 0;
  // Parquet: rows [row_begin, row_end) of the file (0-based), which lie in
  // row groups [group_begin, group_end); group_first_row is the file row
  // index of row group group_begin's first row.
  uint32_t group_begin = 0;
  uint32_t group_end = 0;
  uint64_t group_first_row = 0;
  uint64_t row_begin = 0;
  uint64_t row_end = 0;
  // Delimited: the header record's bytes (no line end, no byte-order mark),
  // to be used as column names; has_header false = no header (Column1, …).
  bool has_header = false;
  std::string header;
  // Read the whole file instead of [offset, offset + length): a file in a
  // UTF-16/32 encoding, or a file of a partition (MakeWholeFileRange).
  // file_header: the file's first record is its header (then `header` is
  // unused).
  bool whole_file = false;
  bool file_header = false;
  // Columns added from the path (extract_columns_from_partition_format), in
  // the format's key order, with their strptime format ("" = string column).
  struct PathColumn {
    std::string name, value, datetime_format;
  };
  std::vector<PathColumn> path_columns;

  // MLTable skip/take: only rows [keep_begin, keep_end) of the range's rows
  // (0-based, counted after reading it) are kept; the defaults keep all.
  static constexpr uint64_t kAllRows = ~uint64_t{0};
  uint64_t keep_begin = 0;
  uint64_t keep_end = kAllRows;

  // Rows in the range when known before reading it (Parquet), else 0.
  uint64_t known_rows() const { return row_end - row_begin; }
};

// Encodes a range for the worker (the item of a tabular RUN) and back. The
// encoding is binary, little-endian, in wire.h's field encodings; see
// table_range.cc for the field list, and keep worker_tabular.py's
// decode_descriptor in step. Paths survive as raw bytes.
std::string EncodeTableRange(const TableRange& range);
bool DecodeTableRange(const std::string& data, TableRange* out);
// Version 2 added transforms, keep_begin and keep_end; version 1 still
// decodes (a journal written before), as if they were empty / all rows.
constexpr uint8_t kTableRangeVersion = 2;

// Receives the ranges of one file in order; returns false to stop (the
// splitter then returns without reading further).
using RangeSink = std::function<bool(TableRange&&)>;

// Item `i` of `batch` for people: a path as it is; a table range as its file
// and place ("data/a.csv (bytes 0-1048575)", "t.parquet (rows 0-9999)").
std::string ItemLabel(const MiniBatch& batch, size_t i);

}  // namespace parallelrun

#endif  // PARALLELRUN_DATA_TABLE_RANGE_H_
