#include "report/trace.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

#include <fmt/format.h>

#include "base/disk.h"
#include "base/job_dir.h"
#include "base/text.h"

namespace parallelrun {

namespace {

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

}  // namespace

std::string TraceJson(const std::vector<AttemptRow>& attempts,
                      const std::map<uint32_t, NodeReport>& nodes) {
  double origin = std::numeric_limits<double>::max();
  for (const auto& a : attempts) origin = std::min(origin, a.start);
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
  std::string out;
  out.reserve(400 * (attempts.size() + 8));  // no doubling of a large text
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

  // The last end of an attempt per worker: its shutdown starts after it.
  std::map<std::pair<uint32_t, std::string>, double> last_end;
  for (const auto& a : attempts) {
    int tid = Tid(a.process, &extra);
    name_track(a.node, tid, a.process);
    double& end = last_end[{a.node, a.process}];
    end = std::max(end, a.end());
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
  }
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
  return out;
}

Status WriteTrace(const std::string& job_dir, const std::map<uint32_t, NodeReport>& nodes) {
  // The trace is made in memory (the rows, then the text: about 2 KB per
  // attempt at the peak): a job of millions of mini-batches would need GBs
  // at its very end for a file no viewer opens.
  std::string csv = ProcessedMiniBatchesCsv(job_dir);
  struct stat st;
  if (stat(csv.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) > kMaxTraceCsvBytes) {
    return Status::Infrastructure(fmt::format(
        "{} holds {} MB of attempts, more than the {} MB a timeline is made from (its memory "
        "and its viewers' would not cope); the CSV itself has every attempt",
        csv, st.st_size >> 20, kMaxTraceCsvBytes >> 20));
  }
  auto rows = ReadAttemptRows(csv);
  if (!rows.ok()) return rows.status();
  Status s = WriteFileAtomically(TracePath(job_dir), TraceJson(rows.value(), nodes),
                                 Durability::kProcessCrash);
  if (!s.ok()) return Status::Infrastructure("cannot write the timeline " + s.message());
  return Status::Ok();
}

}  // namespace parallelrun
