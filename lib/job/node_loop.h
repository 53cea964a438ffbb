// NodeLoop: the event loop of one node's process, the same on the master's
// node and on every other: the one io_context everything of the node runs on
// (STYLE.md), and the watch on SIGINT, SIGTERM and SIGHUP that turns them into the
// node's interrupt — the second one asks to skip the kill grace (signals
// within a short window are one request: stop_signals.h).
// What differs between the nodes (what runs on the loop, what an interrupt
// does) is the caller's: see master_node.h and agent_node.h.
#ifndef PARALLELRUN_JOB_NODE_LOOP_H_
#define PARALLELRUN_JOB_NODE_LOOP_H_

#include <functional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "job/stop_signals.h"

namespace parallelrun {

class NodeLoop {
 public:
  // `again` is false for the first signal and true for every later one;
  // `signal` is "SIGINT", "SIGTERM" or "SIGHUP".
  using OnInterrupt = std::function<void(bool again, const std::string& signal)>;

  // Takes SIGINT, SIGTERM and SIGHUP from now on (they no longer end the process)
  // and ignores SIGPIPE: workers write to pipes that may close under them.
  NodeLoop();

  boost::asio::io_context& io() { return io_; }

  // Calls `on_interrupt` on the loop for each SIGINT or SIGTERM, until
  // StopWatchingSignals.
  void WatchSignals(OnInterrupt on_interrupt);
  // The job's outcome is known: signals no longer interrupt anything.
  void StopWatchingSignals();
  // Runs the loop until it is stopped (io().stop()) or runs out of work.
  void Run();

 private:
  void Wait();

  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  OnInterrupt on_interrupt_;
  StopSignals stops_;
};

// This machine's name, as the node's agent introduces itself.
std::string Hostname();

}  // namespace parallelrun

#endif  // PARALLELRUN_JOB_NODE_LOOP_H_
