#include "data/text_splitter.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "base/disk.h"
#include "base/text.h"

namespace parallelrun {
namespace {

// "UTF-16", "utf_16le", "utf16" → "utf16le"-ish: lower case without - and _.
std::string CodecKey(const std::string& encoding) {
  std::string out;
  for (char c : AsciiLower(encoding)) {
    if (c != '-' && c != '_') out.push_back(c);
  }
  return out;
}

// Line ends in these encodings are not the single byte '\n'.
bool IsWideEncoding(const std::string& encoding) {
  std::string k = CodecKey(encoding);
  return k.rfind("utf16", 0) == 0 || k.rfind("utf32", 0) == 0 || k == "ucs2" || k == "ucs4";
}

bool HasBom(int fd) {
  char b[3];
  return PreadAll(fd, b, 3, 0) == 3 && std::memcmp(b, "\xEF\xBB\xBF", 3) == 0;
}

// The record splitter of SplitTextFile: fed the file's bytes in order, it
// tracks the tokenizer state and reports ranges. See the state machine in
// pandas/_libs/src/parser/tokenizer.c (START_FIELD, IN_FIELD,
// IN_QUOTED_FIELD, QUOTE_IN_QUOTED_FIELD); the states that only matter for
// values (escape chars, comments) are left out: they never move a line end.
class RecordScanner {
 public:
  RecordScanner(const std::string& path, const TableReadOptions& options, uint64_t mini_batch_size,
                bool has_header, const std::string* header_text,
                const std::vector<TableRange::PathColumn>& path_columns, const RangeSink* sink)
      : path_(path),
        options_(options),
        size_(std::max<uint64_t>(mini_batch_size, 1)),
        json_(options.format == TableFormat::kJsonLines),
        delimiter_(options.delimiter.empty() ? ',' : options.delimiter.back()),
        has_header_line_(has_header && !json_),
        in_header_(has_header_line_),
        header_text_(header_text),
        path_columns_(path_columns),
        sink_(sink) {
    stops_[static_cast<unsigned char>(delimiter_)] = true;
    stops_['\n'] = stops_['\r'] = true;
  }

  // The file starts with a UTF-8 byte-order mark of `n` bytes: they are
  // neither content nor data (pandas drops it as it reads).
  void SetBom(uint64_t n) { bom_ = n; }

  // Feeds the next bytes of the file.
  void Feed(const char* data, size_t n) {
    size_t i = 0;
    while (i < n) {
      // Fast paths: runs of bytes that change nothing — inside a quoted
      // field up to the next quote, inside a plain field up to a delimiter
      // or line end. They make the scan about ten times faster.
      if (!cr_pending_ && !in_header_ && pos_ >= bom_ && !json_) {
        size_t j = i;
        if (state_ == State::kInQuoted) {
          const void* q = std::memchr(data + i, '"', n - i);
          j = q ? static_cast<size_t>(static_cast<const char*>(q) - data) : n;
        } else if (state_ == State::kInField) {
          while (j < n && !stops_[static_cast<unsigned char>(data[j])]) j++;
        }
        if (j > i) {
          pos_ += j - i;
          i = j;
          continue;
        }
      }
      Step(static_cast<unsigned char>(data[i]));
      i++;
    }
  }

  // The file ended after `total` bytes.
  void Finish(uint64_t total, std::vector<std::string>* warnings) {
    if (cr_pending_) {
      cr_pending_ = false;
      RecordEnd(pos_);
    }
    if (quoted_ && warnings) {
      warnings->push_back(path_ + ": a quoted field opened at byte " +
                          std::to_string(quote_open_at_) +
                          " is not closed at the end of the file");
    }
    if (record_start_ < total) RecordEnd(total);  // a last record without line end
    if (large_records_ > 0 && warnings) {
      warnings->push_back(
          path_ + ": the record at byte " + std::to_string(large_at_) + " is " +
          std::to_string(large_size_) + " bytes, more than mini_batch_size (" +
          std::to_string(size_) + " bytes); its mini-batch holds it whole" +
          (large_records_ > 1
               ? " (and " + std::to_string(large_records_ - 1) + " more such records in this file)"
               : ""));
    }
    if (range_start_ < total) {
      if (range_has_content_) {
        Emit(range_start_, total);
      } else if (held_) {
        held_->length = total - held_->offset;  // trailing blank lines join the last range
      }
    }
    if (held_ && !stopped_) stopped_ = !(*sink_)(std::move(*held_));
    held_.reset();
  }

  bool header_done() const { return !in_header_; }
  bool stopped() const { return stopped_; }
  const std::string& header() const { return header_; }

 private:
  enum class State { kStartField, kInField, kInQuoted, kQuoteInQuoted };

  void Step(unsigned char c) {
    uint64_t at = pos_++;
    if (cr_pending_) {
      cr_pending_ = false;
      if (c == '\n') {
        RecordEnd(at + 1);
        return;
      }
      RecordEnd(at);  // a lone '\r' ended the record
    }
    if (in_header_ && header_bytes_.size() < kMaxHeader) header_bytes_.push_back(static_cast<char>(c));
    if (at < bom_) return;
    if (json_) {
      if (c == '\n') {
        RecordEnd(at + 1);
      } else if (c != ' ' && c != '\t' && c != '\r') {
        content_ = true;
      }
      return;
    }
    switch (state_) {
      case State::kStartField:
        if (c == '"') {
          state_ = State::kInQuoted;
          quoted_ = true;
          quote_open_at_ = at;
          content_ = true;
        } else if (c == '\n') {
          RecordEnd(at + 1);
        } else if (c == '\r') {
          cr_pending_ = true;
        } else {
          content_ = true;
          if (c != static_cast<unsigned char>(delimiter_)) state_ = State::kInField;
        }
        break;
      case State::kInField:
        if (c == static_cast<unsigned char>(delimiter_)) {
          state_ = State::kStartField;
        } else if (c == '\n') {
          RecordEnd(at + 1);
        } else if (c == '\r') {
          cr_pending_ = true;
        }
        break;
      case State::kInQuoted:
        if (c == '"') state_ = State::kQuoteInQuoted;
        break;
      case State::kQuoteInQuoted:
        quoted_ = false;
        if (c == '"') {
          state_ = State::kInQuoted;  // "" is a quote inside the field
          quoted_ = true;
        } else if (c == static_cast<unsigned char>(delimiter_)) {
          state_ = State::kStartField;
        } else if (c == '\n') {
          RecordEnd(at + 1);
        } else if (c == '\r') {
          cr_pending_ = true;
        } else {
          state_ = State::kInField;
        }
        break;
    }
  }

  // A record ends just before byte `end` (after its line end).
  void RecordEnd(uint64_t end) {
    state_ = State::kStartField;
    quoted_ = false;
    bool content = content_;
    content_ = false;
    uint64_t begin = record_start_;
    record_start_ = end;
    // Ranges never cut a record, so one larger than a mini-batch makes a
    // mini-batch larger than asked: say where (the first; count the rest).
    if (!in_header_ && content && end - begin > size_) {
      if (large_records_++ == 0) {
        large_at_ = begin;
        large_size_ = end - begin;
      }
    }
    if (in_header_) {
      if (!content) return;  // blank lines before the header are part of it
      in_header_ = false;
      // The header text: without the blank lines before it, its line end and a BOM.
      std::string h = header_bytes_.substr(0, std::min<uint64_t>(header_bytes_.size(), end));
      size_t first = 0;
      if (h.compare(0, 3, "\xEF\xBB\xBF") == 0) first = 3;
      while (first < h.size() && (h[first] == '\n' || h[first] == '\r')) first++;
      size_t last = h.size();
      while (last > first && (h[last - 1] == '\n' || h[last - 1] == '\r')) last--;
      header_ = h.substr(first, last - first);
      header_bytes_.clear();
      header_bytes_.shrink_to_fit();
      range_start_ = end;
      return;
    }
    if (content) range_has_content_ = true;
    if (range_has_content_ && end - range_start_ >= size_) {
      Emit(range_start_, end);
      range_start_ = end;
      range_has_content_ = false;
    }
  }

  // Ranges go out one behind, so that blank lines at the end of the file can
  // still join the last one.
  void Emit(uint64_t begin, uint64_t end) {
    if (held_ && !stopped_) stopped_ = !(*sink_)(std::move(*held_));
    held_.emplace();
    TableRange& r = *held_;
    r.path = path_;
    r.options = options_;
    r.offset = begin;
    r.length = end - begin;
    if (!json_) {
      if (has_header_line_) {
        r.has_header = true;
        r.header = header_;
      } else if (header_text_) {
        r.has_header = true;
        r.header = *header_text_;
      }
    }
    r.path_columns = path_columns_;
  }

  static constexpr size_t kMaxHeader = 16u << 20;

  const std::string& path_;
  const TableReadOptions& options_;
  const uint64_t size_;
  const bool json_;
  const char delimiter_;
  const bool has_header_line_;
  bool in_header_;
  const std::string* header_text_;
  const std::vector<TableRange::PathColumn>& path_columns_;
  const RangeSink* sink_;

  bool stops_[256] = {};  // bytes that end a plain field's fast path
  State state_ = State::kStartField;
  uint64_t bom_ = 0;
  uint64_t pos_ = 0;
  bool cr_pending_ = false;
  bool content_ = false;  // the current record has more than line ends
  bool quoted_ = false;
  uint64_t quote_open_at_ = 0;
  uint64_t record_start_ = 0;
  uint64_t large_records_ = 0;  // records longer than size_
  uint64_t large_at_ = 0;       // the first one: offset and length
  uint64_t large_size_ = 0;
  std::string header_bytes_;
  std::string header_;
  uint64_t range_start_ = 0;
  bool range_has_content_ = false;
  std::optional<TableRange> held_;
  bool stopped_ = false;  // the sink asked for no more ranges
};

}  // namespace

// ---- delimited and JSON Lines ----------------------------------------------------------

Status SplitTextFile(const std::string& path, const TableReadOptions& options,
                     uint64_t mini_batch_size, bool has_header, const std::string* header_text,
                     const std::vector<TableRange::PathColumn>& path_columns,
                     const RangeSink& sink, std::vector<std::string>* warnings,
                     std::string* header_found, size_t chunk_size) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return Status::Usage(ErrnoMessage(path, errno));
  if (IsWideEncoding(options.encoding)) {
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return Status::Usage(ErrnoMessage(path, errno));
    if (st.st_size == 0) return Status::Ok();
    TableRange r;
    r.path = path;
    r.options = options;
    r.whole_file = true;
    r.length = static_cast<uint64_t>(st.st_size);
    r.path_columns = path_columns;
    if (options.format == TableFormat::kDelimited) {
      if (has_header) {
        r.file_header = true;
      } else if (header_text) {
        r.has_header = true;
        r.header = *header_text;
      }
    }
    sink(std::move(r));
    return Status::Ok();
  }
  posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  RecordScanner scanner(path, options, mini_batch_size, has_header, header_text, path_columns,
                        &sink);
  if (HasBom(fd.get())) scanner.SetBom(3);
  std::vector<char> buf(std::max<size_t>(chunk_size, 1));
  uint64_t total = 0;
  while (!scanner.stopped()) {
    ssize_t n = ReadAll(fd.get(), buf.data(), buf.size());
    if (n < 0) return Status::Usage(ErrnoMessage(path, errno));
    if (n == 0) break;
    scanner.Feed(buf.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  if (scanner.stopped()) return Status::Ok();
  scanner.Finish(total, warnings);
  if (header_found && has_header) *header_found = scanner.header();
  return Status::Ok();
}

Result<std::string> ReadHeaderRecord(const std::string& path, const TableReadOptions& options) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return Status::Usage(ErrnoMessage(path, errno));
  RangeSink ignore = [](TableRange&&) { return true; };
  std::vector<TableRange::PathColumn> none;
  RecordScanner scanner(path, options, std::numeric_limits<uint64_t>::max(), true, nullptr, none,
                        &ignore);
  if (HasBom(fd.get())) scanner.SetBom(3);
  char buf[1 << 16];
  uint64_t total = 0;
  while (!scanner.header_done()) {
    ssize_t n = ReadAll(fd.get(), buf, sizeof buf);
    if (n < 0) return Status::Usage(ErrnoMessage(path, errno));
    if (n == 0) {
      scanner.Finish(total, nullptr);
      break;
    }
    scanner.Feed(buf, static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  return scanner.header();
}

TableRange MakeWholeFileRange(const std::string& path, const TableReadOptions& options,
                              const std::string* first_header,
                              std::vector<TableRange::PathColumn> path_columns) {
  TableRange r;
  r.path = path;
  r.options = options;
  r.whole_file = true;
  r.path_columns = std::move(path_columns);
  if (options.format == TableFormat::kDelimited) {
    if (options.header == HeaderMode::kNoHeader) {
      r.file_header = false;
    } else if (options.header == HeaderMode::kFromFirstFile && first_header) {
      r.file_header = false;
      r.has_header = true;
      r.header = *first_header;
    } else {
      r.file_header = true;
    }
  }
  return r;
}

}  // namespace parallelrun
