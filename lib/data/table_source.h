// TableSource: the mini-batches of one tabular input (reference §1.2, §3.2).
// For tabular input mini_batch_size is bytes: each mini-batch is a piece of
// one file of about that many bytes, aligned to whole records, never crossing
// a file boundary. A worker turns a piece into a pandas.DataFrame
// (lib/worker_tabular.py load_table).
//
// How files are split (all in one streaming pass per file, chunked reads,
// memory independent of the file's size):
//  - Delimited (CSV, TSV, …): at a line end that is not inside a quoted field.
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
//  - Parquet: by row groups, read from the file's footer (Thrift compact
//    FileMetaData; only the row-group list is decoded, the rest skipped).
//    Consecutive row groups are put together up to mini_batch_size
//    (compressed bytes); a row group larger than mini_batch_size is cut into
//    row ranges, so a file of one big row group still makes many mini-batches
//    (the original made it one, reference §6 #11). The worker reads such a
//    range by streaming that row group and keeping only its rows.
//  - Files in a UTF-16 or UTF-32 encoding are one range each: their line ends
//    are not single bytes.
// Offsets and lengths cover the file exactly: header bytes + the ranges in
// order = the file.
//
// Empty files, files with only a header (and blank lines) and Parquet files
// with no rows make no mini-batch.
#ifndef PARALLELRUN_DATA_TABLE_SOURCE_H_
#define PARALLELRUN_DATA_TABLE_SOURCE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "data/batcher.h"
#include "data/file_lister.h"
#include "data/partitions.h"
#include "parallelrun/status.h"

namespace parallelrun {

enum class TableFormat : uint8_t {
  kDelimited = 0,
  kJsonLines = 1,
  kParquet = 2,
  // A spill file of a column-partition shuffle (partitions.h): pickled
  // DataFrames written by worker_tabular.spill_partitions; always whole_file.
  kPickle = 3,
};

// MLTable read_delimited `header` (reference §3.2).
enum class HeaderMode : uint8_t {
  kAllFilesSameHeaders = 0,       // every file starts with a header line (the default)
  kFromFirstFile = 1,             // only the first file does; the rest use its names
  kNoHeader = 2,                  // none does: the worker names columns Column1, Column2, …
  kAllFilesDifferentHeaders = 3,  // every file has its own header
};

const char* TableFormatName(TableFormat f);  // "delimited", "json_lines", "parquet", "pickle"
const char* HeaderModeName(HeaderMode h);    // the MLTable spelling
std::optional<HeaderMode> ParseHeaderMode(const std::string& text);

// How the files of a tabular input are read: from an MLTable's read_*
// transformation, or (plain files and folders) from each file's extension.
struct TableReadOptions {
  TableFormat format = TableFormat::kDelimited;
  std::string delimiter = ",";
  HeaderMode header = HeaderMode::kAllFilesSameHeaders;
  // MLTable spelling: utf8, iso88591, latin1, ascii, utf16, utf32, utf8bom,
  // windows1252 (Python codec names are accepted too).
  std::string encoding = "utf8";
  bool include_path_column = false;  // add a column holding the file's path
  std::string path_column = "Path";  // its name
  bool empty_as_string = false;      // keep empty fields as "" rather than NaN
  bool support_multi_line = false;   // accepted; splitting is quote-aware regardless
  std::string invalid_lines = "error";  // JSON Lines: error | drop
};

// Options for a file of a plain folder, by its extension: .csv → ",",
// .tsv/.tab → "\t", .jsonl/.ndjson/.json → JSON Lines, .parquet/.parq/.pq →
// Parquet. nullopt for any other extension (such files are skipped in a
// folder; a single file given directly is read as CSV).
std::optional<TableReadOptions> OptionsForExtension(const std::string& path);

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

  // Rows in the range when known before reading it (Parquet), else 0.
  uint64_t known_rows() const { return row_end - row_begin; }
};

// Encodes a range for the worker (the item of a tabular RUN) and back. The
// encoding is binary, little-endian, in wire.h's field encodings; see
// table_source.cc for the field list, and keep worker_tabular.py's
// decode_descriptor in step. Paths survive as raw bytes.
std::string EncodeTableRange(const TableRange& range);
bool DecodeTableRange(const std::string& data, TableRange* out);
constexpr uint8_t kTableRangeVersion = 1;

// ---- the pieces, usable on their own ------------------------------------------

// Receives the ranges of one file in order; returns false to stop (the
// splitter then returns without reading further).
using RangeSink = std::function<bool(TableRange&&)>;

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

// ---- the source --------------------------------------------------------------

// Where a tabular input's files are: MLTable `paths` entries, or one plain
// file or folder.
struct TablePath {
  enum class Kind { kFile, kFolder, kPattern } kind = Kind::kFolder;
  std::string value;  // absolute path, or an absolute glob pattern
};

// Matches a glob `pattern` against `path` (both '/'-separated): `*` any
// characters but '/', `?` one character but '/', `[abc]`, `[a-z]`, `[!a]`
// one of / none of; `**` any characters including '/', and `**/` also
// matches no folder at all ("a/**/*.csv" matches "a/x.csv").
bool GlobMatch(std::string_view pattern, std::string_view path);

// Lists the files of a list of TablePaths one after another, each with a
// FileLister (so the order within a folder is FileLister's), keeping only
// the files a pattern matches. A pattern is listed from its longest leading
// folder without wildcards. Usable as the item source of a file-list MLTable
// input, and by TableSource.
class TablePathLister : public ItemSource {
 public:
  // `notify`: as for FileLister (called on a helper thread when items
  // become available or a listing ends).
  TablePathLister(std::vector<TablePath> paths, std::function<void()> notify);
  ~TablePathLister() override;

  size_t Take(size_t max, std::vector<std::string>* out) override;
  bool finished() const override;
  // Problems met so far ("path: detail"), including a `file:` that does not
  // exist and a pattern that matched nothing.
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  bool StartNext();

  std::vector<TablePath> paths_;
  std::function<void()> notify_;
  size_t next_ = 0;
  std::unique_ptr<FileLister> lister_;
  const TablePath* current_ = nullptr;
  uint64_t current_matches_ = 0;
  std::vector<std::string> scratch_;
  std::vector<std::string> errors_;
};

struct TableInput {
  std::string name;  // the input's name, for messages
  std::string root;  // the MLTable folder, or the plain file/folder: partition paths are relative to it
  std::vector<TablePath> paths;
  // nullopt: a plain file or folder, read by extension (OptionsForExtension).
  std::optional<TableReadOptions> read;
  // extract_columns_from_partition_format, if any.
  std::optional<PartitionFormat> partition_format;
};

// The mini-batches of one tabular input, made on a helper thread: it lists the
// files (FileLister, in its depth-first order) and splits each in turn,
// keeping at most Options::max_buffered ranges waiting. Only one file is read
// at a time; the first range is ready after the first `mini_batch_size`
// bytes of the first file were scanned.
//
// Problems with one file (unreadable, not Parquet, a path that does not match
// the partition format) are recorded in errors() and the file is skipped;
// files of a folder with an unknown extension are skipped and counted in
// skipped_files(). Notes that do not skip anything are in warnings().
class TableSource {
 public:
  struct Options {
    uint64_t mini_batch_size = 1u << 20;
    size_t max_buffered = 1024;   // ranges waiting to be taken
    size_t chunk_size = 1u << 20; // read size while scanning
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
  std::vector<std::string> errors() const;
  std::vector<std::string> warnings() const;
  static constexpr size_t kMaxMessages = 1000;

 private:
  void Run();
  void SplitOne(const std::string& path);
  bool Publish(TableRange&& range);  // false when stopping
  void AddMessage(std::vector<std::string>* list, std::string message);
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }

  const TableInput input_;
  const Options options_;
  const std::function<void()> notify_;

  // Helper thread only.
  std::vector<std::string> ancestors_;
  std::optional<std::string> first_header_;  // kFromFirstFile

  mutable std::mutex mutex_;
  std::condition_variable space_cv_;
  std::deque<TableRange> pending_;      // guarded by mutex_
  bool done_ = false;                   // guarded by mutex_
  bool consumer_waiting_ = true;        // guarded by mutex_: arm notify
  uint64_t files_done_ = 0;             // guarded by mutex_
  uint64_t skipped_files_ = 0;          // guarded by mutex_
  std::vector<std::string> errors_;     // guarded by mutex_
  std::vector<std::string> warnings_;   // guarded by mutex_
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last
};

// Item `i` of `batch` for people: a path as it is; a table range as its file
// and place ("data/a.csv (bytes 0-1048575)", "t.parquet (rows 0-9999)").
std::string ItemLabel(const MiniBatch& batch, size_t i);

}  // namespace parallelrun

#endif  // PARALLELRUN_DATA_TABLE_SOURCE_H_
