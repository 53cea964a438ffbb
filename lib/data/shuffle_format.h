// The shuffle's format: what a shuffle process (partitions by table columns,
// ColumnPartitionBatches) is given and what it prints. The data stage writes
// the input and reads the output; node/worker_driver.py's shuffle_main and
// node/worker_tabular.py's spill_partitions are the other side.
//
// Command line (the workers' Python, with the workers' environment):
//
//   python -c <worker_driver.py> shuffle RANGES_FILE ROWS_DIR KEYS_JSON TABULAR_PY
//
//   RANGES_FILE  the ranges this process reads (below);
//   ROWS_DIR     where it writes each group's rows;
//   KEYS_JSON    the partition_keys, a JSON array of strings ('["store","brand"]');
//   TABULAR_PY   the path of worker_tabular.py, which the driver imports.
//   stdin is /dev/null. Exit code 0: every range was shuffled; otherwise stderr
//   says why (its last line names the range: "cannot partition <file> (bytes
//   a-b): KeyError: …").
//
// RANGES_FILE: records one after another to the end of the file, each
//
//   u64 range index (the range's place in the table's list of ranges),
//   u32 n, n bytes: EncodeTableRange(range) (data/table_range.h)
//
//   little-endian (base/wire.h's U64 and Bytes).
//
// stdout: one line per range, in the file's order, each a JSON object ending
// in "\n":
//
//   {"range": 7, "groups": [{"key_values": [["store", "1"], ["brand", "x"]],
//                            "path": "ROWS_DIR/<hash>/7.pkl", "rows": 40}, …]}
//
//   range       the range index from RANGES_FILE (an unsigned integer);
//   groups      the range's rows grouped by the keys' values, in order of first
//               appearance (may be empty);
//   key_values  [key, value as text] for every key, in KEYS_JSON's order;
//   path        the spill file holding the group's rows (pickled DataFrame,
//               TableFormat::kPickle), a non-empty string;
//   rows        the group's row count (an unsigned integer).
//   Other members are ignored. Anything else on a line is an error.
#ifndef PARALLELRUN_DATA_SHUFFLE_FORMAT_H_
#define PARALLELRUN_DATA_SHUFFLE_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "data/table_range.h"
#include "parallelrun/status.h"

namespace parallelrun {

// Appends one RANGES_FILE record to `*out`.
void AppendShuffleRange(uint64_t index, const TableRange& range, std::string* out);

// The driver arguments after `-c <source>`: shuffle RANGES_FILE ROWS_DIR
// KEYS_JSON TABULAR_PY.
std::vector<std::string> ShuffleCommandArgs(const std::string& ranges_file,
                                            const std::string& rows_dir,
                                            const std::vector<std::string>& partition_keys,
                                            const std::string& tabular_py);

// One stdout line, parsed.
struct ShuffleGroup {
  std::vector<std::pair<std::string, std::string>> key_values;
  std::string path;
  uint64_t rows = 0;
};
struct ShuffleReport {
  uint64_t range = 0;
  std::vector<ShuffleGroup> groups;
};

// Parses one stdout line (without its "\n"). Errors (Status::JobFailed) say
// what is wrong with it ("not JSON: …", "groups[2].rows is not an unsigned
// integer"); the caller adds which process and line.
Result<ShuffleReport> ParseShuffleLine(std::string_view line);

}  // namespace parallelrun

#endif  // PARALLELRUN_DATA_SHUFFLE_FORMAT_H_
