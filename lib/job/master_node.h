// The master's node: the Master, its in-process Agent, and — for a job of
// several nodes — a TCP listener for the other nodes' agents (tcp_link.h).
#ifndef PARALLELRUN_JOB_MASTER_NODE_H_
#define PARALLELRUN_JOB_MASTER_NODE_H_

#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "job/node_loop.h"
#include "link/role.h"
#include "link/secret.h"
#include "link/tcp_link.h"
#include "master/master.h"
#include "node/worker_pool.h"
#include "plan/job_plan.h"
#include "report/job_log.h"
#include "report/progress.h"

namespace parallelrun {

// A node that took the master role from a master that was lost (failover.h).
struct MasterTakeover {
  int round = 1;            // its log is logs/sys/master_role.<round>.txt
  uint32_t lost_nodes = 1;  // nodes that will not join again: the masters before
  // Runs once the listener is bound, with where it listens: the new master
  // says so to the agents. An error ends the job with it.
  std::function<Status(const std::string& host, uint16_t port)> listening;
};

// Runs the job on `loop` to its end: opens the job's logs, schedules, waits
// for every agent, writes the reports, then prints the errors and the
// summary (to `progress`, and the error report to `out`). `argv` is the
// entry script's arguments as one shell-quoted string with a leading space.
// `takeover`: this node takes over from a lost master (null: the first).
// `log`: the job's logs when the caller opened them (JobLog::Open of round
// 0), else null. Returns the job's outcome.
Status RunMasterNode(NodeLoop& loop, const Role& role, const JobSecret& secret,
                     const TcpLinkOptions& link, const Master::Config& mc,
                     WorkerPool::Config wc, const JobPlan& plan, const std::string& argv,
                     Progress* progress, FILE* out, const MasterTakeover* takeover = nullptr,
                     std::unique_ptr<JobLog> log = nullptr);

}  // namespace parallelrun

#endif  // PARALLELRUN_JOB_MASTER_NODE_H_
