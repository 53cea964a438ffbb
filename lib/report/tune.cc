#include "report/tune.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include <fmt/format.h>

#include "base/text.h"

namespace parallelrun {

namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int IntSetting(const JobReports& r, const char* name) {
  auto it = r.settings.find(name);
  if (it == r.settings.end()) return 0;
  char* end = nullptr;
  long v = strtol(it->second.c_str(), &end, 10);
  // "1MB" (a table's mini_batch_size) is not a count of items.
  return end && *end == '\0' && v > 0 ? static_cast<int>(v) : 0;
}

// Rounds up, but not a value that is whole up to floating-point noise
// (4 × 0.7 / 0.1 is 28.000000000000004).
double Up(double v) { return std::ceil(v - 1e-9); }

// Seconds with the digits that matter: "12.3 s", "0.45 s", "3.2 ms".
std::string Secs(double s) {
  if (s >= 0.01 || s == 0) return fmt::format("{:.2f} s", s);
  return fmt::format("{:.2g} ms", s * 1000);
}

std::string Pct(double ratio) { return fmt::format("{:.0f} %", ratio * 100); }

}  // namespace

Measurements Measure(const JobReports& reports, int cores, int gpus) {
  Measurements m;
  m.cores = cores;
  m.gpus = gpus;
  m.mini_batch_size = IntSetting(reports, "mini_batch_size");
  m.process_count_per_node = IntSetting(reports, "process_count_per_node");
  m.run_invocation_timeout = IntSetting(reports, "run_invocation_timeout");
  const auto& rows = reports.attempts;
  m.attempts = rows.size();
  if (rows.empty()) return m;

  std::set<uint64_t> ids;
  std::map<uint64_t, uint64_t> items_of;
  std::vector<double> elapsed, run, overhead;
  double cpu_sum = 0, elapsed_sum = 0, first = rows[0].start, last = rows[0].end();
  struct Sums { double elapsed = 0, cpu = 0, items = 0; };
  std::map<std::pair<uint32_t, std::string>, Sums> per_process;
  std::map<uint32_t, Sums> per_node;
  for (const auto& a : rows) {
    ids.insert(a.id);
    items_of[a.id] = a.total;
    if (!a.ok()) m.failed_attempts++;
    if (a.status == "RUN_TIMEOUT") m.timeouts++;
    if (a.ok()) {
      elapsed.push_back(a.elapsed);
      run.push_back(a.run);
      overhead.push_back(std::max(0.0, a.elapsed - a.run));
    }
    m.max_run = std::max(m.max_run, std::max(a.run, a.ok() ? 0.0 : a.elapsed));
    cpu_sum += a.cpu;
    elapsed_sum += a.elapsed;
    first = std::min(first, a.start);
    last = std::max(last, a.end());
    Sums& p = per_process[{a.node, a.process}];
    p.elapsed += a.elapsed;
    p.cpu += a.cpu;
    Sums& n = per_node[a.node];
    n.elapsed += a.elapsed;
    n.items += static_cast<double>(a.total);
  }
  if (elapsed.empty()) {  // every attempt failed: measure them all
    for (const auto& a : rows) {
      elapsed.push_back(a.elapsed);
      run.push_back(a.run);
      overhead.push_back(std::max(0.0, a.elapsed - a.run));
    }
  }
  m.mini_batches = ids.size();
  for (const auto& [id, n] : items_of) m.items += n;
  m.items_per_mini_batch = static_cast<double>(m.items) / static_cast<double>(m.mini_batches);
  m.wall_seconds = last - first;
  m.median_elapsed = Median(elapsed);
  m.median_run = Median(run);
  m.median_overhead = Median(overhead);
  m.busy_ratio = elapsed_sum > 0 ? cpu_sum / elapsed_sum : 0;
  m.processes = static_cast<int>(per_process.size());
  m.nodes = static_cast<int>(per_node.size());
  if (m.process_count_per_node == 0 && m.nodes > 0) m.process_count_per_node = m.processes / m.nodes;

  double lo = 1e300, hi = 0, busy_lo = 1e300, busy_hi = 0;
  for (const auto& [key, s] : per_process) {
    lo = std::min(lo, s.elapsed);
    hi = std::max(hi, s.elapsed);
    double busy = s.elapsed > 0 ? s.cpu / s.elapsed : 0;
    busy_lo = std::min(busy_lo, busy);
    busy_hi = std::max(busy_hi, busy);
  }
  m.min_process_busy = busy_lo;
  m.max_process_busy = busy_hi;
  m.process_skew = lo > 0 ? hi / lo : 1;
  double fast = 1e300, slow = 0;
  for (const auto& [node, s] : per_node) {
    if (s.items <= 0) continue;
    double per_item = s.elapsed / s.items;
    if (per_item < fast) { fast = per_item; m.fastest_node = static_cast<int>(node); }
    if (per_item > slow) { slow = per_item; m.slowest_node = static_cast<int>(node); }
  }
  m.node_skew = fast > 0 && fast < 1e300 ? slow / fast : 1;

  // Run() seconds per item, first quarter of attempts (by start) vs last.
  std::vector<const AttemptRow*> ok;
  for (const auto& a : rows) if (a.ok() && a.total > 0) ok.push_back(&a);
  std::sort(ok.begin(), ok.end(), [](const AttemptRow* x, const AttemptRow* y) { return x->start < y->start; });
  if (ok.size() >= 8) {
    size_t q = ok.size() / 4;
    auto per_item = [](auto b, auto e) {
      double run = 0, items = 0;
      for (auto it = b; it != e; ++it) { run += (*it)->run; items += static_cast<double>((*it)->total); }
      return items > 0 ? run / items : 0;
    };
    double early = per_item(ok.begin(), ok.begin() + static_cast<long>(q));
    double late = per_item(ok.end() - static_cast<long>(q), ok.end());
    m.slowdown = early > 0 ? late / early : 1;
  }
  for (const auto& [node, samples] : reports.perf) {
    for (const auto& s : samples) {
      m.peak_cpu_percent = std::max(m.peak_cpu_percent, s.cpu_percent);
      m.peak_memory_percent = std::max(m.peak_memory_percent, s.memory_used_percent);
    }
  }
  return m;
}

std::vector<Advice> AdviseMiniBatchSize(const Measurements& m) {
  if (m.median_elapsed <= 0 || m.median_elapsed >= kAimMiniBatchSeconds) return {};
  double share = m.median_overhead / m.median_elapsed;
  std::string why = fmt::format(
      "a mini-batch takes {} (median), of which {} is outside run() ({}); the "
      "tuning guide aims for at least {:g} s per mini-batch, so that the per-mini-batch overhead "
      "stays below 0.5 % — unless you want progress and retries in smaller steps",
      Secs(m.median_elapsed), Secs(m.median_overhead), Pct(share), kAimMiniBatchSeconds);
  if (m.mini_batch_size <= 0) {
    return {{"mini_batch_size",
             fmt::format("about {:.0f}× larger", Up(kAimMiniBatchSeconds / m.median_elapsed)),
             why}};
  }
  int size = static_cast<int>(Up(m.mini_batch_size * kAimMiniBatchSeconds / m.median_elapsed));
  // Larger mini-batches must still give every process work.
  int workers = std::max(1, m.processes);
  int cap = static_cast<int>(static_cast<double>(m.items) / (2.0 * workers));
  if (cap > m.mini_batch_size && size > cap) {
    size = cap;
    why += fmt::format("; capped at {} so that the job's {} items still make 2 mini-batches for "
                       "each of its {} processes",
                       cap, m.items, workers);
  } else if (cap <= m.mini_batch_size) {
    why += fmt::format("; on a larger input — this one ({} items for {} processes) is too small "
                       "for larger mini-batches to keep every process busy",
                       m.items, workers);
  }
  if (size <= m.mini_batch_size) return {{"mini_batch_size", "keep it for this input", why}};
  return {{"mini_batch_size", fmt::format("{} → {}", m.mini_batch_size, size), why}};
}

std::vector<Advice> AdviseProcessCount(const Measurements& m) {
  std::vector<Advice> out;
  int p = m.process_count_per_node;
  if (p <= 0 || m.median_elapsed <= 0) return out;
  if (m.gpus > 0) {
    if (p != m.gpus) {
      out.push_back({"process_count_per_node", fmt::format("{} → {}", p, m.gpus),
                     fmt::format("this machine has {} GPUs; one worker process per GPU keeps "
                                 "each busy without two processes sharing one",
                                 m.gpus)});
    }
    return out;
  }
  std::string busy = fmt::format(
      "Process Seconds / Elapsed Seconds is {} over all mini-batches ({} to {} per process)",
      Pct(m.busy_ratio), Pct(m.min_process_busy), Pct(m.max_process_busy));
  double cores_used = m.busy_ratio * p;
  if (m.busy_ratio > kAimBusyRatio && m.cores > 0 && cores_used > m.cores * kAimBusyRatio &&
      p > 1) {
    int fit = std::max(1, static_cast<int>(std::floor(m.cores * kAimBusyRatio / m.busy_ratio)));
    if (fit < p) {
      out.push_back({"process_count_per_node", fmt::format("{} → {}", p, fit),
                     fmt::format("{}: run() is CPU-bound, and {} such processes want {:.1f} of "
                                 "this machine's {} cores; the guide keeps each core below ~{}, "
                                 "more processes only take turns",
                                 busy, p, cores_used, m.cores, Pct(kAimBusyRatio))});
      return out;
    }
  }
  if (m.busy_ratio < kAimBusyRatio / 2) {
    int more = static_cast<int>(Up(p * kAimBusyRatio / std::max(m.busy_ratio, 0.05)));
    if (m.cores > 0) more = std::min(more, 4 * m.cores);
    if (more > p) {
      out.push_back({"process_count_per_node", fmt::format("{} → {}", p, more),
                     fmt::format("{}: run() mostly waits (input/output, network, sleeps), so "
                                 "more processes per node raise throughput until the cores reach "
                                 "~{} busy{}",
                                 busy, Pct(kAimBusyRatio),
                                 m.cores > 0 ? fmt::format(" ({} cores here)", m.cores) : "")});
    }
  } else {
    out.push_back({"process_count_per_node", fmt::format("keep {}", p),
                   fmt::format("{}: close to the guide's ~{} per core", busy, Pct(kAimBusyRatio))});
  }
  if (m.peak_cpu_percent > 90) {
    out.push_back({"", "the node's CPU",
                   fmt::format("logs/sys/perf/ shows the node's CPU at {:.0f} % at its peak: "
                               "more processes will not help",
                               m.peak_cpu_percent)});
  }
  return out;
}

std::vector<Advice> AdviseSkew(const Measurements& m) {
  std::vector<Advice> out;
  if (m.processes >= 2 && m.process_skew > 1.5) {
    out.push_back({"", "uneven processes",
                   fmt::format("the busiest worker process ran mini-batches {:.1f}× as long as the "
                               "least busy one: some mini-batches are much larger or slower than "
                               "others (see the slowest ones in `parallelrun report`), or workers "
                               "started late; smaller mini-batches even the load out",
                               m.process_skew)});
  }
  if (m.nodes >= 2 && m.node_skew > 1.5) {
    out.push_back({"", fmt::format("node {}", m.slowest_node),
                   fmt::format("node {} took {:.1f}× as long per item as node {}: a slower or "
                               "busier machine, or its data farther away",
                               m.slowest_node, m.node_skew, m.fastest_node)});
  }
  return out;
}

std::vector<Advice> AdviseTimeouts(const Measurements& m) {
  double t = m.run_invocation_timeout;
  if (t <= 0 || m.max_run <= 0) return {};
  if (m.timeouts > 0 || m.max_run > 0.8 * t) {
    int raised = static_cast<int>(Up(std::max(2 * m.max_run, 2 * t)));
    return {{"run_invocation_timeout", fmt::format("{:g} → {}", t, raised),
             fmt::format("the longest run() took {:.1f} s of the {:g} s allowed{}; a mini-batch "
                         "that times out is retried whole and can fail the job",
                         m.max_run, t,
                         m.timeouts > 0 ? fmt::format(", and {} attempts timed out", m.timeouts)
                                        : "")}};
  }
  if (t >= 600 && t > 50 * m.max_run) {
    int lowered = static_cast<int>(Up(std::max(3 * m.max_run, 60.0)));
    return {{"run_invocation_timeout", fmt::format("{:g} → {} (optional)", t, lowered),
             fmt::format("the longest run() took {:.1f} s, {:.0f}× less than the {:g} s allowed: "
                         "a hung run() is found sooner with a closer limit (and "
                         "progress_update_timeout, 3 × (run_invocation_timeout + overhead) when "
                         "not set, follows it)",
                         m.max_run, t / m.max_run, t)}};
  }
  return {};
}

std::vector<Advice> AdviseSlowdown(const Measurements& m) {
  if (m.slowdown <= 1.5) return {};
  std::string memory = m.peak_memory_percent >= 0
                           ? fmt::format("; memory peaked at {:.0f} % of the node's", m.peak_memory_percent)
                           : "";
  return {{"", "run() slows down",
           fmt::format("run() took {:.1f}× as long per item in the last quarter of the job as in "
                       "the first: the tuning guide's degradation check; look for state that "
                       "grows across calls in the entry script (caches, lists, open files){}",
                       m.slowdown, memory)}};
}

std::vector<Advice> AdviseNodeCount(const Measurements& m) {
  if (m.median_elapsed <= 0 || m.wall_seconds <= 0 || m.nodes <= 0) return {};
  int p = std::max(1, m.process_count_per_node);
  int processes = m.nodes * p;
  // One scheduler creates ~400 mini-batches a second: it can feed at most
  // 400 × (seconds per mini-batch) processes.
  double fed = kTasksCreatedPerSecond * m.median_elapsed;
  int max_nodes = std::max(1, static_cast<int>(fed / p));
  // node_count × process_count_per_node = total duration wanted / duration
  // per mini-batch: more nodes help while there are mini-batches for them.
  int useful = static_cast<int>(std::min<double>(max_nodes,
                                                 Up(static_cast<double>(m.mini_batches) / (2.0 * p))));
  std::string why = fmt::format(
      "{} mini-batches of {} on {} node(s) × {} processes took {:.1f} s; the guide's "
      "node_count × process_count_per_node = wanted duration / duration per mini-batch, and the "
      "original's scheduler creates ~{:g} mini-batches a second, enough for {:.0f} processes of "
      "such mini-batches ({} node(s) of {})",
      m.mini_batches, Secs(m.median_elapsed), m.nodes, p, m.wall_seconds, kTasksCreatedPerSecond,
      fed, max_nodes, p);
  if (processes > fed) {
    why += "; parallelrun's own scheduler leases far faster (README, Performance), but such short "
           "mini-batches spend their time on overhead: make them longer before adding nodes";
    if (max_nodes < m.nodes) return {{"node_count", fmt::format("{} → {}", m.nodes, max_nodes), why}};
    return {{"node_count", fmt::format("keep {}", m.nodes), why}};
  }
  if (useful > m.nodes) {
    double wanted = m.wall_seconds * m.nodes / useful;
    return {{"node_count", fmt::format("{} → up to {}", m.nodes, useful),
             why + fmt::format("; with {} nodes this job would take about {:.1f} s (at least 2 "
                               "mini-batches per process)",
                               useful, wanted)}};
  }
  return {{"node_count", fmt::format("keep {}", m.nodes),
           why + "; more nodes would leave processes without mini-batches"}};
}

std::vector<Advice> Advise(const Measurements& m) {
  std::vector<Advice> out;
  for (auto rule : {AdviseMiniBatchSize, AdviseProcessCount, AdviseSkew, AdviseTimeouts,
                    AdviseSlowdown, AdviseNodeCount}) {
    for (auto& a : rule(m)) out.push_back(std::move(a));
  }
  return out;
}

std::string FormatTune(const Measurements& m, const std::vector<Advice>& advice) {
  std::string out = fmt::format(
      "Measured: {} attempts of {} mini-batches ({} items, {:.1f} per mini-batch) on {} node(s), "
      "{} processes, in {:.1f} s.\n"
      "  mini-batch: {} median ({} in run(), {} overhead); longest run() {}\n"
      "  busy (Process / Elapsed Seconds): {} ({} to {} per process)\n",
      m.attempts, m.mini_batches, m.items, m.items_per_mini_batch, m.nodes, m.processes,
      m.wall_seconds, Secs(m.median_elapsed), Secs(m.median_run), Secs(m.median_overhead),
      Secs(m.max_run),
      Pct(m.busy_ratio), Pct(m.min_process_busy), Pct(m.max_process_busy));
  out += fmt::format("  settings: mini_batch_size {}, process_count_per_node {}, "
                     "run_invocation_timeout {}; this machine: {} cores, {} GPUs\n",
                     m.mini_batch_size > 0 ? std::to_string(m.mini_batch_size) : "?",
                     m.process_count_per_node,
                     m.run_invocation_timeout > 0 ? fmt::format("{:g}", m.run_invocation_timeout) : "?",
                     m.cores, m.gpus);
  if (advice.empty()) return out + "\nNothing to change: the job is within the guide's aims.\n";
  out += "\nSuggested settings:\n";
  for (const auto& a : advice) {
    out += a.setting.empty() ? fmt::format("- note, {}:\n", a.change)
                             : fmt::format("- {}: {}\n", a.setting, a.change);
    out += "    why: " + a.reason + "\n";
  }
  return out;
}

Status TuneJob(const std::string& job_dir, int cores, int gpus, FILE* out) {
  auto reports = ReadJobReports(job_dir);
  if (!reports.ok()) return reports.status();
  Measurements m = Measure(reports.value(), cores, gpus);
  if (m.attempts == 0) return Status::Usage(job_dir + ": no mini-batch was processed; nothing to measure");
  PutText(out, FormatTune(m, Advise(m)));
  return Status::Ok();
}

}  // namespace parallelrun
