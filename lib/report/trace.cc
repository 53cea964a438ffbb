#include "report/trace.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iterator>
#include <limits>

#include <fmt/format.h>

#include "base/disk.h"
#include "base/job_dir.h"
#include "base/text.h"

namespace parallelrun {

namespace {

constexpr size_t kTraceBlock = 1 << 20;

// Workers without a number (not "processNNN") get tids after the others.
int Tid(const std::string& process, std::map<std::string, int>* extra) {
  int n = ProcessNumber(process);
  if (n >= 0) return n;
  auto it = extra->find(process);
  if (it != extra->end()) return it->second;
  int tid = 1000000 + static_cast<int>(extra->size());
  (*extra)[process] = tid;
  return tid;
}

// Each attempt, as many times as asked: the trace reads them twice (the
// origin and each worker's last end, then the events), so that no list of
// them is held.
using EachAttempt = std::function<Status(const std::function<void(AttemptRow&&)>&)>;

// Writes the trace into `out`, calling `flush` whenever it holds more than
// a block (a file's writer empties it; a string's does nothing).
Status WriteTraceText(const EachAttempt& each, const std::map<uint32_t, NodeReport>& nodes,
                      std::string& out, const std::function<Status()>& flush) {
  double origin = std::numeric_limits<double>::max();
  // The last end of an attempt per worker: its shutdown starts after it.
  std::map<std::pair<uint32_t, std::string>, double> last_end;
  Status read = each([&](AttemptRow&& a) {
    origin = std::min(origin, a.start);
    double& end = last_end[{a.node, a.process}];
    end = std::max(end, a.end());
  });
  if (!read.ok()) return read;
  for (const auto& [node, rep] : nodes) {
    for (const auto& p : rep.processes) {
      if (p.start_time > 0) origin = std::min(origin, p.start_time);
    }
  }
  if (origin == std::numeric_limits<double>::max()) origin = 0;
  auto us = [origin](double t) { return static_cast<int64_t>((t - origin) * 1e6); };
  auto dur = [](double seconds) { return std::max<int64_t>(1, static_cast<int64_t>(seconds * 1e6)); };

  // Written by hand, not through a JSON library's document: one event per
  // attempt made the document most of the master's CPU time for a job of
  // small mini-batches. Strings go through Printable() and AppendJsonString;
  // numbers are integers or finite doubles.
  out += "{\"traceEvents\":[";
  bool first = true;
  auto begin_event = [&]() {
    if (!first) out += ",\n";
    first = false;
  };
  auto str = [&out](const std::string& text) { AppendJsonString(Printable(text), &out); };
  auto num = [&out](double v) {
    if (!std::isfinite(v)) v = 0;
    fmt::format_to(std::back_inserter(out), "{}", v);
  };
  auto meta = [&](const char* name, uint32_t pid, int tid, const char* key,
                  const std::string* text, int64_t value) {
    begin_event();
    fmt::format_to(std::back_inserter(out), "{{\"ph\":\"M\",\"name\":\"{}\",\"pid\":{},\"tid\":{},\"args\":{{\"{}\":",
                   name, pid, tid, key);
    if (text != nullptr) {
      str(*text);
    } else {
      fmt::format_to(std::back_inserter(out), "{}", value);
    }
    out += "}}";
  };
  // A complete event up to the start of its "args" object, left open.
  auto complete = [&](const char* cat, const std::string& name, uint32_t pid, int tid, int64_t ts,
                      int64_t duration) {
    begin_event();
    fmt::format_to(std::back_inserter(out), "{{\"ph\":\"X\",\"cat\":\"{}\",\"name\":", cat);
    str(name);
    fmt::format_to(std::back_inserter(out), ",\"pid\":{},\"tid\":{},\"ts\":{},\"dur\":{},\"args\":{{",
                   pid, tid, ts, duration);
  };

  std::map<std::string, int> extra;
  std::map<uint32_t, bool> named_nodes;
  std::map<std::pair<uint32_t, int>, bool> named_workers;
  auto name_track = [&](uint32_t node, int tid, const std::string& process) {
    if (!named_nodes[node]) {
      named_nodes[node] = true;
      auto rep = nodes.find(node);
      std::string name = "node " + std::to_string(node);
      if (rep != nodes.end() && !rep->second.host.empty()) name += " (" + rep->second.host + ")";
      meta("process_name", node, 0, "name", &name, 0);
      meta("process_sort_index", node, 0, "sort_index", nullptr, node);
    }
    if (!named_workers[{node, tid}]) {
      named_workers[{node, tid}] = true;
      meta("thread_name", node, tid, "name", &process, 0);
    }
  };

  Status flushed = Status::Ok();
  read = each([&](AttemptRow&& a) {
    if (!flushed.ok()) return;
    int tid = Tid(a.process, &extra);
    name_track(a.node, tid, a.process);
    std::string name = "mini-batch " + std::to_string(a.id);
    if (a.attempt > 1) name += " (attempt " + std::to_string(a.attempt) + ")";
    if (!a.ok()) name += " " + a.status;
    complete("mini-batch", name, a.node, tid, us(a.start), dur(a.elapsed));
    fmt::format_to(std::back_inserter(out), "\"mini_batch\":{},\"attempt\":{},\"status\":", a.id,
                   a.attempt);
    str(a.status);
    fmt::format_to(std::back_inserter(out), ",\"items\":{},\"succeeded\":{},\"failed\":{},",
                   a.total, a.succeeded, static_cast<int64_t>(a.total) - static_cast<int64_t>(a.succeeded));
    out += "\"run_seconds\":";
    num(a.run);
    out += ",\"process_seconds\":";
    num(a.cpu);
    if (!a.ok()) {
      out += ",\"error_category\":";
      str(a.category);
      out += ",\"error_message\":";
      str(a.message);
    }
    out += "}}";
    if (out.size() >= kTraceBlock) flushed = flush();
  });
  if (!read.ok()) return read;
  if (!flushed.ok()) return flushed;
  for (const auto& [node, rep] : nodes) {
    for (const auto& p : rep.processes) {
      if (p.start_time <= 0) continue;
      int tid = Tid(p.process, &extra);
      name_track(node, tid, p.process);
      double end = p.end_time > 0 ? p.end_time : p.start_time;
      complete("worker", "worker " + p.process, node, tid, us(p.start_time),
               std::max<int64_t>(1, us(end) - us(p.start_time)));
      fmt::format_to(std::back_inserter(out), "\"pid\":{},\"exit\":", p.pid);
      str(p.exit);
      fmt::format_to(std::back_inserter(out), ",\"init_ok\":{},\"init_seconds\":", p.init_ok);
      num(p.init_seconds);
      out += "}}";
      if (p.init_seconds > 0) {
        complete("worker", "start and init()", node, tid, us(p.start_time), dur(p.init_seconds));
        fmt::format_to(std::back_inserter(out), "\"init_ok\":{}}}}}", p.init_ok);
      }
      auto last = last_end.find({node, p.process});
      if (last != last_end.end() && p.end_time > last->second) {
        complete("worker", "shutdown", node, tid, us(last->second),
                 std::max<int64_t>(1, us(p.end_time) - us(last->second)));
        out += "\"exit\":";
        str(p.exit);
        out += "}}";
      }
    }
  }
  out += "],\n\"displayTimeUnit\":\"ms\",\"otherData\":{\"origin_utc\":";
  str(IsoTime(origin));
  out += ",\"tool\":\"parallelrun\"}}\n";
  return flush();
}

}  // namespace

std::string TraceJson(const std::vector<AttemptRow>& attempts,
                      const std::map<uint32_t, NodeReport>& nodes) {
  std::string out;
  out.reserve(400 * (attempts.size() + 8));  // no doubling of a large text
  WriteTraceText(
      [&attempts](const std::function<void(AttemptRow&&)>& fn) {
        for (const auto& a : attempts) fn(AttemptRow(a));
        return Status::Ok();
      },
      nodes, out, [] { return Status::Ok(); });
  return out;
}

Status WriteTrace(const std::string& job_dir, const std::map<uint32_t, NodeReport>& nodes) {
  // Streamed: the rows are read from the CSV twice, in blocks, and the
  // events written in blocks, so the master's memory does not grow with the
  // job. The bound is the viewers': chrome://tracing and Perfetto load the
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
      [&csv](const std::function<void(AttemptRow&&)>& fn) { return ForEachAttemptRow(csv, fn); },
      nodes, out, [&] {
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
