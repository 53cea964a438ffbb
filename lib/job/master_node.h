// The master's node: the Master, its in-process Agent, and — for a job of
// several nodes — a TCP listener for the other nodes' agents (tcp_link.h).
#ifndef PARALLELRUN_JOB_MASTER_NODE_H_
#define PARALLELRUN_JOB_MASTER_NODE_H_

#include <cstdio>
#include <string>

#include "job/node_loop.h"
#include "link/role.h"
#include "link/secret.h"
#include "link/tcp_link.h"
#include "master/master.h"
#include "node/worker_pool.h"
#include "plan/job_plan.h"
#include "report/progress.h"

namespace parallelrun {

// Runs the job on `loop` to its end: opens the job's logs, schedules, waits
// for every agent, writes the reports, then prints the errors and the
// summary (to `progress`, and the error report to `out`). `argv` is the
// entry script's arguments as one shell-quoted string with a leading space.
// Returns the job's outcome.
Status RunMasterNode(NodeLoop& loop, const Role& role, const JobSecret& secret,
                     const TcpLinkOptions& link, const Master::Config& mc, WorkerPool::Config wc, const JobPlan& plan,
                     const std::string& argv, Progress* progress, FILE* out);

}  // namespace parallelrun

#endif  // PARALLELRUN_JOB_MASTER_NODE_H_
