// The configurations of a node's stages, made from the job's plan: the
// Master's (scheduling, thresholds, inputs) and the WorkerPool's (the
// workers' interpreter, environment, timeouts and START configuration).
#ifndef PARALLELRUN_JOB_NODE_CONFIGS_H_
#define PARALLELRUN_JOB_NODE_CONFIGS_H_

#include <string>

#include "link/role.h"
#include "master/master.h"
#include "node/python_locator.h"
#include "node/worker_pool.h"
#include "parallelrun/run.h"
#include "plan/job_plan.h"

namespace parallelrun {

// The Master's configuration; its `shuffle` is left for the caller to set.
Master::Config MakeMasterConfig(const JobPlan& plan, const Role& role);

// The WorkerPool's configuration for this node: workers run `python`'s
// executable with the driver, in `request`'s folder and environment (plus
// the spec's and the job's variables), and log in the job dir.
WorkerPool::Config MakeWorkerConfig(const JobPlan& plan, const RunRequest& request,
                                    const Role& role, const Preflight& python);

}  // namespace parallelrun

#endif  // PARALLELRUN_JOB_NODE_CONFIGS_H_
