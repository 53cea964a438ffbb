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
// The zygote exits when the agent closes its end. The agent reads FORKED on
// its loop (ForkAsync) and asks for one fork at a time, each once the zygote
// is in the cgroup of the worker to fork (WorkerPool::ForkNext, PlaceZygote).
#ifndef PARALLELRUN_NODE_ZYGOTE_H_
#define PARALLELRUN_NODE_ZYGOTE_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
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
  // With `birthplace` (a cgroup's directory, WorkerCgroups::OpenForBirth;
  // not taken) it is born in that cgroup, named `birthplace_name`, where
  // the kernel can (clone3, Linux 5.7): placement() names it and no move
  // is needed (PlaceIn). A move would wait for an RCU grace period, and it
  // slowed Python's start by ~2 ms when made during it.
  static Result<std::unique_ptr<Zygote>> Start(const std::string& python,
                                               const std::vector<std::string>& args,
                                               const std::vector<std::string>& env,
                                               const std::string& cwd, int birthplace = -1,
                                               const std::string& birthplace_name = "");
  // Kills the zygote's group and reaps it. Workers it forked are the
  // agent's children and live on.
  ~Zygote();

  struct Check {
    std::string json;          // the check's JSON; "" when the zygote ended first
    int exit_code = 0;         // then: how it ended (128 + signal if killed)
    std::string stderr_tail;   // and the end of what it wrote to stderr
  };
  // Blocks until the check arrives or `deadline` passes (an error naming
  // `deadline_name`), or `stop_fd` (when not -1) becomes readable: then an
  // Interrupted error (StartupSignals). Call once, before anything else.
  Result<Check> ReadCheck(std::chrono::milliseconds deadline, const std::string& deadline_name,
                          int stop_fd = -1);

  // Sends PREPARE with `start` and the zygote's log descriptors (not taken).
  Status Prepare(const WorkerStart& start, int stdout_fd, int stderr_fd);
  // Calls `done` on `io`'s thread once the zygote answered PREPARE: "" when
  // it is READY, else why workers are not forked (FALLBACK, or it died).
  void AwaitReady(boost::asio::io_context& io, std::function<void(const std::string& why)> done);

  // Asks for a worker with these descriptors (not taken: the caller closes
  // them once this returns) on its fds 0–2, and returns at once; `done` is
  // called later on the loop given to AwaitReady with its pid, now the
  // caller's child, or why there is none. Answers come in the order asked,
  // so several forks are under way together: the loop goes on (a worker
  // forked first gets START and runs init() while the next is forked). A
  // zygote that answers none within kForkWait counts as broken: every fork
  // still waiting gets that error. `done` may destroy this Zygote; after
  // that no other callback is called.
  // REQUIRES: AwaitReady reported READY.
  void ForkAsync(int stdin_fd, int stdout_fd, int stderr_fd,
                 std::function<void(Result<pid_t>)> done);
  static constexpr auto kForkWait = std::chrono::seconds(2);

  // Runs `move` on a thread of its own now: it moves the zygote into the
  // cgroup named `cgroup` (WorkerCgroups::Add), where the first worker it
  // forks is then born (WorkerPool::PlaceZygote says why). A move waits for
  // an RCU grace period; started at once, it ends while Python starts.
  void PlaceIn(std::string cgroup, std::function<bool()> move);
  // The cgroup PlaceIn named, or the one it was born in ("" for none).
  const std::string& placement() const { return placement_; }
  // Waits for PlaceIn's move to end: whether the zygote is in that cgroup.
  // Any thread; once.
  bool AwaitPlacement();

  // SIGKILLs the zygote's group and returns at once (the destructor reaps
  // it): for when no more workers will be forked.
  void Kill();

  pid_t pid() const { return pid_; }
  // "exit code 3", "killed by SIGKILL" once it ended, else "running".
  std::string Describe();

 private:
  Zygote() = default;
  Status SendMessage(uint8_t type, const std::string& payload, const std::vector<int>& fds);
  bool Reaped(int* status);
  // "the zygote (pid N) is gone (how it ended)", once it closed its end.
  Status Gone();
  // Waits (on the loop) for the answer to the oldest fork asked.
  void AwaitForked();
  // Calls every waiting fork's `done` with `why`, oldest first.
  void FailForks(const Status& why);

  pid_t pid_ = -1;
  int socket_ = -1;
  std::string placement_;
  std::thread placing_;
  bool placed_ = false;  // set by placing_ before it ends
  int scratch_ = -1;  // its stderr until PREPARE: an unnamed file
  bool reaped_ = false;
  int status_ = 0;
  struct Waiter;
  std::shared_ptr<Waiter> waiter_;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_NODE_ZYGOTE_H_
