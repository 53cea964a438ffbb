// A worker's deadlines (init_timeout, run_invocation_timeout, the shutdown
// timeout) and elapsed times, with a ManualClock: time moves by hand,
// nothing sleeps. WorkerPool arms its timers from Deadline() and decides an
// expiry with Expired(), so these are its timeout rules.
#include "node/worker_timeline.h"

#include <catch2/catch.hpp>

#include <chrono>

namespace parallelrun {
namespace {

using Phase = WorkerTimeline::Phase;
using std::chrono::milliseconds;
using std::chrono::seconds;

// job.cc's defaults: run_invocation_timeout 60 s, init 3 × 60 + 30 s.
WorkerTimeline::Timeouts Defaults() {
  WorkerTimeline::Timeouts t;
  t.init = seconds(210);
  t.run = seconds(60);
  t.shutdown = seconds(60);
  return t;
}

TEST_CASE("WorkerTimeline: the phase is init() until it answers, then run(), then shutdown()",
          "[worker_timeline]") {
  // Mini-batches may be queued and shutdown() asked before init() answered:
  // the init deadline still rules.
  CHECK(WorkerTimeline::PhaseOf(false, true, true) == Phase::kInit);
  CHECK(WorkerTimeline::PhaseOf(true, true, true) == Phase::kRun);
  CHECK(WorkerTimeline::PhaseOf(true, false, true) == Phase::kShutdown);
  CHECK(WorkerTimeline::PhaseOf(true, false, false) == Phase::kIdle);
}

TEST_CASE("WorkerTimeline: init() expires init_timeout after the process started",
          "[worker_timeline]") {
  ManualClock clock;
  WorkerTimeline times(clock, Defaults());
  auto start = clock.Steady();
  REQUIRE(times.Deadline(Phase::kInit));
  CHECK(*times.Deadline(Phase::kInit) == start + seconds(210));
  clock.Advance(seconds(209));
  CHECK_FALSE(times.Expired(Phase::kInit));
  CHECK(times.Until(*times.Deadline(Phase::kInit)) == seconds(1));
  CHECK(times.SecondsIn(Phase::kInit) == Approx(209));
  clock.Advance(seconds(1));
  CHECK(times.Expired(Phase::kInit));  // at the deadline, as the timer fires
}

TEST_CASE("WorkerTimeline: run()'s deadline follows the head of the queue", "[worker_timeline]") {
  ManualClock clock;
  WorkerTimeline times(clock, Defaults());
  clock.Advance(seconds(5));  // init() answered
  times.HeadStarted();        // mini-batch 1 sent to the idle worker, 2 and 3 queued behind
  auto first_deadline = *times.Deadline(Phase::kRun);
  clock.Advance(seconds(50));
  times.Answered();  // 1 answered: 2 starts now
  clock.Advance(seconds(50));
  // 105 s since the worker took mini-batch 1, but each took less than 60 s.
  CHECK_FALSE(times.Expired(Phase::kRun));
  // The timer armed for the first deadline fires early: not expired, and it
  // waits again for what is left of the new one.
  CHECK(clock.Steady() > first_deadline);
  CHECK(times.Until(*times.Deadline(Phase::kRun)) == seconds(10));
  CHECK(times.SecondsIn(Phase::kRun) == Approx(50));
  clock.Advance(seconds(10));
  CHECK(times.Expired(Phase::kRun));
}

TEST_CASE("WorkerTimeline: shutdown() expires its timeout after it was asked",
          "[worker_timeline]") {
  ManualClock clock;
  WorkerTimeline::Timeouts t = Defaults();
  t.shutdown = seconds(30);
  WorkerTimeline times(clock, t);
  clock.Advance(seconds(100));
  times.ShutdownAsked();
  clock.Advance(milliseconds(29999));
  CHECK_FALSE(times.Expired(Phase::kShutdown));
  CHECK(times.SecondsIn(Phase::kShutdown) == Approx(29.999));
  clock.Advance(milliseconds(1));
  CHECK(times.Expired(Phase::kShutdown));
}

TEST_CASE("WorkerTimeline: shutdown() after the last result counts from that result",
          "[worker_timeline]") {
  // A worker retired after failing too often is asked for shutdown() while
  // its queue runs out; then the time since the last RESULT counts.
  ManualClock clock;
  WorkerTimeline times(clock, Defaults());
  times.HeadStarted();
  clock.Advance(seconds(20));
  times.ShutdownAsked();
  clock.Advance(seconds(40));
  times.Answered();  // the last queued mini-batch answered
  clock.Advance(seconds(59));
  CHECK_FALSE(times.Expired(Phase::kShutdown));
  clock.Advance(seconds(1));
  CHECK(times.Expired(Phase::kShutdown));
}

TEST_CASE("WorkerTimeline: an idle worker has no deadline", "[worker_timeline]") {
  ManualClock clock;
  WorkerTimeline times(clock, Defaults());
  clock.Advance(std::chrono::hours(24));
  CHECK_FALSE(times.Deadline(Phase::kIdle));
  CHECK_FALSE(times.Expired(Phase::kIdle));
  CHECK(times.SecondsIn(Phase::kIdle) == 0);
}

}  // namespace
}  // namespace parallelrun
