// BatchQueue: the scheduling brain of the master (DESIGN.md §3). It holds the
// mini-batches that are pending or leased, decides what is retried, and counts
// failures against the job's thresholds. It is pure: no sockets, processes or
// clocks — the master turns network, worker and timer events into calls here,
// so every rule is unit-tested as a table of events.
//
// Life of a mini-batch: Add → pending → Lease (attempt n) → leased →
//   Finish(RUN_DONE)                         → done (forgotten)
//   Finish(failure), attempts < max_tries    → pending again, at the front
//   Finish(failure), attempts == max_tries   → failed (forgotten)
//   Return / ReleaseAgent (never tried)      → pending again, attempt not counted
//
// Failure counting follows reference §1.2: a mini-batch counts as failed while
// its latest attempt failed (so a transient failure is visible until its
// retry succeeds), and its failed items are total − succeeded of its latest
// attempt. A table mini-batch's items are its rows: known when it is added
// (Parquet) or reported by each attempt (CSV, JSON Lines: only a worker
// reading them can count them). Thresholds compare with `>`; -1 (or 100%)
// means unlimited; the percentage is only checked once scheduling has finished.
//
// Stragglers (Limits::straggler_factor k > 0): near the end of the job — the
// listing is complete, nothing is pending, and an agent asks for work — a
// leased mini-batch whose attempt has run longer than k × the median duration
// of the finished attempts (the last kDurationsKept of them, at least
// straggler_min_samples) and at least straggler_min_seconds, and whose
// attempts have not failed before (a failing one is retried, not doubled), gets a second
// attempt (LeaseStraggler), its "twin". The first of the two to succeed
// finishes the mini-batch; Finish names the other in *cancel so that the
// master stops it, and its result, when it comes, is stale. A twin that fails
// while the other attempt runs uses up its try but changes nothing else
// (kOtherRunning). Times are seconds on the caller's clock, given with
// set_now(): the queue reads no clock.
#ifndef PARALLELRUN_MASTER_BATCH_QUEUE_H_
#define PARALLELRUN_MASTER_BATCH_QUEUE_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/mini_batch.h"

namespace parallelrun {

using AgentId = uint32_t;

class BatchQueue {
 public:
  struct Limits {
    int max_tries = 3;                    // attempts per mini-batch, ≥ 1
    int64_t error_threshold = -1;         // failed items allowed
    int64_t allowed_failed_count = -1;    // failed mini-batches allowed
    double allowed_failed_percent = 100;  // failed mini-batches, % of all
    double straggler_factor = 0;          // k; 0 = no second attempts
    uint32_t straggler_min_samples = 5;   // finished attempts before a median counts
    double straggler_min_seconds = 5;     // never duplicate an attempt younger than this
  };

  struct Lease {
    std::shared_ptr<const MiniBatch> batch;  // the queue's, shared (a lease message holds it)
    uint32_t attempt;        // 1-based
  };

  enum class Verdict {
    kDone,     // the attempt succeeded; the mini-batch is finished
    kRetry,    // the attempt failed; the mini-batch is pending again
    kFailed,   // the attempt failed and was the last try
    kStale,    // not the current lease of a live mini-batch: ignored
    kOtherRunning,  // the attempt failed; the mini-batch's other attempt still runs
  };

  // The attempt that a finished mini-batch no longer needs (attempt 0: none).
  struct Cancel {
    MiniBatchId id = 0;
    uint32_t attempt = 0;
    AgentId agent = 0;
  };

  // A second attempt of a straggler, and why.
  struct Straggler {
    Lease lease;
    uint32_t running_attempt;  // the attempt it doubles
    AgentId running_agent;
    double running_seconds;    // how long that one has run
    double median_seconds;     // of the finished attempts
    size_t samples;            // how many the median is of
  };

  struct Counters {
    uint64_t batches_added = 0;
    uint64_t items_added = 0;         // files; rows of tables once known (see Finish)
    uint64_t batches_done = 0;        // finished with RUN_DONE
    uint64_t batches_failed = 0;      // finished after the last failed try
    uint64_t batches_latest_failed = 0;  // live: latest attempt failed (incl. awaiting retry)
    uint64_t items_succeeded = 0;     // of finished mini-batches
    uint64_t items_failed = 0;        // live: total − succeeded of latest attempts
    uint64_t attempts = 0;            // results recorded (incl. failures)
    uint64_t retries = 0;             // failed attempts that were requeued
    uint64_t batches_retried = 0;     // mini-batches requeued at least once
    uint64_t items_retried = 0;       // their items (as their first failure counted them)
  };

  explicit BatchQueue(Limits limits) : limits_(limits) {}

  // A new mini-batch, pending at the back. REQUIRES: its id is new.
  void Add(MiniBatch batch);
  // No more Add calls will come (the listing is complete).
  void CloseAdding() { adding_closed_ = true; }
  bool adding_closed() const { return adding_closed_; }

  // Leases the next pending mini-batch to `agent`, or nullopt if none is
  // pending.
  std::optional<Lease> LeaseNext(AgentId agent);

  // The caller's clock, in seconds: leases are stamped with it, finished
  // attempts measured by it. Call before LeaseNext, Finish, LeaseStraggler.
  void set_now(double seconds) { now_ = seconds; }

  // Records the result of attempt `result.attempt` of `result.id`. When it
  // finishes the mini-batch while its twin still runs, *cancel (if given)
  // names the twin (else cancel->attempt is 0).
  Verdict Finish(const AttemptResult& result, Cancel* cancel = nullptr);

  // Near the end (see the header comment): a second attempt of the
  // longest-running straggler for `agent`, or nullopt.
  std::optional<Straggler> LeaseStraggler(AgentId agent);
  // The median duration of the finished attempts kept, 0 when none.
  double MedianSeconds() const;

  // Resume: the journal says attempt `r.attempt` of the live mini-batch
  // `r.id` ended as `r` in an earlier run. Applies it as Finish would, with
  // no lease: the attempt counts, and the mini-batch is done, pending for a
  // retry, or failed. kStale when `r.id` is not live.
  Verdict Replay(const AttemptResult& r);

  // Resume with --rerun-failed: `batch`, which failed for good in an earlier
  // run after `prior_attempts` attempts (its last one with `last_total`
  // items), is pending again with a fresh budget of max_tries attempts,
  // numbered after the earlier ones. It still counts as failed until an
  // attempt succeeds. REQUIRES: it was added and finished as failed.
  void Revive(MiniBatch batch, uint32_t prior_attempts, uint64_t last_total);

  // Gives back a lease that was never tried (its worker died before starting
  // it, or the job is stopping): pending again at the front, attempt not
  // counted. Returns false for a stale lease.
  bool Return(MiniBatchId id, uint32_t attempt);

  // The agent is gone: every lease it held is pending again, not counted as
  // an attempt. Returns how many were requeued.
  size_t ReleaseAgent(AgentId agent);

  // The live (pending or leased) mini-batch `id`, or nullptr.
  const MiniBatch* Find(MiniBatchId id) const {
    auto it = live_.find(id);
    return it == live_.end() ? nullptr : it->second.batch.get();
  }

  size_t pending() const { return pending_.size(); }
  size_t leased() const { return live_.size() - pending_.size(); }
  // Adding is closed and no mini-batch is pending or leased.
  bool AllFinished() const { return adding_closed_ && live_.empty(); }

  // If a threshold is exceeded, a sentence naming it with the numbers, e.g.
  // "error_threshold exceeded: 12 failed items > 10".
  std::optional<std::string> ExceededThreshold() const;

  const Counters& counters() const { return counters_; }
  const Limits& limits() const { return limits_; }

 private:
  struct Entry {
    std::shared_ptr<const MiniBatch> batch;  // never null
    uint32_t attempts = 0;        // attempts started (leases not returned)
    uint32_t budget_base = 0;     // attempts before a --rerun-failed revival
    bool leased = false;
    AgentId agent = 0;
    uint32_t primary = 0;         // the leased attempt (when leased)
    double leased_at = 0;
    uint32_t twin = 0;            // a straggler's second attempt, 0 = none
    AgentId twin_agent = 0;
    double twin_leased_at = 0;
    bool latest_failed = false;   // latest attempt failed
    uint64_t latest_failed_items = 0;
    bool retried = false;         // counted in batches_retried
  };

  void SetLatest(Entry* e, bool failed, uint64_t failed_items);
  // The twin becomes the only attempt.
  static void PromoteTwin(Entry* e);
  void AddDuration(double seconds);

  static constexpr size_t kDurationsKept = 1024;

  Limits limits_;
  bool adding_closed_ = false;
  std::unordered_map<MiniBatchId, Entry> live_;  // pending or leased
  std::deque<MiniBatchId> pending_;
  Counters counters_;
  double now_ = 0;
  std::vector<double> durations_;  // ring of the last kDurationsKept
  size_t durations_next_ = 0;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_MASTER_BATCH_QUEUE_H_
