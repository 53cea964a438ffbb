// Master failover (reference §5: "master election among nodes, so a master
// role can fail over (each round writes a new master_role log)"): when the
// master's process dies, another node takes the master role from the job's
// journal, the other agents reconnect to it, and the job ends as a clean run
// would — the same mini-batches done once, the same reports and output.
//
// With the job dir on storage every node sees, the job dir's lock elects
// the next master and the journal is read where the lost master wrote it
// (the rounds below). Without shared storage, a standby takes over from a
// copy (see "Without shared storage" further down).
//
// One round, as an agent sees it (every node but the master runs this):
//   1. Its link to the master closes (the process died: the kernel resets
//      the connection) or falls silent past the heartbeat timeout. The agent
//      stops its workers: their attempts were leased by the lost master, and
//      the new one has them pending again (a result not yet in the journal
//      is not known to anyone any more, so the mini-batch runs again — the
//      counts stay exact, at the price of that work).
//   2. The arbiter is the job dir's lock (job_dir_state.h), held by the
//      master for as long as its process lives and dropped by the kernel
//      when it ends: a node becomes master only by taking it, so two never
//      do. Rank 1 tries at once, rank r after (r - 1) × kStandbyStagger: the
//      next rank in order takes the role unless it is gone too.
//   3. The node that took the lock writes a run record into the journal,
//      replays it as `resume` does (finished mini-batches stay finished,
//      attempts in flight anywhere are pending again), opens
//      logs/sys/master_role.<n>.txt (n: the first that does not exist; its
//      first line says which node took the role, from which master, and why),
//      runs its own workers again and listens.
//   4. Where: on the address its own node used to reach the lost master
//      (the route the kernel picks toward it: an address the other nodes can
//      reach too under Slurm, torchrun, mpirun or Azure ML, where the nodes
//      share a network), on the job's master port when it is free there,
//      else on any free port. It writes that address, with the round, its
//      host name and pid, to .parallelrun/master in the job dir (renamed into
//      place: read whole or not at all).
//   5. The other agents poll that file and connect when it names a newer
//      round whose master holds the lock (the lock file names its holder's
//      pid and host: a stale address of a master that died too is never
//      dialled), with the job's secret, and go on. An agent still dialling
//      (it started late, or the heir died before it was reached) watches the
//      same file and lock every kGonePoll (agent_node.h), and one that starts
//      after a failover dials the heir the file names.
// A later loss of the new master is the next round, the same way.
//
// Without shared storage (the master's JobDir id is not in this node's job
// dir, link.h): every agent reserves a port on the address toward the
// master (the master's port when it is free there: ReservePort) and offers
// to stand by (StandbyOffer). The master picks the lowest-ranked offer and
// streams it the journal and the accepted append_row parts
// (master/standby_feed.h), which the standby keeps apart in
// .parallelrun/standby/ (node/standby_replica.h), and tells every agent
// which node stands by and where it would listen (Standby). When the master
// is lost:
//   - the standby moves its copy into place (the journal, the parts), takes
//     its own job dir's lock and runs TakeOver on the reserved port: the
//     journal is replayed as above, and its job dir then holds the job's
//     reports and output (its master_role.<n>.txt counts on from the lost
//     round; the earlier rounds' logs stay on their nodes);
//   - the other agents dial the standby's address (no lock to watch: they
//     give up after PARALLELRUN_CONNECT_TIMEOUT);
//   - with no standby (none offered, or its copy failed or fell behind), the
//     agents stop and say how to resume, as before.
// The new master picks its own standby among the agents that join it, so a
// later loss is the next round. Two losses at once (the master and its
// standby) stop the job, and an agent that had not reached the master (or
// not yet heard who stands by) when it died cannot learn where the standby
// is: it dials the launcher's address until the connect timeout. A master that lives but that the standby cannot
// reach (a partition, not a death) also makes the standby take over, as it
// cannot tell the two apart without a shared lock: the agents that still
// reach the old master stay with it, both masters finish the job (the work
// after the split is done twice) and each job dir holds a complete report
// and output; with shared storage the lock prevents this.
//
// Not covered: a master that lives but cannot be reached (its lock stays
// held, so no node takes over; the agents give up after
// PARALLELRUN_CONNECT_TIMEOUT and say how to resume), the
// launcher's master dying before any agent reached it (nobody lost it: the
// agents dial it until the connect timeout), and a master killed after it
// journaled the job's end but before its agents heard it (they wait for a new
// master until the connect timeout). On NFS the lock of a master whose
// machine died (not only its process) is dropped when its lease expires
// (NFSv4: about 90 s): failover waits that long.
//
// The original has no setting to turn failover off; PARALLELRUN_FAILOVER=0
// does here (then an agent that loses its master stops and says how to
// resume, as before failover existed).
#ifndef PARALLELRUN_JOB_FAILOVER_H_
#define PARALLELRUN_JOB_FAILOVER_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "link/role.h"
#include "link/secret.h"
#include "link/tcp_link.h"
#include "link/tls.h"
#include "node/worker_pool.h"
#include "parallelrun/status.h"
#include "plan/job_plan.h"
#include "report/progress.h"

namespace parallelrun {

// How long rank r + 1 lets rank r try to take the master role first.
constexpr std::chrono::milliseconds kStandbyStagger{1000};

// The content of .parallelrun/master, one line:
//   "round=1 node=1 host=10.0.0.5 port=29500 pid=4242 hostname=n2"
struct MasterAddress {
  uint32_t round = 0;
  uint32_t node = 0;
  std::string host;      // where it listens
  uint16_t port = 0;
  uint32_t pid = 0;
  std::string hostname;  // the machine's name, as the lock file names it
};
std::string FormatMasterAddress(const MasterAddress& a);
// nullopt when `line` is not such a line.
std::optional<MasterAddress> ParseMasterAddress(const std::string& line);

// PARALLELRUN_FAILOVER: "1"/"on"/"" → true, "0"/"off" → false, anything else
// a Usage error naming the variable.
Result<bool> ParseFailoverSetting(const std::string& value);

// What an agent node needs to take part in failover.
struct FailoverNode {
  Role role;                 // as the launcher made it: an agent of the first master
  JobSecret secret;
  WorkerPool::Config wc;     // this node's workers (copied for each round)
  const JobPlan* plan = nullptr;
  std::string argv;          // as for RunMasterNode
  TcpConnector::Options connect;  // with the agent's TLS context, when TLS is on
  // The job's TLS: a node that takes the master role serves the same
  // certificate (the self-signed one in the job dir, or the files).
  TlsSettings tls;
};

// Runs an agent node to the job's end through any number of failover
// rounds (see above): as an agent, and — when it takes the master role — as
// the job's master. Returns the job's outcome, Interrupted, or why no master
// could be found (then it says how to resume the job).
Status RunAgentNodeWithFailover(FailoverNode node, Progress* progress, FILE* out);

}  // namespace parallelrun

#endif  // PARALLELRUN_JOB_FAILOVER_H_
