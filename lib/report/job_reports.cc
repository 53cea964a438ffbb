#include "report/job_reports.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>

#include <string.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <tuple>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "base/disk.h"
#include "base/job_dir.h"

namespace parallelrun {

namespace {

bool ReadWhole(const std::string& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *text = s.str();
  return true;
}

// Column name → index, from a header record.
std::map<std::string, size_t> Columns(const std::vector<std::string>& header) {
  std::map<std::string, size_t> out;
  for (size_t i = 0; i < header.size(); i++) out[header[i]] = i;
  return out;
}

// Where a CSV's reading is: its header's columns once read, and the line.
struct CsvCursor {
  std::map<std::string, size_t> cols;
  bool header = false;
  int line = 0;
};

// Reads the whole records of `text`, the first of the file being its
// header; calls `row(get)` for each other record, where get(name) is that
// column's field ("" when absent). Stops at the first error `row` returns,
// naming path:line.
template <typename RowFn>
Status ReadRecords(const std::string& path, const std::string& text, CsvCursor* c, RowFn& row) {
  size_t pos = 0;
  std::vector<std::string> fields;
  while (NextCsvRecord(text, &pos, &fields)) {
    c->line++;
    if (!c->header) {
      c->cols = Columns(fields);
      c->header = true;
      continue;
    }
    if (fields.size() == 1 && fields[0].empty()) continue;
    auto get = [&](const char* name) -> std::string {
      auto it = c->cols.find(name);
      return it != c->cols.end() && it->second < fields.size() ? fields[it->second] : "";
    };
    std::string error = row(get);
    if (!error.empty()) return Status::Usage(fmt::format("{}:{}: {}", path, c->line, error));
  }
  return Status::Ok();
}

// ReadRecords of a CSV read whole.
template <typename RowFn>
Status ForEachRow(const std::string& path, const std::string& text, RowFn row) {
  CsvCursor c;
  Status s = ReadRecords(path, text, &c, row);
  if (s.ok() && !c.header) return Status::Usage(path + ": empty file, no header");
  return s;
}

bool ToDouble(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  *out = strtod(s.c_str(), &end);
  return end && *end == '\0';
}

bool ToU64(const std::string& s, uint64_t* out) {
  if (s.empty() || s[0] == '-') return false;
  char* end = nullptr;
  errno = 0;
  *out = strtoull(s.c_str(), &end, 10);
  return errno == 0 && end && *end == '\0';
}

// The digits of `text` as a number when it is only decimal digits, at most
// `max_digits` of them; false otherwise (the caller falls back to strtoull
// or strtod, which also read signs, spaces, exponents and "inf").
bool Digits(std::string_view text, size_t max_digits, uint64_t* out) {
  if (text.empty() || text.size() > max_digits) return false;
  uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = n;
  return true;
}

// ToU64 without a copy when `text` is plain digits (19 cannot overflow).
bool ToU64(std::string_view text, uint64_t* out) {
  if (Digits(text, 19, out)) return true;
  return ToU64(std::string(text), out);
}

// ToDouble without a copy for the numbers JobLog writes ("12.345678"):
// with at most 15 digits the digits are exact in a double and so is the
// power of ten, so one division is the correctly rounded value — what
// strtod returns for the same text.
bool ToDouble(std::string_view text, double* out) {
  static constexpr double kPow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  size_t dot = text.find('.');
  uint64_t whole = 0, frac = 0;
  if (dot == std::string_view::npos) {
    if (Digits(text, 15, &whole)) {
      *out = static_cast<double>(whole);
      return true;
    }
  } else if (dot > 0 && dot + 1 < text.size() && text.size() - 1 <= 15 &&
             Digits(text.substr(0, dot), 15, &whole) && Digits(text.substr(dot + 1), 15, &frac)) {
    size_t decimals = text.size() - dot - 1;
    uint64_t mantissa = whole;
    for (size_t i = 0; i < decimals; i++) mantissa *= 10;
    *out = static_cast<double>(mantissa + frac) / kPow10[decimals];
    return true;
  }
  return ToDouble(std::string(text), out);
}

// The settings the entry script was given: the master's log line
// "Entry script X with arguments: --mini_batch_size 10 …" (master_node.cc).
std::map<std::string, std::string> SettingsFromMasterLog(const std::string& text) {
  std::map<std::string, std::string> out;
  const std::string marker = "with arguments:";
  size_t at = text.find(marker);
  if (at == std::string::npos) return out;
  size_t end = text.find('\n', at);
  std::istringstream words(text.substr(at + marker.size(), end - at - marker.size()));
  std::string word, pending;
  while (words >> word) {
    if (word.size() > 1 && word[0] == '\'' && word.back() == '\'') word = word.substr(1, word.size() - 2);
    if (word.rfind("--", 0) == 0) {
      pending = word.substr(2);
      size_t eq = pending.find('=');
      if (eq != std::string::npos) {
        out[pending.substr(0, eq)] = pending.substr(eq + 1);
        pending.clear();
      }
    } else if (!pending.empty()) {
      out[pending] = word;
      pending.clear();
    }
  }
  return out;
}

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// cProfile's files (profiling_module), wherever the job's logs put them.
void FindProfiles(const std::string& dir, int depth, std::vector<std::string>* out) {
  if (depth > 6) return;
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string path = dir + "/" + name;
    if (e->d_type == DT_DIR) {
      FindProfiles(path, depth + 1, out);
    } else if (EndsWith(name, ".prof") || EndsWith(name, ".profile") ||
               EndsWith(name, ".profile.top.tsv")) {
      out->push_back(path);
    }
  }
  closedir(d);
}

}  // namespace

bool NextCsvRecord(const std::string& text, size_t* pos, std::vector<std::string>* fields) {
  fields->clear();
  size_t i = *pos;
  if (i >= text.size()) return false;
  std::string field;
  bool quoted = false;
  while (i < text.size()) {
    char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        field.push_back(c);
      }
      i++;
      continue;
    }
    if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields->push_back(std::move(field));
      field.clear();
    } else if (c == '\n' || c == '\r') {
      i++;
      if (c == '\r' && i < text.size() && text[i] == '\n') i++;
      break;
    } else {
      field.push_back(c);
    }
    i++;
  }
  fields->push_back(std::move(field));
  *pos = i;
  return true;
}

namespace {

// Days from 1970-01-01 to year-month-day of the proleptic Gregorian
// calendar (Howard Hinnant's days_from_civil). Linear in `day`, as timegm
// is when it normalizes a day past the month's end.
int64_t DaysFromCivil(int64_t year, int64_t month, int64_t day) {
  year -= month <= 2;
  int64_t era = (year >= 0 ? year : year - 399) / 400;
  int64_t yoe = year - era * 400;
  int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// The time IsoTime writes, "2026-12-01T03:51:31.123456" exactly, without
// strptime and timegm (two thirds of reading a row back): the same value,
// as the fraction's six digits over 1e6 is the correctly rounded value of
// "0.123456" that strtod gives. False for any other shape (the caller
// falls back to the general parser).
bool ParseIsoTimeFast(std::string_view t, double* epoch_seconds) {
  if (t.size() != 26 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
      t[16] != ':' || t[19] != '.') {
    return false;
  }
  uint64_t year, month, day, hour, minute, second, micros;
  if (!Digits(t.substr(0, 4), 4, &year) || !Digits(t.substr(5, 2), 2, &month) ||
      !Digits(t.substr(8, 2), 2, &day) || !Digits(t.substr(11, 2), 2, &hour) ||
      !Digits(t.substr(14, 2), 2, &minute) || !Digits(t.substr(17, 2), 2, &second) ||
      !Digits(t.substr(20, 6), 6, &micros)) {
    return false;
  }
  // The ranges strptime accepts all of, and a year timegm needs no care for.
  if (year < 1900 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 59) {
    return false;
  }
  int64_t days = DaysFromCivil(static_cast<int64_t>(year), static_cast<int64_t>(month),
                               static_cast<int64_t>(day));
  int64_t secs = days * 86400 + static_cast<int64_t>(hour * 3600 + minute * 60 + second);
  *epoch_seconds = static_cast<double>(secs) + static_cast<double>(micros) / 1e6;
  return true;
}

}  // namespace

bool ParseIsoTime(std::string_view view, double* epoch_seconds) {
  if (ParseIsoTimeFast(view, epoch_seconds)) return true;
  std::string text(view);
  struct tm tm = {};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) rest = strptime(text.c_str(), "%Y-%m-%d %H:%M:%S", &tm);
  if (!rest) return false;
  double frac = 0;
  if (*rest == '.' || *rest == ',') {
    std::string digits = std::string("0.") + (rest + 1);
    frac = strtod(digits.c_str(), nullptr);
  }
  *epoch_seconds = static_cast<double>(timegm(&tm)) + frac;
  return true;
}

bool ParseCsvDouble(std::string_view text, double* out) { return ToDouble(text, out); }

int ProcessNumber(const std::string& process) {
  if (process.rfind("process", 0) != 0 || process.size() == 7) return -1;
  uint64_t n = 0;
  if (!ToU64(process.substr(7), &n) || n > 1000000) return -1;
  return static_cast<int>(n);
}

namespace {

// The columns of processed_mini-batches.csv that an AttemptRow holds.
enum AttemptColumn {
  kIdColumn, kPickedColumn, kProcessColumn, kStartColumn, kTotalColumn, kSucceededColumn,
  kElapsedColumn, kCpuColumn, kRunColumn, kNodeColumn, kStatusColumn, kCategoryColumn,
  kMessageColumn, kAttemptColumns
};
constexpr const char* kAttemptColumnNames[kAttemptColumns] = {
    "Mini-batch Id",   "Picked Count",       "Process", "Start Time", "Total",
    "Succeeded",       "Elapsed Seconds",    "Process Seconds",       "Run Method Seconds",
    "Node",            "Status",             "Error Category",        "Error Message"};

// Reads the records of processed_mini-batches.csv in one scan of each
// block, as NextCsvRecord would read the whole file, keeping only the
// fields of the wanted columns: a field without quotes is a view into the
// block, one with quotes is unquoted into a buffer of its column (reused
// from row to row). The Mini-batch Detail, most of the bytes, is skipped.
class AttemptScanner {
 public:
  // A record of text[*pos, n), its fields in fields(); false when the
  // record does not end before n and more text may follow (not `eof`):
  // then nothing is consumed. Records that end at `n` end there when `eof`.
  bool Next(const char* text, size_t n, bool eof, size_t* pos) {
    size_t i = *pos;
    for (auto& f : fields_) f = std::string_view();
    size_t index = 0;
    first_empty_ = true;
    for (;;) {
      int column = index < want_.size() ? want_[index] : -1;
      // The common field: no quote before its comma or line end.
      size_t start = i;
      while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r' && text[i] != '"') i++;
      if (i < n && text[i] == '"') {
        i = start;
        std::string* into = column >= 0 ? &scratch_[column] : nullptr;
        if (into) into->clear();
        size_t length = 0;
        if (!Quoted(text, n, eof, &i, into, &length)) return false;
        if (into) fields_[column] = *into;
        if (index == 0) first_empty_ = length == 0;
      } else {
        if (column >= 0) fields_[column] = std::string_view(text + start, i - start);
        if (index == 0) first_empty_ = i == start;
      }
      if (i == n) {
        if (!eof) return false;
        break;
      }
      char c = text[i++];
      if (c == ',') {
        index++;
        continue;
      }
      // A line end; "\r\n" is one, so a '\r' last in the text needs the next.
      if (c == '\r') {
        if (i == n && !eof) return false;
        if (i < n && text[i] == '\n') i++;
      }
      break;
    }
    fields_count_ = index + 1;
    *pos = i;
    return true;
  }

  // A record of one empty field: an empty line, skipped.
  bool Empty() const { return fields_count_ == 1 && first_empty_; }

  // Sets the wanted columns from the header's names (the last of a name
  // that appears twice, as a map from name to index would).
  void Header(const std::vector<std::string>& names) {
    want_.assign(names.size(), -1);
    for (int c = 0; c < kAttemptColumns; c++) {
      for (size_t i = names.size(); i-- > 0;) {
        if (names[i] == kAttemptColumnNames[c]) {
          want_[i] = static_cast<int8_t>(c);
          break;
        }
      }
    }
  }

  std::string_view operator[](int column) const { return fields_[column]; }

 private:
  // A field holding a quote, from text[*i], by NextCsvRecord's rules:
  // quotes start and end quoted text anywhere in it, a doubled quote inside
  // is one quote. Appends it to `into` (when not null) and counts its bytes;
  // stops at its comma or line end. False when the text ends first and more
  // may follow.
  static bool Quoted(const char* text, size_t n, bool eof, size_t* i, std::string* into,
                     size_t* length) {
    size_t at = *i;
    bool quoted = false;
    while (at < n) {
      char c = text[at];
      if (quoted) {
        // Skip to the next quote: a Mini-batch Detail is long.
        const void* q = memchr(text + at, '"', n - at);
        size_t upto = q ? static_cast<size_t>(static_cast<const char*>(q) - text) : n;
        if (into) into->append(text + at, upto - at);
        *length += upto - at;
        at = upto;
        if (at == n) break;
        if (at + 1 < n && text[at + 1] == '"') {
          if (into) into->push_back('"');
          (*length)++;
          at += 2;
          continue;
        }
        quoted = false;
        at++;
        continue;
      }
      if (c == ',' || c == '\n' || c == '\r') break;
      if (c == '"') {
        quoted = true;
      } else {
        if (into) into->push_back(c);
        (*length)++;
      }
      at++;
    }
    // Unfinished, or maybe (a quote last may be half of a doubled one): the
    // record is read again once more text follows.
    if (at == n && !eof) return false;
    *i = at;
    return true;
  }

  std::vector<int8_t> want_;  // by field index: its AttemptColumn, or -1
  std::string_view fields_[kAttemptColumns];
  std::string scratch_[kAttemptColumns];
  size_t fields_count_ = 0;
  bool first_empty_ = true;
};

// The end of the first record of text[pos, n) (after its line end), or 0
// when it does not end there and more may follow. Quote parity tells
// whether a line end is inside a field: a doubled quote toggles twice.
size_t HeaderEnd(const std::string& text, size_t pos, bool eof) {
  bool quoted = false;
  for (size_t i = pos; i < text.size(); i++) {
    char c = text[i];
    if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && (c == '\n' || c == '\r')) {
      if (c == '\r' && i + 1 == text.size() && !eof) return 0;
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') i++;
      return i + 1;
    }
  }
  return eof ? text.size() : 0;
}

// Why a record is not an attempt, or nullptr: the checks, in order, of the
// reader that made AttemptRows of std::strings (the first that fails names
// the row's error).
const char* ToAttempt(const AttemptScanner& f, AttemptView* r) {
  uint64_t attempt = 0, node = 0;
  if (!ToU64(f[kIdColumn], &r->id)) return "Mini-batch Id is not a number";
  if (!ToU64(f[kPickedColumn], &attempt)) return "Picked Count is not a number";
  if (!ParseIsoTime(f[kStartColumn], &r->start)) return "Start Time is not a time";
  if (!ToU64(f[kTotalColumn], &r->total) || !ToU64(f[kSucceededColumn], &r->succeeded)) {
    return "Total or Succeeded is not a number";
  }
  if (!ToDouble(f[kElapsedColumn], &r->elapsed)) return "Elapsed Seconds is not a number";
  ToDouble(f[kCpuColumn], &r->cpu);
  ToDouble(f[kRunColumn], &r->run);
  ToU64(f[kNodeColumn], &node);
  r->attempt = static_cast<uint32_t>(attempt);
  r->node = static_cast<uint32_t>(node);
  r->process = f[kProcessColumn];
  r->status = f[kStatusColumn];
  r->category = f[kCategoryColumn];
  r->message = f[kMessageColumn];
  return nullptr;
}

}  // namespace

Status ForEachAttempt(const std::string& path, const std::function<void(const AttemptView&)>& fn) {
  // Memory is one block and one record, whatever the file's size (a CSV of
  // millions of attempts is read at the end of the job it describes). A
  // small block: a megabyte's zeroed pages cost every job's end ~1 ms of
  // page faults, whatever the file's size.
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::Usage(fmt::format("cannot read {}: {}", path, ErrnoText(errno)));
  constexpr size_t kBlock = 64 << 10;
  std::string buf;
  size_t pos = 0;  // where the next record starts in buf
  bool eof = false, header = false;
  int line = 0;
  AttemptScanner scanner;
  while (!eof) {
    // Keep the record not yet whole, then read a block after it.
    buf.erase(0, pos);
    pos = 0;
    size_t had = buf.size();
    buf.resize(had + kBlock);
    ssize_t n = ReadAll(fd.get(), buf.data() + had, kBlock);
    if (n < 0) return Status::Usage(fmt::format("cannot read {}: {}", path, ErrnoText(errno)));
    buf.resize(had + static_cast<size_t>(n));
    eof = static_cast<size_t>(n) < kBlock;
    if (!header) {
      size_t end = HeaderEnd(buf, 0, eof);
      if (end == 0) continue;  // a header longer than a block: read on
      std::vector<std::string> names;
      size_t at = 0;
      std::string text = buf.substr(0, end);
      NextCsvRecord(text, &at, &names);
      scanner.Header(names);
      header = true;
      line++;
      pos = end;
    }
    while (pos < buf.size() && scanner.Next(buf.data(), buf.size(), eof, &pos)) {
      line++;
      if (scanner.Empty()) continue;
      AttemptView r;
      if (const char* error = ToAttempt(scanner, &r)) {
        return Status::Usage(fmt::format("{}:{}: {}", path, line, error));
      }
      fn(r);
    }
  }
  if (!header) return Status::Usage(path + ": empty file, no header");
  return Status::Ok();
}

Status ForEachAttemptRow(const std::string& path, const std::function<void(AttemptRow&&)>& fn) {
  return ForEachAttempt(path, [&fn](const AttemptView& v) {
    AttemptRow r;
    r.id = v.id;
    r.attempt = v.attempt;
    r.process = std::string(v.process);
    r.node = v.node;
    r.start = v.start;
    r.total = v.total;
    r.succeeded = v.succeeded;
    r.elapsed = v.elapsed;
    r.cpu = v.cpu;
    r.run = v.run;
    r.status = std::string(v.status);
    r.category = std::string(v.category);
    r.message = std::string(v.message);
    fn(std::move(r));
  });
}

Result<std::vector<AttemptRow>> ReadAttemptRows(const std::string& path) {
  std::vector<AttemptRow> rows;
  Status s = ForEachAttemptRow(path, [&rows](AttemptRow&& r) { rows.push_back(std::move(r)); });
  if (!s.ok()) return s;
  return rows;
}

Result<MiniBatchCounts> CountMiniBatches(const std::string& path) {
  // The master numbers mini-batches from 0, so the last row of each is kept
  // in a vector by id; an id far beyond the rows seen (a CSV edited by hand)
  // goes to a map instead of growing the vector to it.
  struct Last {
    uint32_t total = 0, succeeded = 0;
    int8_t ok = -1;  // -1: no row of this id
  };
  std::vector<Last> dense;
  std::map<uint64_t, Last> sparse;
  MiniBatchCounts c;
  Status s = ForEachAttemptRow(path, [&](AttemptRow&& row) {
    Last* last;
    if (row.id < dense.size() || row.id < 4 * c.attempts + 65536) {
      if (row.id >= dense.size()) dense.resize(row.id + 1);
      last = &dense[row.id];
    } else {
      last = &sparse[row.id];
    }
    last->total = static_cast<uint32_t>(std::min<uint64_t>(row.total, UINT32_MAX));
    last->succeeded = static_cast<uint32_t>(std::min<uint64_t>(row.succeeded, UINT32_MAX));
    last->ok = row.ok() ? 1 : 0;
    c.attempts++;
  });
  if (!s.ok()) return s;
  auto add = [&c](const Last& last) {
    if (last.ok < 0) return;
    c.mini_batches++;
    (last.ok ? c.succeeded : c.failed)++;
    c.items += last.total;
    c.items_succeeded += last.succeeded;
    c.items_failed += last.total - std::min(last.total, last.succeeded);
  };
  for (const Last& last : dense) add(last);
  for (const auto& [id, last] : sparse) add(last);
  return c;
}

Result<JobReports> ReadJobReports(const std::string& job_dir) {
  JobReports out;
  out.job_dir = job_dir;
  auto rows = ReadAttemptRows(ProcessedMiniBatchesCsv(job_dir));
  if (!rows.ok()) {
    return Status::Usage(fmt::format("{} does not look like a parallelrun job dir: {}", job_dir,
                                     rows.status().message()));
  }
  out.attempts = std::move(rows.value());

  std::string text;
  if (ReadWhole(ProcessSummaryCsv(job_dir), &text)) {
    Status s = ForEachRow(ProcessSummaryCsv(job_dir), text, [&out](auto get) -> std::string {
      ProcessRow p;
      uint64_t node = 0, pid = 0;
      ToU64(get("Node"), &node);
      p.node = static_cast<uint32_t>(node);
      p.process = get("Process");
      ToU64(get("Attempts"), &p.attempts);
      ToU64(get("Succeeded Mini-batches"), &p.done);
      ToU64(get("Failed Attempts"), &p.failed_attempts);
      ToU64(get("Total Items"), &p.items);
      ToU64(get("Succeeded Items"), &p.succeeded);
      ToDouble(get("Elapsed Seconds"), &p.elapsed);
      ToDouble(get("Process Seconds"), &p.cpu);
      ToDouble(get("Run Method Seconds"), &p.run);
      ParseIsoTime(get("Start Time"), &p.start);
      ParseIsoTime(get("End Time"), &p.end);
      ToU64(get("Pid"), &pid);
      p.pid = static_cast<uint32_t>(pid);
      ToDouble(get("Init Seconds"), &p.init_seconds);
      p.exit = get("Exit");
      out.processes.push_back(std::move(p));
      return "";
    });
    if (!s.ok()) return s;
  }

  // logs/sys/perf/<node>/node_resource_usage.csv, when a node measured it.
  std::string perf_root = LogsDir(job_dir) + "/sys/perf";
  if (DIR* d = opendir(perf_root.c_str())) {
    while (dirent* e = readdir(d)) {
      uint64_t node = 0;
      if (!ToU64(std::string(e->d_name), &node)) continue;
      std::string path = perf_root + "/" + e->d_name + "/node_resource_usage.csv";
      if (!ReadWhole(path, &text)) continue;
      std::vector<PerfSample> samples;
      // A perf file is a help, not the job's record: a bad row is skipped.
      ForEachRow(path, text, [&samples](auto get) -> std::string {
        PerfSample p;
        if (!ParseIsoTime(get("Utc Time"), &p.time)) return "";
        ToDouble(get("Cpu Percent"), &p.cpu_percent);
        ToDouble(get("Memory Used (MB)"), &p.memory_used_mb);
        ToDouble(get("Memory Used Percent"), &p.memory_used_percent);
        samples.push_back(p);
        return "";
      });
      if (!samples.empty()) out.perf[static_cast<uint32_t>(node)] = std::move(samples);
    }
    closedir(d);
  }

  if (ReadWhole(MasterLogPath(job_dir, 0), &text)) out.settings = SettingsFromMasterLog(text);
  ReadWhole(JobResultPath(job_dir), &out.result);
  std::vector<std::string> found, tops;
  FindProfiles(LogsDir(job_dir), 0, &found);
  std::sort(found.begin(), found.end());
  for (auto& path : found) {
    if (EndsWith(path, ".top.tsv")) {
      if (ReadWhole(path, &text)) tops.push_back(text);
    } else {
      out.profiles.push_back(std::move(path));
    }
  }
  out.profile_top = SumProfileTops(tops);
  return out;
}

std::vector<ProfileFunction> SumProfileTops(const std::vector<std::string>& tsv_texts) {
  std::map<std::tuple<std::string, std::string, uint64_t>, ProfileFunction> sum;
  for (const auto& text : tsv_texts) {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(pos, end - pos);
      pos = end + 1;
      std::vector<std::string> f;
      size_t start = 0;
      for (;;) {
        size_t tab = line.find('\t', start);
        f.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
        if (tab == std::string::npos) break;
        start = tab + 1;
      }
      ProfileFunction p;
      if (f.size() != 6 || !ToU64(f[2], &p.line) || !ToU64(f[3], &p.calls) ||
          !ToDouble(f[4], &p.own_seconds) || !ToDouble(f[5], &p.cumulative_seconds)) {
        continue;  // the header, or a line that is not ours
      }
      ProfileFunction& into = sum[{f[0], f[1], p.line}];
      into.function = f[0];
      into.file = f[1];
      into.line = p.line;
      into.calls += p.calls;
      into.own_seconds += p.own_seconds;
      into.cumulative_seconds += p.cumulative_seconds;
      into.workers++;
    }
  }
  std::vector<ProfileFunction> out;
  for (auto& [key, p] : sum) out.push_back(std::move(p));
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.own_seconds > b.own_seconds;
  });
  return out;
}

}  // namespace parallelrun
