// Zygote: the start method fork (`--start-method fork`). One Python process
// runs the pre-flight check of the entry script, imports the driver and the
// entry script's module once, and forks the workers from there, as
// multiprocessing's forkserver does; init() still runs in each worker.
//
// Which process is whose: the zygote is the agent's child (its own process
// group, PR_SET_PDEATHSIG, descriptors swept as for every child). It forks
// each worker twice — the middle process exits at once — so that the worker
// is re-parented to the agent, a child subreaper (process_tree.h): the agent
// waits for it, signals its group and puts it in its cgroup exactly as for a
// spawned worker (WorkerProcess::Adopt). The worker ties its death to the
// agent's (PR_SET_PDEATHSIG) when START arrives, which the agent sends only
// once it was told the pid, i.e. after the middle process was reaped.
//
// How descriptors reach a worker: the agent makes the worker's stdin and
// stdout pipes and opens its stderr log, and passes the three with FORK as
// SCM_RIGHTS; the zygote's child puts them on fds 0–2. Nothing else of the
// agent's reaches the zygote or its workers.
//
// The control socket (the zygote's fd 0, AF_UNIX SOCK_SEQPACKET: one message
// each, u8 type then the payload; lib/node/worker_driver.py zygote_main):
//   zygote → agent  CHECK 0x40    the pre-flight check's JSON (python_locator.h)
//   agent → zygote  PREPARE 0x41  START's payload (worker_protocol.h, version
//                                 first) with the job's fields; the zygote's
//                                 stdout and stderr logs as SCM_RIGHTS
//   zygote → agent  READY 0x42    workers may be forked now
//                   FALLBACK 0x43 text: why workers must not be forked (a
//                                 thread started at import, CUDA initialised,
//                                 the import failed); the zygote exits
//   agent → zygote  FORK 0x44     (empty) stdin, stdout, stderr as SCM_RIGHTS
//   zygote → agent  FORKED 0x45   u32 pid (LE) | FORK_FAILED 0x46 text
// The zygote exits when the agent closes its end.
#ifndef PARALLELRUN_NODE_ZYGOTE_H_
#define PARALLELRUN_NODE_ZYGOTE_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "node/worker_protocol.h"
#include "parallelrun/status.h"

namespace boost::asio {
class io_context;
}

namespace parallelrun {

class Zygote {
 public:
  // Starts `python args…` (DriverArgs({"zygote", entry_script})) with `env`
  // in `cwd` ("" = inherit). Returns at once; the check follows (ReadCheck).
  static Result<std::unique_ptr<Zygote>> Start(const std::string& python,
                                               const std::vector<std::string>& args,
                                               const std::vector<std::string>& env,
                                               const std::string& cwd);
  // Kills the zygote's group and reaps it. Workers it forked are the
  // agent's children and live on.
  ~Zygote();

  struct Check {
    std::string json;          // the check's JSON; "" when the zygote ended first
    int exit_code = 0;         // then: how it ended (128 + signal if killed)
    std::string stderr_tail;   // and the end of what it wrote to stderr
  };
  // Blocks until the check arrives or `deadline` passes (an error naming
  // `deadline_name`). Call once, before anything else.
  Result<Check> ReadCheck(std::chrono::milliseconds deadline, const std::string& deadline_name);

  // Sends PREPARE with `start` and the zygote's log descriptors (not taken).
  Status Prepare(const WorkerStart& start, int stdout_fd, int stderr_fd);
  // Calls `done` on `io`'s thread once the zygote answered PREPARE: "" when
  // it is READY, else why workers are not forked (FALLBACK, or it died).
  void AwaitReady(boost::asio::io_context& io, std::function<void(const std::string& why)> done);

  // Forks a worker with these descriptors (not taken) on its fds 0–2 and
  // returns its pid, now the caller's child. Blocks until the zygote
  // answers, bounded by kForkWait, after which the zygote counts as broken.
  // REQUIRES: AwaitReady reported READY.
  //
  // Why a handler may block here (STYLE.md: handlers never block), and
  // what it costs: the zygote does nothing but wait for FORK, and answers
  // after two fork()s and the reaping of the middle process, i.e. after
  // three of its processes got a core. At load average 30 on 2 cores that
  // took 180–380 ms per worker (8 workers after a pandas import, node log
  // timestamps; bench/RESULTS.md §7), during which other workers' frames
  // wait in their pipes and timers fire late. Workers are forked only at
  // the start and to replace one that ended. The bound keeps the worst
  // case — a stopped or wedged zygote — to one stall, after which workers
  // spawn. Making FORK asynchronous (a worker without a process yet, in
  // every state of WorkerPool) is the way to remove the stall.
  Result<pid_t> Fork(int stdin_fd, int stdout_fd, int stderr_fd);
  static constexpr auto kForkWait = std::chrono::seconds(2);

  pid_t pid() const { return pid_; }
  // "exit code 3", "killed by SIGKILL" once it ended, else "running".
  std::string Describe();

 private:
  Zygote() = default;
  Status SendMessage(uint8_t type, const std::string& payload, const std::vector<int>& fds);
  bool Reaped(int* status);
  // "the zygote (pid N) is gone (how it ended)", once it closed its end.
  Status Gone();

  pid_t pid_ = -1;
  int socket_ = -1;
  int scratch_ = -1;  // its stderr until PREPARE: an unnamed file
  bool reaped_ = false;
  int status_ = 0;
  struct Waiter;
  std::shared_ptr<Waiter> waiter_;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_NODE_ZYGOTE_H_
