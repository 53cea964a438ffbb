// Any node but the master's: an Agent connected to the master over TCP
// (tcp_link.h), running this node's workers. It exits with the job's
// outcome, which the master sends when the job is over.
#ifndef PARALLELRUN_JOB_AGENT_NODE_H_
#define PARALLELRUN_JOB_AGENT_NODE_H_

#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>

#include "job/node_loop.h"
#include "link/role.h"
#include "link/secret.h"
#include "link/tcp_link.h"
#include "node/worker_pool.h"
#include "report/progress.h"

namespace parallelrun {

// How an agent node takes part in master failover (failover.h).
struct AgentFailover {
  // Set when the master was lost after this node joined it, or replaced
  // while this node was still trying to reach it; not for a link that TLS
  // ended (the master lives).
  bool master_lost = false;
  // Asked every kGonePoll while this node has not reached its master: true
  // once that master is known to be gone (another node holds the role, or
  // it no longer holds the job dir's lock). Null: not asked.
  std::function<bool()> gone;
  // Without shared storage: where this node would listen as the master
  // (port 0: it does not offer to stand by; Agent::OfferStandby), and what
  // it learnt — whether the master's job dir is its own, and the latest
  // Standby message (which node takes over, and where).
  std::string standby_host;
  uint32_t standby_port = 0;
  std::optional<bool> shared;
  StandbyMsg standby;
};
constexpr std::chrono::milliseconds kGonePoll{500};

// Runs this node's part of the job on `loop`: creates the node's log
// folders under `job_dir` (base/job_dir.h), connects to the master (retrying as `connect`
// says), runs workers until the master ends the job, and returns the job's
// outcome — or why the master was lost, or Interrupted. `argv` is as for
// RunMasterNode. With `failover`, a lost master sets its master_lost and
// returns why, saying nothing on `progress`: the caller goes on; without,
// the node says how to resume the job.
Status RunAgentNode(NodeLoop& loop, const Role& role, const JobSecret& secret,
                    WorkerPool::Config wc, const std::string& job_dir, const std::string& argv,
                    TcpConnector::Options connect, Progress* progress, FILE* out,
                    AgentFailover* failover = nullptr);

}  // namespace parallelrun

#endif  // PARALLELRUN_JOB_AGENT_NODE_H_
