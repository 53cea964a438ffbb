// JobInitFailures: the original's job-wide init() rule (reference §3.6,
// item 2): once the job has run more than two minutes, it stops if init()
// has failed 2 × node_count × process_count_per_node times over all its
// nodes. Each node's own rule (3 × process_count_per_node failures in a row,
// node/worker_pool.h) ends a node whose init() never works; this one ends a
// job whose init() fails often everywhere but never often enough in a row on
// one node — a flaky model download, a GPU that only some workers get — and
// would otherwise go on retrying for hours. The two minutes let a job's
// first, expected wave of failures (a cold cache) pass.
//
// It counts what agents report (link.h InitFailed) and decides on the
// injected clock, so tests move time by hand; the Master asks it on every
// report and every tick.
#ifndef PARALLELRUN_MASTER_JOB_INIT_FAILURES_H_
#define PARALLELRUN_MASTER_JOB_INIT_FAILURES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "base/clock.h"

namespace parallelrun {

class JobInitFailures {
 public:
  // The original's two minutes.
  static constexpr double kGraceSeconds = 120;

  // `node_count` and `process_count_per_node` make the limit (2 × both);
  // a limit of 0 (either is 0) turns the rule off. `clock` must outlive this.
  JobInitFailures(const Clock& clock, int node_count, int process_count_per_node);

  // The job starts now (its elapsed time is measured from here).
  void Start();
  // A worker `process` of node `node` failed in init(); `reason` is one line.
  void Failed(uint32_t node, const std::string& process, const std::string& reason);
  // When the rule stops the job now: `reason` is one sentence with the
  // numbers (the count per node, the limit and how it is made);
  // `last_failure` names the node, process and what went wrong last.
  struct Stop {
    std::string reason;
    std::string last_failure;
  };
  std::optional<Stop> Exceeded() const;

  uint64_t count() const { return count_; }
  uint64_t limit() const { return limit_; }

 private:
  const Clock& clock_;
  const int node_count_;
  const int per_node_;
  const uint64_t limit_;
  Clock::TimePoint started_{};
  uint64_t count_ = 0;
  std::map<uint32_t, uint64_t> by_node_;
  std::string last_;  // "node 2: process001: init() raised …"
};

}  // namespace parallelrun

#endif  // PARALLELRUN_MASTER_JOB_INIT_FAILURES_H_
