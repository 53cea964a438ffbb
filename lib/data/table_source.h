// TableSource: the mini-batches of one tabular input (reference §1.2, §3.2).
// For tabular input mini_batch_size is bytes: each mini-batch is a piece of
// one file of about that many bytes, aligned to whole records, never crossing
// a file boundary (TableRange). A worker turns a piece into a
// pandas.DataFrame (lib/node/worker_tabular.py load_table).
//
// The source lists the files (table_paths.h) and splits each in turn: CSV and
// JSON Lines at record ends (text_splitter.h), Parquet by row groups
// (parquet_footer.h). Empty files, files with only a header (and blank lines)
// and Parquet files with no rows make no mini-batch.
#ifndef PARALLELRUN_DATA_TABLE_SOURCE_H_
#define PARALLELRUN_DATA_TABLE_SOURCE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "data/partitions.h"
#include "data/table_format.h"
#include "data/skipped_files.h"
#include "data/table_paths.h"
#include "data/table_range.h"

namespace parallelrun {

struct TableInput {
  std::string name;  // the input's name, for messages
  std::string root;  // the MLTable folder, or the plain file/folder: partition paths are relative to it
  std::vector<TablePath> paths;
  // nullopt: a plain file or folder, read by extension (OptionsForExtension).
  std::optional<TableReadOptions> read;
  // extract_columns_from_partition_format, if any.
  std::optional<PartitionFormat> partition_format;
  // MLTable skip/take: the rows kept are [skip_rows, skip_rows + take_rows)
  // of the whole table in file order (take_rows nullopt: to the end).
  // TableSource counts the rows of each range it cuts and trims the ranges
  // (TableRange::keep_begin/keep_end); ranges without a kept row are dropped.
  uint64_t skip_rows = 0;
  std::optional<uint64_t> take_rows;
  bool limits_rows() const { return skip_rows > 0 || take_rows.has_value(); }
};

// The mini-batches of one tabular input, made on a helper thread: it lists the
// files (FileLister, in its depth-first order) and splits each in turn,
// keeping at most Options::max_buffered ranges waiting. Only one file is read
// at a time; the first range is ready after the first `mini_batch_size`
// bytes of the first file were scanned.
//
// Problems with one file (unreadable, not Parquet, a path that does not match
// the partition format) are recorded in errors() and the file is skipped;
// files of a folder with an unknown extension, and files without a row
// (empty, or a header only), are skipped and named in SkipWarnings(). Notes
// that do not skip anything are in warnings().
class TableSource {
 public:
  struct Options {
    uint64_t mini_batch_size = 1u << 20;
    size_t max_buffered = 1024;   // ranges waiting to be taken
    size_t chunk_size = 1u << 20; // read size while scanning
    std::vector<std::string> exclude;  // folders not to list (FileLister)
  };

  // Starts at once. `notify` is called on the helper thread (never under the
  // source's lock) when ranges become available after a Take() left none,
  // and once when everything is done; it must be cheap and thread-safe, and
  // must not call into the source. The destructor stops and joins the thread.
  TableSource(TableInput input, Options options, std::function<void()> notify);
  ~TableSource();
  TableSource(const TableSource&) = delete;
  TableSource& operator=(const TableSource&) = delete;

  // Moves up to `max` ranges, in order, to the end of `out`; returns how many.
  size_t Take(size_t max, std::vector<TableRange>* out);
  // Everything was split and every range taken.
  bool finished() const;

  uint64_t files_done() const;     // files scanned so far
  uint64_t skipped_files() const;  // unknown extensions in a folder
  // "<input>: skipped 2 files that are not tables: a.txt, b.png", and the same
  // for files without rows; `input` is how messages name the input.
  std::vector<std::string> SkipWarnings(const std::string& input) const;
  std::vector<std::string> errors() const;
  std::vector<std::string> warnings() const;
  // Folders of Options::exclude met while listing.
  std::vector<std::string> excluded() const;
  static constexpr size_t kMaxMessages = 1000;

 private:
  void Run();
  // Splits one file into ranges. False when it was skipped or could not be
  // read (counted, or recorded in errors_).
  bool SplitOne(const std::string& path);
  bool Publish(TableRange&& range);  // false when stopping
  // skip/take: trims `range` to the kept rows and publishes it, drops it when
  // it keeps none; false when stopping or when every kept row was published.
  bool PublishLimited(TableRange&& range);
  void AddMessage(std::vector<std::string>* list, std::string message);
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }

  const TableInput input_;
  const Options options_;
  const std::function<void()> notify_;

  // Helper thread only.
  std::vector<std::string> ancestors_;
  std::optional<std::string> first_header_;  // kFromFirstFile
  uint64_t published_ = 0;                   // ranges handed to Publish
  uint64_t rows_before_ = 0;                 // skip/take: the table's rows before the next range
  bool rows_done_ = false;                   // skip/take: every kept row was published
  uint64_t limited_out_ = 0;                 // skip/take: ranges dropped

  mutable std::mutex mutex_;
  std::condition_variable space_cv_;
  std::deque<TableRange> pending_;      // guarded by mutex_
  bool done_ = false;                   // guarded by mutex_
  bool consumer_waiting_ = true;        // guarded by mutex_: arm notify
  uint64_t files_done_ = 0;             // guarded by mutex_
  SkippedFiles not_tables_;             // guarded by mutex_
  SkippedFiles no_rows_;                // guarded by mutex_
  std::vector<std::string> errors_;     // guarded by mutex_
  std::vector<std::string> warnings_;   // guarded by mutex_
  std::vector<std::string> excluded_;   // guarded by mutex_
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last
};

}  // namespace parallelrun

#endif  // PARALLELRUN_DATA_TABLE_SOURCE_H_
