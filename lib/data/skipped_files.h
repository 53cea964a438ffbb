// SkippedFiles: the files of an input left out for one reason (not a table,
// no rows, not at the partition depth): how many, and the first few names,
// so that the person running the job is told which ("skipped 3 files that
// are not tables: a.txt, b.png, c.doc") instead of finding fewer results.
#ifndef PARALLELRUN_DATA_SKIPPED_FILES_H_
#define PARALLELRUN_DATA_SKIPPED_FILES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace parallelrun {

// The `why` of files skipped for their extension.
constexpr const char* kNotTableOne =
    "that is not a table (its name does not end in .csv, .tsv, .tab, .jsonl, .ndjson, .json, "
    ".parquet, .parq or .pq)";
constexpr const char* kNotTable =
    "that are not tables (their names do not end in .csv, .tsv, .tab, .jsonl, .ndjson, .json, "
    ".parquet, .parq or .pq)";

struct SkippedFiles {
  static constexpr size_t kExamples = 5;
  uint64_t count = 0;
  std::vector<std::string> examples;  // the first kExamples, relative to the root

  // Counts `path`, keeping its name relative to `root` among the examples.
  void Add(const std::string& root, const std::string& path);
  // "<input>: skipped <count> files <why>: a, b, c, d, e, …" (… when there
  // are more than the examples), or "" when none were skipped. `why` is
  // "that are not tables"; `why_one` the same for one file.
  std::string Warning(const std::string& input, const std::string& why_one,
                      const std::string& why) const;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_DATA_SKIPPED_FILES_H_
