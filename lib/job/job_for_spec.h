// RunJob for a spec already parsed: how a pipeline runs its parallel jobs
// (pipeline_run.h), whose specs are nodes of the pipeline file or component
// files bound by the pipeline, not the request's spec_path.
#ifndef PARALLELRUN_JOB_JOB_FOR_SPEC_H_
#define PARALLELRUN_JOB_JOB_FOR_SPEC_H_

#include <cstdio>

#include "parallelrun/run.h"
#include "parallelrun/spec.h"
#include "parallelrun/status.h"

namespace parallelrun {

// RunJob(request, out) with `spec` in place of parsing request.spec_path
// (which still names the job's file in the journal); `spec` nullptr parses
// it as RunJob does.
Status RunJobForSpec(const RunRequest& request, const Spec* spec, FILE* out);

}  // namespace parallelrun

#endif  // PARALLELRUN_JOB_JOB_FOR_SPEC_H_
