// WorkerProcess: one child process with a pipe to its stdin, a pipe from its
// stdout and its stderr in a file. It is passive (ninja's Subprocess): it
// starts the child, moves bytes, reports what it read and how the child
// ended; WorkerPool decides what any of it means. Only worker_process.cc
// includes Boost.Process.
//
// Every child leads its own process group, so that a timeout or an interrupt
// can stop what the user's code started too (KillGroup), never just the pid.
#ifndef PARALLELRUN_NODE_WORKER_PROCESS_H_
#define PARALLELRUN_NODE_WORKER_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "parallelrun/status.h"

namespace boost::asio {
class io_context;
}

namespace parallelrun {

class WorkerProcess {
 public:
  struct Options {
    std::string executable;          // absolute path
    std::vector<std::string> args;   // argv[1..]
    std::vector<std::string> env;    // "KEY=value", the whole environment
    std::string stderr_path;         // the child's fd 2 (appended)
    std::string cwd;                 // "" = inherit
  };

  // How the child ended.
  struct Exit {
    bool signaled = false;
    int code = 0;  // exit status, or the signal number when signaled
    std::string Describe() const;  // "exit code 3", "killed by SIGKILL"
  };

  using DataHandler = std::function<void(const char* data, size_t n)>;
  using EndHandler = std::function<void()>;
  using ExitHandler = std::function<void(Exit)>;

  // Starts the child on `io`'s thread. `on_data` receives its stdout as it
  // arrives, `on_eof` once the stdout pipe is closed, `on_exit` once the child
  // has been reaped. Handlers run on the loop thread and may destroy this
  // object only via a posted task (they run inside its callbacks).
  static Result<std::unique_ptr<WorkerProcess>> Start(boost::asio::io_context& io,
                                                      const Options& options, DataHandler on_data,
                                                      EndHandler on_eof, ExitHandler on_exit);
  // Takes over `pid`, a child of this process already running (a worker
  // forked by the zygote, node/zygote.h, and re-parented to us), with
  // `stdin_fd` and `stdout_fd` our ends of its pipes (taken). Then as Start.
  static Result<std::unique_ptr<WorkerProcess>> Adopt(boost::asio::io_context& io, pid_t pid,
                                                      int stdin_fd, int stdout_fd,
                                                      DataHandler on_data, EndHandler on_eof,
                                                      ExitHandler on_exit);
  ~WorkerProcess();

  pid_t pid() const;
  // Queues bytes for the child's stdin; writes happen in order, asynchronously,
  // once the loop's ready handlers have run: what they queue goes in the same
  // writev.
  void Write(std::string bytes);
  // Bytes queued but not yet written.
  size_t pending_write() const;
  // Closes our end of the child's stdin and stops reading its stdout (a
  // grandchild that inherited the pipe cannot keep us waiting).
  void CloseStreams();
  // Sends `sig` to the child's whole process group, and to its descendants
  // that left the group (setsid) while the child lives.
  void KillGroup(int sig);
  bool exited() const;

 private:
  struct Impl;
  explicit WorkerProcess(std::unique_ptr<Impl> impl);
  // Waits for the child's exit and reads its stdout (Start, Adopt).
  static Result<std::unique_ptr<WorkerProcess>> Watch(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_NODE_WORKER_PROCESS_H_
