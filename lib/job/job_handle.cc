// Job and the tools of include/parallelrun/job.h: the entry points of
// run.h and pipeline.h, and the report readers, behind the one header the
// command line and the Python module include.
#include <algorithm>

#include "base/job_dir.h"
#include "base/spelling.h"
#include "parallelrun/exit_codes.h"
#include "parallelrun/job.h"
#include "parallelrun/pipeline.h"
#include "plan/yaml_overrides.h"
#include "report/html_report.h"
#include "report/job_reports.h"
#include "report/tune.h"

namespace parallelrun {

Job Job::Run(const JobRequest& request, FILE* out) {
  Job job;
  RunRequest req = request.run;
  req.job_dir_out = &job.job_dir_;
  if (IsPipeline(req.spec_path)) {
    job.status_ = RunPipeline(req, request.only_job, out);
  } else if (!request.only_job.empty()) {
    job.status_ = Status::Usage("--job " + request.only_job + " names a job of a pipeline, but " +
                                req.spec_path + " is not a pipeline (type: pipeline)");
  } else {
    job.status_ = RunJob(req, out);
  }
  return job;
}

Job Job::Resume(const std::string& job_dir, const RunRequest& options, FILE* out) {
  Job job;
  RunRequest req = options;
  req.job_dir_out = &job.job_dir_;
  job.status_ = ResumeJob(job_dir, req, out);
  return job;
}

int Job::exit_code() const { return ExitCodeFor(status_); }

std::string Job::ProcessedMiniBatchesCsv() const {
  return parallelrun::ProcessedMiniBatchesCsv(job_dir_);
}
std::string Job::ProcessSummaryCsv() const { return parallelrun::ProcessSummaryCsv(job_dir_); }
std::string Job::NodeSummaryCsv() const { return parallelrun::NodeSummaryCsv(job_dir_); }
std::string Job::JobResultPath() const { return parallelrun::JobResultPath(job_dir_); }

const Job::Counts& Job::counts() const {
  // A job that made no report (a usage error, a dry run, a pipeline, whose
  // jobs each have their own) has no counts: zero, not an error.
  if (counted_ || job_dir_.empty()) return counts_;
  counted_ = true;
  auto c = CountMiniBatches(ProcessedMiniBatchesCsv());
  if (!c.ok()) return counts_;
  counts_ = {c->mini_batches, c->succeeded, c->failed, c->attempts,
             c->items, c->items_succeeded, c->items_failed};
  return counts_;
}

Result<std::pair<std::string, std::string>> ParseSetOverride(const std::string& text) {
  return ParseYamlOverride(text);
}

Result<std::string> WriteJobReport(const std::string& job_dir, const std::string& path) {
  std::string to = path.empty() ? HtmlReportPath(job_dir) : path;
  Status s = WriteHtmlReport(job_dir, to);
  if (!s.ok()) return s;
  return to;
}

Status TuneJobDir(const std::string& job_dir, int cores, int gpus, FILE* out) {
  return TuneJob(job_dir, cores, gpus, out);
}

std::string SuggestName(const std::string& word, const std::vector<std::string>& candidates) {
  return ClosestName(word, candidates);
}

}  // namespace parallelrun
