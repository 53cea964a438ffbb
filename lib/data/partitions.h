// Partitions: the `partition_keys` setting (reference §1.2, §3.2). Every
// distinct combination of the keys' values forms exactly one mini-batch.
//
// Where the values come from:
//  - Files (a uri_folder, or a file-list / tabular MLTable with
//    extract_columns_from_partition_format): from each file's path, by a
//    PartitionFormat such as "{country}/{state}/{file}", or "one key per
//    folder level". FilePartitioner groups the files of one input by the
//    values; a tabular input partitioned this way needs no pass over the data
//    (the worker reads every file of the group whole and adds the key columns).
//  - Table columns that are not in the path: the values are only known after
//    reading the rows, so a shuffle pass is needed. The worker side does it
//    (lib/worker_tabular.py spill_partitions: each table range is read once,
//    its rows split by key and appended to one spill file per key combination
//    and range); ColumnPartitionIndex collects what the shuffle reported and
//    forms one mini-batch per combination, in a deterministic order. See the
//    comment above ColumnPartitionIndex for why this, not a filter per group.
#ifndef PARALLELRUN_DATA_PARTITIONS_H_
#define PARALLELRUN_DATA_PARTITIONS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "parallelrun/status.h"

namespace parallelrun {

// A partition format: how key values are read from a file's path.
//
// Syntax (that of Azure ML's partition_format and MLTable's
// extract_columns_from_partition_format):
//   {name}              one key: one or more characters other than '/'
//   {name:yyyy/MM/dd}   a date-time key: yyyy = 4 digits; MM, dd, HH, mm, ss =
//                       2 digits each; other characters literal. The value is
//                       the matched text; datetime_format() gives its strptime
//                       form ("%Y/%m/%d") for a worker that wants a datetime.
//   *                   any characters other than '/' (possibly none)
//   **                  any characters, '/' included
//   anything else       literal text
// A leading '/' is ignored.
//
// Matching: the format is matched against the start of a file's path relative
// to the input root, and must end at a '/' or at the end of the path — so
// "/puYear={year}/puMonth={month}" describes folders and lets any files sit
// below them. A key takes as few characters as it can ("{a}_{b}" on "x_y_z"
// gives a = "x", b = "y_z"). When the relative path does not match, the path
// prefixed by the root folder's own name is tried, then by its parent's too,
// and so on: "dataset_partition_test/{user}/{genre}.wav" works whether the
// input is dataset_partition_test or the folder that holds it.
class PartitionFormat {
 public:
  // Errors are Status::Usage naming the format: unclosed '{', empty or
  // repeated key name, a date-time pattern without any field.
  static Result<PartitionFormat> Parse(const std::string& text);

  // "One key per folder level": key i is the name of the i-th folder below the
  // root; a folder named "<key>=<value>" (Hive style, as Spark writes) gives
  // <value>. Files with fewer folder levels than keys do not match.
  // REQUIRES: keys non-empty, no duplicates.
  static PartitionFormat FolderLevels(std::vector<std::string> keys);

  // Key names, in order of appearance.
  const std::vector<std::string>& keys() const { return keys_; }
  // The strptime format of a date-time key ("%Y/%m/%d"), "" for a plain key.
  const std::string& datetime_format(size_t key) const { return datetime_formats_[key]; }
  // The format as given ("" for FolderLevels).
  const std::string& text() const { return text_; }

  // Matches `relative_path` ('/'-separated, no leading '/'). On success fills
  // `values` (one per key, in keys() order) and returns true. `ancestors` are
  // the names of the root's folders, nearest first ("dataset_partition_test",
  // "data", …), used as described above; may be empty.
  bool Match(std::string_view relative_path, const std::vector<std::string>& ancestors,
             std::vector<std::string>* values) const;

  // True when, for these keys, every file with the same values lies under
  // one folder (or is one file) that the values determine: then a depth-first
  // listing gives each combination's files one after another. That holds
  // when the path up to the end of the component holding the last of the keys
  // is made only of literal text and captures of these keys.
  // REQUIRES: every key is one of keys().
  bool GroupsAreContiguous(const std::vector<std::string>& keys) const;

 private:
  struct Token {
    enum class Kind { kLiteral, kKey, kStar, kDoubleStar } kind = Kind::kLiteral;
    std::string text;  // kLiteral: the text; kKey: the date-time shape ("" = plain)
    size_t key = 0;    // kKey: index into keys_
  };

  bool MatchTokens(size_t token, std::string_view path, size_t pos,
                   std::vector<std::string>* values) const;
  bool MatchFolderLevels(std::string_view path, std::vector<std::string>* values) const;

  std::string text_;
  bool folder_levels_ = false;
  std::vector<Token> tokens_;
  std::vector<std::string> keys_;
  std::vector<std::string> datetime_formats_;
};

// The names of `root`'s folders, nearest first ("data", "home" for
// "/home/data/"; "." and ".." left out): the `ancestors` of
// PartitionFormat::Match for an input whose path is `root`.
std::vector<std::string> RootAncestors(std::string root);

// The path Match is given for a file of a table input rooted at `root`: the
// file's path relative to the root when it lies below it, else its path
// without a leading '/'.
std::string PathToMatch(const std::string& root, const std::string& path);

// Checks that partition_keys are usable with `format`: non-empty, no
// duplicates, each one of the format's keys. The message names the input and
// lists the format's keys.
Status CheckPartitionKeys(const PartitionFormat& format, const std::vector<std::string>& keys,
                          const std::string& input_name);

// One mini-batch of a partitioned file input.
struct Partition {
  // partition_keys order: key → value (strings; the worker may convert a
  // date-time key with the format's datetime_format()).
  std::vector<std::pair<std::string, std::string>> key_values;
  // Paths in listing order.
  std::vector<std::string> files;
};

// Groups the files of one input by the values of `keys`, as they are listed.
//
// Contiguous case (format.GroupsAreContiguous(keys), e.g. keys that are the
// leading folders): a group is complete when a file of another combination
// arrives, so it is handed out at once and only one group is held. Should a
// combination come back after its group was handed out (a listing that is not
// depth-first), Add() fails naming it, rather than making a second mini-batch
// for it; a set of 64-bit hashes of the handed-out combinations is kept for
// this (8 bytes per partition).
//
// Otherwise (e.g. format "{user}/{season}/{genre}.wav" with keys user, genre:
// one genre's files are spread over the seasons), no group is complete before
// the listing ends. Groups are held in a map; when the paths held exceed
// Options::max_held_bytes, the largest group's paths are appended to a spill
// file of its own under Options::spill_dir and dropped from memory. Finish()
// hands out every group, in order of first appearance, reading spilled paths
// back. Memory is then bounded by max_held_bytes plus the keys of the groups.
//
// Files whose path does not match the format belong to no partition: they are
// counted (unmatched()) and skipped — a README.md next to the data must not
// fail a job — and the first few are kept for a note.
//
// Not thread-safe; spilling does blocking file I/O, so drive it from a helper
// thread, not an event-loop handler, when spilling is possible.
class FilePartitioner {
 public:
  struct Options {
    size_t max_held_bytes = 256u << 20;
    // Where spill files go (created on first use, removed by the destructor).
    // "" disables spilling: Add() fails when the bound is reached.
    std::string spill_dir;
  };

  // `root` is the input folder (or file); paths given to Add() are below it.
  // REQUIRES: CheckPartitionKeys(format, keys, …).ok().
  FilePartitioner(PartitionFormat format, std::vector<std::string> keys, std::string root,
                  Options options);
  ~FilePartitioner();
  FilePartitioner(const FilePartitioner&) = delete;
  FilePartitioner& operator=(const FilePartitioner&) = delete;

  // Takes the next listed path. Fails only on a broken contiguity assumption
  // or a spill error; the partitioner is then unusable.
  Status Add(const std::string& path);
  // The listing is done: the remaining groups become ready.
  Status Finish();
  // Moves the groups ready so far, in order, to the end of `out`; returns how many.
  size_t Take(std::vector<Partition>* out);

  bool contiguous() const { return contiguous_; }
  uint64_t unmatched() const { return unmatched_; }
  const std::vector<std::string>& unmatched_examples() const { return unmatched_examples_; }
  uint64_t spilled_groups() const { return spilled_groups_; }

  static constexpr size_t kMaxExamples = 5;

 private:
  struct Group {
    std::vector<std::pair<std::string, std::string>> key_values;
    std::vector<std::string> files;
    size_t held_bytes = 0;
    std::string spill_path;  // "" until spilled
    uint64_t spilled = 0;    // paths in the spill file
  };

  std::string RelativePath(const std::string& path) const;
  Status SpillLargest();
  Status ReadSpill(Group* group);

  const PartitionFormat format_;
  const std::vector<std::string> keys_;
  std::vector<size_t> key_index_;  // keys_[i] is format_.keys()[key_index_[i]]
  const std::string root_;
  std::vector<std::string> ancestors_;
  const Options options_;
  const bool contiguous_;

  std::vector<std::string> values_;  // scratch for Match()

  // Contiguous mode: the open group and the hashes of the handed-out ones.
  std::unique_ptr<Group> open_;
  std::string open_key_;
  std::unordered_set<uint64_t> done_hashes_;

  // Map mode: combination (encoded) → index into groups_, which keeps first-appearance order.
  std::unordered_map<std::string, size_t> index_;
  std::vector<Group> groups_;
  size_t held_bytes_ = 0;
  uint64_t spilled_groups_ = 0;
  bool spill_dir_made_ = false;

  std::vector<Partition> ready_;
  uint64_t unmatched_ = 0;
  std::vector<std::string> unmatched_examples_;
  bool finished_ = false;
};

// Table partitions by columns that are not in the path.
//
// Why a shuffle and not "one mini-batch per combination that filters every
// file": the filter way reads the whole table once per combination (G × the
// data), and needs a first pass anyway to learn the combinations. The shuffle
// reads the data once: each table range (a TableSource mini-batch) is read by
// a worker, its rows grouped by the keys (worker_tabular.spill_partitions) and
// appended to `<spill dir>/<combination hash>/<range id>.pkl`; the worker
// reports, per combination, the values, the spill file and the row count.
// Then one mini-batch per combination reads its spill files (one per range
// that held such rows). Disk use is one copy of the data; memory on the
// master is the index below; the first real mini-batch waits for the shuffle.
//
// Reports may arrive in any order (ranges run in parallel) and twice (a
// retried shuffle range): the index orders combinations by (range id, position
// in that range's report) of their first appearance and keeps one file per
// (combination, range), so the mini-batches and their ids are the same in
// every run.
class ColumnPartitionIndex {
 public:
  struct Part {
    uint64_t range_id = 0;
    std::string path;
    uint64_t rows = 0;
  };
  struct Group {
    std::vector<std::pair<std::string, std::string>> key_values;  // values as text
    std::vector<Part> parts;  // by range id
    uint64_t rows = 0;
  };

  // One combination reported by the shuffle of range `range_id`, the
  // `position`-th in that report. A second report for the same (combination,
  // range) is ignored.
  void Add(uint64_t range_id, uint32_t position,
           std::vector<std::pair<std::string, std::string>> key_values, std::string path,
           uint64_t rows);

  // Every combination, in order of first appearance; moves them out.
  std::vector<Group> TakeGroups();
  size_t size() const { return groups_.size(); }

 private:
  struct Entry {
    uint64_t first_range = 0;
    uint32_t first_position = 0;
    Group group;
  };
  std::map<std::string, Entry> groups_;  // encoded combination → entry
};

// Encodes key/value pairs as one string that distinct combinations never
// share (each part length-prefixed); for map keys and hashes.
std::string EncodeKeyValues(const std::vector<std::pair<std::string, std::string>>& key_values);

}  // namespace parallelrun

#endif  // PARALLELRUN_DATA_PARTITIONS_H_
