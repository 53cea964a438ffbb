#include "job/job_dirs.h"

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "temp_dir.h"

namespace parallelrun {
namespace {

namespace fs = std::filesystem;

// A job dir as JobLog leaves it: logs/readme.txt, the master's log with its
// pid, and job_result.txt's first line when `result` is not empty.
std::string MakeJob(const std::string& root, const std::string& name, const std::string& result,
                    const std::string& pid = "4242") {
  fs::path dir = fs::path(root) / name;
  fs::create_directories(dir / "logs" / "sys");
  std::ofstream(dir / "logs" / "readme.txt") << "readme\n";
  if (!pid.empty()) {
    std::ofstream(dir / "logs" / "sys" / "master_role.0.txt")
        << "2026-12-01 01:01:05,123|INFO|" << pid << "|role: single node\n";
  }
  if (!result.empty()) std::ofstream(dir / "logs" / "job_result.txt") << result << "\nmore\n";
  return dir.string();
}

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const LivePid kNoneLive = [](pid_t) { return false; };

TEST_CASE("JobDirs: the outcome comes from job_result.txt", "[jobs]") {
  TempDir tmp("job_dirs_test");
  auto ok = ReadJobDir(MakeJob(tmp.path(), "a", "Job succeeded."), Now(), kNoneLive);
  CHECK(ok.state == JobState::kSucceeded);
  CHECK(ok.name == "a");
  CHECK(ok.pid == 4242);
  auto failed = ReadJobDir(MakeJob(tmp.path(), "b", "Job failed: 2 of 3 mini-batches failed"),
                           Now(), kNoneLive);
  CHECK(failed.state == JobState::kFailed);
  CHECK(failed.reason == "2 of 3 mini-batches failed");
  auto stopped = ReadJobDir(MakeJob(tmp.path(), "c", "Job failed: interrupted by SIGINT; 1 of 2"),
                            Now(), kNoneLive);
  CHECK(stopped.state == JobState::kInterrupted);
  // A result wins over a live pid: the process is only finishing.
  auto done = ReadJobDir(MakeJob(tmp.path(), "d", "Job succeeded."), Now(),
                         [](pid_t) { return true; });
  CHECK(done.state == JobState::kSucceeded);
  CHECK(ok.bytes == std::string("readme\n").size() +
                        std::string("2026-12-01 01:01:05,123|INFO|4242|role: single node\n").size() +
                        std::string("Job succeeded.\nmore\n").size());
}

TEST_CASE("JobDirs: without a result, the recorded pid says whether it runs", "[jobs]") {
  TempDir tmp("job_dirs_test");
  std::string dir = MakeJob(tmp.path(), "a", "", "777");
  pid_t asked = 0;
  auto running = ReadJobDir(dir, Now(), [&](pid_t pid) {
    asked = pid;
    return true;
  });
  CHECK(asked == 777);
  CHECK(running.state == JobState::kRunning);
  CHECK(running.pid == 777);
  // Its process is gone: killed before it could write a result.
  CHECK(ReadJobDir(dir, Now(), kNoneLive).state == JobState::kUnfinished);
}

TEST_CASE("JobDirs: after a failover the last round's master is the job's", "[jobs]") {
  TempDir tmp("job_dirs_test");
  std::string dir = MakeJob(tmp.path(), "j", "", "777");
  for (const char* round : {"1", "2"}) {
    std::ofstream(fs::path(dir) / "logs" / "sys" / (std::string("master_role.") + round + ".txt"))
        << "2026-12-01 01:01:05,123|INFO|80" << round << "|role: node 1 of 3 (master, round "
        << round << ") took the master role\n";
  }
  auto running = ReadJobDir(dir, Now() + 3600, [](pid_t pid) { return pid == 802; });
  CHECK(running.pid == 802);
  CHECK(running.state == JobState::kRunning);
}

TEST_CASE("JobDirs: without a result or a pid, a recent change says it runs", "[jobs]") {
  TempDir tmp("job_dirs_test");
  std::string dir = MakeJob(tmp.path(), "a", "", "");
  CHECK(ReadJobDir(dir, Now(), kNoneLive).state == JobState::kRunning);
  CHECK(ReadJobDir(dir, Now() + kRecentSeconds + 5, kNoneLive).state == JobState::kUnfinished);
}

TEST_CASE("JobDirs: listing keeps job dirs only, oldest first; cleaning spares running ones",
          "[jobs]") {
  TempDir tmp("job_dirs_test");
  MakeJob(tmp.path(), "new", "Job succeeded.");
  MakeJob(tmp.path(), "old", "Job failed: x");
  MakeJob(tmp.path(), "live", "", "99");
  MakeJob(tmp.path(), "mid", "Job succeeded.");
  fs::create_directories(fs::path(tmp.path()) / "not-a-job" / "data");
  std::ofstream(fs::path(tmp.path()) / "file.txt") << "x";
  auto t = fs::file_time_type::clock::now();
  auto age = [&](const std::string& name, int seconds_ago) {
    fs::last_write_time(fs::path(tmp.path()) / name / "logs" / "readme.txt",
                        t - std::chrono::seconds(seconds_ago));
  };
  age("old", 400);
  age("live", 300);
  age("mid", 200);
  age("new", 100);
  auto live = [](pid_t pid) { return pid == 99; };
  std::vector<JobDir> jobs = ListJobDirs(tmp.path(), Now(), live);
  std::vector<std::string> names;
  for (const auto& j : jobs) names.push_back(j.name);
  CHECK(names == std::vector<std::string>{"old", "live", "mid", "new"});
  CHECK(jobs[1].state == JobState::kRunning);

  auto removed = [&](size_t keep) {
    std::vector<std::string> out;
    for (const JobDir* j : JobDirsToRemove(jobs, keep)) out.push_back(j->name);
    return out;
  };
  CHECK(removed(1) == std::vector<std::string>{"old", "mid"});
  CHECK(removed(0) == std::vector<std::string>{"old", "mid", "new"});
  CHECK(removed(3) == std::vector<std::string>{"old"});
  CHECK(removed(10).empty());
  CHECK(ListJobDirs(tmp.path() + "/missing", Now(), live).empty());
}

TEST_CASE("JobDirs: sizes and ages for people", "[jobs]") {
  CHECK(HumanBytes(0) == "0 B");
  CHECK(HumanBytes(1023) == "1023 B");
  CHECK(HumanBytes(1536) == "1.5 KB");
  CHECK(HumanBytes(5u * 1024 * 1024) == "5.0 MB");
  CHECK(HumanAge(42) == "42s");
  CHECK(HumanAge(600) == "10m");
  CHECK(HumanAge(7200) == "2h");
  CHECK(HumanAge(3 * 86400 + 5) == "3d");
}

}  // namespace
}  // namespace parallelrun
