// JobDirs: what a job dir says about its job once nobody is watching — the
// outcome (logs/job_result.txt), whether a process is still writing it, its
// size and age — for `parallelrun jobs` (include/parallelrun/jobs.h).
//
// There is no lock file (yet) to say that a job runs. A job dir is running
// when it has no job_result.txt and either the pid its master recorded (the
// third field of the lines of the last logs/sys/master_role.<n>.txt) is a live
// parallelrun process, or — when no pid is recorded, as in an agent node's
// dir — something in it changed within kRecentSeconds. Without a result and
// without those signs the job was killed before it could write one:
// "unfinished".
#ifndef PARALLELRUN_JOB_JOB_DIRS_H_
#define PARALLELRUN_JOB_JOB_DIRS_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace parallelrun {

enum class JobState { kRunning, kSucceeded, kFailed, kInterrupted, kUnfinished };
const char* JobStateName(JobState s);  // "running", "succeeded", …

struct JobDir {
  std::string path;
  std::string name;       // the folder's name
  JobState state = JobState::kUnfinished;
  std::string reason;     // why it failed: job_result.txt's first line after "Job failed: "
  pid_t pid = 0;          // the master's pid when recorded, else 0
  uint64_t bytes = 0;     // every file in it
  double started = 0;     // epoch seconds: when its logs were made
  double modified = 0;    // the newest change of anything in it
};

// Something changed within this many seconds: a job without a recorded pid
// and without a result is taken to be running.
constexpr double kRecentSeconds = 60;

// Is `pid` a live parallelrun process? (/proc/<pid>/comm; a reused pid of
// another program is not.) Injected so that tests need no such process.
using LivePid = std::function<bool(pid_t)>;
bool IsLiveParallelrun(pid_t pid);

// True when `path` is a folder that holds a job's logs/.
bool IsJobDir(const std::string& path);

// Reads one job dir. `now` is epoch seconds. Blocking (walks the folder).
JobDir ReadJobDir(const std::string& path, double now, const LivePid& live);

// The job dirs directly under `root`, oldest first (other folders are left
// out). A missing root gives none.
std::vector<JobDir> ListJobDirs(const std::string& root, double now, const LivePid& live);

// Which of `jobs` (oldest first) `--clean --keep N` removes: all but the
// `keep` newest, never a running one.
std::vector<const JobDir*> JobDirsToRemove(const std::vector<JobDir>& jobs, size_t keep);

// "512 B", "12.3 KB", "4.0 MB", … and "45s", "12m", "3h", "5d".
std::string HumanBytes(uint64_t bytes);
std::string HumanAge(double seconds);

}  // namespace parallelrun

#endif  // PARALLELRUN_JOB_JOB_DIRS_H_
