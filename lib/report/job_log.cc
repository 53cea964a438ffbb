#include "report/job_log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <fmt/compile.h>
#include <fmt/format.h>

#include "base/clock.h"
#include "base/job_dir.h"
#include "report/job_reports.h"

namespace parallelrun {

namespace {

constexpr size_t kFailuresKept = 10;
constexpr size_t kGroupsKept = 20;
constexpr size_t kItemsShown = 5;
// Rows wait in memory up to this size or the master's next journal commit.
// Rows are written once this much waits (or at the journal's commit): the
// buffer's pages are reused, not first touched (a page fault each).
constexpr size_t kCsvBufferBytes = 64 << 10;

std::string LastLines(const std::string& text, int n) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  std::string out;
  size_t from = lines.size() > static_cast<size_t>(n) ? lines.size() - n : 0;
  for (size_t i = from; i < lines.size(); i++) out += "    " + lines[i] + "\n";
  return out;
}

}  // namespace

void JobLog::Counters::Add(const AttemptResult& r) {
  attempts++;
  if (r.status == AttemptStatus::kRunDone) done++;
  else failed_attempts++;
  elapsed += r.elapsed_seconds;
  cpu += r.process_seconds;
  run += r.run_seconds;
  if (first_start == 0 || r.start_time < first_start) first_start = r.start_time;
  double end = r.start_time + r.elapsed_seconds;
  if (end > last_end) last_end = end;
}

void JobLog::Counters::AddItems(const AttemptResult& r) {
  items += r.total;
  succeeded += r.succeeded;
  failed += r.total - r.succeeded;
}

void JobLog::Finished(const AttemptResult& r) {
  processes_[{r.node, r.process}].AddItems(r);
  nodes_[r.node].AddItems(r);
}

Result<std::unique_ptr<JobLog>> JobLog::Open(const std::string& job_dir, int nodes,
                                             std::vector<std::string> input_names,
                                             int master_round) {
  std::unique_ptr<JobLog> log(new JobLog());
  log->job_dir_ = job_dir;
  log->input_names_ = std::move(input_names);
  Status made = CreateMasterFolders(job_dir);
  for (int node = 0; made.ok() && node < nodes; node++) {
    made = CreateNodeFolders(job_dir, static_cast<uint32_t>(node));
  }
  if (!made.ok()) return Status::Usage(made.message());
  log->master_.reset(fopen(MasterLogPath(job_dir, master_round).c_str(), "ae"));
  log->csv_path_ = ProcessedMiniBatchesCsv(job_dir);
  log->csv_ = UniqueFd(open(log->csv_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!log->master_ || !log->csv_.valid()) {
    return Status::Usage(fmt::format("cannot write in job dir {}: {}", job_dir, strerror(errno)));
  }
  log->csv_buffer_ =
      "Mini-batch Id,Picked Count,Process,Start Time,Total,Succeeded,Failed,Elapsed Seconds,"
      "Process Seconds,Run Method Seconds,Status,Error Category,Error Message,"
      "Mini-batch Detail,Node\n";
  if (FILE* f = fopen(ReadmePath(job_dir).c_str(), "we")) {
    fputs(ReadmeText().c_str(), f);
    fclose(f);
  }
  return log;
}

JobLog::~JobLog() = default;

void JobLog::Master(const char* level, const std::string& message) {
  if (!master_) return;
  double now = WallSeconds();
  std::string t = IsoTime(now);
  t[10] = ' ';
  fmt::print(master_.get(), "{},{:03d}|{}|{}|{}\n", t.substr(0, 19),
             static_cast<int>((now - static_cast<double>(static_cast<time_t>(now))) * 1000), level,
             getpid(), message);
  fflush(master_.get());
}

void JobLog::Overview(const std::string& message) {
  double now = WallSeconds();
  time_t secs = static_cast<time_t>(now);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char hour[16];
  strftime(hour, sizeof hour, "%Y%m%d%H", &tm);
  if (!overview_ || overview_hour_ != hour) {
    overview_hour_ = hour;
    overview_.reset(fopen(OverviewPath(job_dir_, hour).c_str(), "ae"));
  }
  if (!overview_) return;
  fmt::print(overview_.get(), "{} {}\n", IsoTime(now), message);
  fflush(overview_.get());
}

namespace {

// `json` into a quoted CSV field's inside: each '"' doubled.
void AppendCsvInside(std::string_view json, std::string* out) {
  for (size_t q = json.find('"'); q != std::string_view::npos; q = json.find('"')) {
    out->append(json.substr(0, q + 1));
    out->push_back('"');
    json.remove_prefix(q + 1);
  }
  out->append(json);
}

// A string JSON and AppendJsonPrintable leave as it is (no escape, no
// Printable rewrite): nearly every path. Eight bytes at a time (the classic
// "has a zero byte" tests, exact for whether any byte matches), then the tail.
bool PlainJsonText(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  auto has_zero = [](uint64_t v) { return ((v - kOnes) & ~v & kHighs) != 0; };
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t x;
    std::memcpy(&x, s.data() + i, 8);
    bool below_space = ((x - 0x20 * kOnes) & ~x & kHighs) != 0;
    bool high_or_del = (x & kHighs) != 0 || has_zero(x ^ (0x7f * kOnes));
    if (below_space || high_or_del || has_zero(x ^ ('"' * kOnes)) ||
        has_zero(x ^ ('\\' * kOnes))) {
      return false;
    }
  }
  for (; i < s.size(); i++) {
    unsigned char u = static_cast<unsigned char>(s[i]);
    if (u < 0x20 || u >= 0x7f || u == '"' || u == '\\') return false;
  }
  return true;
}

}  // namespace

void JobLog::AppendDetail(const MiniBatch& batch, std::string* out) const {
  // {"input":…,"items":[…],"mini_batch_id":N} as a quoted CSV field, made in
  // one pass by hand, not with a JSON library and then quoted: this runs for
  // every attempt and was most of the master's cost per mini-batch.
  std::string scratch;
  out->append("\"{\"\"input\"\":");
  AppendJsonString(batch.input < input_names_.size() ? input_names_[batch.input] : "", &scratch);
  AppendCsvInside(scratch, out);
  out->append(",\"\"items\"\":[");
  for (size_t i = 0; i < batch.items.size(); i++) {
    if (i > 0) out->push_back(',');
    const std::string& item = batch.items[i];
    if (PlainJsonText(item)) {
      out->append("\"\"");
      out->append(item);
      out->append("\"\"");
    } else {
      scratch.clear();
      AppendJsonPrintable(item, &scratch);
      AppendCsvInside(scratch, out);
    }
  }
  out->append("],\"\"mini_batch_id\"\":");
  fmt::format_to(std::back_inserter(*out), FMT_COMPILE("{}"), batch.id);
  out->append("}\"");
}

void JobLog::Attempt(const AttemptResult& r, const MiniBatch& batch) {
  processes_[{r.node, r.process}].Add(r);
  nodes_[r.node].Add(r);
  if (r.status == AttemptStatus::kRunDone) {
    for (auto& note : first_failures_) {
      if (note.result.id == r.id) note.succeeded_later = true;
    }
  }
  std::string& start = start_;
  start.clear();
  row_time_.AppendTo(r.start_time, &start);
  std::string& elapsed = elapsed_;
  elapsed.clear();
  // Compiled formats (parsing the format strings at run time was a tenth of
  // the master's CPU per lease) and AppendFixed6 for the seconds. The text
  // is the same.
  AppendFixed6(r.elapsed_seconds, &elapsed);
  fmt::format_to(std::back_inserter(csv_buffer_), FMT_COMPILE("{},{},{},{},{},{},{},{},"), r.id,
                 r.attempt, r.process, start, r.total, r.succeeded, r.total - r.succeeded, elapsed);
  AppendFixed6(r.process_seconds, &csv_buffer_);
  csv_buffer_ += ',';
  AppendFixed6(r.run_seconds, &csv_buffer_);
  csv_buffer_ += ',';
  csv_buffer_ += AttemptStatusName(r.status);
  csv_buffer_ += ',';
  csv_buffer_ += CsvField(r.error_category);
  csv_buffer_ += ',';
  csv_buffer_ += r.error_message.empty() ? std::string() : CsvField(Printable(r.error_message));
  csv_buffer_ += ',';
  // The row's times as they will read back (rounded to the microsecond):
  // the timeline is made from the CSV and must not depend on how it learnt
  // them. A row that does not read back makes the timeline's reading fail
  // with the reader's error, bounds or not.
  double start_read = 0, elapsed_read = 0;
  if (r.process.find_first_of(",\"\r\n") != std::string::npos) trace_bounds_ok_ = false;
  if (ParseIsoTime(start, &start_read) && ParseCsvDouble(elapsed, &elapsed_read)) {
    trace_bounds_.Add(r.node, r.process, start_read, start_read + elapsed_read);
  }
  // The detail is JSON, so it always holds quotes: quoted as it is made.
  AppendDetail(batch, &csv_buffer_);
  fmt::format_to(std::back_inserter(csv_buffer_), ",{}\n", r.node);
  if (csv_buffer_.size() >= kCsvBufferBytes) error_ = Flush();
}

Status JobLog::Flush() {
  if (!error_.ok()) return error_;
  // Whole rows in one write: a process killed at any moment leaves no torn
  // row (only a full disk can cut one, and that fails the job).
  if (!csv_buffer_.empty()) {
    if (!WriteAll(csv_.get(), csv_buffer_.data(), csv_buffer_.size())) {
      error_ = Status::Infrastructure("cannot write the report " + csv_path_ + ": " +
                                      ErrnoText(errno));
      return error_;
    }
    csv_buffer_.clear();
  }
  if (master_ && ferror(master_.get())) {
    error_ = Status::Infrastructure("cannot write the master's log " + MasterLogPath(job_dir_, 0));
  }
  return error_;
}

void JobLog::Failure(const AttemptResult& r, const MiniBatch& batch, bool final_try) {
  failures_by_kind_[AttemptStatusName(r.status)]++;
  std::string message = Printable(r.error_message.substr(0, r.error_message.find('\n')));
  auto key = std::make_pair(std::string(AttemptStatusName(r.status)), message);
  auto group = failure_groups_.find(key);
  if (group == failure_groups_.end() && failure_groups_.size() < kGroupsKept) {
    group = failure_groups_.emplace(key, FailureGroup{}).first;
    group->second.first = r;
    group->second.item_count = batch.items.size();
    for (size_t i = 0; i < batch.items.size() && i < kItemsShown; i++) {
      group->second.items.push_back(batch.items[i]);
    }
  }
  if (group == failure_groups_.end()) {
    other_failed_attempts_++;
  } else {
    group->second.attempts++;
    group->second.mini_batches.insert(r.id);
  }
  for (auto& note : first_failures_) {
    if (note.result.id != r.id) continue;
    note.result = r;
    note.failed_tries++;
    note.final_try = final_try;
    return;
  }
  FailureNote note;
  note.result = r;
  note.item_count = batch.items.size();
  for (size_t i = 0; i < batch.items.size() && i < kItemsShown; i++) {
    note.items.push_back(batch.items[i]);
  }
  note.failed_tries = 1;
  note.final_try = final_try;
  if (first_failures_.size() < kFailuresKept) {
    first_failures_.push_back(std::move(note));
    return;
  }
  // Full: a mini-batch that failed for good matters more than one whose
  // retry may still succeed (or did).
  if (!final_try) return;
  for (auto it = first_failures_.rbegin(); it != first_failures_.rend(); ++it) {
    if (!it->final_try) {
      *it = std::move(note);
      return;
    }
  }
}

void JobLog::NodeFailure(uint32_t node, const std::string& reason) {
  node_failures_.emplace_back(node, reason);
}

void JobLog::Node(const NodeReport& report) { node_reports_[report.node] = report; }

std::string JobLog::ErrorReport(const Totals& t) const {
  std::vector<const ProcessReport*> init_failed;
  for (const auto& [node, rep] : node_reports_) {
    for (const auto& p : rep.processes) {
      if (!p.init_ok && !StoppedInInit(p)) init_failed.push_back(&p);
    }
  }
  if (failures_by_kind_.empty() && t.items_failed == 0 && node_failures_.empty() &&
      init_failed.empty()) {
    return "";
  }
  std::string out;
  out += fmt::format("{} of {} mini-batches failed after all tries; {} of {} items failed.\n",
                     t.batches_failed, t.batches, t.items_failed, t.items);
  if (!failures_by_kind_.empty()) {
    out += "Failed attempts by kind:";
    for (const auto& [kind, n] : failures_by_kind_) out += fmt::format(" {} {};", kind, n);
    out.back() = '\n';
  }
  for (const auto& [node, reason] : node_failures_) {
    out += fmt::format("Node {} could not run workers: {}\n", node, reason);
    out += fmt::format("  see {} and {}/\n", NodeLogPath(job_dir_, node),
                       UserLogDir(job_dir_, UserLog::kError, node));
  }
  if (!init_failed.empty()) {
    out += "Worker processes whose init() did not succeed:";
    for (const ProcessReport* p : init_failed) {
      out += fmt::format(" {} ({});", p->process, p->exit.empty() ? "still running" : p->exit);
    }
    out.back() = '\n';
  }
  if (first_failures_.empty()) {
    if (t.items_failed > 0) {
      out += "Every attempt ran, but run() returned fewer items than it was given; see " +
             ProcessedMiniBatchesCsv(job_dir_) + " (Succeeded < Total).\n";
    }
    return out;
  }
  // Mini-batches that failed for good first, then those whose retry
  // succeeded or was still to come, each in the order they first failed.
  std::vector<const FailureNote*> notes;
  for (const auto& f : first_failures_) {
    if (f.final_try) notes.push_back(&f);
  }
  for (const auto& f : first_failures_) {
    if (!f.final_try) notes.push_back(&f);
  }
  out += fmt::format("The first {} failing mini-batches:\n", notes.size());
  for (const FailureNote* f : notes) {
    const AttemptResult& r = f->result;
    std::string items;
    for (const auto& item : f->items) items += (items.empty() ? "" : ", ") + Printable(item);
    if (f->item_count > f->items.size()) {
      items += fmt::format(", … ({} items in all)", f->item_count);
    }
    std::string fate = f->final_try ? fmt::format("failed {} of {} tries", f->failed_tries, r.attempt)
                       : f->succeeded_later
                           ? fmt::format("failed {} {}, then succeeded", f->failed_tries,
                                         f->failed_tries == 1 ? "try" : "tries")
                           : fmt::format("failed {} {}, not retried before the job ended",
                                         f->failed_tries, f->failed_tries == 1 ? "try" : "tries");
    out += fmt::format("- mini-batch {} ({}): {}; last failure on attempt {} (node {} {}): {}: {}\n",
                       r.id, items.empty() ? "no items" : items, fate, r.attempt, r.node,
                       r.process, AttemptStatusName(r.status), Printable(r.error_message));
    if (!r.traceback.empty()) {
      out += "  traceback (last lines):\n" + LastLines(r.traceback, 5);
    }
    if (r.status == AttemptStatus::kRunException || r.status == AttemptStatus::kInvalidReturn) {
      out += fmt::format("  full log: {}\n", UserLogPath(job_dir_, UserLog::kError, r.node, r.process));
    } else {
      out += fmt::format("  full log: {} and {}\n",
                         UserLogPath(job_dir_, UserLog::kStderr, r.node, r.process),
                         NodeLogPath(job_dir_, r.node));
    }
  }
  return out;
}

std::string JobLog::FailureGroups() const {
  if (failure_groups_.empty()) return "";
  std::vector<const std::pair<const std::pair<std::string, std::string>, FailureGroup>*> order;
  for (const auto& g : failure_groups_) order.push_back(&g);
  std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) {
    return a->second.mini_batches.size() > b->second.mini_batches.size();
  });
  std::string out = "Failures by kind and message:\n";
  for (const auto* g : order) {
    const FailureGroup& f = g->second;
    const AttemptResult& r = f.first;
    std::string items;
    for (const auto& item : f.items) items += (items.empty() ? "" : ", ") + Printable(item);
    if (f.item_count > f.items.size()) items += fmt::format(", … ({} items)", f.item_count);
    out += fmt::format("- {} {} — {} mini-batch{} ({} attempt{}); first: mini-batch {}{} on node "
                       "{} {}\n",
                       g->first.first, g->first.second.empty() ? "(no message)" : g->first.second,
                       f.mini_batches.size(), f.mini_batches.size() == 1 ? "" : "es", f.attempts,
                       f.attempts == 1 ? "" : "s", r.id, items.empty() ? "" : " (" + items + ")",
                       r.node, r.process);
    if (!r.traceback.empty()) out += LastLines(r.traceback, 5);
  }
  if (other_failed_attempts_ > 0) {
    out += fmt::format("- and {} failed attempts with other messages\n", other_failed_attempts_);
  }
  return out;
}

void JobLog::NodeDir(uint32_t node, const std::string& host, const std::string& job_dir,
                     bool shared) {
  node_dirs_[node] = NodeDirNote{host, job_dir, shared};
}

std::string JobLog::UserLogsNote() const {
  // Only nodes with their own job dir need saying: the others' logs are here.
  bool any = false;
  for (const auto& [node, d] : node_dirs_) any = any || !d.shared;
  if (!any) return "";
  std::string out = "User logs stay on the node that ran them:\n";
  for (const auto& [node, d] : node_dirs_) {
    std::string where = d.shared ? fmt::format("{} (this job dir)", LogsDir("") + "/user")
                                 : fmt::format("{}/user on that node", LogsDir(d.job_dir));
    out += fmt::format("  node {} ({}): {}\n", node, d.host, where);
  }
  return out;
}

Status JobLog::Close(const Status& outcome, const Totals& t, const std::string& summary) {
  Status status = Flush();
  // Each file appears whole or not at all, even if the process is killed.
  auto write = [&](const std::string& path, const std::string& text) {
    // Whole but not synced: the journal, which is, can rebuild them.
    Status s = WriteFileAtomically(path, text, Durability::kProcessCrash);
    if (!s.ok() && status.ok()) status = Status::Infrastructure("cannot write the report " + s.message());
  };
  std::string header =
      "Node,Process,Attempts,Succeeded Mini-batches,Failed Attempts,Total Items,Succeeded Items,"
      "Failed Items,Elapsed Seconds,Process Seconds,Run Method Seconds,Start Time,End Time";
  std::string procs = header + ",Pid,Init Seconds,Exit\n";
  std::map<std::pair<uint32_t, std::string>, const ProcessReport*> reports;
  for (const auto& [node, rep] : node_reports_) {
    for (const auto& p : rep.processes) reports[{node, p.process}] = &p;
  }
  auto row = [](const Counters& c) {
    return fmt::format("{},{},{},{},{},{},{:.6f},{:.6f},{:.6f},{},{}", c.attempts, c.done,
                       c.failed_attempts, c.items, c.succeeded, c.failed, c.elapsed, c.cpu, c.run,
                       c.first_start > 0 ? IsoTime(c.first_start) : "",
                       c.last_end > 0 ? IsoTime(c.last_end) : "");
  };
  for (const auto& [key, rep] : reports) {
    auto it = processes_.find(key);
    Counters c = it == processes_.end() ? Counters{} : it->second;
    procs += fmt::format("{},{},{},{},{:.3f},{}\n", key.first, key.second, row(c), rep->pid,
                         rep->init_seconds, CsvField(rep->exit));
  }
  for (const auto& [key, c] : processes_) {
    if (!reports.count(key)) procs += fmt::format("{},{},{},,,\n", key.first, key.second, row(c));
  }
  write(ProcessSummaryCsv(job_dir_), procs);

  std::string nodes = "Node,Host,Processes," + header.substr(std::string("Node,Process,").size()) + "\n";
  std::map<uint32_t, bool> seen;
  for (const auto& [node, rep] : node_reports_) seen[node] = true;
  for (const auto& [node, c] : nodes_) seen[node] = true;
  for (const auto& [node, unused] : seen) {
    auto rep = node_reports_.find(node);
    auto cit = nodes_.find(node);
    Counters c = cit == nodes_.end() ? Counters{} : cit->second;
    nodes += fmt::format("{},{},{},{}\n", node,
                         rep == node_reports_.end() ? "" : CsvField(rep->second.host),
                         rep == node_reports_.end() ? 0 : rep->second.processes.size(), row(c));
  }
  write(NodeSummaryCsv(job_dir_), nodes);

  std::string result = outcome.ok() ? "Job succeeded.\n" : "Job failed: " + outcome.message() + "\n";
  result += summary;
  std::string errors = ErrorReport(t);
  if (!errors.empty()) {
    write(JobErrorPath(job_dir_), errors);
    result += "See " + JobErrorPath("") + " for the failures.\n";
  }
  result += "See " + ReadmePath("") + " for the layout of these logs.\n";
  result += UserLogsNote();
  write(JobResultPath(job_dir_), result);
  // The timeline is read back from the rows just flushed, so that the master
  // keeps no list of attempts. It is a view, not the record: a failure to
  // make it is logged, not the job's.
  if (status.ok()) {
    Status traced =
        WriteTrace(job_dir_, node_reports_, trace_bounds_ok_ ? &trace_bounds_ : nullptr);
    if (!traced.ok()) Master("WARNING", "No timeline: " + traced.message());
  }
  return status;
}

}  // namespace parallelrun
