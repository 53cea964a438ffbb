#include "job/shuffle_processes.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/disk.h"
#include "node/python_locator.h"
#include "node/worker_process.h"

namespace parallelrun {

Result<std::string> ShuffleProcesses::TabularModule() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!tabular_.empty()) return tabular_;
  Status made = CreateFolders(work_dir_, "partitions folder");
  if (!made.ok()) return made;
  std::string path = work_dir_ + "/worker_tabular.py";
  Status s = WriteFileAtomically(path, WorkerTabularSource());
  if (!s.ok()) return s;
  tabular_ = path;
  return tabular_;
}

Result<std::string> ShuffleProcesses::Run(const Task& task) {
  auto tabular = TabularModule();
  if (!tabular.ok()) return tabular.status();
  std::string keys = nlohmann::json(task.partition_keys).dump();
  int code = 0;
  std::string err;
  auto out = RunToCompletion(
      python_, DriverArgs({"shuffle", task.ranges_file, task.rows_dir, keys, *tabular}), env_,
      &code, &err);
  if (!out.ok()) return out.status();
  if (code != 0) {
    std::string tail = err.size() > 2000 ? err.substr(err.size() - 2000) : err;
    while (!tail.empty() && tail.back() == '\n') tail.pop_back();
    return Status::JobFailed(fmt::format("failed (exit code {}): {}", code, tail));
  }
  return out;
}

}  // namespace parallelrun
