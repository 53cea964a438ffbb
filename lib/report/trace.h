// The job's timeline in the Chrome trace-event format (the JSON that
// chrome://tracing, https://ui.perfetto.dev and speedscope open; as
// `ray timeline` and ninja's .ninja_log converters write): one track per
// worker process — pid = node, tid = the worker's number (process003 → 3) —
// with a complete event ("ph":"X") per attempt of a mini-batch, its status,
// attempt and item counts in "args", and the worker's own slices: its life
// from start to exit, init() and shutdown (from the end of its last
// mini-batch to its exit). Written by the master at the end of the job from
// what it already has: the rows of processed_mini-batches.csv and the
// nodes' process reports.
#ifndef PARALLELRUN_REPORT_TRACE_H_
#define PARALLELRUN_REPORT_TRACE_H_

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "link/link.h"
#include "parallelrun/status.h"
#include "report/job_reports.h"

namespace parallelrun {

// The trace as JSON text. `nodes` may be empty (the attempts alone are
// drawn); times are microseconds since the earliest event.
std::string TraceJson(const std::vector<AttemptRow>& attempts,
                      const std::map<uint32_t, NodeReport>& nodes);

// What the trace must know before its first event: the earliest start of
// an attempt (its origin, with the workers' starts) and each worker's last
// end (its shutdown starts there). Memory is one entry per worker.
class TraceBounds {
 public:
  // An attempt of `process` on `node` from `start` to `end` (epoch seconds,
  // as the CSV's row reads back: AttemptView::start and end()).
  void Add(uint32_t node, std::string_view process, double start, double end);
  // The earliest start; the largest double when no attempt was added.
  double first_start() const { return first_start_; }
  // The last end of the attempts of `process` on `node` (0 when all ended
  // before the epoch); false when it ran none.
  bool LastEnd(uint32_t node, std::string_view process, double* end) const;

 private:
  static void Key(uint32_t node, std::string_view process, std::string* key);
  double first_start_ = std::numeric_limits<double>::max();
  std::unordered_map<std::string, double> last_end_;  // by Key()
  std::string key_;  // Add's, reused
};

// Reads processed_mini-batches.csv of `job_dir` and writes
// logs/sys/trace.json (whole or not at all), both streamed: memory does not
// grow with the number of attempts. Errors name the file. A CSV larger than
// kMaxTraceCsvBytes (about 1.3 million attempts, a trace of ~500 MB, more
// than its viewers open) gets no timeline: an error that says so.
// `bounds`, when given, are those of the CSV's rows (JobLog keeps them as it
// writes the rows): the CSV is then read once instead of twice.
constexpr uint64_t kMaxTraceCsvBytes = 256ull << 20;
Status WriteTrace(const std::string& job_dir, const std::map<uint32_t, NodeReport>& nodes,
                  const TraceBounds* bounds = nullptr);

}  // namespace parallelrun

#endif  // PARALLELRUN_REPORT_TRACE_H_
