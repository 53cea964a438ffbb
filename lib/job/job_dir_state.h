// What a job dir says about the job in it, for `run` and `resume`
// (DESIGN.md §7): who is running in it now (the lock), whether it already
// holds a job (its journal), what the first run was asked to do (the
// request, so that `parallelrun resume DIR` needs nothing else), and what a
// resume must find unchanged (fingerprints of the spec, the entry script,
// the settings and the inputs).
#ifndef PARALLELRUN_JOB_JOB_DIR_STATE_H_
#define PARALLELRUN_JOB_JOB_DIR_STATE_H_

#include <optional>
#include <string>

#include "base/disk.h"
#include "master/journal.h"
#include "parallelrun/run.h"
#include "parallelrun/status.h"
#include "plan/job_plan.h"

namespace parallelrun {

// `<job dir>/lock`, held (flock) while a job runs in the dir; it names its
// holder: "pid 1234 on host h since 2026-12-01T00:50:42". The kernel drops
// the lock when the process ends, however it ends.
class JobDirLock {
 public:
  // Takes the lock, creating the job dir's lock file. Errors: Usage naming
  // the holder when another process has it ("job dir D is in use by
  // parallelrun pid 1234 on host h since …"), Infrastructure when the file
  // cannot be made.
  static Result<JobDirLock> Acquire(const std::string& job_dir);
  // Usage error naming the holder when a live process holds the lock of
  // `job_dir` now; Ok otherwise (no lock file, or nobody holds it).
  static Status CheckFree(const std::string& job_dir);
  JobDirLock(JobDirLock&&) = default;
  JobDirLock& operator=(JobDirLock&&) = default;

 private:
  explicit JobDirLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

std::string JournalPath(const std::string& job_dir);

// How an earlier run in a job dir ended, from its journal.
struct EarlierJob {
  JournalRunStarted first;     // the first run: request and fingerprints
  uint64_t runs = 0;
  bool ended = false;          // the last run wrote its end
  uint8_t status_code = 0;     // of the last end (Status::Code)
  std::string end_message;
};

// nullopt when `job_dir` holds no journal, or one without a run record (a
// job killed before it wrote its request: nothing of it ran). Errors: a
// journal that cannot be read.
Result<std::optional<EarlierJob>> ReadEarlierJob(const std::string& job_dir);

// `run` into an existing job dir: Ok when it holds no job (missing, empty,
// or only an earlier lock); otherwise a Usage error that says what is there
// and how to continue it ("… continue it with: parallelrun resume D").
Status CheckJobDirIsNew(const std::string& job_dir);

// The request as JSON, and back: what `parallelrun resume DIR` runs again.
// The environment is not kept (it may hold secrets): a resume runs with its
// own. Decoding errors name the field.
std::string EncodeRunRequest(const RunRequest& request);
Result<RunRequest> DecodeRunRequest(const std::string& json);

// Fingerprints of what the job's result depends on, as JSON.
std::string Fingerprints(const JobPlan& plan);
// Ok when `now` matches `then`; else Usage naming each thing that changed
// and how to go on anyway (--force) — or Ok with `force`, after `warn`ing.
Status CompareFingerprints(const std::string& then, const std::string& now, bool force,
                           std::string* warning);

// The command that continues the job in `job_dir`, for the terminal.
std::string ResumeCommand(const std::string& job_dir);

}  // namespace parallelrun

#endif  // PARALLELRUN_JOB_JOB_DIR_STATE_H_
