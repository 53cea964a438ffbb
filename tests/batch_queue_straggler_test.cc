// BatchQueue's straggler rule (batch_queue.h): near the end, a leased
// mini-batch running longer than k × the median of the finished attempts gets
// a second attempt; the first success wins and names the other for
// cancelling; the item counts once. Durations are fake: set_now() is the clock.
#include "master/batch_queue.h"

#include <catch2/catch.hpp>

#include <string>

namespace parallelrun {
namespace {

using V = BatchQueue::Verdict;

MiniBatch Batch(MiniBatchId id, int items = 1) {
  MiniBatch b;
  b.id = id;
  for (int i = 0; i < items; i++) b.items.push_back("f" + std::to_string(id) + "_" + std::to_string(i));
  return b;
}

AttemptResult Result(MiniBatchId id, uint32_t attempt, AttemptStatus status = AttemptStatus::kRunDone,
                     uint64_t total = 1) {
  AttemptResult r;
  r.id = id;
  r.attempt = attempt;
  r.status = status;
  r.total = total;
  r.succeeded = status == AttemptStatus::kRunDone ? total : 0;
  r.returned = r.succeeded;
  return r;
}

BatchQueue::Limits Limits(double k = 3, uint32_t samples = 5) {
  BatchQueue::Limits l;
  l.straggler_factor = k;
  l.straggler_min_samples = samples;
  l.straggler_min_seconds = 0;
  return l;
}

// `n` mini-batches 0..n-1; 0..n-2 lease to agent 0 and finish after 1 s each;
// n-1 leases to agent 1 at time 0 and keeps running. Adding is closed.
void RunAllButLast(BatchQueue* q, int n) {
  for (int i = 0; i < n; i++) q->Add(Batch(i));
  q->CloseAdding();
  q->set_now(0);
  // The last one first, so that it has run since 0.
  for (int i = 0; i < n; i++) {
    auto l = q->LeaseNext(i == 0 ? 1 : 0);
    REQUIRE(l);
  }
  // Leased in id order: 0 went to agent 1.
  for (int i = 1; i < n; i++) {
    q->set_now(i);
    REQUIRE(q->Finish(Result(i, 1)) == V::kDone);
  }
}

TEST_CASE("Straggler: a second attempt only past k × median, near the end", "[batch_queue]") {
  BatchQueue q(Limits(3));
  RunAllButLast(&q, 7);  // 6 finished, at 1, 2, … 6 s after their lease at 0
  CHECK(q.MedianSeconds() == 4);  // of 1..6: the upper middle
  q.set_now(12);
  CHECK_FALSE(q.LeaseStraggler(0));  // 12 s is not more than 3 × 4 s
  q.set_now(12.5);
  auto s = q.LeaseStraggler(0);
  REQUIRE(s);
  CHECK(s->lease.batch->id == 0);
  CHECK(s->lease.attempt == 2);
  CHECK(s->running_attempt == 1);
  CHECK(s->running_agent == 1);
  CHECK(s->running_seconds == 12.5);
  CHECK(s->median_seconds == 4);
  CHECK(s->samples == 6);
  // One second attempt per mini-batch.
  CHECK_FALSE(q.LeaseStraggler(2));
  CHECK(q.leased() == 1);
}

TEST_CASE("Straggler: not while work is pending, adding is open, or samples are few",
          "[batch_queue]") {
  SECTION("off") {
    BatchQueue q(Limits(0));
    RunAllButLast(&q, 7);
    q.set_now(1000);
    CHECK_FALSE(q.LeaseStraggler(0));
  }
  SECTION("too few finished") {
    BatchQueue q(Limits(3, 7));
    RunAllButLast(&q, 7);
    q.set_now(1000);
    CHECK_FALSE(q.LeaseStraggler(0));
  }
  SECTION("adding open") {
    BatchQueue q(Limits(3));
    for (int i = 0; i < 7; i++) q.Add(Batch(i));
    q.set_now(0);
    for (int i = 0; i < 7; i++) REQUIRE(q.LeaseNext(0));
    for (int i = 1; i < 7; i++) REQUIRE(q.Finish(Result(i, 1)) == V::kDone);
    q.set_now(1000);
    CHECK_FALSE(q.LeaseStraggler(0));
    q.CloseAdding();
    CHECK(q.LeaseStraggler(0));
  }
  SECTION("pending work") {
    BatchQueue q(Limits(3));
    RunAllButLast(&q, 7);
    q.Add(Batch(7));
    q.set_now(1000);
    CHECK_FALSE(q.LeaseStraggler(0));
  }
  SECTION("younger than the minimum") {
    BatchQueue::Limits l = Limits(3);
    l.straggler_min_seconds = 60;
    BatchQueue q(l);
    RunAllButLast(&q, 7);
    q.set_now(59);
    CHECK_FALSE(q.LeaseStraggler(0));
    q.set_now(61);
    CHECK(q.LeaseStraggler(0));
  }
}

TEST_CASE("Straggler: the second attempt wins, the first is named for cancelling",
          "[batch_queue]") {
  BatchQueue q(Limits(3));
  RunAllButLast(&q, 7);
  q.set_now(20);
  REQUIRE(q.LeaseStraggler(2));
  BatchQueue::Cancel cancel;
  q.set_now(21);
  CHECK(q.Finish(Result(0, 2), &cancel) == V::kDone);
  CHECK(cancel.id == 0);
  CHECK(cancel.attempt == 1);
  CHECK(cancel.agent == 1);
  // The loser's result, whatever it is, is stale: counted once.
  CHECK(q.Finish(Result(0, 1), &cancel) == V::kStale);
  CHECK(cancel.attempt == 0);
  CHECK(q.Finish(Result(0, 1, AttemptStatus::kInterrupted), &cancel) == V::kStale);
  CHECK(q.AllFinished());
  CHECK(q.counters().batches_done == 7);
  CHECK(q.counters().items_succeeded == 7);
  CHECK(q.counters().attempts == 7);
  // The winner's time (1 s) joined the sample.
  CHECK(q.MedianSeconds() == 3);
}

TEST_CASE("Straggler: the first attempt wins, the second is named for cancelling",
          "[batch_queue]") {
  BatchQueue q(Limits(3));
  RunAllButLast(&q, 7);
  q.set_now(20);
  REQUIRE(q.LeaseStraggler(2));
  BatchQueue::Cancel cancel;
  CHECK(q.Finish(Result(0, 1), &cancel) == V::kDone);
  CHECK(cancel.attempt == 2);
  CHECK(cancel.agent == 2);
  CHECK(q.Finish(Result(0, 2), &cancel) == V::kStale);
  CHECK(q.counters().batches_done == 7);
}

TEST_CASE("Straggler: a failure of one attempt leaves the other to decide", "[batch_queue]") {
  BatchQueue q(Limits(3));
  RunAllButLast(&q, 7);
  q.set_now(20);
  REQUIRE(q.LeaseStraggler(2));
  BatchQueue::Cancel cancel;
  SECTION("the first fails, the second succeeds") {
    CHECK(q.Finish(Result(0, 1, AttemptStatus::kRunException), &cancel) == V::kOtherRunning);
    CHECK(q.counters().batches_latest_failed == 0);
    CHECK(q.counters().retries == 0);
    CHECK(q.pending() == 0);
    CHECK(q.Finish(Result(0, 2), &cancel) == V::kDone);
    CHECK(cancel.attempt == 0);  // nothing left to stop
  }
  SECTION("the second fails, the first succeeds") {
    CHECK(q.Finish(Result(0, 2, AttemptStatus::kProcessDied), &cancel) == V::kOtherRunning);
    CHECK(q.Finish(Result(0, 1), &cancel) == V::kDone);
    CHECK(cancel.attempt == 0);
  }
  SECTION("both fail: the mini-batch is retried as after any failure") {
    CHECK(q.Finish(Result(0, 2, AttemptStatus::kProcessDied), &cancel) == V::kOtherRunning);
    CHECK(q.Finish(Result(0, 1, AttemptStatus::kProcessDied), &cancel) == V::kRetry);
    auto l = q.LeaseNext(0);
    REQUIRE(l);
    CHECK(l->attempt == 3);
    CHECK(q.Finish(Result(0, 3, AttemptStatus::kProcessDied), &cancel) == V::kFailed);
  }
  CHECK(q.AllFinished());
  CHECK(q.counters().batches_done + q.counters().batches_failed == 7);
}

TEST_CASE("Straggler: a lost agent or a given-back lease leaves the other attempt",
          "[batch_queue]") {
  BatchQueue q(Limits(3));
  RunAllButLast(&q, 7);
  q.set_now(20);
  REQUIRE(q.LeaseStraggler(2));
  SECTION("the twin's agent is lost") {
    CHECK(q.ReleaseAgent(2) == 0);  // nothing to requeue: attempt 1 still runs
    CHECK(q.pending() == 0);
    CHECK(q.Finish(Result(0, 1)) == V::kDone);
  }
  SECTION("the first attempt's agent is lost") {
    CHECK(q.ReleaseAgent(1) == 0);
    CHECK(q.Finish(Result(0, 1)) == V::kStale);
    CHECK(q.Finish(Result(0, 2)) == V::kDone);
  }
  SECTION("the twin is given back untried: its number is free again") {
    CHECK(q.Return(0, 2));
    CHECK(q.Finish(Result(0, 2)) == V::kStale);
    q.set_now(40);
    auto again = q.LeaseStraggler(2);
    REQUIRE(again);
    CHECK(again->lease.attempt == 2);
    CHECK(q.Finish(Result(0, 1)) == V::kDone);
  }
  CHECK(q.AllFinished());
  CHECK(q.counters().batches_done == 7);
}

TEST_CASE("Straggler: a mini-batch that failed before is retried, never doubled",
          "[batch_queue]") {
  BatchQueue q(Limits(3));
  RunAllButLast(&q, 7);
  q.set_now(1);
  REQUIRE(q.Finish(Result(0, 1, AttemptStatus::kRunException)) == V::kRetry);
  auto l = q.LeaseNext(1);
  REQUIRE(l);
  CHECK(l->attempt == 2);
  q.set_now(1000);
  CHECK_FALSE(q.LeaseStraggler(0));
  // Given back untried, its number is reused: attempts stay 1, 2, 3.
  CHECK(q.Return(0, 2));
  REQUIRE(q.LeaseNext(0)->attempt == 2);
}

TEST_CASE("Straggler: after a twin failed, a given-back first attempt keeps numbers unique",
          "[batch_queue]") {
  BatchQueue q(Limits(3));
  RunAllButLast(&q, 7);
  q.set_now(20);
  REQUIRE(q.LeaseStraggler(2));
  REQUIRE(q.Finish(Result(0, 2, AttemptStatus::kProcessDied)) == V::kOtherRunning);
  CHECK(q.Return(0, 1));  // attempt 1 never started after all
  auto l = q.LeaseNext(0);
  REQUIRE(l);
  CHECK(l->attempt == 3);  // 2 was used by the twin
}

TEST_CASE("Straggler: the longest-running is doubled first", "[batch_queue]") {
  BatchQueue q(Limits(2));
  for (int i = 0; i < 8; i++) q.Add(Batch(i));
  q.CloseAdding();
  q.set_now(0);
  REQUIRE(q.LeaseNext(1));  // 0 at 0
  q.set_now(5);
  REQUIRE(q.LeaseNext(1));  // 1 at 5
  for (int i = 2; i < 8; i++) REQUIRE(q.LeaseNext(0));
  for (int i = 2; i < 8; i++) {
    q.set_now(6);
    REQUIRE(q.Finish(Result(i, 1)) == V::kDone);  // 1 s each
  }
  q.set_now(8);  // 0 has run 8 s, 1 has run 3 s: both past 2 × 1 s
  auto first = q.LeaseStraggler(0);
  REQUIRE(first);
  CHECK(first->lease.batch->id == 0);
  auto second = q.LeaseStraggler(0);
  REQUIRE(second);
  CHECK(second->lease.batch->id == 1);
  CHECK_FALSE(q.LeaseStraggler(0));
}

}  // namespace
}  // namespace parallelrun
