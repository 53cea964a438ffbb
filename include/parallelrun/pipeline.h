// Azure ML v2 pipeline files (`type: pipeline`) run locally: every parallel
// job as `parallelrun run` runs a spec, every command job through /bin/sh,
// in the order their bindings give. app/ chooses these entry points over
// RunJob / ValidateSpec when the file's `type:` is `pipeline`.
#ifndef PARALLELRUN_PIPELINE_H_
#define PARALLELRUN_PIPELINE_H_

#include <cstdio>
#include <string>
#include <vector>

#include "parallelrun/run.h"
#include "parallelrun/status.h"

namespace parallelrun {

// True when the YAML file at `path` says `type: pipeline` at its top.
bool IsPipeline(const std::string& path);

// Runs the pipeline `request.spec_path` (all its jobs, or only `only_job`
// when not ""), with request.inputs/outputs binding the pipeline's ports,
// request.overrides (--set) applied to the pipeline document, and
// request.job_dir the pipeline's job dir (each job's folder is under it).
// Progress and the summary go to `out`. Returns Ok, or the first failing
// job's error (which names the job); a usage error runs nothing.
Status RunPipeline(const RunRequest& request, const std::string& only_job, FILE* out);

// Parses and checks the whole pipeline (every job's spec and entry script,
// every binding) without running it; prints a description to `out`.
Status ValidatePipeline(const std::string& path, const std::vector<std::string>& environment,
                        const std::string& python, FILE* out);

}  // namespace parallelrun

#endif  // PARALLELRUN_PIPELINE_H_
