// WorkerPool: the process_count_per_node Python workers of one node, driven
// from the node's event loop (ninja's SubprocessSet). It starts workers,
// speaks the worker protocol (worker_protocol.h) to each, keeps a few
// mini-batches queued in every ready worker's pipe (prefetch) so that none
// waits for a round trip, enforces run_invocation_timeout, replaces workers
// that die, and turns everything a worker does into AttemptResults.
//
// Ownership: the Agent owns the pool and receives its events through Events.
// Every method and callback runs on the loop thread.
#ifndef PARALLELRUN_WORKER_POOL_H_
#define PARALLELRUN_WORKER_POOL_H_

#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "link.h"
#include "mini_batch.h"
#include "wire.h"
#include "worker_process.h"

namespace parallelrun {

class WorkerPool {
 public:
  struct Config {
    std::string python;                 // absolute interpreter path
    std::vector<std::string> python_args;  // e.g. {"-c", driver source, "worker"}
    std::vector<std::string> env;       // the workers' whole environment
    std::string cwd;                    // "" = inherit
    uint32_t node = 0;
    int slots = 1;                      // process_count_per_node
    std::string logs_dir;               // <job>/logs
    // START configuration shared by every worker (entry_script, argv, …);
    // the pool adds the per-process keys (process_name, log paths).
    std::vector<std::pair<std::string, std::string>> start_config;
    std::chrono::milliseconds run_timeout{60000};
    std::chrono::milliseconds kill_grace{2000};
    // Replacement workers are started until init() has failed this many
    // times on the node (the original: 3 × process_count_per_node).
    int max_init_failures = 3;
  };

  struct Events {
    std::function<void(AttemptResult&&)> result;            // an attempt ended
    std::function<void(MiniBatchId, uint32_t)> give_back;   // a lease never tried
    std::function<void()> capacity;                         // Capacity() grew
    std::function<void(const std::string&)> failed;         // no worker can run here
    std::function<void()> stopped;                          // every worker has exited
    std::function<void(const std::string&)> log;            // a line for the node log
  };

  WorkerPool(boost::asio::io_context& io, Config config, Events events);
  ~WorkerPool();

  void Start();
  // How many more mini-batches the pool takes now.
  size_t Capacity() const;
  // Queues a mini-batch on the ready worker with the shortest queue.
  // REQUIRES: Capacity() > 0.
  void Submit(const MiniBatch& batch, uint32_t attempt);
  // After their queued mini-batches, workers run shutdown() and exit; then
  // Events::stopped.
  void Drain();
  // Stops every worker now: queued mini-batches are given back, the running
  // ones end as INTERRUPTED, process groups get SIGTERM and, after the grace
  // period (none if `immediate`), SIGKILL. Then Events::stopped.
  void Stop(bool immediate);

  std::vector<ProcessReport> Reports() const;
  // One line per worker saying what it is doing, for "no progress" messages.
  std::vector<std::string> Describe() const;

 private:
  struct Worker;
  struct InFlight {
    MiniBatch batch;
    uint32_t attempt = 0;
    std::chrono::steady_clock::time_point sent;
  };

  void StartWorker();
  void OnData(Worker* w, const char* data, size_t n);
  void OnFrame(Worker* w, Frame&& frame);
  void OnExit(Worker* w, WorkerProcess::Exit exit);
  void ProtocolFailure(Worker* w, const std::string& why);
  void ArmTimeout(Worker* w);
  void OnTimeout(Worker* w);
  void Terminate(Worker* w, bool immediate);
  void Finish(Worker* w, InFlight&& f, AttemptResult&& r);
  void FailHead(Worker* w, AttemptStatus status, const std::string& category,
                const std::string& message);
  void GiveBackQueued(Worker* w);
  void MaybeStopped();
  size_t Depth() const;
  void Log(const std::string& line);

  boost::asio::io_context& io_;
  Config config_;
  Events events_;
  std::vector<std::unique_ptr<Worker>> workers_;  // all ever started, by number
  int next_number_ = 0;
  int init_failures_ = 0;
  int init_failures_in_a_row_ = 0;
  bool draining_ = false;
  bool stopping_ = false;
  bool stopped_reported_ = false;
  bool failed_reported_ = false;
  double avg_batch_seconds_ = 0.01;  // moving average of elapsed per mini-batch
};

}  // namespace parallelrun

#endif  // PARALLELRUN_WORKER_POOL_H_
