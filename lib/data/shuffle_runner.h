// ShuffleRunner: how the shuffle of a table by partition_keys columns runs its
// processes. The data stage decides what to shuffle and reads the result; the
// job stage, which knows the workers' interpreter and how to supervise a
// process, implements this (job/shuffle_processes.h). The format of the
// process's input and output is written down in node/worker_driver.py's
// `shuffle` command (shuffle_main) and in data/input_source.cc.
#ifndef PARALLELRUN_DATA_SHUFFLE_RUNNER_H_
#define PARALLELRUN_DATA_SHUFFLE_RUNNER_H_

#include <string>
#include <vector>

#include "parallelrun/status.h"

namespace parallelrun {

class ShuffleRunner {
 public:
  struct Task {
    std::string ranges_file;  // the ranges this process reads (see input_source.cc)
    std::string rows_dir;     // where it writes each group's rows
    std::vector<std::string> partition_keys;
  };
  virtual ~ShuffleRunner() = default;
  // Runs one shuffle process to its end and returns what it printed on
  // stdout: one JSON line per range. Blocking: called on a helper thread,
  // several calls at once. Errors say what failed (exit status, the end of
  // its stderr, a deadline) or that the job was stopped.
  virtual Result<std::string> Run(const Task& task) = 0;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_DATA_SHUFFLE_RUNNER_H_
