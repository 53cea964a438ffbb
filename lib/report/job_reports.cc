#include "report/job_reports.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <tuple>
#include <fstream>
#include <functional>
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

// Column name → index, from a header record; looked up by a C string
// without making a std::string of it (std::less<>), once per field read.
using ColumnIndex = std::map<std::string, size_t, std::less<>>;
ColumnIndex Columns(const std::vector<std::string>& header) {
  ColumnIndex out;
  for (size_t i = 0; i < header.size(); i++) out[header[i]] = i;
  return out;
}

// Where a CSV's reading is: its header's columns once read, and the line.
struct CsvCursor {
  ColumnIndex cols;
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
  // Stretches are appended whole, not character by character: the end of a
  // job reads its processed_mini-batches.csv back for the timeline (twice,
  // trace.h), and that was most of a small job's end.
  fields->clear();
  const char* s = text.data();
  size_t n = text.size(), i = *pos;
  if (i >= n) return false;
  std::string field;
  while (i < n) {
    char c = s[i];
    if (c == '"') {
      // Quoted, up to the closing quote ("" is one quote; a quote that
      // never closes takes the rest of the text).
      i++;
      for (;;) {
        const void* q = memchr(s + i, '"', n - i);
        size_t at = q ? static_cast<size_t>(static_cast<const char*>(q) - s) : n;
        field.append(s + i, at - i);
        if (at + 1 < n && s[at + 1] == '"') {
          field.push_back('"');
          i = at + 2;
          continue;
        }
        i = at < n ? at + 1 : n;
        break;
      }
    } else if (c == ',') {
      fields->push_back(std::move(field));
      field.clear();
      i++;
    } else if (c == '\n' || c == '\r') {
      i++;
      if (c == '\r' && i < n && s[i] == '\n') i++;
      break;
    } else {
      size_t start = i;
      while (i < n && s[i] != '"' && s[i] != ',' && s[i] != '\n' && s[i] != '\r') i++;
      field.append(s + start, i - start);
    }
  }
  fields->push_back(std::move(field));
  *pos = i;
  return true;
}

bool ParseIsoTime(const std::string& text, double* epoch_seconds) {
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

int ProcessNumber(const std::string& process) {
  if (process.rfind("process", 0) != 0 || process.size() == 7) return -1;
  uint64_t n = 0;
  if (!ToU64(process.substr(7), &n) || n > 1000000) return -1;
  return static_cast<int>(n);
}

namespace {

// The end of the last whole record in text[0, n): just after the last line
// end outside quotes (a doubled quote toggles twice). 0 when there is none.
size_t LastRecordEnd(const std::string& text, size_t n) {
  bool quoted = false;
  size_t end = 0;
  const char* s = text.data();
  for (size_t i = 0; i < n; i++) {
    if (quoted) {
      // Inside quotes only the next quote matters.
      const void* q = memchr(s + i, '"', n - i);
      if (!q) break;
      i = static_cast<size_t>(static_cast<const char*>(q) - s);
      quoted = false;
    } else if (s[i] == '"') {
      quoted = true;
    } else if (s[i] == '\n') {
      end = i + 1;
    }
  }
  return end;
}

// ForEachRow over a file read in blocks: memory is one block and one
// record, whatever the file's size (a CSV of millions of attempts is read
// at the end of the job it describes).
template <typename RowFn>
Status ForEachRowOfFile(const std::string& path, RowFn row) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::Usage(fmt::format("cannot read {}: {}", path, ErrnoText(errno)));
  constexpr size_t kBlock = 1 << 20;
  std::string buf, part;
  CsvCursor c;
  bool eof = false;
  while (!eof) {
    size_t had = buf.size();
    buf.resize(had + kBlock);
    ssize_t n = ReadAll(fd.get(), buf.data() + had, kBlock);
    if (n < 0) return Status::Usage(fmt::format("cannot read {}: {}", path, ErrnoText(errno)));
    buf.resize(had + static_cast<size_t>(n));
    eof = static_cast<size_t>(n) < kBlock;
    // Whole records only, but all of what is left at the end (a last
    // record without its line end).
    size_t end = eof ? buf.size() : LastRecordEnd(buf, buf.size());
    if (end == 0) continue;  // one record longer than a block: read on
    part.assign(buf, 0, end);
    buf.erase(0, end);
    Status s = ReadRecords(path, part, &c, row);
    if (!s.ok()) return s;
  }
  if (!c.header) return Status::Usage(path + ": empty file, no header");
  return Status::Ok();
}

}  // namespace

Status ForEachAttemptRow(const std::string& path, const std::function<void(AttemptRow&&)>& fn) {
  return ForEachRowOfFile(path, [&fn](auto get) -> std::string {
    AttemptRow r;
    uint64_t attempt = 0, node = 0;
    if (!ToU64(get("Mini-batch Id"), &r.id)) return "Mini-batch Id is not a number";
    if (!ToU64(get("Picked Count"), &attempt)) return "Picked Count is not a number";
    if (!ParseIsoTime(get("Start Time"), &r.start)) return "Start Time is not a time";
    if (!ToU64(get("Total"), &r.total) || !ToU64(get("Succeeded"), &r.succeeded)) {
      return "Total or Succeeded is not a number";
    }
    if (!ToDouble(get("Elapsed Seconds"), &r.elapsed)) return "Elapsed Seconds is not a number";
    ToDouble(get("Process Seconds"), &r.cpu);
    ToDouble(get("Run Method Seconds"), &r.run);
    ToU64(get("Node"), &node);
    r.attempt = static_cast<uint32_t>(attempt);
    r.node = static_cast<uint32_t>(node);
    r.process = get("Process");
    r.status = get("Status");
    r.category = get("Error Category");
    r.message = get("Error Message");
    fn(std::move(r));
    return "";
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
      if (!ToU64(e->d_name, &node)) continue;
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
