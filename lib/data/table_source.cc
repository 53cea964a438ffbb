#include "data/table_source.h"

#include <chrono>
#include <utility>

#include "data/parquet_footer.h"
#include "data/table_rows.h"
#include "data/text_splitter.h"

namespace parallelrun {

// ---- TableSource -----------------------------------------------------------------------------

TableSource::TableSource(TableInput input, Options options, std::function<void()> notify)
    : input_(std::move(input)), options_(options), notify_(std::move(notify)) {
  ancestors_ = RootAncestors(input_.root);
  thread_ = std::thread([this] { Run(); });
}

TableSource::~TableSource() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  space_cv_.notify_all();
  thread_.join();
}

void TableSource::AddMessage(std::vector<std::string>* list, std::string message) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (list->size() < kMaxMessages) list->push_back(std::move(message));
}

bool TableSource::Publish(TableRange&& range) {
  published_++;
  bool announce = false;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    space_cv_.wait(lock, [&] { return stopping() || pending_.size() < options_.max_buffered; });
    if (stopping()) return false;
    pending_.push_back(std::move(range));
    if (consumer_waiting_) {
      consumer_waiting_ = false;
      announce = true;
    }
  }
  if (announce && notify_) notify_();
  return true;
}

bool TableSource::PublishLimited(TableRange&& range) {
  if (rows_done_) return false;
  Result<uint64_t> rows = CountRangeRows(range);
  if (!rows.ok()) {
    // The rows after this range could not be placed: stop here rather than
    // keep rows the MLTable would not.
    AddMessage(&errors_, rows.status().message() + "; the input stops before it");
    rows_done_ = true;
    return false;
  }
  const uint64_t begin = rows_before_, end = rows_before_ + *rows;
  rows_before_ = end;
  const uint64_t keep_from = input_.skip_rows;
  const uint64_t keep_to = input_.take_rows ? input_.skip_rows + *input_.take_rows
                                            : TableRange::kAllRows;
  if (begin >= keep_to) {
    rows_done_ = true;
    return false;
  }
  if (end <= keep_from || begin == end) {
    limited_out_++;
    return true;
  }
  if (keep_from > begin) range.keep_begin = keep_from - begin;
  if (keep_to < end) range.keep_end = keep_to - begin;
  // Parquet knows its rows: narrow the range itself, so labels and counts agree.
  if (range.options.format == TableFormat::kParquet && !range.whole_file &&
      (range.keep_begin > 0 || range.keep_end != TableRange::kAllRows)) {
    uint64_t first = range.row_begin;
    range.row_end = range.keep_end == TableRange::kAllRows ? range.row_end : first + range.keep_end;
    range.row_begin = first + range.keep_begin;
    range.keep_begin = 0;
    range.keep_end = TableRange::kAllRows;
  }
  if (!Publish(std::move(range))) return false;
  if (end >= keep_to) {
    rows_done_ = true;
    return false;
  }
  return true;
}

void TableSource::Run() {
  std::mutex listed_mutex;
  std::condition_variable listed_cv;
  bool listed = false;
  {
    TablePathLister lister(input_.paths, [&] {
      {
        std::lock_guard<std::mutex> lock(listed_mutex);
        listed = true;
      }
      listed_cv.notify_all();
    }, options_.exclude);
    std::vector<std::string> batch;
    while (!stopping() && !rows_done_) {
      {
        std::lock_guard<std::mutex> lock(listed_mutex);
        listed = false;
      }
      batch.clear();
      if (lister.Take(64, &batch) == 0) {
        if (lister.finished()) break;
        std::unique_lock<std::mutex> lock(listed_mutex);
        // The stop flag is not tied to listed_cv; wake up now and then to see it.
        listed_cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return listed; });
        continue;
      }
      for (const auto& path : batch) {
        if (stopping() || rows_done_) break;
        uint64_t before = published_ + limited_out_;
        bool read = SplitOne(path);
        std::lock_guard<std::mutex> lock(mutex_);
        files_done_++;
        // Read, but not a range of it: empty, a header only, no Parquet rows.
        if (read && published_ + limited_out_ == before && !stopping() && !rows_done_) {
          no_rows_.Add(input_.root, path);
        }
      }
    }
    for (const auto& e : lister.errors()) AddMessage(&errors_, e);
    for (const auto& e : lister.excluded()) AddMessage(&excluded_, e);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
  }
  if (notify_) notify_();
}

bool TableSource::SplitOne(const std::string& path) {
  TableReadOptions options;
  if (input_.read) {
    options = *input_.read;
  } else {
    std::optional<TableReadOptions> by_ext = OptionsForExtension(path);
    if (!by_ext) {
      bool single_file = input_.paths.size() == 1 && input_.paths[0].kind == TablePath::Kind::kFile;
      if (!single_file) {
        std::lock_guard<std::mutex> lock(mutex_);
        not_tables_.Add(input_.root, path);
        return false;
      }
      by_ext = TableReadOptions();  // a file named directly: read it as CSV
    }
    options = *by_ext;
  }

  std::vector<TableRange::PathColumn> columns;
  if (input_.partition_format) {
    std::vector<std::string> values;
    if (!input_.partition_format->Match(PathToMatch(input_.root, path), ancestors_, &values)) {
      AddMessage(&errors_, path + ": does not match the partition format '" +
                               input_.partition_format->text() + "'; skipped");
      return false;
    }
    for (size_t i = 0; i < values.size(); i++) {
      columns.push_back({input_.partition_format->keys()[i], values[i],
                         input_.partition_format->datetime_format(i)});
    }
  }

  RangeSink sink = [&](TableRange&& r) {
    return input_.limits_rows() ? PublishLimited(std::move(r)) : Publish(std::move(r));
  };
  if (options.format == TableFormat::kParquet) {
    Result<ParquetLayout> layout = ReadParquetLayout(path);
    if (!layout.ok()) {
      AddMessage(&errors_, layout.status().message());
      return false;
    }
    SplitParquet(path, options, *layout, options_.mini_batch_size, columns, sink);
    return true;
  }
  if (options.format == TableFormat::kPickle) {
    sink(MakeWholeFileRange(path, options, nullptr, columns));
    return true;
  }
  bool has_header = false;
  const std::string* header_text = nullptr;
  if (options.format == TableFormat::kDelimited) {
    switch (options.header) {
      case HeaderMode::kAllFilesSameHeaders:
      case HeaderMode::kAllFilesDifferentHeaders:
        has_header = true;
        break;
      case HeaderMode::kNoHeader:
        break;
      case HeaderMode::kFromFirstFile:
        if (first_header_) {
          header_text = &*first_header_;
        } else {
          has_header = true;
        }
        break;
    }
  }
  std::vector<std::string> warnings;
  std::string header;
  Status s = SplitTextFile(path, options, options_.mini_batch_size, has_header, header_text, columns,
                           sink, &warnings, &header, options_.chunk_size);
  for (auto& w : warnings) AddMessage(&warnings_, std::move(w));
  if (!s.ok()) {
    AddMessage(&errors_, s.message());
    return false;
  }
  // from_first_file: the first file with a header names the columns of the rest.
  if (options.format == TableFormat::kDelimited && options.header == HeaderMode::kFromFirstFile &&
      !first_header_ && !header.empty()) {
    first_header_ = header;
  }
  return true;
}

size_t TableSource::Take(size_t max, std::vector<TableRange>* out) {
  size_t n = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    while (n < max && !pending_.empty()) {
      out->push_back(std::move(pending_.front()));
      pending_.pop_front();
      n++;
    }
    if (pending_.empty()) consumer_waiting_ = true;
  }
  if (n > 0) space_cv_.notify_all();
  return n;
}

bool TableSource::finished() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return done_ && pending_.empty();
}

uint64_t TableSource::files_done() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return files_done_;
}

uint64_t TableSource::skipped_files() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return not_tables_.count;
}

std::vector<std::string> TableSource::SkipWarnings(const std::string& input) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> out;
  for (std::string w : {not_tables_.Warning(input, kNotTableOne, kNotTable),
                        no_rows_.Warning(input, "without rows (empty, or only a header)",
                                         "without rows (empty, or only a header)")}) {
    if (!w.empty()) out.push_back(std::move(w));
  }
  return out;
}

std::vector<std::string> TableSource::errors() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return errors_;
}

std::vector<std::string> TableSource::excluded() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return excluded_;
}

std::vector<std::string> TableSource::warnings() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return warnings_;
}

}  // namespace parallelrun
