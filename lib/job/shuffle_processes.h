// ShuffleProcesses: the job's ShuffleRunner (data/shuffle_runner.h). Each
// shuffle process is the workers' Python running the driver's `shuffle`
// command with the workers' environment.
#ifndef PARALLELRUN_JOB_SHUFFLE_PROCESSES_H_
#define PARALLELRUN_JOB_SHUFFLE_PROCESSES_H_

#include <mutex>
#include <string>
#include <vector>

#include "data/shuffle_runner.h"

namespace parallelrun {

class ShuffleProcesses : public ShuffleRunner {
 public:
  // `work_dir` holds the tabular helper the processes import.
  ShuffleProcesses(std::string python, std::vector<std::string> env, std::string work_dir)
      : python_(std::move(python)), env_(std::move(env)), work_dir_(std::move(work_dir)) {}

  Result<std::string> Run(const Task& task) override;

 private:
  // Writes the tabular helper into work_dir_ once; its path.
  Result<std::string> TabularModule();

  const std::string python_;
  const std::vector<std::string> env_;
  const std::string work_dir_;
  std::mutex mutex_;
  std::string tabular_;  // guarded by mutex_
};

}  // namespace parallelrun

#endif  // PARALLELRUN_JOB_SHUFFLE_PROCESSES_H_
