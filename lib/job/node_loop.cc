#include "job/node_loop.h"

#include <signal.h>
#include <unistd.h>

namespace parallelrun {

// A closed terminal or ssh session (SIGHUP) stops the job as SIGTERM does.
NodeLoop::NodeLoop() : signals_(io_, SIGINT, SIGTERM, SIGHUP) {
  // Workers write to pipes that may close under them; never die of SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
}

void NodeLoop::WatchSignals(OnInterrupt on_interrupt) {
  on_interrupt_ = std::move(on_interrupt);
  Wait();
}

void NodeLoop::Wait() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    // A signal sent to the whole process group arrives more than once; those
    // repeats are the same request (stop_signals.h).
    int interrupts = stops_.Add(StopSignals::Clock::now());
    if (interrupts > 0) on_interrupt_(interrupts > 1, StopSignalName(signo));
    Wait();
  });
}

void NodeLoop::StopWatchingSignals() { signals_.cancel(); }

void NodeLoop::Run() { io_.run(); }

std::string Hostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

}  // namespace parallelrun
