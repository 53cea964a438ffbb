// WorkerPool: the process_count_per_node Python workers of one node, driven
// from the node's event loop (ninja's SubprocessSet). It starts workers,
// speaks the worker protocol (worker_protocol.h) to each, keeps a few
// mini-batches queued in every ready worker's pipe (prefetch) so that none
// waits for a round trip, enforces run_invocation_timeout, replaces workers
// that die, and turns everything a worker does into AttemptResults.
//
// Failure rules (reference §3.5, §3.6):
// - run() raised or returned something unusable: the worker reported it and
//   stays. After more than kFailedInARowToReplace such failures in a row it
//   is retired (shutdown(), exit) and a fresh process replaces it, as the
//   original's FAILED_TASK_COUNT_TO_STOP does.
// - run() exceeded run_timeout, init() exceeded init_timeout, or shutdown()
//   exceeded shutdown_timeout: the worker's process group gets SIGTERM, then
//   SIGKILL after kill_grace; a replacement starts (not while draining).
// - The worker died: its running mini-batch fails naming the exit code or
//   signal, with the end of its stderr log (a faulthandler stack for crashes
//   and timeouts) as the traceback; the mini-batches queued behind it were
//   never started and are given back untried.
// - init() failed, timed out or the worker died before init() answered:
//   replacements are started until init() has failed max_init_failures
//   times in a row on the node; then, once no worker is left, Events::failed.
// A worker is finished only when it was reaped and its stdout pipe reached
// EOF (or kEofWait passed: a process that left the group can hold the pipe);
// whatever is left in its process group then is killed, so nothing a worker
// started outlives it.
//
// Ownership: the Agent owns the pool and receives its events through Events.
// Every method and callback runs on the loop thread.
#ifndef PARALLELRUN_NODE_WORKER_POOL_H_
#define PARALLELRUN_NODE_WORKER_POOL_H_

#include <sys/types.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "base/clock.h"
#include "base/mini_batch.h"
#include "base/wire.h"
#include "link/link.h"
#include "node/cgroups.h"
#include "node/gpu_slots.h"
#include "node/worker_process.h"
#include "node/worker_protocol.h"
#include "report/progress.h"
#include "node/zygote.h"

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
    std::string job_dir;                // its logs: base/job_dir.h
    // START configuration shared by every worker (entry_script, argv, …);
    // the pool fills the per-process fields (process_name, log paths).
    WorkerStart start;
    std::chrono::milliseconds run_timeout{60000};
    // init() (importing the entry script included) must answer within this;
    // job.cc sets 3 × run_invocation_timeout + task_overhead_timeout.
    std::chrono::milliseconds init_timeout{210000};
    std::string init_timeout_rule;      // how init_timeout was set, for messages
    // shutdown() must answer within this after the last mini-batch.
    std::chrono::milliseconds shutdown_timeout{60000};
    // Between SIGTERM and SIGKILL of a worker's process group.
    std::chrono::milliseconds kill_grace{2000};
    // Replacement workers are started until init() has failed this many
    // times in a row on the node (the original: 3 × process_count_per_node).
    int max_init_failures = 3;
    // Deadlines and elapsed times read this (not owned); tests pass a
    // ManualClock.
    const Clock* clock = &SystemClock();
    // The workers' cgroups, when the caller made them already (with the
    // start method fork, before the zygote: Zygote::PlaceIn); null: the
    // pool makes its own at Start, or says why there are none.
    std::shared_ptr<WorkerCgroups> cgroups;
    // (Declared before the zygote, which may be in one: it ends first.)
    // The start method fork: workers are forked by this zygote (node/zygote.h),
    // which has sent its check; null = spawn (`python` and `python_args`
    // start each worker). When it cannot fork, workers are spawned.
    std::shared_ptr<Zygote> zygote;
    // A line for the person running the job (the progress output), for what
    // changes how the job runs; null = the node log only.
    std::function<void(const std::string&)> say;
    // The node's GPUs (node/gpu_slots.h FindGpus): one to each worker while
    // they last, as its START's cuda_visible_devices.
    std::vector<std::string> gpus;
    std::string gpu_source;  // where they were found, for the log
    // Seconds between the node's resource samples (node/resource_monitor.h);
    // 0: none. The Agent runs the monitor; the pool names its workers to it.
    double resource_monitor_interval = 0;
  };

  struct Events {
    std::function<void(AttemptResult&&)> result;            // an attempt ended
    std::function<void(MiniBatchId, uint32_t)> give_back;   // a lease never tried
    std::function<void()> capacity;                         // Capacity() grew
    // No worker can run here (init() keeps failing): the first line says
    // so with the numbers, further lines give the last failure's details.
    std::function<void(const std::string&)> failed;
    std::function<void()> stopped;                          // every worker has exited
    std::function<void(const std::string&)> log;            // a line for the node log
    std::function<void(pid_t, const std::string&)> started;  // worker `name` has pid
    // One worker's init() failed (raised, timed out, or the worker died or
    // could not start before init() answered): its name and one line why.
    std::function<void(const std::string&, const std::string&)> init_failed;
  };

  WorkerPool(boost::asio::io_context& io, Config config, Events events);
  ~WorkerPool();

  void Start();
  // How many more mini-batches the pool takes now.
  size_t Capacity() const;
  // Queues a mini-batch on the ready worker with the shortest queue. Another
  // attempt of a mini-batch this pool already holds (a straggler's second)
  // goes only to an idle worker; without one it is given back.
  // REQUIRES: Capacity() > 0.
  void Submit(std::shared_ptr<const MiniBatch> batch, uint32_t attempt);
  // After their queued mini-batches, workers run shutdown() and exit; then
  // Events::stopped.
  void Drain();
  // Stops every worker now: queued mini-batches are given back, the running
  // ones end as INTERRUPTED with `reason` as their message, process groups
  // get SIGTERM and, after the grace period (none if `immediate`), SIGKILL.
  // Then Events::stopped. A second call with `immediate` kills at once.
  void Stop(bool immediate, const std::string& reason = "the job was stopped");
  // The master no longer needs attempt `attempt` of mini-batch `id` (another
  // attempt of it succeeded first). Not started yet: given back. Running: its
  // worker's group is stopped as by Stop (SIGTERM, SIGKILL after the grace),
  // the attempt ends as INTERRUPTED with `reason`, and the worker is replaced
  // like any that exited — not an init failure, not a failure of the node.
  // Unknown attempts are ignored (it may just have ended).
  void Cancel(MiniBatchId id, uint32_t attempt, const std::string& reason);

  // More than this many failed mini-batches in a row retire a worker.
  static constexpr int kFailedInARowToReplace = 10;

  std::vector<ProcessReport> Reports() const;
  // One line per worker saying what it is doing, for "no progress" messages.
  std::vector<std::string> Describe() const;
  // How many workers are starting, in init(), busy, idle or stopping, for
  // the progress line.
  Progress::Workers Count() const;

 private:
  struct Worker;
  struct InFlight {
    std::shared_ptr<const MiniBatch> batch;  // never null; shared with the lease
    uint32_t attempt = 0;
    std::chrono::steady_clock::time_point sent;
    // Rows of a table mini-batch, once the worker has read them (LOADED).
    std::optional<uint64_t> loaded_rows;
  };

  enum class Ending;

  void StartWorker();
  // Starts the workers once the zygote is READY, or at once without one.
  void StartSlots();
  // The zygote cannot be used (any more): says why, once; spawn from now on.
  void DropZygote(const std::string& why);
  // Asks the zygote for the next queued worker's process, unless a fork is
  // under way; OnForked follows on the loop.
  void ForkNext();
  // Forgets the workers that wait in fork_queue_ (Drain, Stop), saying why.
  void DiscardQueuedForks(const std::string& why);
  Status ForkWorker(Worker* w);
  void OnForked(Worker* w, Result<pid_t> pid);
  // Starts w's process with `python python_args…`.
  void SpawnWorker(Worker* w);
  // w has its process (or could not have one): START, or why it did not start.
  void Launched(Worker* w, Result<std::unique_ptr<WorkerProcess>> proc);
  // Moves the zygote into the cgroup of the next worker it forks, on a
  // thread; false when there is nothing to move. ZygotePlaced (on the loop)
  // takes the result.
  bool PlaceZygote();
  void ZygotePlaced();
  // At READY: moves what the zygote started while importing out of the
  // cgroup it was placed in, into one of its own.
  void SetAsideZygoteChildren();
  // Moves w's process into its cgroup on a thread of its own, then (on the
  // loop) sends it `start_frame`, unless it was stopped meanwhile.
  void MoveToCgroup(Worker* w, std::string start_frame);
  // WorkerCgroups::Warm on a thread of its own, before workers are moved.
  void WarmCgroupMoves();
  void StartFailed();
  void OnData(Worker* w, const char* data, size_t n);
  void OnFrame(Worker* w, Frame&& frame);
  void OnInitDone(Worker* w, const std::string& payload);
  void OnExit(Worker* w, WorkerProcess::Exit exit);
  void OnEof(Worker* w);
  void Reap(Worker* w);
  void ProtocolFailure(Worker* w, const std::string& why);
  void ArmTimeout(Worker* w);
  void OnTimeout(Worker* w);
  void Terminate(Worker* w, Ending why, bool immediate);
  void Retire(Worker* w);
  void Finish(Worker* w, InFlight&& f, AttemptResult&& r);
  void FailHead(Worker* w, AttemptStatus status, const std::string& category,
                const std::string& message, const std::string& traceback);
  void GiveBackQueued(Worker* w, size_t keep);
  // Counts w's init() failure (w->init_error says why) and reports it.
  void CountInitFailure(Worker* w);
  void TopUp(const std::string& after);
  void MaybeStopped();
  size_t Depth() const;
  bool Accepts(const Worker& w) const;
  std::string Relative(const std::string& path) const;
  std::string StderrTail(Worker* w) const;
  void Log(const std::string& line);

  boost::asio::io_context& io_;
  Config config_;
  Events events_;
  std::vector<std::unique_ptr<Worker>> workers_;  // all ever started, by number
  int next_number_ = 0;
  int init_failures_ = 0;
  int init_failures_in_a_row_ = 0;
  std::string stop_reason_;
  bool warned_capped_ = false;
  bool draining_ = false;
  bool stopping_ = false;
  bool stopped_reported_ = false;
  std::shared_ptr<WorkerCgroups> cgroups_;  // null: no writable cgroup2 here
  // False once the pool is destroyed: for what a cgroup move posted.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  // Workers waiting for the zygote (oldest first), and whether it is forking
  // one now: one fork at a time (ForkNext says why).
  std::deque<Worker*> fork_queue_;
  bool fork_in_flight_ = false;
  // PlaceZygote: the cgroup the zygote is in ("": the agent's), the move
  // under way (to zygote_target_; zygote_move_ok_ its result, set by the
  // thread before it posts), and whether a move failed (no more tries).
  std::string zygote_cgroup_;
  std::string zygote_target_;
  std::thread zygote_move_;
  bool zygote_moving_ = false;
  bool zygote_move_ok_ = false;
  bool zygote_unplaced_ = false;
  GpuSlots gpus_;
  bool failed_reported_ = false;
  double avg_batch_seconds_ = 0.01;  // moving average of elapsed per mini-batch
};

}  // namespace parallelrun

#endif  // PARALLELRUN_NODE_WORKER_POOL_H_
