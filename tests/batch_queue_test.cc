// BatchQueue is pure, so each rule is one table of events: a row is either
// something that happens to the queue (with the answer it must give) or an
// Expect row stating the queue's state at that point. The harness also keeps
// its own book of the leases it holds, so that a mini-batch leased twice at
// once, or a lease whose batch does not match its id, fails any table.
#include "master/batch_queue.h"

#include <catch2/catch.hpp>

#include <initializer_list>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace parallelrun {
namespace {

using S = AttemptStatus;
using V = BatchQueue::Verdict;

// ---- rows --------------------------------------------------------------------

// `batches` new mini-batches of `items` items each; ids continue from the last
// added one, starting at 1.
struct Add {
  int batches;
  int items;
};
struct Close {};
// LeaseNext(agent) must give mini-batch `id`, attempt `attempt`.
struct Lease {
  AgentId agent;
  MiniBatchId id;
  uint32_t attempt;
};
// LeaseNext(agent) must give one of `options` (id → attempt), for requeues
// whose order among themselves the contract leaves open.
struct LeaseOneOf {
  AgentId agent;
  std::map<MiniBatchId, uint32_t> options;
};
// LeaseNext(agent) must give nothing.
struct LeaseNone {
  AgentId agent;
};
// Finish with any status; `succeeded` is len(run()) as the agent reports it.
struct Finish {
  MiniBatchId id;
  uint32_t attempt;
  S status;
  uint64_t succeeded;
  V expect;
};
// Finish with RUN_DONE and every item returned: must be kDone.
struct Ok {
  MiniBatchId id;
  uint32_t attempt;
};
// Finish with a failure status (succeeded 0).
struct Fail {
  MiniBatchId id;
  uint32_t attempt;
  S status;
  V expect;
};
struct Return {
  MiniBatchId id;
  uint32_t attempt;
  bool expect;
};
struct Release {
  AgentId agent;
  size_t expect;
};

// State expectations; only what is set is checked.
class Expect {
 public:
  Expect& Pending(size_t n) { pending_ = n; return *this; }
  Expect& Leased(size_t n) { leased_ = n; return *this; }
  Expect& AllFinished(bool b) { all_finished_ = b; return *this; }
  Expect& Done(uint64_t n) { done_ = n; return *this; }
  Expect& Failed(uint64_t n) { failed_ = n; return *this; }
  Expect& LatestFailed(uint64_t n) { latest_failed_ = n; return *this; }
  Expect& ItemsSucceeded(uint64_t n) { items_succeeded_ = n; return *this; }
  Expect& ItemsFailed(uint64_t n) { items_failed_ = n; return *this; }
  Expect& Attempts(uint64_t n) { attempts_ = n; return *this; }
  Expect& Retries(uint64_t n) { retries_ = n; return *this; }
  Expect& NotExceeded() { exceeded_ = std::optional<std::string>(); return *this; }
  Expect& Exceeded(std::string message) { exceeded_ = std::move(message); return *this; }

  void Check(const BatchQueue& q) const {
    const BatchQueue::Counters& c = q.counters();
    if (pending_) CHECK(q.pending() == *pending_);
    if (leased_) CHECK(q.leased() == *leased_);
    if (all_finished_) CHECK(q.AllFinished() == *all_finished_);
    if (done_) CHECK(c.batches_done == *done_);
    if (failed_) CHECK(c.batches_failed == *failed_);
    if (latest_failed_) CHECK(c.batches_latest_failed == *latest_failed_);
    if (items_succeeded_) CHECK(c.items_succeeded == *items_succeeded_);
    if (items_failed_) CHECK(c.items_failed == *items_failed_);
    if (attempts_) CHECK(c.attempts == *attempts_);
    if (retries_) CHECK(c.retries == *retries_);
    if (exceeded_) CHECK(q.ExceededThreshold() == *exceeded_);
  }

 private:
  std::optional<size_t> pending_, leased_;
  std::optional<bool> all_finished_;
  std::optional<uint64_t> done_, failed_, latest_failed_, items_succeeded_, items_failed_,
      attempts_, retries_;
  // Outer optional: whether to check; inner: the expected message or none.
  std::optional<std::optional<std::string>> exceeded_;
};

using Row = std::variant<Add, Close, Lease, LeaseOneOf, LeaseNone, Finish, Ok, Fail, Return,
                         Release, Expect>;

// ---- harness -----------------------------------------------------------------

const char* VerdictName(V v) {
  switch (v) {
    case V::kDone: return "kDone";
    case V::kRetry: return "kRetry";
    case V::kFailed: return "kFailed";
    case V::kStale: return "kStale";
    case V::kOtherRunning: return "kOtherRunning";
  }
  return "?";
}

std::string Describe(const Row& row) {
  std::ostringstream s;
  std::visit(
      [&s](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, Add>) {
          s << "Add " << r.batches << " x " << r.items << " items";
        } else if constexpr (std::is_same_v<T, Close>) {
          s << "CloseAdding";
        } else if constexpr (std::is_same_v<T, Lease>) {
          s << "Lease by agent " << r.agent << " -> id " << r.id << " attempt " << r.attempt;
        } else if constexpr (std::is_same_v<T, LeaseOneOf>) {
          s << "Lease by agent " << r.agent << " -> one of {";
          for (const auto& [id, attempt] : r.options) s << " " << id << "@" << attempt;
          s << " }";
        } else if constexpr (std::is_same_v<T, LeaseNone>) {
          s << "Lease by agent " << r.agent << " -> none";
        } else if constexpr (std::is_same_v<T, Finish>) {
          s << "Finish id " << r.id << " attempt " << r.attempt << " "
            << AttemptStatusName(r.status) << " succeeded " << r.succeeded << " -> "
            << VerdictName(r.expect);
        } else if constexpr (std::is_same_v<T, Ok>) {
          s << "Ok id " << r.id << " attempt " << r.attempt;
        } else if constexpr (std::is_same_v<T, Fail>) {
          s << "Fail id " << r.id << " attempt " << r.attempt << " "
            << AttemptStatusName(r.status) << " -> " << VerdictName(r.expect);
        } else if constexpr (std::is_same_v<T, Return>) {
          s << "Return id " << r.id << " attempt " << r.attempt << " -> " << r.expect;
        } else if constexpr (std::is_same_v<T, Release>) {
          s << "ReleaseAgent " << r.agent << " -> " << r.expect;
        } else {
          s << "Expect";
        }
      },
      row);
  return s.str();
}

class Harness {
 public:
  explicit Harness(BatchQueue::Limits limits) : q_(limits) {}

  void Run(const std::vector<Row>& rows) {
    for (size_t i = 0; i < rows.size(); i++) {
      INFO("row " << i << ": " << Describe(rows[i]));
      std::visit([this](const auto& r) { Apply(r); }, rows[i]);
    }
  }

  const BatchQueue& queue() const { return q_; }

 private:
  void Apply(const Add& r) {
    for (int b = 0; b < r.batches; b++) {
      MiniBatch batch;
      batch.id = next_id_++;
      for (int i = 0; i < r.items; i++)
        batch.items.push_back("in/" + std::to_string(batch.id) + "_" + std::to_string(i));
      items_[batch.id] = batch.items.size();
      q_.Add(std::move(batch));
    }
  }
  void Apply(const Close&) { q_.CloseAdding(); }
  void Apply(const Lease& r) {
    std::optional<BatchQueue::Lease> l = q_.LeaseNext(r.agent);
    REQUIRE(l.has_value());
    CHECK(l->batch->id == r.id);
    CHECK(l->attempt == r.attempt);
    Hold(r.agent, *l);
  }
  void Apply(const LeaseOneOf& r) {
    std::optional<BatchQueue::Lease> l = q_.LeaseNext(r.agent);
    REQUIRE(l.has_value());
    auto it = r.options.find(l->batch->id);
    INFO("leased id " << l->batch->id << " attempt " << l->attempt);
    REQUIRE(it != r.options.end());
    CHECK(l->attempt == it->second);
    Hold(r.agent, *l);
  }
  void Apply(const LeaseNone& r) {
    std::optional<BatchQueue::Lease> l = q_.LeaseNext(r.agent);
    CHECK_FALSE(l.has_value());
  }
  void Apply(const Finish& r) {
    AttemptResult a;
    a.id = r.id;
    a.attempt = r.attempt;
    a.status = r.status;
    a.total = items_.count(r.id) ? items_[r.id] : 0;
    a.returned = r.succeeded;
    a.succeeded = r.succeeded;
    V got = q_.Finish(a);
    CHECK(VerdictName(got) == std::string(VerdictName(r.expect)));
    if (got != V::kStale) held_.erase(r.id);
  }
  void Apply(const Ok& r) {
    Apply(Finish{r.id, r.attempt, S::kRunDone, items_.count(r.id) ? items_[r.id] : 0, V::kDone});
  }
  void Apply(const Fail& r) { Apply(Finish{r.id, r.attempt, r.status, 0, r.expect}); }
  void Apply(const Return& r) {
    bool got = q_.Return(r.id, r.attempt);
    CHECK(got == r.expect);
    if (got) held_.erase(r.id);
  }
  void Apply(const Release& r) {
    size_t expect_from_book = 0;
    for (auto it = held_.begin(); it != held_.end();) {
      if (it->second == r.agent) {
        expect_from_book++;
        it = held_.erase(it);
      } else {
        ++it;
      }
    }
    size_t got = q_.ReleaseAgent(r.agent);
    CHECK(got == r.expect);
    CHECK(got == expect_from_book);
  }
  void Apply(const Expect& r) { r.Check(q_); }

  void Hold(AgentId agent, const BatchQueue::Lease& l) {
    INFO("mini-batch " << l.batch->id << " was already leased");
    CHECK(held_.count(l.batch->id) == 0);
    held_[l.batch->id] = agent;
    CHECK(l.batch->items.size() == items_[l.batch->id]);
  }

  BatchQueue q_;
  MiniBatchId next_id_ = 1;
  std::map<MiniBatchId, uint64_t> items_;  // id → item count
  std::map<MiniBatchId, AgentId> held_;    // leases the table holds
};

BatchQueue::Limits MaxTries(int n) {
  BatchQueue::Limits l;
  l.max_tries = n;
  return l;
}

BatchQueue::Limits ErrorThreshold(int64_t n) {
  BatchQueue::Limits l;
  l.error_threshold = n;
  return l;
}

BatchQueue::Limits AllowedFailedCount(int64_t n, int max_tries = 3) {
  BatchQueue::Limits l;
  l.allowed_failed_count = n;
  l.max_tries = max_tries;
  return l;
}

BatchQueue::Limits AllowedFailedPercent(double p, int max_tries = 1) {
  BatchQueue::Limits l;
  l.allowed_failed_percent = p;
  l.max_tries = max_tries;
  return l;
}

// ---- scheduling --------------------------------------------------------------

TEST_CASE("BatchQueue: mini-batches are leased in the order they were added",
          "[batch_queue]") {
  Harness h(MaxTries(3));
  h.Run({
      Expect().Pending(0).Leased(0).AllFinished(false),
      Add{3, 2},
      Expect().Pending(3).Leased(0),
      Lease{1, 1, 1},
      Lease{2, 2, 1},
      Expect().Pending(1).Leased(2),
      Add{1, 1},  // id 4 goes behind 3
      Lease{1, 3, 1},
      Lease{1, 4, 1},
      LeaseNone{3},
      Expect().Pending(0).Leased(4),
      Ok{2, 1},
      Ok{1, 1},
      Ok{4, 1},
      Ok{3, 1},
      Expect().Pending(0).Leased(0).Done(4).Attempts(4).Retries(0).ItemsSucceeded(7)
          .ItemsFailed(0).AllFinished(false),
      Close{},
      Expect().AllFinished(true).NotExceeded(),
  });
  CHECK(h.queue().counters().batches_added == 4);
  CHECK(h.queue().counters().items_added == 7);
}

TEST_CASE("BatchQueue: a failed attempt is retried first with the next attempt number",
          "[batch_queue]") {
  Harness h(MaxTries(3));
  h.Run({
      Add{3, 1},
      Lease{1, 1, 1},
      Lease{2, 2, 1},
      Fail{2, 1, S::kRunException, V::kRetry},
      Expect().Pending(2).Leased(1).Retries(1).Attempts(1).LatestFailed(1),
      Lease{3, 2, 2},  // ahead of 3, "Picked Count" 2
      Fail{2, 2, S::kRunTimeout, V::kRetry},
      Lease{3, 2, 3},
      Ok{2, 3},
      Lease{1, 3, 1},
      Expect().Pending(0).Leased(2).Retries(2).Attempts(3).Done(1).Failed(0).LatestFailed(0),
  });
}

TEST_CASE("BatchQueue: every failure status is retried, only RUN_DONE finishes",
          "[batch_queue]") {
  for (S status : {S::kRunException, S::kRunTimeout, S::kInvalidReturn, S::kProcessDied,
                   S::kInterrupted, S::kLeaseLost}) {
    INFO("status " << AttemptStatusName(status));
    Harness h(MaxTries(2));
    h.Run({
        Add{1, 1},
        Lease{1, 1, 1},
        Fail{1, 1, status, V::kRetry},
        Lease{1, 1, 2},
        Fail{1, 2, status, V::kFailed},
        Close{},
        Expect().Failed(1).Done(0).AllFinished(true),
    });
  }
}

TEST_CASE("BatchQueue: max_tries 1 fails a mini-batch at its first failure", "[batch_queue]") {
  Harness h(MaxTries(1));
  h.Run({
      Add{2, 3},
      Lease{1, 1, 1},
      Fail{1, 1, S::kRunException, V::kFailed},
      Expect().Pending(1).Leased(0).Failed(1).Retries(0).Attempts(1).LatestFailed(1)
          .ItemsFailed(3),
      Lease{1, 2, 1},  // not 1 again
      Ok{2, 1},
      LeaseNone{1},
      Close{},
      Expect().AllFinished(true).Done(1).Failed(1),
  });
}

TEST_CASE("BatchQueue: the last failed try fails the mini-batch for good", "[batch_queue]") {
  Harness h(MaxTries(3));
  h.Run({
      Add{1, 2},
      Close{},
      Lease{1, 1, 1},
      Fail{1, 1, S::kProcessDied, V::kRetry},
      Lease{2, 1, 2},
      Fail{1, 2, S::kRunException, V::kRetry},
      Expect().AllFinished(false).Failed(0).LatestFailed(1).ItemsFailed(2),
      Lease{1, 1, 3},
      Fail{1, 3, S::kRunTimeout, V::kFailed},
      LeaseNone{1},
      Expect().Pending(0).Leased(0).AllFinished(true).Failed(1).Done(0).LatestFailed(1)
          .ItemsFailed(2).ItemsSucceeded(0).Attempts(3).Retries(2),
      Fail{1, 3, S::kRunTimeout, V::kStale},  // it is gone
  });
}

// ---- stale results -----------------------------------------------------------

TEST_CASE("BatchQueue: stale results are ignored and change no counter", "[batch_queue]") {
  // Each kind of staleness gets a fresh queue brought to the same point:
  // 1 and 2 done (2 after a retry), 3 leased at attempt 1, 4 leased at
  // attempt 2 after a failure, 5 pending.
  const std::vector<Row> setup = {
      Add{2, 2},
      Lease{1, 1, 1},
      Ok{1, 1},
      Lease{1, 2, 1},
      Fail{2, 1, S::kRunException, V::kRetry},
      Lease{1, 2, 2},
      Ok{2, 2},
      Add{3, 2},
      Lease{1, 3, 1},
      Lease{2, 4, 1},
      Fail{4, 1, S::kRunTimeout, V::kRetry},
      Lease{2, 4, 2},
  };
  const Expect unchanged = Expect().Pending(1).Leased(2).Done(2).Failed(0).LatestFailed(1)
                               .ItemsSucceeded(4).ItemsFailed(2).Attempts(4).Retries(2)
                               .NotExceeded();
  struct Case {
    const char* name;
    Row row;
  };
  for (const Case& c : std::vector<Case>{
           {"unknown id", Fail{99, 1, S::kRunException, V::kStale}},
           {"unknown id, RUN_DONE", Finish{99, 1, S::kRunDone, 2, V::kStale}},
           {"attempt 0", Fail{3, 0, S::kRunException, V::kStale}},
           {"attempt not yet leased", Finish{3, 2, S::kRunDone, 2, V::kStale}},
           {"pending, never leased", Fail{5, 1, S::kRunException, V::kStale}},
           {"pending, never leased, RUN_DONE", Finish{5, 1, S::kRunDone, 2, V::kStale}},
           {"already done", Finish{1, 1, S::kRunDone, 2, V::kStale}},
           {"already done, failure", Fail{1, 1, S::kRunException, V::kStale}},
           {"earlier attempt of a done batch", Fail{2, 1, S::kRunException, V::kStale}},
           {"earlier attempt of a leased retry", Fail{4, 1, S::kRunException, V::kStale}},
           {"earlier attempt of a leased retry, RUN_DONE",
            Finish{4, 1, S::kRunDone, 2, V::kStale}},
       }) {
    INFO(c.name);
    Harness h(ErrorThreshold(2));  // one more failed item would exceed it
    h.Run(setup);
    h.Run({unchanged, c.row, unchanged});
  }
}

TEST_CASE("BatchQueue: finishing the same attempt twice is stale the second time",
          "[batch_queue]") {
  Harness h(MaxTries(3));
  h.Run({
      Add{2, 1},
      Lease{1, 1, 1},
      Fail{1, 1, S::kRunException, V::kRetry},
      // The same failure again while the retry is pending: stale, no second retry.
      Fail{1, 1, S::kRunException, V::kStale},
      Expect().Pending(2).Attempts(1).Retries(1).LatestFailed(1).ItemsFailed(1),
      Lease{1, 1, 2},
      Ok{1, 2},
      Finish{1, 2, S::kRunDone, 1, V::kStale},
      Expect().Pending(1).Leased(0).Attempts(2).Retries(1).Done(1).ItemsSucceeded(1)
          .ItemsFailed(0).LatestFailed(0),
  });
}

// ---- giving leases back ------------------------------------------------------

TEST_CASE("BatchQueue: Return puts a lease back in front without counting an attempt",
          "[batch_queue]") {
  Harness h(MaxTries(1));
  h.Run({
      Add{3, 1},
      Lease{1, 1, 1},
      Lease{1, 2, 1},
      Return{2, 1, true},
      Expect().Pending(2).Leased(1).Attempts(0).Retries(0),
      Return{2, 1, false},  // already returned
      Return{1, 2, false},  // wrong attempt
      Return{7, 1, false},  // unknown
      Return{3, 1, false},  // pending, not leased
      Lease{2, 2, 1},       // front, and still attempt 1
      Return{2, 1, true},
      Return{1, 1, true},
      Lease{1, 1, 1},  // returned last, so first
      Lease{1, 2, 1},
      Lease{1, 3, 1},
      // max_tries 1 and three Returns behind it: the first real failure is final.
      Fail{2, 1, S::kRunException, V::kFailed},
      Ok{1, 1},
      Ok{3, 1},
      Close{},
      Expect().AllFinished(true).Attempts(3).Done(2).Failed(1).Retries(0),
  });
}

TEST_CASE("BatchQueue: Return after a failed try keeps the attempt count of that try",
          "[batch_queue]") {
  Harness h(MaxTries(2));
  h.Run({
      Add{1, 4},
      Lease{1, 1, 1},
      Fail{1, 1, S::kRunException, V::kRetry},
      Lease{1, 1, 2},
      Return{1, 2, true},
      Expect().LatestFailed(1).ItemsFailed(4).Attempts(1),
      Lease{2, 1, 2},
      Fail{1, 2, S::kRunException, V::kFailed},
      Expect().Failed(1).Attempts(2).ItemsFailed(4),
  });
}

TEST_CASE("BatchQueue: ReleaseAgent requeues only that agent's leases", "[batch_queue]") {
  Harness h(MaxTries(3));
  h.Run({
      Add{6, 1},
      Lease{1, 1, 1},
      Lease{2, 2, 1},
      Lease{1, 3, 1},
      Fail{1, 1, S::kRunException, V::kRetry},  // pending again, last leased by 1
      Lease{2, 1, 2},                           // now held by agent 2
      Lease{3, 4, 1},
      Expect().Pending(2).Leased(4),
      Release{1, 1},  // only 3; 1 moved to agent 2
      Expect().Pending(3).Leased(3).Attempts(1).Retries(1),
      Release{1, 0},
      Release{9, 0},
      Lease{1, 3, 1},  // in front of 5 and 6, attempt not counted
      Release{2, 2},   // 1 (attempt 2) and 2 (attempt 1)
      Expect().Pending(4).Leased(2).Attempts(1).Retries(1),
      // Results of the released leases are stale now.
      Fail{2, 1, S::kRunException, V::kStale},
      Finish{1, 2, S::kRunDone, 1, V::kStale},
      Expect().Attempts(1).Done(0).LatestFailed(1).ItemsFailed(1),
      // Both go before 5 and 6, keeping their attempt numbers.
      LeaseOneOf{4, {{1, 2}, {2, 1}}},
      LeaseOneOf{4, {{1, 2}, {2, 1}}},
      Lease{4, 5, 1},
      Expect().Pending(1).Leased(5),
  });
}

TEST_CASE("BatchQueue: released leases are leased again before older pending ones",
          "[batch_queue]") {
  Harness h(MaxTries(3));
  h.Run({
      Add{4, 1},
      Lease{1, 1, 1},
      Lease{2, 2, 1},
      Release{1, 1},
      Lease{3, 1, 1},  // same attempt: the release did not count
      Ok{1, 1},
      Lease{3, 3, 1},
      Ok{2, 1},
      Ok{3, 1},
      Lease{3, 4, 1},
      Ok{4, 1},
      Close{},
      Expect().AllFinished(true).Attempts(4).Done(4).Retries(0),
  });
}

// ---- error_threshold: failed items -------------------------------------------

TEST_CASE("BatchQueue: error_threshold counts total - succeeded items with >",
          "[batch_queue]") {
  Harness h(ErrorThreshold(5));
  h.Run({
      Add{4, 4},
      Lease{1, 1, 1},
      Finish{1, 1, S::kRunDone, 1, V::kDone},  // short return: 3 failed items
      Expect().Done(1).LatestFailed(0).ItemsSucceeded(1).ItemsFailed(3).NotExceeded(),
      Lease{1, 2, 1},
      Finish{2, 1, S::kRunDone, 9, V::kDone},  // more than given: capped, 0 failed
      Expect().ItemsSucceeded(5).ItemsFailed(3).NotExceeded(),
      Lease{1, 3, 1},
      Finish{3, 1, S::kRunDone, 2, V::kDone},  // 5 failed: equal is not exceeded
      Expect().ItemsSucceeded(7).ItemsFailed(5).NotExceeded(),
      Lease{1, 4, 1},
      Finish{4, 1, S::kRunDone, 3, V::kDone},
      Expect().ItemsSucceeded(10).ItemsFailed(6).LatestFailed(0)
          .Exceeded("error_threshold exceeded: 6 failed items > 5"),
  });
}

TEST_CASE("BatchQueue: RUN_DONE with an empty return fails all its items but not the batch",
          "[batch_queue]") {
  BatchQueue::Limits limits;
  limits.error_threshold = 2;
  limits.allowed_failed_count = 0;
  limits.allowed_failed_percent = 0;
  Harness h(limits);
  h.Run({
      Add{1, 3},
      Close{},
      Lease{1, 1, 1},
      Finish{1, 1, S::kRunDone, 0, V::kDone},
      Expect().Done(1).Failed(0).LatestFailed(0).ItemsFailed(3).AllFinished(true)
          .Exceeded("error_threshold exceeded: 3 failed items > 2"),
  });
}

TEST_CASE("BatchQueue: a failed attempt counts all its items until a retry succeeds",
          "[batch_queue]") {
  Harness h(ErrorThreshold(3));
  h.Run({
      Add{2, 4},
      Lease{1, 1, 1},
      Fail{1, 1, S::kRunException, V::kRetry},
      Expect().ItemsFailed(4).Exceeded("error_threshold exceeded: 4 failed items > 3"),
      Lease{1, 1, 2},
      Finish{1, 2, S::kRunDone, 3, V::kDone},  // back down to 1
      Expect().ItemsFailed(1).ItemsSucceeded(3).NotExceeded(),
      Lease{1, 2, 1},
      Fail{2, 1, S::kInvalidReturn, V::kRetry},
      Expect().ItemsFailed(5),
      Lease{1, 2, 2},
      Ok{2, 2},
      Expect().ItemsFailed(1).ItemsSucceeded(7).NotExceeded(),
  });
}

TEST_CASE("BatchQueue: error_threshold 0 allows none, -1 allows any", "[batch_queue]") {
  SECTION("0") {
    Harness h(ErrorThreshold(0));
    h.Run({
        Add{1, 2},
        Expect().NotExceeded(),
        Lease{1, 1, 1},
        Finish{1, 1, S::kRunDone, 1, V::kDone},
        Expect().Exceeded("error_threshold exceeded: 1 failed items > 0"),
    });
  }
  SECTION("-1") {
    Harness h(ErrorThreshold(-1));
    h.Run({
        Add{3, 5},
        Close{},
        Lease{1, 1, 1},
        Fail{1, 1, S::kRunException, V::kRetry},
        Lease{1, 1, 2},
        Fail{1, 2, S::kRunException, V::kRetry},
        Lease{1, 1, 3},
        Fail{1, 3, S::kRunException, V::kFailed},
        Lease{1, 2, 1},
        Finish{2, 1, S::kRunDone, 0, V::kDone},
        Lease{1, 3, 1},
        Finish{3, 1, S::kRunDone, 0, V::kDone},
        Expect().ItemsFailed(15).LatestFailed(1).AllFinished(true).NotExceeded(),
    });
  }
}

// ---- allowed_failed_count: failed mini-batches ---------------------------------

TEST_CASE("BatchQueue: allowed_failed_count counts mini-batches whose latest attempt failed",
          "[batch_queue]") {
  Harness h(AllowedFailedCount(1, 2));
  h.Run({
      Add{3, 2},
      Lease{1, 1, 1},
      Lease{1, 2, 1},
      Lease{1, 3, 1},
      Fail{1, 1, S::kRunException, V::kRetry},
      Expect().LatestFailed(1).NotExceeded(),  // equal is not exceeded
      Fail{2, 1, S::kRunTimeout, V::kRetry},
      Expect().LatestFailed(2).Failed(0).Exceeded(
          "allowed_failed_count (mini_batch_error_threshold) exceeded: "
          "2 failed mini-batches > 1"),
      Lease{1, 2, 2},  // the latest retry is in front
      Lease{1, 1, 2},
      Ok{1, 2},  // the transient failure stops counting
      Expect().LatestFailed(1).NotExceeded(),
      Fail{2, 2, S::kRunTimeout, V::kFailed},  // still one: the same batch
      Expect().LatestFailed(1).Failed(1).NotExceeded(),
      Finish{3, 1, S::kRunDone, 0, V::kDone},  // a short return is not a failed batch
      Expect().LatestFailed(1).Done(2).ItemsFailed(4).NotExceeded(),
  });
}

TEST_CASE("BatchQueue: allowed_failed_count 0 allows none, -1 allows any", "[batch_queue]") {
  SECTION("0") {
    Harness h(AllowedFailedCount(0));
    h.Run({
        Add{1, 1},
        Lease{1, 1, 1},
        Fail{1, 1, S::kProcessDied, V::kRetry},
        Expect().Exceeded(
            "allowed_failed_count (mini_batch_error_threshold) exceeded: "
            "1 failed mini-batches > 0"),
    });
  }
  SECTION("-1") {
    Harness h(AllowedFailedCount(-1, 1));
    h.Run({
        Add{3, 1},
        Close{},
        Lease{1, 1, 1},
        Lease{1, 2, 1},
        Lease{1, 3, 1},
        Fail{1, 1, S::kProcessDied, V::kFailed},
        Fail{2, 1, S::kProcessDied, V::kFailed},
        Fail{3, 1, S::kProcessDied, V::kFailed},
        Expect().LatestFailed(3).Failed(3).AllFinished(true).NotExceeded(),
    });
  }
}

// ---- allowed_failed_percent --------------------------------------------------

TEST_CASE("BatchQueue: allowed_failed_percent is checked only after CloseAdding",
          "[batch_queue]") {
  Harness h(AllowedFailedPercent(25));
  h.Run({
      Add{2, 1},
      Lease{1, 1, 1},
      Fail{1, 1, S::kRunException, V::kFailed},
      Expect().LatestFailed(1).NotExceeded(),  // 1 of 2, but the listing goes on
      Add{2, 1},
      Close{},
      Expect().NotExceeded(),  // 1 of 4 = 25%: equal is not exceeded
      Lease{1, 2, 1},
      Fail{2, 1, S::kRunException, V::kFailed},
      Expect().Exceeded(
          "allowed_failed_percent exceeded: 2 of 4 mini-batches failed (50.00% > 25%)"),
  });
}

TEST_CASE("BatchQueue: allowed_failed_percent counts transient failures until retried",
          "[batch_queue]") {
  Harness h(AllowedFailedPercent(12.5, 2));
  h.Run({
      Add{3, 1},
      Close{},
      Lease{1, 1, 1},
      Fail{1, 1, S::kRunException, V::kRetry},
      Expect().Exceeded(
          "allowed_failed_percent exceeded: 1 of 3 mini-batches failed (33.33% > 12.5%)"),
      Lease{1, 1, 2},
      Ok{1, 2},
      Expect().LatestFailed(0).NotExceeded(),
  });
}

TEST_CASE("BatchQueue: allowed_failed_percent 100 allows any, 0 allows none",
          "[batch_queue]") {
  SECTION("100") {
    Harness h(AllowedFailedPercent(100));
    h.Run({
        Add{2, 1},
        Close{},
        Lease{1, 1, 1},
        Lease{1, 2, 1},
        Fail{1, 1, S::kRunException, V::kFailed},
        Fail{2, 1, S::kRunException, V::kFailed},
        Expect().LatestFailed(2).AllFinished(true).NotExceeded(),
    });
  }
  SECTION("0") {
    Harness h(AllowedFailedPercent(0));
    h.Run({
        Add{4, 1},
        Close{},
        Expect().NotExceeded(),
        Lease{1, 1, 1},
        Fail{1, 1, S::kRunException, V::kFailed},
        Expect().Exceeded(
            "allowed_failed_percent exceeded: 1 of 4 mini-batches failed (25.00% > 0%)"),
    });
  }
  SECTION("nothing added") {
    Harness h(AllowedFailedPercent(0));
    h.Run({
        Close{},
        Expect().AllFinished(true).NotExceeded(),
    });
  }
}

TEST_CASE("BatchQueue: the first threshold exceeded is the one reported", "[batch_queue]") {
  BatchQueue::Limits limits;
  limits.max_tries = 1;
  limits.error_threshold = 1;
  limits.allowed_failed_count = 0;
  limits.allowed_failed_percent = 10;
  Harness h(limits);
  h.Run({
      Add{2, 1},
      Close{},
      Lease{1, 1, 1},
      Fail{1, 1, S::kRunException, V::kFailed},
      Expect().Exceeded(
          "allowed_failed_count (mini_batch_error_threshold) exceeded: "
          "1 failed mini-batches > 0"),
      Lease{1, 2, 1},
      Fail{2, 1, S::kRunException, V::kFailed},
      Expect().Exceeded("error_threshold exceeded: 2 failed items > 1"),
  });
}

// ---- AllFinished -------------------------------------------------------------

TEST_CASE("BatchQueue: AllFinished needs CloseAdding and nothing pending or leased",
          "[batch_queue]") {
  Harness h(MaxTries(2));
  h.Run({
      Expect().AllFinished(false),
      Add{2, 1},
      Lease{1, 1, 1},
      Ok{1, 1},
      Close{},
      Expect().AllFinished(false).Pending(1),  // 2 pending
      Lease{1, 2, 1},
      Expect().AllFinished(false).Leased(1),
      Fail{2, 1, S::kRunException, V::kRetry},
      Expect().AllFinished(false).Pending(1),  // awaiting its retry
      Lease{1, 2, 2},
      Return{2, 2, true},
      Expect().AllFinished(false),
      Lease{1, 2, 2},
      Fail{2, 2, S::kRunException, V::kFailed},
      Expect().AllFinished(true).Pending(0).Leased(0),
  });
}

TEST_CASE("BatchQueue: an empty, closed queue is finished", "[batch_queue]") {
  Harness h(MaxTries(3));
  h.Run({Close{}, LeaseNone{1}, Expect().AllFinished(true).Pending(0).Leased(0).NotExceeded()});
}

}  // namespace
}  // namespace parallelrun

namespace parallelrun {
namespace {

MiniBatch Files(MiniBatchId id, int items) {
  MiniBatch b;
  b.id = id;
  for (int i = 0; i < items; i++) b.items.push_back("f" + std::to_string(i));
  return b;
}

AttemptResult Outcome(MiniBatchId id, uint32_t attempt, AttemptStatus status, uint64_t succeeded) {
  AttemptResult r;
  r.id = id;
  r.attempt = attempt;
  r.status = status;
  r.total = 4;
  r.succeeded = succeeded;
  return r;
}

TEST_CASE("BatchQueue: replayed attempts give the same state as the run that made them",
          "[batch_queue]") {
  BatchQueue::Limits limits;
  limits.max_tries = 2;
  BatchQueue live(limits), replayed(limits);
  for (MiniBatchId id = 0; id < 3; id++) {
    live.Add(Files(id, 4));
    replayed.Add(Files(id, 4));
  }
  // The run: 0 succeeds, 1 fails twice (for good), 2 fails once and is
  // pending for its retry when the run stops.
  std::vector<AttemptResult> journal;
  auto run = [&](AttemptStatus status, uint64_t succeeded) {
    auto lease = live.LeaseNext(0);
    REQUIRE(lease);
    journal.push_back(Outcome(lease->batch->id, lease->attempt, status, succeeded));
    return live.Finish(journal.back());
  };
  CHECK(run(S::kRunDone, 3) == V::kDone);
  CHECK(run(S::kRunException, 0) == V::kRetry);
  CHECK(run(S::kRunException, 0) == V::kFailed);
  CHECK(run(S::kRunTimeout, 0) == V::kRetry);
  std::vector<V> verdicts;
  for (const auto& r : journal) verdicts.push_back(replayed.Replay(r));
  CHECK(verdicts == std::vector<V>{V::kDone, V::kRetry, V::kFailed, V::kRetry});
  const auto& a = live.counters();
  const auto& b = replayed.counters();
  CHECK(a.batches_done == b.batches_done);
  CHECK(a.batches_failed == b.batches_failed);
  CHECK(a.batches_latest_failed == b.batches_latest_failed);
  CHECK(a.items_succeeded == b.items_succeeded);
  CHECK(a.items_failed == b.items_failed);
  CHECK(a.attempts == b.attempts);
  CHECK(replayed.pending() == 1);
  // The mini-batch that was waiting for its retry gets its last try, numbered 2.
  auto lease = replayed.LeaseNext(0);
  REQUIRE(lease);
  CHECK(lease->batch->id == 2);
  CHECK(lease->attempt == 2);
  CHECK(replayed.Finish(Outcome(2, 2, S::kRunException, 0)) == V::kFailed);
  // A replayed attempt of a mini-batch that is not live is stale.
  CHECK(replayed.Replay(Outcome(0, 2, S::kRunDone, 4)) == V::kStale);
}

TEST_CASE("BatchQueue: a revived mini-batch gets a fresh budget, numbered after its old attempts",
          "[batch_queue]") {
  BatchQueue::Limits limits;
  limits.max_tries = 2;
  limits.allowed_failed_count = 0;
  BatchQueue q(limits);
  q.Add(Files(7, 4));
  CHECK(q.Replay(Outcome(7, 1, S::kRunException, 0)) == V::kRetry);
  CHECK(q.Replay(Outcome(7, 2, S::kRunException, 0)) == V::kFailed);
  q.CloseAdding();
  CHECK(q.counters().batches_failed == 1);
  CHECK(q.counters().items_failed == 4);
  CHECK(q.ExceededThreshold());
  CHECK(q.AllFinished());
  q.Revive(Files(7, 4), 2, 4);
  CHECK(!q.AllFinished());
  // Still failed until an attempt succeeds.
  CHECK(q.counters().batches_failed == 0);
  CHECK(q.counters().batches_latest_failed == 1);
  CHECK(q.counters().items_failed == 4);
  auto lease = q.LeaseNext(0);
  REQUIRE(lease);
  CHECK(lease->attempt == 3);
  CHECK(q.Finish(Outcome(7, 3, S::kRunException, 0)) == V::kRetry);
  lease = q.LeaseNext(0);
  REQUIRE(lease);
  CHECK(lease->attempt == 4);
  CHECK(q.Finish(Outcome(7, 4, S::kRunDone, 4)) == V::kDone);
  CHECK(q.counters().batches_done == 1);
  CHECK(q.counters().batches_latest_failed == 0);
  CHECK(q.counters().items_failed == 0);
  CHECK(q.counters().items_succeeded == 4);
  CHECK(!q.ExceededThreshold());
  CHECK(q.AllFinished());
}

}  // namespace
}  // namespace parallelrun
