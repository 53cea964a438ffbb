#include "job/stop_signals.h"

#include <catch2/catch.hpp>

namespace parallelrun {
namespace {

using std::chrono::milliseconds;

TEST_CASE("StopSignals: a signal sent to the process and its group counts once", "[signals]") {
  StopSignals stops;
  StopSignals::Clock::time_point t0{std::chrono::seconds(100)};
  CHECK(stops.Add(t0) == 1);
  CHECK(stops.Add(t0) == 0);                      // the same instant: timeout(1) sends two
  CHECK(stops.Add(t0 + milliseconds(499)) == 0);  // still the same request
}

TEST_CASE("StopSignals: a signal after the window is a second request", "[signals]") {
  StopSignals stops;
  StopSignals::Clock::time_point t0{std::chrono::seconds(100)};
  CHECK(stops.Add(t0) == 1);
  CHECK(stops.Add(t0 + milliseconds(500)) == 2);
  CHECK(stops.Add(t0 + milliseconds(600)) == 0);
  CHECK(stops.Add(t0 + milliseconds(1000)) == 3);
}

TEST_CASE("StopSignals: the window runs from the last signal that counted", "[signals]") {
  // Signals every 300 ms: the second is ignored, the third counts.
  StopSignals stops;
  StopSignals::Clock::time_point t0{std::chrono::seconds(100)};
  CHECK(stops.Add(t0) == 1);
  CHECK(stops.Add(t0 + milliseconds(300)) == 0);
  CHECK(stops.Add(t0 + milliseconds(600)) == 2);
}

}  // namespace
}  // namespace parallelrun
