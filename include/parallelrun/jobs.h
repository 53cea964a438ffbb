// `parallelrun jobs`: the job dirs under a root (./parallelrun-jobs by
// default) with their outcome, size and age, and removing old ones.
#ifndef PARALLELRUN_JOBS_H_
#define PARALLELRUN_JOBS_H_

#include <cstdio>
#include <string>

#include "parallelrun/status.h"

namespace parallelrun {

struct JobsRequest {
  std::string root = "parallelrun-jobs";  // relative to cwd unless absolute
  std::string cwd;
  // --clean: remove the job dirs that are not running, except the `keep`
  // newest (running ones count among those kept).
  bool clean = false;
  int keep = 0;
};

// Prints one line per job dir to `out` (oldest first) and a total; with
// `clean`, removes old ones and says what it removed. A root that does not
// exist holds no jobs (Ok). Errors: Usage (a root that is not a folder, a
// negative keep), Infrastructure (a job dir that cannot be removed).
Status ListJobs(const JobsRequest& request, FILE* out);

}  // namespace parallelrun

#endif  // PARALLELRUN_JOBS_H_
