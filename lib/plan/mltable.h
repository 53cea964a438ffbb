// MLTable: reads an MLTable folder's `MLTable` file (reference §2.2, §3.2)
// into the paths and read options that TableSource (tabular) or
// TablePathLister (file list) work from.
//
// Supported, as the MLTable YAML schema writes them:
//   type: mltable                      (optional; anything else is an error)
//   $schema, traits, metadata          accepted, not used
//   paths: list of {file: P} | {folder: P} | {pattern: GLOB}
//       relative to the MLTable folder, absolute, or file:// URIs. Cloud URIs
//       (azureml://, https://, wasbs://, abfss://, adl://, …) are errors: a
//       local run reads local files.
//   transformations: list of
//     read_delimited: {delimiter, header, encoding, include_path_column,
//                      path_column, empty_as_string, support_multi_line,
//                      infer_column_types: true}
//     read_json_lines: {encoding, include_path_column, path_column, invalid_lines}
//     read_parquet: {include_path_column, path_column}
//     extract_columns_from_partition_format: FORMAT | {partition_format: FORMAT}
//       (the schema's documented form `{column_name:yyyy/MM/dd}` without
//       quotes is a YAML flow mapping; it is read back as the format it
//       was meant to be).
//     drop_columns: NAME | [NAMES]      keep_columns: NAME | [NAMES]
//     convert_column_types: [{columns: NAME | [NAMES], column_type: T}], T one
//       of int, float, string, boolean, {boolean: {true_values, false_values,
//       mismatch_as}}, {datetime: {formats: [...]}}
//     filter: 'col("name") OP VALUE' (one comparison; OP == != < <= > >=;
//       VALUE a number, a quoted string, True/False, datetime(y, m, d[, H, M, S]))
//     skip: N, take: N (rows of the whole table, in file order)
//   The column steps and filter are done by the worker on each mini-batch's
//   rows, after its read and the partition columns, in the order written
//   (TableReadOptions::transforms; lib/node/worker_tabular.py apply_steps);
//   read_delimited types the columns as mltable does (infer_column_types).
//   skip/take are cut by the batcher (TableInput::skip_rows, take_rows), so
//   one after a filter is refused, as is skip/take with partition_keys.
// Everything else — take_random_sample, read_delta_lake, a filter beyond one
// comparison, stream_info, an unknown option — is an error naming the key
// and its place: "<MLTable file>:<line>:<col>: transformation
// 'take_random_sample' is not supported …", followed by the line and a
// caret, as spec errors are.
//
// An MLTable with a read_* transformation is tabular; without one it is a
// file list (its files are items, as a uri_folder's are).
#ifndef PARALLELRUN_PLAN_MLTABLE_H_
#define PARALLELRUN_PLAN_MLTABLE_H_

#include <optional>
#include <string>
#include <vector>

#include "data/partitions.h"
#include "data/table_source.h"
#include "parallelrun/status.h"

namespace parallelrun {

struct MLTable {
  std::string file;    // the MLTable file, absolute
  std::string folder;  // its folder, absolute: relative paths start here
  std::vector<TablePath> paths;  // absolute, in file order
  std::optional<TableReadOptions> read;  // set for a tabular MLTable
  std::optional<PartitionFormat> partition_format;
  // skip/take on the whole table, in file order (TableInput::skip_rows).
  uint64_t skip_rows = 0;
  std::optional<uint64_t> take_rows;

  bool tabular() const { return read.has_value(); }
  // The TableSource input for a tabular MLTable.
  TableInput ToTableInput(const std::string& input_name) const;
};

// True when `path` is a folder holding a file named "MLTable", or such a file.
bool IsMLTable(const std::string& path);

// Reads `path`: an MLTable folder or its MLTable file. Errors are
// Status::Usage: "<file>:<line>:<col>: message" with the line and a caret,
// or "<path>: No such file or directory".
Result<MLTable> LoadMLTable(const std::string& path);

// The tabular input `input_name` at `path`: an MLTable folder (or file) with
// a read_* transformation, a folder of tables, or one table file. Errors:
// the path does not exist; an MLTable without a read_* transformation
// ("… is a file-list MLTable: it has no read_delimited, read_json_lines or
// read_parquet transformation"); the MLTable's own errors.
Result<TableInput> ResolveTableInput(const std::string& input_name, const std::string& path);

// Parses MLTable text; `file` (absolute) is used for messages and as the base
// of relative paths.
Result<MLTable> ParseMLTable(const std::string& text, const std::string& file);

}  // namespace parallelrun

#endif  // PARALLELRUN_PLAN_MLTABLE_H_
