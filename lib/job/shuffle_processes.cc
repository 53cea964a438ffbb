#include "job/shuffle_processes.h"

#include <fmt/format.h>

#include "base/disk.h"
#include "node/python_locator.h"
#include "node/supervised_process.h"

namespace parallelrun {

Result<std::string> ShuffleProcesses::TabularModule() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!tabular_.empty()) return tabular_;
  Status made = CreateFolders(work_dir_, "partitions folder");
  if (!made.ok()) return made;
  std::string path = work_dir_ + "/worker_tabular.py";
  Status s = WriteFileAtomically(path, WorkerTabularSource(), Durability::kProcessCrash);
  if (!s.ok()) return s;
  tabular_ = path;
  return tabular_;
}

void ShuffleProcesses::Stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopped_ = true;
  for (SupervisedProcess* p : running_) p->Stop();
}

Result<std::vector<ShuffleReport>> ShuffleProcesses::Run(const Task& task) {
  auto tabular = TabularModule();
  if (!tabular.ok()) return tabular.status();
  SupervisedProcess::Options options;
  options.executable = python_;
  options.args = DriverArgs(
      ShuffleCommandArgs(task.ranges_file, task.rows_dir, task.partition_keys, *tabular));
  options.env = env_;
  options.deadline = deadline_;
  options.nice = nice_;
  options.deadline_name = "the shuffle deadline";
  SupervisedProcess process(std::move(options));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return Status::Interrupted("stopped");
    running_.insert(&process);
  }
  std::vector<ShuffleReport> reports;
  auto outcome = process.Run([&](std::string_view line, uint64_t) -> Status {
    auto report = ParseShuffleLine(line);
    if (!report.ok()) return report.status();
    reports.push_back(std::move(*report));
    return Status::Ok();
  });
  {
    std::lock_guard<std::mutex> lock(mutex_);
    running_.erase(&process);
  }
  // "shuffle process 2 of 4: stdout line 3: groups[0].rows is missing …"
  std::string name = fmt::format("shuffle process {} of {}", task.process + 1, task.processes);
  if (!outcome.ok()) {
    if (outcome.status().code() == Status::Code::kInterrupted) return outcome.status();
    return Status::JobFailed(fmt::format("failed: {}: {}", name, outcome.status().message()));
  }
  if (outcome->exit.signaled || outcome->exit.code != 0) {
    std::string tail = outcome->stderr_tail.size() > 2000
                           ? outcome->stderr_tail.substr(outcome->stderr_tail.size() - 2000)
                           : outcome->stderr_tail;
    while (!tail.empty() && tail.back() == '\n') tail.pop_back();
    return Status::JobFailed(fmt::format("failed ({}): {}", outcome->exit.Describe(), tail));
  }
  return reports;
}

}  // namespace parallelrun
