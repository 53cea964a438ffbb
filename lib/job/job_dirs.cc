#include "job/job_dirs.h"

#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "parallelrun/jobs.h"

namespace parallelrun {

namespace fs = std::filesystem;

namespace {

double EpochSeconds(fs::file_time_type t) {
  // file_time_type's clock is not system_clock in C++17: go through now().
  auto since = t - fs::file_time_type::clock::now();
  return std::chrono::duration<double>(since).count() +
         std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double Now() {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6;
}

std::string FirstLine(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

// The master's pid: the third field of a line of the last master_role.<n>.txt
// ("2026-12-01 01:01:05,123|INFO|4242|role: …"): after a failover the job's
// master is the last round's (job/failover.h). 0 if there is none.
pid_t RecordedPid(const fs::path& logs) {
  int last = 0;
  std::error_code ec;
  while (fs::exists(logs / "sys" / ("master_role." + std::to_string(last + 1) + ".txt"), ec)) {
    last++;
  }
  std::string line = FirstLine(logs / "sys" / ("master_role." + std::to_string(last) + ".txt"));
  size_t a = line.find('|');
  size_t b = a == std::string::npos ? a : line.find('|', a + 1);
  size_t c = b == std::string::npos ? b : line.find('|', b + 1);
  if (c == std::string::npos) return 0;
  std::string field = line.substr(b + 1, c - b - 1);
  if (field.empty() || field.find_first_not_of("0123456789") != std::string::npos ||
      field.size() > 9) {
    return 0;
  }
  return static_cast<pid_t>(std::stol(field));
}

}  // namespace

const char* JobStateName(JobState s) {
  switch (s) {
    case JobState::kRunning: return "running";
    case JobState::kSucceeded: return "succeeded";
    case JobState::kFailed: return "failed";
    case JobState::kInterrupted: return "interrupted";
    case JobState::kUnfinished: return "unfinished";
  }
  return "unknown";
}

bool IsLiveParallelrun(pid_t pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno != EPERM) return false;
  std::string comm = FirstLine(fmt::format("/proc/{}/comm", pid));
  return comm.compare(0, 11, "parallelrun") == 0;
}

bool IsJobDir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && !fs::is_symlink(path, ec) &&
         fs::is_directory(fs::path(path) / "logs", ec);
}

JobDir ReadJobDir(const std::string& path, double now, const LivePid& live) {
  JobDir job;
  job.path = path;
  job.name = fs::path(path).filename().string();
  fs::path logs = fs::path(path) / "logs";
  std::error_code ec;
  auto dir_time = fs::last_write_time(path, ec);
  job.modified = ec ? 0 : EpochSeconds(dir_time);
  // readme.txt is written once, when the job's logs are made.
  auto made = fs::last_write_time(logs / "readme.txt", ec);
  job.started = ec ? job.modified : EpochSeconds(made);
  for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code e;
    if (it->is_symlink(e) || !it->is_regular_file(e)) continue;
    uint64_t size = it->file_size(e);
    if (!e) job.bytes += size;
    auto t = it->last_write_time(e);
    if (!e) job.modified = std::max(job.modified, EpochSeconds(t));
  }
  job.pid = RecordedPid(logs);
  std::string result = FirstLine(logs / "job_result.txt");
  if (result.rfind("Job succeeded", 0) == 0) {
    job.state = JobState::kSucceeded;
  } else if (result.rfind("Job failed", 0) == 0) {
    job.reason = result.size() > 12 ? result.substr(12) : "";
    job.state = job.reason.rfind("interrupted", 0) == 0 ? JobState::kInterrupted : JobState::kFailed;
  } else if (job.pid != 0) {
    job.state = live(job.pid) ? JobState::kRunning : JobState::kUnfinished;
  } else {
    job.state = now - job.modified < kRecentSeconds ? JobState::kRunning : JobState::kUnfinished;
  }
  return job;
}

std::vector<JobDir> ListJobDirs(const std::string& root, double now, const LivePid& live) {
  std::vector<JobDir> jobs;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (IsJobDir(it->path().string())) jobs.push_back(ReadJobDir(it->path().string(), now, live));
  }
  std::sort(jobs.begin(), jobs.end(), [](const JobDir& a, const JobDir& b) {
    return a.started != b.started ? a.started < b.started : a.name < b.name;
  });
  return jobs;
}

std::vector<const JobDir*> JobDirsToRemove(const std::vector<JobDir>& jobs, size_t keep) {
  std::vector<const JobDir*> out;
  size_t old = jobs.size() > keep ? jobs.size() - keep : 0;
  for (size_t i = 0; i < old; i++) {
    if (jobs[i].state != JobState::kRunning) out.push_back(&jobs[i]);
  }
  return out;
}

std::string HumanBytes(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  const char* units[] = {"KB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = -1;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    u++;
  }
  return fmt::format("{:.1f} {}", v, units[u]);
}

std::string HumanAge(double seconds) {
  long s = static_cast<long>(std::max(0.0, seconds));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m", s / 60);
  if (s < 86400) return fmt::format("{}h", s / 3600);
  return fmt::format("{}d", s / 86400);
}

Status ListJobs(const JobsRequest& request, FILE* out) {
  if (request.keep < 0) {
    return Status::Usage(fmt::format("--keep {}: give the number of newest job dirs to keep (0 or "
                                     "more)", request.keep));
  }
  fs::path root = request.root;
  if (root.is_relative() && !request.cwd.empty()) root = fs::path(request.cwd) / root;
  std::error_code ec;
  if (!fs::exists(root, ec)) {
    fmt::print(out, "no job dirs: {} does not exist\n", request.root);
    return Status::Ok();
  }
  if (!fs::is_directory(root, ec)) {
    return Status::Usage(fmt::format("--root {}: not a folder", request.root));
  }
  std::vector<JobDir> jobs = ListJobDirs(root.string(), Now(), IsLiveParallelrun);
  if (jobs.empty()) {
    fmt::print(out, "no job dirs in {}\n", request.root);
    return Status::Ok();
  }
  auto outcome = [](const JobDir& j) {
    return j.state == JobState::kRunning && j.pid ? fmt::format("running (pid {})", j.pid)
                                                  : std::string(JobStateName(j.state));
  };
  if (request.clean) {
    uint64_t freed = 0;
    size_t removed = 0;
    for (const JobDir* j : JobDirsToRemove(jobs, static_cast<size_t>(request.keep))) {
      fs::remove_all(j->path, ec);
      if (ec) {
        return Status::Infrastructure(
            fmt::format("cannot remove job dir {}: {}", j->path, ec.message()));
      }
      fmt::print(out, "removed {} ({}, {}, {} old)\n", j->name, JobStateName(j->state),
                 HumanBytes(j->bytes), HumanAge(Now() - j->started));
      freed += j->bytes;
      removed++;
    }
    for (const JobDir& j : jobs) {
      if (j.state == JobState::kRunning) fmt::print(out, "kept {}: {}\n", j.name, outcome(j));
    }
    fmt::print(out, "removed {} job dir{} ({}) from {}; {} left\n", removed,
               removed == 1 ? "" : "s", HumanBytes(freed), request.root, jobs.size() - removed);
    return Status::Ok();
  }
  size_t name_width = 3, outcome_width = 7;
  for (const JobDir& j : jobs) {
    name_width = std::max(name_width, j.name.size());
    outcome_width = std::max(outcome_width, outcome(j).size());
  }
  fmt::print(out, "{:<{}}  {:<{}}  {:>9}  {:>4}\n", "JOB", name_width, "OUTCOME", outcome_width,
             "SIZE", "AGE");
  uint64_t total = 0;
  double now = Now();
  for (const JobDir& j : jobs) {
    std::string line = fmt::format("{:<{}}  {:<{}}  {:>9}  {:>4}", j.name, name_width, outcome(j),
                                   outcome_width, HumanBytes(j.bytes), HumanAge(now - j.started));
    if (!j.reason.empty() && j.state == JobState::kFailed) line += "  " + j.reason;
    fmt::print(out, "{}\n", line);
    total += j.bytes;
  }
  fmt::print(out, "{} job dir{}, {} in {}\n", jobs.size(), jobs.size() == 1 ? "" : "s",
             HumanBytes(total), request.root);
  return Status::Ok();
}

}  // namespace parallelrun
