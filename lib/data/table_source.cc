#include "data/table_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "base/disk.h"
#include "base/wire.h"

namespace parallelrun {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "UTF-16", "utf_16le", "utf16" → "utf16le"-ish: lower case without - and _.
std::string CodecKey(const std::string& encoding) {
  std::string out;
  for (char c : Lower(encoding)) {
    if (c != '-' && c != '_') out.push_back(c);
  }
  return out;
}

// Line ends in these encodings are not the single byte '\n'.
bool IsWideEncoding(const std::string& encoding) {
  std::string k = CodecKey(encoding);
  return k.rfind("utf16", 0) == 0 || k.rfind("utf32", 0) == 0 || k == "ucs2" || k == "ucs4";
}

// Reads up to n bytes; returns bytes read, or -1 with errno set.
ssize_t ReadSome(int fd, char* buf, size_t n) {
  for (;;) {
    ssize_t r = read(fd, buf, n);
    if (r < 0 && errno == EINTR) continue;
    return r;
  }
}

ssize_t PreadAll(int fd, char* buf, size_t n, uint64_t offset) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = pread(fd, buf + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(done);
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
    record_start_ = end;
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
  std::string header_bytes_;
  std::string header_;
  uint64_t range_start_ = 0;
  bool range_has_content_ = false;
  std::optional<TableRange> held_;
  bool stopped_ = false;  // the sink asked for no more ranges
};

// ---- Thrift compact protocol, as much as a Parquet footer needs -----------------

class CompactReader {
 public:
  explicit CompactReader(const std::string& data) : data_(data) {}

  bool ok() const { return ok_; }
  void Fail(const std::string& why) {
    if (ok_) error_ = why + " at byte " + std::to_string(pos_);
    ok_ = false;
  }
  const std::string& error() const { return error_; }

  uint8_t Byte() {
    if (pos_ >= data_.size()) {
      Fail("unexpected end of the footer");
      return 0;
    }
    return static_cast<uint8_t>(data_[pos_++]);
  }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && ok_; shift += 7) {
      uint8_t b = Byte();
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    Fail("varint too long");
    return 0;
  }
  int64_t Zigzag() {
    uint64_t v = Varint();
    return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
  }

  // Reads a field header: false at STOP. Types: 1/2 bool true/false, 3 i8,
  // 4 i16, 5 i32, 6 i64, 7 double, 8 binary, 9 list, 10 set, 11 map, 12 struct.
  bool Field(int16_t* id, uint8_t* type, int16_t* last_id) {
    uint8_t b = Byte();
    if (!ok_ || b == 0) return false;
    *type = b & 0x0f;
    uint8_t delta = b >> 4;
    *id = delta ? static_cast<int16_t>(*last_id + delta) : static_cast<int16_t>(Zigzag());
    *last_id = *id;
    return ok_;
  }

  // List/set header: element type and count.
  void ListHeader(uint8_t* elem_type, uint64_t* count) {
    uint8_t b = Byte();
    *elem_type = b & 0x0f;
    *count = b >> 4;
    if (*count == 15) *count = Varint();
    if (*count > data_.size()) Fail("list of " + std::to_string(*count) + " elements");
  }

  void Skip(uint8_t type, int depth = 0) {
    if (!ok_) return;
    if (depth > 64) return Fail("nesting too deep");
    switch (type) {
      case 1:
      case 2:
        return;  // a bool field's value is in its type
      case 3:
        Byte();
        return;
      case 4:
      case 5:
      case 6:
        Varint();
        return;
      case 7:
        Advance(8);
        return;
      case 8:
        Advance(Varint());
        return;
      case 9:
      case 10: {
        uint8_t elem;
        uint64_t n;
        ListHeader(&elem, &n);
        for (uint64_t i = 0; i < n && ok_; i++) {
          if (elem == 1 || elem == 2) {
            Byte();  // bools in a list take a byte each
          } else {
            Skip(elem, depth + 1);
          }
        }
        return;
      }
      case 11: {
        uint64_t n = Varint();
        if (n == 0) return;
        if (n > data_.size()) return Fail("map of " + std::to_string(n) + " entries");
        uint8_t kv = Byte();
        for (uint64_t i = 0; i < n && ok_; i++) {
          Skip(kv >> 4, depth + 1);
          Skip(kv & 0x0f, depth + 1);
        }
        return;
      }
      case 12: {
        int16_t last = 0, id;
        uint8_t t;
        while (ok_ && Field(&id, &t, &last)) Skip(t, depth + 1);
        return;
      }
      default:
        Fail("unknown Thrift type " + std::to_string(type));
    }
  }

 private:
  void Advance(uint64_t n) {
    if (n > data_.size() - pos_) return Fail("field runs past the end of the footer");
    pos_ += n;
  }

  const std::string& data_;
  size_t pos_ = 0;
  bool ok_ = true;
  std::string error_;
};

bool ReadRowGroup(CompactReader& r, ParquetRowGroup* out) {
  int16_t last = 0, id;
  uint8_t type;
  std::optional<int64_t> total_byte_size, total_compressed, rows;
  while (r.ok() && r.Field(&id, &type, &last)) {
    if (type == 6 && (id == 2 || id == 3 || id == 6)) {
      int64_t v = r.Zigzag();
      if (id == 2) total_byte_size = v;
      if (id == 3) rows = v;
      if (id == 6) total_compressed = v;
    } else {
      r.Skip(type);
    }
  }
  if (!r.ok()) return false;
  if (!rows || *rows < 0) {
    r.Fail("a row group without num_rows");
    return false;
  }
  out->rows = static_cast<uint64_t>(*rows);
  int64_t bytes = total_compressed && *total_compressed > 0 ? *total_compressed
                                                            : total_byte_size.value_or(0);
  out->bytes = static_cast<uint64_t>(std::max<int64_t>(bytes, 0));
  return true;
}

}  // namespace

// ---- names -----------------------------------------------------------------------

const char* TableFormatName(TableFormat f) {
  switch (f) {
    case TableFormat::kDelimited: return "delimited";
    case TableFormat::kJsonLines: return "json_lines";
    case TableFormat::kParquet: return "parquet";
    case TableFormat::kPickle: return "pickle";
  }
  return "?";
}

const char* HeaderModeName(HeaderMode h) {
  switch (h) {
    case HeaderMode::kAllFilesSameHeaders: return "all_files_same_headers";
    case HeaderMode::kFromFirstFile: return "from_first_file";
    case HeaderMode::kNoHeader: return "no_header";
    case HeaderMode::kAllFilesDifferentHeaders: return "all_files_different_headers";
  }
  return "?";
}

std::optional<HeaderMode> ParseHeaderMode(const std::string& text) {
  for (HeaderMode h : {HeaderMode::kAllFilesSameHeaders, HeaderMode::kFromFirstFile,
                       HeaderMode::kNoHeader, HeaderMode::kAllFilesDifferentHeaders}) {
    if (text == HeaderModeName(h)) return h;
  }
  return std::nullopt;
}

std::optional<TableReadOptions> OptionsForExtension(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string name = Lower(slash == std::string::npos ? path : path.substr(slash + 1));
  size_t dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0) return std::nullopt;
  std::string ext = name.substr(dot + 1);
  TableReadOptions o;
  if (ext == "csv") return o;
  if (ext == "tsv" || ext == "tab") {
    o.delimiter = "\t";
    return o;
  }
  if (ext == "jsonl" || ext == "ndjson" || ext == "json") {
    o.format = TableFormat::kJsonLines;
    return o;
  }
  if (ext == "parquet" || ext == "parq" || ext == "pq") {
    o.format = TableFormat::kParquet;
    return o;
  }
  return std::nullopt;
}

// ---- descriptor encoding ------------------------------------------------------------
//
//   u8 version (kTableRangeVersion), u8 format, bytes path,
//   u64 offset, u64 length, u32 group_begin, u32 group_end, u64 group_first_row,
//   u64 row_begin, u64 row_end,
//   u8 flags: 1 has_header, 2 whole_file, 4 file_header, 8 include_path_column,
//             16 empty_as_string, 32 support_multi_line
//   u8 header mode, bytes header, bytes delimiter, bytes encoding, bytes invalid_lines,
//   bytes path_column, u32 n, n × (bytes name, bytes value, bytes datetime_format)

std::string EncodeTableRange(const TableRange& r) {
  WireWriter w;
  w.U8(kTableRangeVersion);
  w.U8(static_cast<uint8_t>(r.options.format));
  w.Bytes(r.path);
  w.U64(r.offset);
  w.U64(r.length);
  w.U32(r.group_begin);
  w.U32(r.group_end);
  w.U64(r.group_first_row);
  w.U64(r.row_begin);
  w.U64(r.row_end);
  uint8_t flags = (r.has_header ? 1 : 0) | (r.whole_file ? 2 : 0) | (r.file_header ? 4 : 0) |
                  (r.options.include_path_column ? 8 : 0) | (r.options.empty_as_string ? 16 : 0) |
                  (r.options.support_multi_line ? 32 : 0);
  w.U8(flags);
  w.U8(static_cast<uint8_t>(r.options.header));
  w.Bytes(r.header);
  w.Bytes(r.options.delimiter);
  w.Bytes(r.options.encoding);
  w.Bytes(r.options.invalid_lines);
  w.Bytes(r.options.path_column);
  w.U32(static_cast<uint32_t>(r.path_columns.size()));
  for (const auto& c : r.path_columns) {
    w.Bytes(c.name);
    w.Bytes(c.value);
    w.Bytes(c.datetime_format);
  }
  return w.Take();
}

bool DecodeTableRange(const std::string& data, TableRange* out) {
  WireReader rd(data);
  if (rd.U8() != kTableRangeVersion) return false;
  TableRange r;
  uint8_t format = rd.U8();
  if (format > static_cast<uint8_t>(TableFormat::kPickle)) return false;
  r.options.format = static_cast<TableFormat>(format);
  r.path = rd.Bytes();
  r.offset = rd.U64();
  r.length = rd.U64();
  r.group_begin = rd.U32();
  r.group_end = rd.U32();
  r.group_first_row = rd.U64();
  r.row_begin = rd.U64();
  r.row_end = rd.U64();
  uint8_t flags = rd.U8();
  r.has_header = flags & 1;
  r.whole_file = flags & 2;
  r.file_header = flags & 4;
  r.options.include_path_column = flags & 8;
  r.options.empty_as_string = flags & 16;
  r.options.support_multi_line = flags & 32;
  uint8_t header = rd.U8();
  if (header > static_cast<uint8_t>(HeaderMode::kAllFilesDifferentHeaders)) return false;
  r.options.header = static_cast<HeaderMode>(header);
  r.header = rd.Bytes();
  r.options.delimiter = rd.Bytes();
  r.options.encoding = rd.Bytes();
  r.options.invalid_lines = rd.Bytes();
  r.options.path_column = rd.Bytes();
  uint32_t n = rd.U32();
  if (!rd.ok() || n > data.size()) return false;
  for (uint32_t i = 0; i < n; i++) {
    TableRange::PathColumn c;
    c.name = rd.Bytes();
    c.value = rd.Bytes();
    c.datetime_format = rd.Bytes();
    r.path_columns.push_back(std::move(c));
  }
  if (!rd.done()) return false;
  *out = std::move(r);
  return true;
}

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
    ssize_t n = ReadSome(fd.get(), buf.data(), buf.size());
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
    ssize_t n = ReadSome(fd.get(), buf, sizeof buf);
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

// ---- Parquet -------------------------------------------------------------------------

Result<ParquetLayout> DecodeParquetFooter(const std::string& footer) {
  CompactReader r(footer);
  ParquetLayout layout;
  bool have_groups = false;
  int16_t last = 0, id;
  uint8_t type;
  while (r.ok() && r.Field(&id, &type, &last)) {
    if (id == 3 && type == 6) {
      layout.rows = static_cast<uint64_t>(std::max<int64_t>(r.Zigzag(), 0));
    } else if (id == 4 && type == 9) {
      uint8_t elem;
      uint64_t n;
      r.ListHeader(&elem, &n);
      if (r.ok() && elem != 12) r.Fail("row_groups is not a list of structs");
      for (uint64_t i = 0; i < n && r.ok(); i++) {
        ParquetRowGroup g;
        if (ReadRowGroup(r, &g)) layout.row_groups.push_back(g);
      }
      have_groups = true;
    } else {
      r.Skip(type);
    }
  }
  if (!r.ok()) return Status::Usage("the Parquet footer does not decode: " + r.error());
  if (!have_groups) return Status::Usage("the Parquet footer has no row_groups");
  return layout;
}

Result<ParquetLayout> ReadParquetLayout(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return Status::Usage(ErrnoMessage(path, errno));
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Status::Usage(ErrnoMessage(path, errno));
  uint64_t size = static_cast<uint64_t>(st.st_size);
  char head[4], tail[8];
  if (size < 12 || PreadAll(fd.get(), head, 4, 0) != 4 || PreadAll(fd.get(), tail, 8, size - 8) != 8 ||
      std::memcmp(head, "PAR1", 4) != 0 || std::memcmp(tail + 4, "PAR1", 4) != 0) {
    return Status::Usage(path + ": not a Parquet file (no PAR1 magic at its start and end)");
  }
  uint32_t footer_len = static_cast<uint8_t>(tail[0]) | static_cast<uint8_t>(tail[1]) << 8 |
                        static_cast<uint8_t>(tail[2]) << 16 |
                        static_cast<uint32_t>(static_cast<uint8_t>(tail[3])) << 24;
  if (footer_len == 0 || footer_len > size - 12) {
    return Status::Usage(path + ": the Parquet footer length " + std::to_string(footer_len) +
                         " does not fit the file");
  }
  std::string footer(footer_len, '\0');
  if (PreadAll(fd.get(), footer.data(), footer_len, size - 8 - footer_len) !=
      static_cast<ssize_t>(footer_len)) {
    return Status::Usage(ErrnoMessage(path, errno ? errno : EIO));
  }
  Result<ParquetLayout> layout = DecodeParquetFooter(footer);
  if (!layout.ok()) return layout.status().WithContext(path);
  return layout;
}

void SplitParquet(const std::string& path, const TableReadOptions& options,
                  const ParquetLayout& layout, uint64_t mini_batch_size,
                  const std::vector<TableRange::PathColumn>& path_columns, const RangeSink& sink) {
  const uint64_t size = std::max<uint64_t>(mini_batch_size, 1);
  auto make = [&](uint32_t g0, uint32_t g1, uint64_t first_row, uint64_t r0, uint64_t r1,
                  uint64_t bytes) {
    TableRange r;
    r.path = path;
    r.options = options;
    r.length = bytes;
    r.group_begin = g0;
    r.group_end = g1;
    r.group_first_row = first_row;
    r.row_begin = r0;
    r.row_end = r1;
    r.path_columns = path_columns;
    return sink(std::move(r));
  };
  uint64_t row = 0;  // file row index of the current group's first row
  uint32_t acc_begin = 0;
  uint64_t acc_first_row = 0, acc_bytes = 0, acc_rows = 0;
  bool go_on = true;
  auto flush = [&](uint32_t end) {
    if (acc_rows > 0 && go_on) {
      go_on = make(acc_begin, end, acc_first_row, acc_first_row, acc_first_row + acc_rows, acc_bytes);
    }
    acc_rows = acc_bytes = 0;
  };
  for (uint32_t g = 0; g < layout.row_groups.size() && go_on; g++) {
    const ParquetRowGroup& rg = layout.row_groups[g];
    if (acc_rows == 0) {
      acc_begin = g;
      acc_first_row = row;
      acc_bytes = 0;
    }
    if (rg.bytes > size && rg.rows > 1) {
      flush(g);
      // A row group larger than a mini-batch: cut it into row ranges of
      // about mini_batch_size bytes each.
      uint64_t pieces = std::min<uint64_t>((rg.bytes + size - 1) / size, rg.rows);
      for (uint64_t i = 0; i < pieces && go_on; i++) {
        uint64_t r0 = row + rg.rows * i / pieces, r1 = row + rg.rows * (i + 1) / pieces;
        go_on = make(g, g + 1, row, r0, r1, rg.bytes / pieces);
      }
      row += rg.rows;
      continue;
    }
    acc_bytes += rg.bytes;
    acc_rows += rg.rows;
    row += rg.rows;
    if (acc_bytes >= size) flush(g + 1);
  }
  flush(static_cast<uint32_t>(layout.row_groups.size()));
}

// ---- globs and path lists ------------------------------------------------------------------

namespace {

// Matches one character class at pattern[*p] ('[' already seen at *p).
// Returns false when the class is malformed (then '[' is literal).
bool MatchClass(std::string_view pattern, size_t* p, char c, bool* matched) {
  size_t i = *p + 1;
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    i++;
  }
  bool found = false;
  bool first = true;
  while (i < pattern.size() && (first || pattern[i] != ']')) {
    first = false;
    char lo = pattern[i];
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      char hi = pattern[i + 2];
      if (c >= lo && c <= hi) found = true;
      i += 3;
    } else {
      if (c == lo) found = true;
      i++;
    }
  }
  if (i >= pattern.size()) return false;
  *p = i + 1;
  *matched = found != negate && c != '/';
  return true;
}

bool Glob(std::string_view pat, size_t p, std::string_view path, size_t s) {
  while (p < pat.size()) {
    char pc = pat[p];
    if (pc == '*') {
      if (p + 1 < pat.size() && pat[p + 1] == '*') {
        size_t next = p + 2;
        // "**/" may also match no folder at all.
        if (next < pat.size() && pat[next] == '/' && Glob(pat, next + 1, path, s)) return true;
        for (size_t k = s; k <= path.size(); k++) {
          if (Glob(pat, next, path, k)) return true;
        }
        return false;
      }
      for (size_t k = s;; k++) {
        if (Glob(pat, p + 1, path, k)) return true;
        if (k == path.size() || path[k] == '/') return false;
      }
    }
    if (s == path.size()) return false;
    if (pc == '?') {
      if (path[s] == '/') return false;
      p++;
      s++;
      continue;
    }
    if (pc == '[') {
      size_t q = p;
      bool matched = false;
      if (MatchClass(pat, &q, path[s], &matched)) {
        if (!matched) return false;
        p = q;
        s++;
        continue;
      }
    }
    if (pc != path[s]) return false;
    p++;
    s++;
  }
  return s == path.size();
}

// The folder to list for a pattern: up to the last '/' before its first wildcard.
std::string PatternRoot(const std::string& pattern) {
  size_t wild = pattern.find_first_of("*?[");
  std::string prefix = pattern.substr(0, wild);
  size_t slash = prefix.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return prefix.substr(0, slash);
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view path) {
  return Glob(pattern, 0, path, 0);
}

TablePathLister::TablePathLister(std::vector<TablePath> paths, std::function<void()> notify)
    : paths_(std::move(paths)), notify_(std::move(notify)) {
  StartNext();
}

TablePathLister::~TablePathLister() = default;

bool TablePathLister::StartNext() {
  lister_.reset();
  current_ = nullptr;
  while (next_ < paths_.size()) {
    const TablePath& p = paths_[next_++];
    std::string root = p.kind == TablePath::Kind::kPattern ? PatternRoot(p.value) : p.value;
    Status s = CheckInputPath(root);
    if (!s.ok()) {
      errors_.push_back(p.kind == TablePath::Kind::kPattern
                            ? p.value + ": the pattern matched no file (" + s.message() + ")"
                            : s.message());
      continue;
    }
    current_ = &p;
    current_matches_ = 0;
    lister_ = std::make_unique<FileLister>(root, FileLister::Options(), notify_);
    return true;
  }
  return false;
}

size_t TablePathLister::Take(size_t max, std::vector<std::string>* out) {
  size_t taken = 0;
  while (taken < max && lister_) {
    scratch_.clear();
    size_t n = lister_->Take(max - taken, &scratch_);
    for (auto& path : scratch_) {
      if (current_->kind == TablePath::Kind::kPattern && !GlobMatch(current_->value, path)) continue;
      out->push_back(std::move(path));
      taken++;
      current_matches_++;
    }
    if (n > 0) continue;
    if (!lister_->finished()) break;  // more later; notify says when
    for (const auto& e : lister_->errors()) errors_.push_back(e);
    if (current_->kind == TablePath::Kind::kPattern && current_matches_ == 0) {
      errors_.push_back(current_->value + ": the pattern matched no file");
    }
    StartNext();
  }
  return taken;
}

bool TablePathLister::finished() const { return !lister_ && next_ >= paths_.size(); }

// ---- TableSource -----------------------------------------------------------------------------

TableSource::TableSource(TableInput input, Options options, std::function<void()> notify)
    : input_(std::move(input)), options_(options), notify_(std::move(notify)) {
  std::string p = input_.root;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  while (!p.empty() && p != "/") {
    size_t slash = p.rfind('/');
    std::string name = slash == std::string::npos ? p : p.substr(slash + 1);
    if (!name.empty() && name != "." && name != "..") ancestors_.push_back(name);
    if (slash == std::string::npos) break;
    p = slash == 0 ? "/" : p.substr(0, slash);
  }
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
    });
    std::vector<std::string> batch;
    while (!stopping()) {
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
        if (stopping()) break;
        SplitOne(path);
        std::lock_guard<std::mutex> lock(mutex_);
        files_done_++;
      }
    }
    for (const auto& e : lister.errors()) AddMessage(&errors_, e);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
  }
  if (notify_) notify_();
}

void TableSource::SplitOne(const std::string& path) {
  TableReadOptions options;
  if (input_.read) {
    options = *input_.read;
  } else {
    std::optional<TableReadOptions> by_ext = OptionsForExtension(path);
    if (!by_ext) {
      bool single_file = input_.paths.size() == 1 && input_.paths[0].kind == TablePath::Kind::kFile;
      if (!single_file) {
        std::lock_guard<std::mutex> lock(mutex_);
        skipped_files_++;
        return;
      }
      by_ext = TableReadOptions();  // a file named directly: read it as CSV
    }
    options = *by_ext;
  }

  std::vector<TableRange::PathColumn> columns;
  if (input_.partition_format) {
    std::string rel = path;
    std::string root = input_.root;
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    if (rel.size() > root.size() && rel.compare(0, root.size(), root) == 0 && rel[root.size()] == '/') {
      rel = rel.substr(root.size() + 1);
    } else if (!rel.empty() && rel[0] == '/') {
      rel = rel.substr(1);
    }
    std::vector<std::string> values;
    if (!input_.partition_format->Match(rel, ancestors_, &values)) {
      AddMessage(&errors_, path + ": does not match the partition format '" +
                               input_.partition_format->text() + "'; skipped");
      return;
    }
    for (size_t i = 0; i < values.size(); i++) {
      columns.push_back({input_.partition_format->keys()[i], values[i],
                         input_.partition_format->datetime_format(i)});
    }
  }

  RangeSink sink = [&](TableRange&& r) { return Publish(std::move(r)); };
  if (options.format == TableFormat::kParquet) {
    Result<ParquetLayout> layout = ReadParquetLayout(path);
    if (!layout.ok()) {
      AddMessage(&errors_, layout.status().message());
      return;
    }
    SplitParquet(path, options, *layout, options_.mini_batch_size, columns, sink);
    return;
  }
  if (options.format == TableFormat::kPickle) {
    sink(MakeWholeFileRange(path, options, nullptr, columns));
    return;
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
    return;
  }
  // from_first_file: the first file with a header names the columns of the rest.
  if (options.format == TableFormat::kDelimited && options.header == HeaderMode::kFromFirstFile &&
      !first_header_ && !header.empty()) {
    first_header_ = header;
  }
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
  return skipped_files_;
}

std::vector<std::string> TableSource::errors() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return errors_;
}

std::vector<std::string> TableSource::warnings() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return warnings_;
}

std::string ItemLabel(const MiniBatch& batch, size_t i) {
  const std::string& item = batch.items[i];
  if (!IsTabular(batch.kind)) return item;
  TableRange r;
  if (!DecodeTableRange(item, &r)) return "(a table range that does not decode)";
  if (r.whole_file) return r.path;
  if (r.options.format == TableFormat::kParquet) {
    return fmt::format("{} (rows {}-{})", r.path, r.row_begin, r.row_end - 1);
  }
  return fmt::format("{} (bytes {}-{})", r.path, r.offset, r.offset + r.length - 1);
}

}  // namespace parallelrun
