// DryRun: what `parallelrun run --dry-run` prints — the plan of a job, on
// stdout so that `> plan.txt` keeps it: the spec, the workers, the job dir,
// each input with the files (or table ranges) and mini-batches it would make,
// the outputs and the entry script's command line. Nothing is started and
// nothing is created.
#ifndef PARALLELRUN_JOB_DRY_RUN_H_
#define PARALLELRUN_JOB_DRY_RUN_H_

#include <cstdio>
#include <string>

#include "parallelrun/status.h"
#include "plan/job_plan.h"

namespace parallelrun {

struct DryRunText {
  std::string role;          // the role line on a cluster; "" on one machine
  std::string workers;       // "2 workers of Python 3.11.2 (/usr/bin/python3, from …)"
  std::string entry_script;  // the entry script and its arguments, shell-quoted
};

// Prints the plan to `out`. Lists every input as the job would (blocking:
// walks the folders, finds the tables' record boundaries), showing the first
// mini-batches and counting all of them; a table partitioned by its columns
// is described, not shuffled. Returns Ok, or the listing's first error.
Status PrintDryRun(const JobPlan& plan, const DryRunText& text, FILE* out);

}  // namespace parallelrun

#endif  // PARALLELRUN_JOB_DRY_RUN_H_
