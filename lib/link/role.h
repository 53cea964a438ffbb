// Role: which part of a multi-node job this process plays, found from the
// variables the cluster launcher set (DESIGN.md §6, reference/launchers.md).
// The same `parallelrun run` command is started on every node; each process
// calls ResolveRole once, before anything else, and logs Role::explanation as
// the first line of its node log. Node rank 0 is the master (and also runs an
// agent through the in-process link); every other node is an agent that
// connects to the master at master_host:master_port.
//
// Resolution order — the first source that is present decides the ranks:
//
//   1. explicit      flags (RoleFlags) over PARALLELRUN_NODE_RANK,
//                    PARALLELRUN_NODE_COUNT, PARALLELRUN_MASTER_ADDR,
//                    PARALLELRUN_MASTER_PORT. A rank needs a count. A count
//                    alone is either 1 (force a single node) or completes a
//                    launcher that gives no count (Kubernetes). An explicit
//                    master address or port overrides any launcher's.
//   2. torchrun      RANK + WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
//                    GROUP_RANK (node rank), GROUP_WORLD_SIZE (node count),
//                    MASTER_ADDR, MASTER_PORT. Under real torchrun
//                    (TORCHELASTIC_RUN_ID is set) MASTER_PORT belongs to
//                    torch's own rendezvous store on the master node, so the
//                    master listens on MASTER_PORT + 1; with hand-set
//                    variables it listens on MASTER_PORT itself.
//                    The master is group rank 0, which must run on
//                    MASTER_ADDR's host: true for static rendezvous
//                    (--master-addr, --node-rank); with --rdzv-backend=c10d set
//                    PARALLELRUN_NODE_RANK/_COUNT/_MASTER_ADDR yourself.
//   3. Open MPI      OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK, _LOCAL_SIZE;
//                    master from Azure ML: AZ_BATCH_MASTER_NODE (ip:port), else
//                    AZ_BATCHAI_MPI_MASTER_NODE unless it is "localhost", else
//                    AZ_BATCHAI_JOB_MASTER_NODE_IP, else the first host of
//                    AZ_BATCH_HOST_LIST.
//   4. MPICH/Hydra   PMI_RANK, PMI_SIZE, MPI_LOCALRANKID, MPI_LOCALNRANKS.
//   5. Slurm         SLURM_PROCID, SLURM_STEP_NUM_TASKS (or SLURM_NTASKS),
//                    SLURM_LOCALID, SLURM_NODEID, SLURM_STEP_NUM_NODES (or
//                    SLURM_JOB_NUM_NODES, SLURM_NNODES), tasks per node from
//                    SLURM_STEP_TASKS_PER_NODE / SLURM_TASKS_PER_NODE ("2(x3),1");
//                    master = first host of SLURM_STEP_NODELIST (or
//                    SLURM_JOB_NODELIST, SLURM_NODELIST), compressed forms
//                    expanded (ExpandHostList). Without SLURM_STEP_ID the process
//                    is the batch script itself, not an srun task: it runs as a
//                    single node and says so (start it with srun to use every
//                    node of the allocation).
//   6. Kubernetes    JOB_COMPLETION_INDEX (Indexed Job). Kubernetes puts the
//                    completion count in no variable: set PARALLELRUN_NODE_COUNT
//                    to the Job's spec.completions in the pod template. The
//                    master is `<job>-0`, from HOSTNAME (`<job>-<index>`), with
//                    `.<PARALLELRUN_SUBDOMAIN>` appended when that is set (the
//                    pod template's `subdomain`, i.e. the headless Service
//                    that makes the pods' names resolvable).
//   7. single node   rank 0 of 1, master 127.0.0.1.
//
// For the MPI launchers and Slurm, when the launcher names no master address,
// MASTER_ADDR / MASTER_PORT are used if set, then (MPI inside a Slurm
// allocation) the first host of the Slurm node list. A job of more than one
// node with no master address at all is an error that says what to set.
//
// Master port: the launcher's when it gives one, else kDefaultMasterPort.
//
// Several processes per node. A launcher asked for more than one process per
// node (srun --ntasks-per-node=4, mpirun -np 8 on 2 nodes, torchrun
// --nproc-per-node=4) starts this command that many times on each node, but
// a node needs exactly one agent (it starts process_count_per_node workers
// itself). So the processes collapse to one agent per node: the process with
// local rank 0 is the node's agent, node rank = global rank ÷ local size (or
// the launcher's own node index where it gives one), node count = world size ÷
// local size; every process with local rank > 0 gets Role::extra_process and
// must exit 0 at once, quietly, so that the launcher does not count it as a
// failure. When ranks were placed round-robin over the nodes (mpirun --map-by
// node) node rank = global rank mod node count instead; the resolver tells
// the two placements apart from the local rank. PARALLELRUN_AGENT_PER_PROCESS=1
// (or RoleFlags::agent_per_process) turns collapsing off: every launcher
// process becomes its own node, e.g. `mpirun -np 3` on one machine for a test.
//
// Errors (non-numeric values, rank ≥ size, a missing master address, a
// malformed node list) are Status::Usage naming the variable and its value.
// ResolveRole is pure: it reads only its arguments.
#ifndef PARALLELRUN_LINK_ROLE_H_
#define PARALLELRUN_LINK_ROLE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "parallelrun/status.h"

namespace parallelrun {

// The port the master listens on when nothing names one. Chosen outside the
// ranges torch (29400, 29500) and MPI tools commonly take.
constexpr uint16_t kDefaultMasterPort = 29517;

using EnvironmentMap = std::map<std::string, std::string>;

// NAME=value strings (as in RunRequest::environment) → map; later wins.
EnvironmentMap MakeEnvironmentMap(const std::vector<std::string>& environment);

// Explicit settings from the command line; they win over every variable.
// Values are text so that errors name the flag exactly as given.
struct RoleFlags {
  std::optional<std::string> node_rank;    // --node-rank
  std::optional<std::string> node_count;   // --node-count
  std::optional<std::string> master_addr;  // --master-addr
  std::optional<std::string> master_port;  // --master-port
  bool agent_per_process = false;          // --agent-per-process
};

struct Role {
  uint32_t node_rank = 0;
  uint32_t node_count = 1;
  std::string master_host = "127.0.0.1";  // agents connect here; the master binds here
  uint16_t master_port = kDefaultMasterPort;
  // This process among the launcher's processes on its node.
  uint32_t local_rank = 0;
  uint32_t local_size = 1;
  // A launcher process with local rank > 0: not an agent; exit 0 quietly.
  bool extra_process = false;
  // "explicit", "torchrun", "Open MPI", "Azure ML", "MPICH", "Slurm",
  // "Kubernetes" or "single node".
  std::string source;
  // One line for the top of the node log, starting "role: ", naming the
  // variables read and their values.
  std::string explanation;

  bool is_master() const { return node_rank == 0; }
  bool multi_node() const { return node_count > 1; }
};

// Resolves this process's role from `env` and `flags` (see the order above).
Result<Role> ResolveRole(const EnvironmentMap& env, const RoleFlags& flags = {});

// Expands a Slurm host list: "n[1-3,7]" → n1 n2 n3 n7, "gpu-[01-04]" keeps
// the zero padding, "a1,b[2-3]" → a1 b2 b3, several brackets in one name
// multiply ("r[1-2]n[1-2]" → r1n1 r1n2 r2n1 r2n2). Stops after `max_hosts`
// names. Usage error on unbalanced brackets, empty names or bad ranges.
Result<std::vector<std::string>> ExpandHostList(const std::string& list, size_t max_hosts = 65536);

}  // namespace parallelrun

#endif  // PARALLELRUN_LINK_ROLE_H_
