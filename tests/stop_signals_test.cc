#include "job/stop_signals.h"

#include <poll.h>
#include <signal.h>

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

bool Readable(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

TEST_CASE("StartupSignals: a stop signal while a job starts is recorded, not fatal",
          "[signals]") {
  for (int signo : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction before;
    sigaction(signo, nullptr, &before);
    {
      StartupSignals startup;
      CHECK(startup.received() == 0);
      CHECK_FALSE(Readable(startup.fd()));
      raise(signo);  // the default action would end this test process
      CHECK(startup.received() == signo);
      CHECK(Readable(startup.fd()));
      raise(SIGTERM);  // the first one is the one said
      CHECK(startup.received() == signo);
    }
    // The previous action is back.
    struct sigaction after;
    sigaction(signo, nullptr, &after);
    CHECK(after.sa_handler == before.sa_handler);
  }
  CHECK(StopSignalName(SIGHUP) == "SIGHUP");
  CHECK(StopSignalName(SIGUSR1) == "signal " + std::to_string(SIGUSR1));
}

}  // namespace
}  // namespace parallelrun
