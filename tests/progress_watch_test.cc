// The master's clocked decisions (progress_update_timeout,
// first_task_creation_timeout, the overview cadence), with a ManualClock:
// time moves by hand, nothing sleeps.
#include "master/progress_watch.h"

#include <catch2/catch.hpp>

#include <chrono>

namespace parallelrun {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("ProgressWatch: stalled only after more than progress_update_timeout", "[progress_watch]") {
  ManualClock clock;
  ProgressWatch watch(clock, 270, 10);
  watch.Start();
  CHECK_FALSE(watch.Stalled());
  clock.Advance(seconds(270));
  CHECK_FALSE(watch.Stalled());  // "more than": exactly the timeout is not yet
  clock.Advance(milliseconds(1));
  REQUIRE(watch.Stalled());
  CHECK(*watch.Stalled() == Approx(270.001));
  CHECK(watch.Elapsed() == Approx(270.001));
}

TEST_CASE("ProgressWatch: progress restarts the no-progress time, not the elapsed time",
          "[progress_watch]") {
  ManualClock clock;
  ProgressWatch watch(clock, 60, 10);
  watch.Start();
  clock.Advance(seconds(50));
  watch.Progressed();  // a mini-batch finished
  clock.Advance(seconds(50));
  CHECK_FALSE(watch.Stalled());  // 100 s in, but only 50 s without progress
  CHECK(watch.Elapsed() == Approx(100));
  clock.Advance(seconds(11));
  REQUIRE(watch.Stalled());
  CHECK(*watch.Stalled() == Approx(61));
}

TEST_CASE("ProgressWatch: a timeout of 0 never stalls", "[progress_watch]") {
  ManualClock clock;
  ProgressWatch watch(clock, 0, 10);
  watch.Start();
  clock.Advance(std::chrono::hours(24 * 365));
  CHECK_FALSE(watch.Stalled());
}

TEST_CASE("ProgressWatch: first_task_creation_timeout counts from the start, not from progress",
          "[progress_watch]") {
  ManualClock clock;
  ProgressWatch watch(clock, 270, 10);
  watch.Start();
  clock.Advance(seconds(400));
  watch.Progressed();  // a shuffle at work: progress, but no mini-batch yet
  clock.Advance(seconds(200));
  CHECK_FALSE(watch.OlderThan(600));  // "more than": exactly the timeout is not yet
  clock.Advance(milliseconds(1));
  REQUIRE(watch.OlderThan(600));
  CHECK(*watch.OlderThan(600) == Approx(600.001));
  CHECK_FALSE(watch.OlderThan(0));  // 0: no limit
}

TEST_CASE("ProgressWatch: an overview line at the start, then every 10 s", "[progress_watch]") {
  ManualClock clock;
  ProgressWatch watch(clock, 270, 10);
  watch.Start();
  CHECK(watch.OverviewDue(watch.Elapsed()));  // "Start scheduling." then the first line
  clock.Advance(milliseconds(200));           // the next tick
  CHECK_FALSE(watch.OverviewDue(watch.Elapsed()));
  clock.Advance(milliseconds(9799));
  CHECK_FALSE(watch.OverviewDue(watch.Elapsed()));  // 9.999 s
  clock.Advance(milliseconds(1));
  CHECK(watch.OverviewDue(watch.Elapsed()));  // 10 s
  // Counted from the line written, not from a fixed grid: a late tick
  // moves the next line later.
  clock.Advance(milliseconds(12500));
  CHECK(watch.OverviewDue(watch.Elapsed()));  // 22.5 s
  clock.Advance(milliseconds(9000));
  CHECK_FALSE(watch.OverviewDue(watch.Elapsed()));  // 31.5 s
  clock.Advance(milliseconds(1000));
  CHECK(watch.OverviewDue(watch.Elapsed()));  // 32.5 s
}

}  // namespace
}  // namespace parallelrun
