// `parallelrun tune`: the original's Performance Tuning Guide (reference
// §5, DESIGN.md) applied to a measured job. Measure() turns a job's reports
// into a few numbers; Advise() applies the guide's rules to them, each rule
// a pure function of the numbers, so that the rules are tested on made-up
// measurements and the advice always shows the numbers it rests on.
#ifndef PARALLELRUN_REPORT_TUNE_H_
#define PARALLELRUN_REPORT_TUNE_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "parallelrun/status.h"
#include "report/job_reports.h"

namespace parallelrun {

// The guide's figures (reference §5).
constexpr double kAimMiniBatchSeconds = 10;      // overhead then < 0.5 %
constexpr double kAimBusyRatio = 0.7;            // Process / Elapsed Seconds per core
constexpr double kTasksCreatedPerSecond = 400;   // one scheduler's mini-batches per second

struct Measurements {
  uint64_t attempts = 0, mini_batches = 0, items = 0, failed_attempts = 0, timeouts = 0;
  double wall_seconds = 0;            // first start to last end of any attempt
  double median_elapsed = 0;          // per attempt, whole (Elapsed Seconds)
  double median_run = 0;              // run() alone (Run Method Seconds)
  double median_overhead = 0;         // Elapsed − Run Method Seconds
  double max_run = 0;                 // the longest run()
  double items_per_mini_batch = 0;    // mean
  double busy_ratio = 0;              // Σ Process Seconds / Σ Elapsed Seconds
  double min_process_busy = 0, max_process_busy = 0;
  // Skew: the busiest process's Σ Elapsed over the least busy's; the same
  // for nodes (items per second per process).
  double process_skew = 1, node_skew = 1;
  int slowest_node = 0, fastest_node = 0;
  int processes = 0, nodes = 0;
  // Run() time of the last quarter of attempts (by start) over the first.
  double slowdown = 1;
  // Settings the job ran with (0: unknown).
  int mini_batch_size = 0, process_count_per_node = 0;
  double run_invocation_timeout = 0;
  // The machine this is asked on.
  int cores = 0, gpus = 0;
  // From logs/sys/perf/, when measured (negative: not measured).
  double peak_cpu_percent = -1, peak_memory_percent = -1;
};

struct Advice {
  std::string setting;  // "mini_batch_size", "process_count_per_node", … or "" for a note
  std::string change;   // "10 → 80", or what to look at
  std::string reason;   // the rule and the numbers
};

// Numbers from `reports`; `cores` and `gpus` of this machine.
Measurements Measure(const JobReports& reports, int cores, int gpus);

// Each rule: what it advises for `m`, or nothing.
std::vector<Advice> AdviseMiniBatchSize(const Measurements& m);
std::vector<Advice> AdviseProcessCount(const Measurements& m);
std::vector<Advice> AdviseSkew(const Measurements& m);
std::vector<Advice> AdviseTimeouts(const Measurements& m);
std::vector<Advice> AdviseSlowdown(const Measurements& m);
std::vector<Advice> AdviseNodeCount(const Measurements& m);
// All the rules, in that order.
std::vector<Advice> Advise(const Measurements& m);

// What `parallelrun tune` prints: the measurements, then the advice.
std::string FormatTune(const Measurements& m, const std::vector<Advice>& advice);

// `parallelrun tune`: reads the reports of `job_dir`, prints FormatTune to
// `out`. Errors: as ReadJobReports.
Status TuneJob(const std::string& job_dir, int cores, int gpus, FILE* out);

}  // namespace parallelrun

#endif  // PARALLELRUN_REPORT_TUNE_H_
