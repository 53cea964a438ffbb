// ShuffleProcesses: the job's ShuffleRunner (data/shuffle_runner.h). Each
// shuffle process is the workers' Python running the driver's `shuffle`
// command (data/shuffle_format.h) with the workers' environment, as a
// SupervisedProcess: its own process group, killed on Stop() (Ctrl-C) and at
// the deadline, stdout lines bounded and parsed as they come.
#ifndef PARALLELRUN_JOB_SHUFFLE_PROCESSES_H_
#define PARALLELRUN_JOB_SHUFFLE_PROCESSES_H_

#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "data/shuffle_runner.h"

namespace parallelrun {

class SupervisedProcess;

class ShuffleProcesses : public ShuffleRunner {
 public:
  // Each process reads its share of a table (64 MiB ranges, every P-th one):
  // hours would mean it hangs. A deadline is no setting of the original's,
  // so it is not one here either; the constructor takes another for tests.
  static constexpr std::chrono::hours kDefaultDeadline{6};

  // `work_dir` holds the tabular helper the processes import; they run at
  // niceness `nice` (the job's nice setting), as the workers do.
  ShuffleProcesses(std::string python, std::vector<std::string> env, std::string work_dir,
                   int nice, std::chrono::milliseconds deadline = kDefaultDeadline)
      : python_(std::move(python)),
        env_(std::move(env)),
        work_dir_(std::move(work_dir)),
        nice_(nice),
        deadline_(deadline) {}

  Result<std::vector<ShuffleReport>> Run(const Task& task) override;
  void Stop() override;

 private:
  // Writes the tabular helper into work_dir_ once; its path.
  Result<std::string> TabularModule();

  const std::string python_;
  const std::vector<std::string> env_;
  const std::string work_dir_;
  const int nice_;
  const std::chrono::milliseconds deadline_;
  std::mutex mutex_;
  std::string tabular_;                   // guarded by mutex_
  bool stopped_ = false;                  // guarded by mutex_
  std::set<SupervisedProcess*> running_;  // guarded by mutex_
};

}  // namespace parallelrun

#endif  // PARALLELRUN_JOB_SHUFFLE_PROCESSES_H_
