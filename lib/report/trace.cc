#include "report/trace.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iterator>
#include <limits>
#include <unordered_set>

#include <fmt/compile.h>
#include <fmt/format.h>

#include "base/disk.h"
#include "base/job_dir.h"
#include "base/text.h"

namespace parallelrun {

namespace {

// Written in blocks of this size: the same pages again and again (a larger
// block's first touch of each page is a page fault).
constexpr size_t kTraceBlock = 64 << 10;

// Each attempt once: the trace's events in the order of the rows.
using EachAttempt = std::function<Status(const std::function<void(const AttemptView&)>&)>;

void AppendInt(int64_t v, std::string* out) {
  fmt::format_int text(v);
  out->append(text.data(), text.size());
}

void AppendUint(uint64_t v, std::string* out) {
  fmt::format_int text(v);
  out->append(text.data(), text.size());
}

// A number as fmt's "{}" writes it (the shortest text that reads back the
// same); 0 for what JSON cannot hold.
void AppendNumber(double v, std::string* out) {
  if (!std::isfinite(v)) v = 0;
  fmt::format_to(std::back_inserter(*out), FMT_COMPILE("{}"), v);
}

// The tids of the workers, by process name: processNNN is NNN; others get
// tids after them, in the order they first appear. Kept by name so that a
// row costs one lookup, not ProcessNumber's parse.
class Tids {
 public:
  int Get(std::string_view process) {
    key_.assign(process.data(), process.size());
    auto it = tids_.find(key_);
    if (it != tids_.end()) return it->second;
    int tid = ProcessNumber(key_);
    if (tid < 0) tid = 1000000 + extra_++;
    tids_.emplace(key_, tid);
    return tid;
  }

 private:
  std::unordered_map<std::string, int> tids_;
  int extra_ = 0;
  std::string key_;
};

// Writes the trace of the attempts `each` gives into `out`, calling `flush`
// whenever it holds more than a block (a file's writer empties it; a
// string's does nothing). The events are written by hand, not through a
// JSON library's document (one event per attempt made the document most of
// the master's CPU time for a job of small mini-batches), nor fmt's format
// strings (a third of the rest): strings go through AppendJsonPrintable
// (Printable() as JSON), numbers are integers or finite doubles.
class TraceWriter {
 public:
  TraceWriter(const std::map<uint32_t, NodeReport>& nodes, const TraceBounds& bounds,
              std::string* out)
      : nodes_(nodes), bounds_(bounds), out_(*out) {
    origin_ = bounds.first_start();
    for (const auto& [node, rep] : nodes) {
      for (const auto& p : rep.processes) {
        if (p.start_time > 0) origin_ = std::min(origin_, p.start_time);
      }
    }
    if (origin_ == std::numeric_limits<double>::max()) origin_ = 0;
    out_ += "{\"traceEvents\":[";
  }

  void Attempt(const AttemptView& a) {
    int tid = tids_.Get(a.process);
    NameTrack(a.node, tid, a.process);
    BeginEvent();
    out_ += "{\"ph\":\"X\",\"cat\":\"mini-batch\",\"name\":";
    if (a.ok()) {
      // "mini-batch 12 (attempt 2)": plain ASCII, as JSON as it is.
      out_ += "\"mini-batch ";
      AppendUint(a.id, &out_);
      if (a.attempt > 1) {
        out_ += " (attempt ";
        AppendUint(a.attempt, &out_);
        out_ += ')';
      }
      out_ += '"';
    } else {
      name_ = "mini-batch ";
      AppendUint(a.id, &name_);
      if (a.attempt > 1) {
        name_ += " (attempt ";
        AppendUint(a.attempt, &name_);
        name_ += ')';
      }
      name_ += ' ';
      name_.append(a.status.data(), a.status.size());
      AppendJsonPrintable(name_, &out_);
    }
    Place(a.node, tid, Us(a.start), Dur(a.elapsed));
    out_ += "\"mini_batch\":";
    AppendUint(a.id, &out_);
    out_ += ",\"attempt\":";
    AppendUint(a.attempt, &out_);
    out_ += ",\"status\":";
    AppendJsonPrintable(a.status, &out_);
    out_ += ",\"items\":";
    AppendUint(a.total, &out_);
    out_ += ",\"succeeded\":";
    AppendUint(a.succeeded, &out_);
    out_ += ",\"failed\":";
    AppendInt(static_cast<int64_t>(a.total) - static_cast<int64_t>(a.succeeded), &out_);
    out_ += ",\"run_seconds\":";
    AppendNumber(a.run, &out_);
    out_ += ",\"process_seconds\":";
    AppendNumber(a.cpu, &out_);
    if (!a.ok()) {
      out_ += ",\"error_category\":";
      AppendJsonPrintable(a.category, &out_);
      out_ += ",\"error_message\":";
      AppendJsonPrintable(a.message, &out_);
    }
    out_ += "}}";
  }

  // The workers' own slices, and the end of the document.
  void Finish() {
    for (const auto& [node, rep] : nodes_) {
      for (const auto& p : rep.processes) {
        if (p.start_time <= 0) continue;
        int tid = tids_.Get(p.process);
        NameTrack(node, tid, p.process);
        double end = p.end_time > 0 ? p.end_time : p.start_time;
        Complete("worker", "worker " + p.process, node, tid, Us(p.start_time),
                 std::max<int64_t>(1, Us(end) - Us(p.start_time)));
        out_ += "\"pid\":";
        AppendUint(p.pid, &out_);
        out_ += ",\"exit\":";
        AppendJsonPrintable(p.exit, &out_);
        out_ += p.init_ok ? ",\"init_ok\":true,\"init_seconds\":" : ",\"init_ok\":false,\"init_seconds\":";
        AppendNumber(p.init_seconds, &out_);
        out_ += "}}";
        if (p.init_seconds > 0) {
          Complete("worker", "start and init()", node, tid, Us(p.start_time), Dur(p.init_seconds));
          out_ += p.init_ok ? "\"init_ok\":true}}" : "\"init_ok\":false}}";
        }
        double last = 0;
        if (bounds_.LastEnd(node, p.process, &last) && p.end_time > last) {
          Complete("worker", "shutdown", node, tid, Us(last),
                   std::max<int64_t>(1, Us(p.end_time) - Us(last)));
          out_ += "\"exit\":";
          AppendJsonPrintable(p.exit, &out_);
          out_ += "}}";
        }
      }
    }
    out_ += "],\n\"displayTimeUnit\":\"ms\",\"otherData\":{\"origin_utc\":";
    AppendJsonPrintable(IsoTime(origin_), &out_);
    out_ += ",\"tool\":\"parallelrun\"}}\n";
  }

 private:
  int64_t Us(double t) const { return static_cast<int64_t>((t - origin_) * 1e6); }
  static int64_t Dur(double seconds) {
    return std::max<int64_t>(1, static_cast<int64_t>(seconds * 1e6));
  }

  void BeginEvent() {
    if (!first_) out_ += ",\n";
    first_ = false;
  }

  // A metadata event whose argument `key` is `text` (when not null) or
  // `value`.
  void Meta(const char* name, uint32_t pid, int tid, const char* key, const std::string* text,
            int64_t value) {
    BeginEvent();
    out_ += "{\"ph\":\"M\",\"name\":\"";
    out_ += name;
    out_ += "\",\"pid\":";
    AppendUint(pid, &out_);
    out_ += ",\"tid\":";
    AppendInt(tid, &out_);
    out_ += ",\"args\":{\"";
    out_ += key;
    out_ += "\":";
    if (text != nullptr) {
      AppendJsonPrintable(*text, &out_);
    } else {
      AppendInt(value, &out_);
    }
    out_ += "}}";
  }

  // A complete event up to the start of its "args" object, left open.
  void Complete(const char* cat, const std::string& name, uint32_t pid, int tid, int64_t ts,
                int64_t duration) {
    BeginEvent();
    out_ += "{\"ph\":\"X\",\"cat\":\"";
    out_ += cat;
    out_ += "\",\"name\":";
    AppendJsonPrintable(name, &out_);
    Place(pid, tid, ts, duration);
  }

  // ,"pid":…,"tid":…,"ts":…,"dur":…,"args":{
  void Place(uint32_t pid, int tid, int64_t ts, int64_t duration) {
    out_ += ",\"pid\":";
    AppendUint(pid, &out_);
    out_ += ",\"tid\":";
    AppendInt(tid, &out_);
    out_ += ",\"ts\":";
    AppendInt(ts, &out_);
    out_ += ",\"dur\":";
    AppendInt(duration, &out_);
    out_ += ",\"args\":{";
  }

  // Names the node's and the worker's tracks at their first event.
  void NameTrack(uint32_t node, int tid, std::string_view process) {
    // A worker's track is named after its node's: one lookup for both.
    uint64_t worker = (static_cast<uint64_t>(node) << 32) | static_cast<uint32_t>(tid);
    if (named_workers_.count(worker)) return;
    if (named_nodes_.insert(node).second) {
      auto rep = nodes_.find(node);
      std::string name = "node " + std::to_string(node);
      if (rep != nodes_.end() && !rep->second.host.empty()) name += " (" + rep->second.host + ")";
      Meta("process_name", node, 0, "name", &name, 0);
      Meta("process_sort_index", node, 0, "sort_index", nullptr, node);
    }
    named_workers_.insert(worker);
    std::string name(process);
    Meta("thread_name", node, tid, "name", &name, 0);
  }

  const std::map<uint32_t, NodeReport>& nodes_;
  const TraceBounds& bounds_;
  std::string& out_;
  double origin_ = 0;
  bool first_ = true;
  Tids tids_;
  std::unordered_set<uint32_t> named_nodes_;
  std::unordered_set<uint64_t> named_workers_;
  std::string name_;  // an attempt's event name, reused
};

// Writes the trace into `out` (see TraceWriter). Without `bounds`, the
// attempts are read twice: first for the bounds, so that no list of them is
// held.
Status WriteTraceText(const EachAttempt& each, const std::map<uint32_t, NodeReport>& nodes,
                      const TraceBounds* bounds, std::string& out,
                      const std::function<Status()>& flush) {
  TraceBounds read_bounds;
  if (bounds == nullptr) {
    Status read = each([&read_bounds](const AttemptView& a) {
      read_bounds.Add(a.node, a.process, a.start, a.end());
    });
    if (!read.ok()) return read;
    bounds = &read_bounds;
  }
  TraceWriter writer(nodes, *bounds, &out);
  Status flushed = Status::Ok();
  Status read = each([&](const AttemptView& a) {
    if (!flushed.ok()) return;
    writer.Attempt(a);
    if (out.size() >= kTraceBlock) flushed = flush();
  });
  if (!read.ok()) return read;
  if (!flushed.ok()) return flushed;
  writer.Finish();
  return flush();
}

}  // namespace

void TraceBounds::Key(uint32_t node, std::string_view process, std::string* key) {
  key->assign(reinterpret_cast<const char*>(&node), sizeof node);
  key->append(process.data(), process.size());
}

void TraceBounds::Add(uint32_t node, std::string_view process, double start, double end) {
  first_start_ = std::min(first_start_, start);
  Key(node, process, &key_);
  auto it = last_end_.find(key_);
  if (it == last_end_.end()) it = last_end_.emplace(key_, 0.0).first;
  it->second = std::max(it->second, end);
}

bool TraceBounds::LastEnd(uint32_t node, std::string_view process, double* end) const {
  std::string key;
  Key(node, process, &key);
  auto it = last_end_.find(key);
  if (it == last_end_.end()) return false;
  *end = it->second;
  return true;
}

std::string TraceJson(const std::vector<AttemptRow>& attempts,
                      const std::map<uint32_t, NodeReport>& nodes) {
  std::string out;
  out.reserve(400 * (attempts.size() + 8));  // no doubling of a large text
  WriteTraceText(
      [&attempts](const std::function<void(const AttemptView&)>& fn) {
        for (const auto& a : attempts) {
          AttemptView v;
          v.id = a.id;
          v.attempt = a.attempt;
          v.process = a.process;
          v.node = a.node;
          v.start = a.start;
          v.total = a.total;
          v.succeeded = a.succeeded;
          v.elapsed = a.elapsed;
          v.cpu = a.cpu;
          v.run = a.run;
          v.status = a.status;
          v.category = a.category;
          v.message = a.message;
          fn(v);
        }
        return Status::Ok();
      },
      nodes, nullptr, out, [] { return Status::Ok(); });
  return out;
}

Status WriteTrace(const std::string& job_dir, const std::map<uint32_t, NodeReport>& nodes,
                  const TraceBounds* bounds) {
  // Streamed: the rows are read from the CSV (twice without `bounds`), in
  // blocks, and the events written in blocks, so the master's memory does
  // not grow with the job. The bound is the viewers': chrome://tracing and Perfetto load the
  // whole JSON in a browser tab.
  std::string csv = ProcessedMiniBatchesCsv(job_dir);
  struct stat st;
  if (stat(csv.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) > kMaxTraceCsvBytes) {
    return Status::Infrastructure(fmt::format(
        "{} holds {} MB of attempts, more than the {} MB a timeline is made from (its "
        "viewers load it whole in a browser); the CSV itself has every attempt",
        csv, st.st_size >> 20, kMaxTraceCsvBytes >> 20));
  }
  std::string path = TracePath(job_dir), temp = path + ".tmp";
  UniqueFd fd(open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::Infrastructure("cannot write the timeline " + ErrnoMessage(temp, errno));
  std::string out;
  out.reserve(kTraceBlock + 4096);
  Status s = WriteTraceText(
      [&csv](const std::function<void(const AttemptView&)>& fn) { return ForEachAttempt(csv, fn); },
      nodes, bounds, out, [&] {
        if (!WriteAll(fd.get(), out.data(), out.size())) {
          return Status::Infrastructure("cannot write the timeline " + ErrnoMessage(temp, errno));
        }
        out.clear();
        return Status::Ok();
      });
  if (s.ok() && (fd.Close() != 0 || rename(temp.c_str(), path.c_str()) != 0)) {
    s = Status::Infrastructure("cannot write the timeline " + ErrnoMessage(path, errno));
  }
  if (!s.ok()) unlink(temp.c_str());
  return s;
}

}  // namespace parallelrun
