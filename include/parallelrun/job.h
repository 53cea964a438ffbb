// The library's API for its two callers, the command line (app/main.cc) and
// the Python module (python/module.cc): a JobRequest in, a Job handle out,
// and the tools that read a job dir afterwards. Neither caller includes
// anything from lib/; what they need of it is declared here.
#ifndef PARALLELRUN_JOB_H_
#define PARALLELRUN_JOB_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "parallelrun/run.h"
#include "parallelrun/status.h"

namespace parallelrun {

// What to run: a spec or a pipeline (`run.spec_path`) with its bindings and
// settings, as `parallelrun run` takes them.
struct JobRequest {
  RunRequest run;
  // With a pipeline: run only this job of it ("" = all); an error with a
  // spec that is not a pipeline (`--job`).
  std::string only_job;
};

// What a job left when it ended: a value, cheap to copy; it holds no
// process or thread (the job is over when Run returns).
class Job {
 public:
  // Counts of processed_mini-batches.csv: its mini-batches by the outcome of
  // their last attempt, and their items. Zero when the job wrote no report.
  // Read at the first call of counts(), not when the job ends: the command
  // line does not need them, and the CSV of a big job is hundreds of MB.
  struct Counts {
    uint64_t mini_batches = 0, succeeded = 0, failed = 0;
    uint64_t attempts = 0;
    uint64_t items = 0, items_succeeded = 0, items_failed = 0;
  };

  // Runs `request` to its end, as `parallelrun run` does (RunPipeline for a
  // pipeline, else RunJob): progress and the summary go to `out`, a dry
  // run's plan to request.run.plan_out (or `out`). Runs on the calling
  // thread; SIGINT and SIGTERM stop the job while it runs (status()
  // Interrupted) and are the process's again afterwards only as far as the
  // caller restores its own handlers (the job's watch leaves SIG_DFL).
  static Job Run(const JobRequest& request, FILE* out);
  // `parallelrun resume JOB_DIR` (run.h ResumeJob), as a Job.
  static Job Resume(const std::string& job_dir, const RunRequest& options, FILE* out);

  const Status& status() const { return status_; }
  int exit_code() const;  // exit_codes.h
  // The job's folder: "" when none was made (a usage error before the spec
  // was read, a dry run). A pipeline's is the pipeline's job dir.
  const std::string& job_dir() const { return job_dir_; }
  const Counts& counts() const;
  // The report files, whether or not they exist (a job stopped early may
  // have written none): logs/sys/job_report/processed_mini-batches.csv,
  // process_summary.csv, node_summary.csv and logs/job_result.txt.
  std::string ProcessedMiniBatchesCsv() const;
  std::string ProcessSummaryCsv() const;
  std::string NodeSummaryCsv() const;
  std::string JobResultPath() const;

 private:
  Status status_;
  std::string job_dir_;
  mutable bool counted_ = false;
  mutable Counts counts_;
};

// `--set PATH=VALUE` read into the pair RunRequest::overrides holds; a
// Usage status that says what is wrong with the text.
Result<std::pair<std::string, std::string>> ParseSetOverride(const std::string& text);

// `parallelrun report`: writes the job's HTML page to `path` ("" = the
// default, JOB_DIR/report.html) and returns the path written.
Result<std::string> WriteJobReport(const std::string& job_dir, const std::string& path);

// `parallelrun tune`: the tuning guide applied to the job, printed to `out`.
// `cores` and `gpus` describe this machine.
Status TuneJobDir(const std::string& job_dir, int cores, int gpus, FILE* out);

// The name of `candidates` closest to `word` (a misspelling), or "".
std::string SuggestName(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace parallelrun

#endif  // PARALLELRUN_JOB_H_
