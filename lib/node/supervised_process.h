// SupervisedProcess: one child run to its end from a blocking thread (not the
// event loop's), under supervision: it leads its own process group, which is
// killed as a whole when it is stopped, when it runs past its deadline, when
// its output is out of bounds, and when the child exits (so that nothing it
// started lives on); its stdout is read line by line, each line at most
// Options::max_line bytes; only the last Options::stderr_tail bytes of its
// stderr are kept. For helper processes whose output the program reads (the
// shuffle of partitions by columns, pre-flight checks); workers are
// WorkerProcess's. Only node/*.cc include Boost.Process.
#ifndef PARALLELRUN_NODE_SUPERVISED_PROCESS_H_
#define PARALLELRUN_NODE_SUPERVISED_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "node/worker_process.h"
#include "parallelrun/status.h"

namespace parallelrun {

class SupervisedProcess {
 public:
  // Receives stdout line `number` (1-based), without its "\n" (a last line
  // without one is delivered too). An error stops the child; Run then
  // returns it as "stdout line <number>: <message>".
  using LineHandler = std::function<Status(std::string_view line, uint64_t number)>;

  struct Options {
    std::string executable;         // absolute path
    std::vector<std::string> args;  // argv[1..]
    std::vector<std::string> env;   // "KEY=value", the whole environment
    // How long the child may run; 0 = no deadline. `deadline_name` says in
    // the error which limit this is ("the shuffle deadline").
    std::chrono::milliseconds deadline{0};
    std::string deadline_name = "its deadline";
    size_t max_line = 16u << 20;   // a longer stdout line is an error
    size_t stderr_tail = 8u << 10; // bytes of stderr kept, the last ones
    int nice = 0;                  // the child's niceness is raised to this (never lowered)
  };

  struct Outcome {
    WorkerProcess::Exit exit;  // how the child ended
    std::string stderr_tail;   // the end of its stderr (the last Options::stderr_tail bytes)
    bool stderr_cut = false;   // earlier stderr bytes were dropped
  };

  explicit SupervisedProcess(Options options);
  SupervisedProcess(const SupervisedProcess&) = delete;
  SupervisedProcess& operator=(const SupervisedProcess&) = delete;

  // Starts the child (stdin /dev/null) and returns once it was reaped and
  // its pipes closed, with how it ended, whatever its exit code. Errors:
  // the child could not be started; Stop() was called (Interrupted,
  // "stopped"); it ran past the deadline, or a stdout line was too long or
  // rejected by `on_line` (JobFailed, the group was killed). Blocks; call
  // once, on a thread that lives until it returns.
  Result<Outcome> Run(const LineHandler& on_line);

  // Any thread, any time, never blocks: kills the child's group if it runs,
  // and makes Run return Interrupted promptly (at once if not yet started).
  void Stop();

 private:
  struct Loop;

  const Options options_;
  std::mutex mutex_;
  bool stopped_ = false;  // guarded by mutex_
  Loop* loop_ = nullptr;  // guarded by mutex_: set while Run supervises a child
};

// Runs `executable args…` to completion with `env`, stdin from /dev/null, as a
// SupervisedProcess with `deadline`, and returns what it wrote to stdout
// (bounded by Options::max_line per line). The end of its stderr is stored in
// *err_out if given, its exit code in *exit_code (128 + the signal if killed).
// For short pre-flight checks before the event loop starts; blocks.
Result<std::string> RunToCompletion(const std::string& executable,
                                    const std::vector<std::string>& args,
                                    const std::vector<std::string>& env, int* exit_code,
                                    std::string* err_out,
                                    std::chrono::milliseconds deadline = std::chrono::minutes(1),
                                    const std::string& deadline_name =
                                        "the deadline of a pre-flight check");

}  // namespace parallelrun

#endif  // PARALLELRUN_NODE_SUPERVISED_PROCESS_H_
