// InputSource: the mini-batches of one input_data input, whatever it is
// (DESIGN.md §3: DatasetSource → Batcher). What a mini-batch is depends on
// the input (reference §1.2, §3.2):
//  - a folder (uri_folder) or a file-list MLTable: mini_batch_size files
//    (FileLister or TablePathLister, grouped by Batcher);
//  - a tabular input: one byte range of one file — mini_batch_size is bytes —
//    as TableSource splits the files; run() gets a DataFrame;
//  - with partition_keys: every file whose path gives the same key values,
//    as FilePartitioner groups them; for a table, the group's files are read
//    whole into one DataFrame;
//  - with partition_keys that are columns of a table: a shuffle first (see
//    partitions.h ColumnPartitionIndex): Options::processes Python processes
//    read the table's ranges and write each range's rows, grouped by the
//    keys, to spill files; then one mini-batch per key combination reads its
//    spill files.
// Listing and splitting run on helper threads; Next() never waits for them.
// The master numbers the mini-batches (ids are in order across inputs).
#ifndef PARALLELRUN_DATA_INPUT_SOURCE_H_
#define PARALLELRUN_DATA_INPUT_SOURCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/mini_batch.h"
#include "data/batcher.h"
#include "data/partitions.h"
#include "data/shuffle_runner.h"
#include "data/table_source.h"

namespace parallelrun {

// How one input_data input becomes mini-batches (made by JobPlan).
struct InputPlan {
  enum class Kind {
    kFolder,    // a folder's files (or one file), listed by FileLister
    kFileList,  // a file-list MLTable's paths, listed by TablePathLister
    kTable,     // a tabular input
  };
  Kind kind = Kind::kFolder;
  std::string name;  // the input's name
  std::string path;  // as bound: the folder, file or MLTable folder (absolute)
  std::string root;  // partition paths are relative to it (the folder, or the MLTable's)
  std::vector<TablePath> paths;  // kFileList
  std::optional<TableInput> table;  // kTable
  // With partition_keys: how each file's path gives the keys' values (the
  // MLTable's extract_columns_from_partition_format, or one key per folder
  // level). nullopt without partition_keys.
  std::optional<PartitionFormat> partition_format;
  // A table's partition_keys are (some of them) columns: shuffle first.
  bool partition_by_columns = false;
  // Folders inside this input that the job itself writes (its job dir, its
  // outputs): never listed, so that a job does not read its own output.
  std::vector<std::string> exclude;
};

class InputSource {
 public:
  struct Options {
    uint64_t mini_batch_size = 10;  // files, or bytes for a table
    std::vector<std::string> partition_keys;
    // Where FilePartitioner may spill paths, and a shuffle its rows: a
    // folder of the job dir.
    std::string spill_dir;
    // The shuffle's processes: how many at once, and what runs them (not
    // owned; must outlive the source).
    int processes = 1;
    ShuffleRunner* shuffle = nullptr;
  };

  // Starts listing at once. `notify` is called on a helper thread when items
  // may have become available or a listing ended. It must be cheap and
  // thread-safe and must not call into the source; a call may still be in
  // progress while the destructor runs, so what it posts must check that the
  // source still exists.
  static std::unique_ptr<InputSource> Open(const InputPlan& plan, const Options& options,
                                           std::function<void()> notify);
  virtual ~InputSource() = default;

  // The next mini-batch: kind, items, partition and known_rows are set; the
  // caller sets id and input. A partial group of files is only returned once
  // the listing is finished.
  virtual Batcher::Outcome Next(MiniBatch* out) = 0;

  // Work is going on that makes no mini-batch yet (a shuffle): the master
  // counts it as progress.
  virtual bool working() const { return false; }

  // What to report once Next() returned kExhausted.
  struct End {
    std::vector<std::string> info;      // for the master log: what was listed, how long
    std::vector<std::string> warnings;  // skipped files, paths outside the partition format
    // Problems that left data unprocessed; they fail the job.
    std::vector<std::string> errors;
    uint64_t error_count = 0;  // errors.size() may be capped
    uint64_t files = 0;        // files listed
  };
  virtual End Summary() const = 0;
};

// The sources Open chooses from, one per kind of input (use Open):
//  - FileBatches (file_batches.cc): a folder's or file list's files in groups
//    of mini_batch_size;
//  - TableBatches (table_batches.cc): a table's byte ranges (TableSource);
//  - PartitionBatches (partition_batches.cc): files grouped by the key values
//    their paths give (FilePartitioner);
//  - ColumnPartitionBatches (column_partition_batches.cc): a table shuffled by
//    key columns (ShuffleRunner), then one mini-batch per combination.
std::unique_ptr<InputSource> OpenFileBatches(const InputPlan& plan,
                                             const InputSource::Options& options,
                                             std::function<void()> notify);
std::unique_ptr<InputSource> OpenTableBatches(const InputPlan& plan,
                                              const InputSource::Options& options,
                                              std::function<void()> notify);
std::unique_ptr<InputSource> OpenPartitionBatches(const InputPlan& plan,
                                                  const InputSource::Options& options,
                                                  std::function<void()> notify);
std::unique_ptr<InputSource> OpenColumnPartitionBatches(const InputPlan& plan,
                                                        const InputSource::Options& options,
                                                        std::function<void()> notify);

}  // namespace parallelrun

#endif  // PARALLELRUN_DATA_INPUT_SOURCE_H_
