// ShuffleRunner: how the shuffle of a table by partition_keys columns runs its
// processes. The data stage decides what to shuffle and reads the result; the
// job stage, which knows the workers' interpreter and how to supervise a
// process, implements this (job/shuffle_processes.h). The processes' command
// line, input and output are written down in data/shuffle_format.h.
#ifndef PARALLELRUN_DATA_SHUFFLE_RUNNER_H_
#define PARALLELRUN_DATA_SHUFFLE_RUNNER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "data/shuffle_format.h"
#include "parallelrun/status.h"

namespace parallelrun {

class ShuffleRunner {
 public:
  struct Task {
    size_t process = 0;       // 0-based, of `processes`, for messages
    size_t processes = 1;
    std::string ranges_file;  // the ranges this process reads (shuffle_format.h)
    std::string rows_dir;     // where it writes each group's rows
    std::vector<std::string> partition_keys;
  };
  virtual ~ShuffleRunner() = default;

  // Runs one shuffle process to its end and returns its stdout, parsed: one
  // report per range. Blocking: called on a helper thread, several calls at
  // once. Errors say which process failed and how: its exit status and the
  // end of its stderr, a deadline, a malformed stdout line (its number and
  // what is wrong), or Status::Interrupted after Stop().
  virtual Result<std::vector<ShuffleReport>> Run(const Task& task) = 0;

  // Any thread, never blocks: kills the running processes (their whole
  // process groups) so that their Run calls return Interrupted promptly;
  // later Run calls return Interrupted at once. For the end of a job (an
  // interrupt, or a source destroyed mid-shuffle): there is no restart.
  virtual void Stop() = 0;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_DATA_SHUFFLE_RUNNER_H_
