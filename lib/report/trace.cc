#include "report/trace.h"

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

#include "base/disk.h"
#include "base/job_dir.h"
#include "base/text.h"

namespace parallelrun {

namespace {

using nlohmann::json;

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

  json events = json::array();
  std::map<std::string, int> extra;
  std::map<uint32_t, bool> named_nodes;
  std::map<std::pair<uint32_t, int>, bool> named_workers;
  auto name_track = [&](uint32_t node, int tid, const std::string& process) {
    if (!named_nodes[node]) {
      named_nodes[node] = true;
      auto rep = nodes.find(node);
      std::string host = rep != nodes.end() && !rep->second.host.empty()
                             ? " (" + Printable(rep->second.host) + ")"
                             : "";
      events.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", node}, {"tid", 0},
                        {"args", {{"name", "node " + std::to_string(node) + host}}}});
      events.push_back({{"ph", "M"}, {"name", "process_sort_index"}, {"pid", node}, {"tid", 0},
                        {"args", {{"sort_index", node}}}});
    }
    if (!named_workers[{node, tid}]) {
      named_workers[{node, tid}] = true;
      events.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", node}, {"tid", tid},
                        {"args", {{"name", process}}}});
    }
  };

  // The last end of an attempt per worker: its shutdown starts after it.
  std::map<std::pair<uint32_t, std::string>, double> last_end;
  for (const auto& a : attempts) {
    int tid = Tid(a.process, &extra);
    name_track(a.node, tid, a.process);
    double& end = last_end[{a.node, a.process}];
    end = std::max(end, a.end());
    json args = {{"mini_batch", a.id},   {"attempt", a.attempt},     {"status", a.status},
                 {"items", a.total},     {"succeeded", a.succeeded}, {"failed", a.total - a.succeeded},
                 {"run_seconds", a.run}, {"process_seconds", a.cpu}};
    if (!a.ok()) {
      args["error_category"] = Printable(a.category);
      args["error_message"] = Printable(a.message);
    }
    events.push_back({{"ph", "X"},
                      {"cat", "mini-batch"},
                      {"name", "mini-batch " + std::to_string(a.id) +
                                   (a.attempt > 1 ? " (attempt " + std::to_string(a.attempt) + ")"
                                                  : "") +
                                   (a.ok() ? "" : " " + a.status)},
                      {"pid", a.node},
                      {"tid", tid},
                      {"ts", us(a.start)},
                      {"dur", std::max<int64_t>(1, static_cast<int64_t>(a.elapsed * 1e6))},
                      {"args", args}});
  }
  for (const auto& [node, rep] : nodes) {
    for (const auto& p : rep.processes) {
      if (p.start_time <= 0) continue;
      int tid = Tid(p.process, &extra);
      name_track(node, tid, p.process);
      double end = p.end_time > 0 ? p.end_time : p.start_time;
      events.push_back({{"ph", "X"}, {"cat", "worker"}, {"name", "worker " + p.process},
                        {"pid", node}, {"tid", tid}, {"ts", us(p.start_time)},
                        {"dur", std::max<int64_t>(1, us(end) - us(p.start_time))},
                        {"args", {{"pid", p.pid}, {"exit", Printable(p.exit)},
                                  {"init_ok", p.init_ok}, {"init_seconds", p.init_seconds}}}});
      if (p.init_seconds > 0) {
        events.push_back({{"ph", "X"}, {"cat", "worker"}, {"name", "start and init()"},
                          {"pid", node}, {"tid", tid}, {"ts", us(p.start_time)},
                          {"dur", std::max<int64_t>(1, static_cast<int64_t>(p.init_seconds * 1e6))},
                          {"args", {{"init_ok", p.init_ok}}}});
      }
      auto last = last_end.find({node, p.process});
      if (last != last_end.end() && p.end_time > last->second) {
        events.push_back({{"ph", "X"}, {"cat", "worker"}, {"name", "shutdown"}, {"pid", node},
                          {"tid", tid}, {"ts", us(last->second)},
                          {"dur", std::max<int64_t>(1, us(p.end_time) - us(last->second))},
                          {"args", {{"exit", Printable(p.exit)}}}});
      }
    }
  }
  json trace = {{"traceEvents", events},
                {"displayTimeUnit", "ms"},
                {"otherData", {{"origin_utc", IsoTime(origin)}, {"tool", "parallelrun"}}}};
  // replace: a stray invalid byte must not throw out of the report.
  return trace.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Status WriteTrace(const std::string& job_dir, const std::map<uint32_t, NodeReport>& nodes) {
  auto rows = ReadAttemptRows(ProcessedMiniBatchesCsv(job_dir));
  if (!rows.ok()) return rows.status();
  Status s = WriteFileAtomically(TracePath(job_dir), TraceJson(rows.value(), nodes),
                                 Durability::kProcessCrash);
  if (!s.ok()) return Status::Infrastructure("cannot write the timeline " + s.message());
  return Status::Ok();
}

}  // namespace parallelrun
