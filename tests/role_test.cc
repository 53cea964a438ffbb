// Role: table tests, one table per launcher, each row an environment and the
// role (or the whole error message) it must give; host list expansion.
#include "link/role.h"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

namespace parallelrun {
namespace {

struct Err {
  std::string message;
};

// One environment and the role it gives, or the whole error message.
struct Row {
  Row(const char* what, EnvironmentMap env, uint32_t node_rank, uint32_t node_count,
      std::string master_host, uint16_t master_port, uint32_t local_rank, uint32_t local_size,
      bool extra, std::string source, std::string explanation = "")
      : what(what), env(std::move(env)), node_rank(node_rank), node_count(node_count),
        master_host(std::move(master_host)), master_port(master_port), local_rank(local_rank),
        local_size(local_size), extra(extra), source(std::move(source)),
        explanation(std::move(explanation)) {}
  Row(const char* what, EnvironmentMap env, Err error)
      : what(what), env(std::move(env)), error(std::move(error.message)) {}

  const char* what;
  EnvironmentMap env;
  uint32_t node_rank = 0, node_count = 1;
  std::string master_host;
  uint16_t master_port = 0;
  uint32_t local_rank = 0, local_size = 1;
  bool extra = false;
  std::string source;
  std::string explanation;  // whole line; "" = not checked
  std::string error;        // whole message; "" = a role is expected
};

void Check(const std::vector<Row>& rows, const RoleFlags& flags = {}) {
  for (const Row& row : rows) {
    INFO(row.what);
    auto role = ResolveRole(row.env, flags);
    if (!row.error.empty()) {
      REQUIRE_FALSE(role.ok());
      CHECK(role.status().code() == Status::Code::kUsage);
      CHECK(role.status().message() == row.error);
      continue;
    }
    INFO((role.ok() ? role->explanation : role.status().message()));
    REQUIRE(role.ok());
    CHECK(role->node_rank == row.node_rank);
    CHECK(role->node_count == row.node_count);
    CHECK(role->master_host == row.master_host);
    CHECK(role->master_port == row.master_port);
    CHECK(role->local_rank == row.local_rank);
    CHECK(role->local_size == row.local_size);
    CHECK(role->extra_process == row.extra);
    CHECK(role->source == row.source);
    CHECK(role->explanation.find('\n') == std::string::npos);
    CHECK(role->explanation.rfind("role: ", 0) == 0);
    if (!row.explanation.empty()) CHECK(role->explanation == row.explanation);
  }
}

TEST_CASE("Role: no launcher variables is a single node", "[role]") {
  Check({
      {"empty", {}, 0, 1, "127.0.0.1", kDefaultMasterPort, 0, 1, false, "single node",
       "role: single node (rank 0 of 1): master and agent in this process (no launcher "
       "variables found)"},
      {"unrelated and empty variables", {{"PATH", "/bin"}, {"RANK", ""}, {"WORLD_SIZE", ""}},
       0, 1, "127.0.0.1", kDefaultMasterPort, 0, 1, false, "single node"},
      {"RANK alone is not torchrun", {{"RANK", "3"}}, 0, 1, "127.0.0.1", kDefaultMasterPort, 0, 1,
       false, "single node"},
  });
}

TEST_CASE("Role: explicit PARALLELRUN_* variables", "[role]") {
  Check({
      {"agent",
       {{"PARALLELRUN_NODE_RANK", "2"}, {"PARALLELRUN_NODE_COUNT", "3"},
        {"PARALLELRUN_MASTER_ADDR", "head.example"}, {"PARALLELRUN_MASTER_PORT", "7000"}},
       2, 3, "head.example", 7000, 0, 1, false, "explicit",
       "role: node 2 of 3 (agent of master head.example:7000) from explicit settings "
       "PARALLELRUN_NODE_RANK=2 PARALLELRUN_NODE_COUNT=3 PARALLELRUN_MASTER_ADDR=head.example "
       "PARALLELRUN_MASTER_PORT=7000"},
      {"master with the default port",
       {{"PARALLELRUN_NODE_RANK", "0"}, {"PARALLELRUN_NODE_COUNT", "2"},
        {"PARALLELRUN_MASTER_ADDR", "10.1.2.3"}},
       0, 2, "10.1.2.3", kDefaultMasterPort, 0, 1, false, "explicit",
       "role: node 0 of 2 (master, listening on 10.1.2.3:29517) from explicit settings "
       "PARALLELRUN_NODE_RANK=0 PARALLELRUN_NODE_COUNT=2 PARALLELRUN_MASTER_ADDR=10.1.2.3; "
       "master port 29517 (the default: no port given)"},
      {"explicit wins over torchrun",
       {{"PARALLELRUN_NODE_RANK", "1"}, {"PARALLELRUN_NODE_COUNT", "2"},
        {"PARALLELRUN_MASTER_ADDR", "a"}, {"RANK", "5"}, {"WORLD_SIZE", "8"}},
       1, 2, "a", kDefaultMasterPort, 0, 1, false, "explicit"},
      {"count 1 alone forces a single node under Slurm",
       {{"PARALLELRUN_NODE_COUNT", "1"}, {"SLURM_PROCID", "3"}, {"SLURM_NTASKS", "4"},
        {"SLURM_STEP_ID", "0"}},
       0, 1, "127.0.0.1", kDefaultMasterPort, 0, 1, false, "explicit",
       "role: single node (rank 0 of 1): master and agent in this process from explicit "
       "settings PARALLELRUN_NODE_COUNT=1"},
      {"master address overrides torchrun's",
       {{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "old"}, {"MASTER_PORT", "1234"},
        {"PARALLELRUN_MASTER_ADDR", "new"}},
       1, 2, "new", 1234, 0, 1, false, "torchrun"},
      {"non-numeric rank",
       {{"PARALLELRUN_NODE_RANK", "one"}, {"PARALLELRUN_NODE_COUNT", "3"},
        {"PARALLELRUN_MASTER_ADDR", "h"}},
       Err{"PARALLELRUN_NODE_RANK=one: not a whole number"}},
      {"negative rank",
       {{"PARALLELRUN_NODE_RANK", "-1"}, {"PARALLELRUN_NODE_COUNT", "3"},
        {"PARALLELRUN_MASTER_ADDR", "h"}},
       Err{"PARALLELRUN_NODE_RANK=-1: not a whole number"}},
      {"rank = count",
       {{"PARALLELRUN_NODE_RANK", "3"}, {"PARALLELRUN_NODE_COUNT", "3"},
        {"PARALLELRUN_MASTER_ADDR", "h"}},
       Err{"PARALLELRUN_NODE_RANK=3 is not below PARALLELRUN_NODE_COUNT=3: ranks count from 0"}},
      {"rank without count", {{"PARALLELRUN_NODE_RANK", "1"}}, Err{"PARALLELRUN_NODE_RANK=1: give the node count too (PARALLELRUN_NODE_COUNT or "
       "--node-count)"}},
      {"count 0", {{"PARALLELRUN_NODE_RANK", "0"}, {"PARALLELRUN_NODE_COUNT", "0"}}, Err{"PARALLELRUN_NODE_COUNT=0: a job has at least one node"}},
      {"count > 1 alone, no launcher", {{"PARALLELRUN_NODE_COUNT", "3"}}, Err{"PARALLELRUN_NODE_COUNT=3: no node rank; set PARALLELRUN_NODE_RANK (or --node-rank) too, "
       "or start under a launcher"}},
      {"count alone fights torchrun's count",
       {{"PARALLELRUN_NODE_COUNT", "2"}, {"RANK", "0"}, {"WORLD_SIZE", "3"},
        {"MASTER_ADDR", "h"}},
       Err{"PARALLELRUN_NODE_COUNT=2 without a node rank, while torchrun variables give the node "
       "count: set both PARALLELRUN_NODE_RANK and PARALLELRUN_NODE_COUNT, or neither"}},
      {"no master address",
       {{"PARALLELRUN_NODE_RANK", "1"}, {"PARALLELRUN_NODE_COUNT", "2"}}, Err{"node 1 of 2 from explicit settings PARALLELRUN_NODE_RANK=1 PARALLELRUN_NODE_COUNT=2: no "
       "master address; set PARALLELRUN_MASTER_ADDR (or --master-addr) to node 0's host name or "
       "address"}},
      {"bad port",
       {{"PARALLELRUN_NODE_RANK", "1"}, {"PARALLELRUN_NODE_COUNT", "2"},
        {"PARALLELRUN_MASTER_ADDR", "h"}, {"PARALLELRUN_MASTER_PORT", "70000"}},
       Err{"PARALLELRUN_MASTER_PORT=70000: not a port number (1-65535)"}},
      {"port 0",
       {{"PARALLELRUN_NODE_RANK", "1"}, {"PARALLELRUN_NODE_COUNT", "2"},
        {"PARALLELRUN_MASTER_ADDR", "h"}, {"PARALLELRUN_MASTER_PORT", "0"}},
       Err{"PARALLELRUN_MASTER_PORT=0: not a port number (1-65535)"}},
      {"address with a space",
       {{"PARALLELRUN_NODE_RANK", "1"}, {"PARALLELRUN_NODE_COUNT", "2"},
        {"PARALLELRUN_MASTER_ADDR", "a b"}},
       Err{"PARALLELRUN_MASTER_ADDR=a b: not a host name or address"}},
      {"agent per process must be 0 or 1", {{"PARALLELRUN_AGENT_PER_PROCESS", "yes"}}, Err{"PARALLELRUN_AGENT_PER_PROCESS=yes: give 0 or 1"}},
  });
}

TEST_CASE("Role: flags win over PARALLELRUN_* variables", "[role]") {
  RoleFlags flags;
  flags.node_rank = "1";
  flags.node_count = "4";
  flags.master_addr = "flag-host";
  flags.master_port = "6000";
  Check({{"flags",
          {{"PARALLELRUN_NODE_RANK", "3"}, {"PARALLELRUN_NODE_COUNT", "9"},
           {"PARALLELRUN_MASTER_ADDR", "var-host"}, {"PARALLELRUN_MASTER_PORT", "5000"}},
          1, 4, "flag-host", 6000, 0, 1, false, "explicit",
          "role: node 1 of 4 (agent of master flag-host:6000) from explicit settings "
          "--node-rank=1 --node-count=4 --master-addr=flag-host --master-port=6000"}},
        flags);
  RoleFlags bad;
  bad.node_rank = "x";
  bad.node_count = "2";
  Check({{"bad flag", {}, Err{"--node-rank x: not a whole number"}}},
        bad);
}

TEST_CASE("Role: torchrun variables", "[role]") {
  Check({
      {"one process per node, agent",
       {{"RANK", "1"}, {"WORLD_SIZE", "3"}, {"MASTER_ADDR", "10.0.0.4"}, {"MASTER_PORT", "29500"}},
       1, 3, "10.0.0.4", 29500, 0, 1, false, "torchrun",
       "role: node 1 of 3 (agent of master 10.0.0.4:29500) from torchrun variables RANK=1 "
       "WORLD_SIZE=3 MASTER_ADDR=10.0.0.4 MASTER_PORT=29500"},
      {"master",
       {{"RANK", "0"}, {"WORLD_SIZE", "3"}, {"MASTER_ADDR", "10.0.0.4"}, {"MASTER_PORT", "29500"}},
       0, 3, "10.0.0.4", 29500, 0, 1, false, "torchrun"},
      {"world of one needs no master address", {{"RANK", "0"}, {"WORLD_SIZE", "1"}}, 0, 1,
       "127.0.0.1", kDefaultMasterPort, 0, 1, false, "torchrun"},
      {"real torchrun: MASTER_PORT belongs to its store",
       {{"RANK", "2"}, {"WORLD_SIZE", "4"}, {"MASTER_ADDR", "n1"}, {"MASTER_PORT", "29500"},
        {"TORCHELASTIC_RUN_ID", "abc"}},
       2, 4, "n1", 29501, 0, 1, false, "torchrun",
       "role: node 2 of 4 (agent of master n1:29501) from torchrun variables RANK=2 WORLD_SIZE=4 "
       "MASTER_ADDR=n1 MASTER_PORT=29500 TORCHELASTIC_RUN_ID=abc; MASTER_PORT=29500 is torchrun's "
       "rendezvous store, so the master listens on 29501"},
      {"4 per node, local rank 0 of node 1",
       {{"RANK", "4"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "0"}, {"LOCAL_WORLD_SIZE", "4"},
        {"MASTER_ADDR", "n1"}},
       1, 2, "n1", kDefaultMasterPort, 0, 4, false, "torchrun",
       "role: node 1 of 2 (agent of master n1:29517) from torchrun variables RANK=4 WORLD_SIZE=8 "
       "LOCAL_RANK=0 LOCAL_WORLD_SIZE=4 MASTER_ADDR=n1; 4 processes per node collapse to one "
       "agent per node; master port 29517 (the default: no port given)"},
      {"4 per node, an extra process",
       {{"RANK", "6"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "2"}, {"LOCAL_WORLD_SIZE", "4"},
        {"GROUP_RANK", "1"}, {"GROUP_WORLD_SIZE", "2"}, {"MASTER_ADDR", "n1"}},
       1, 2, "n1", kDefaultMasterPort, 2, 4, true, "torchrun",
       "role: extra process, local rank 2 of 4 on node 1 (exits 0 quietly: local rank 0 is the "
       "node's agent) from torchrun variables RANK=6 WORLD_SIZE=8 LOCAL_RANK=2 "
       "LOCAL_WORLD_SIZE=4 GROUP_RANK=1 GROUP_WORLD_SIZE=2 MASTER_ADDR=n1; 4 processes per node "
       "collapse to one agent per node"},
      {"GROUP_RANK decides the node",
       {{"RANK", "0"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "0"}, {"LOCAL_WORLD_SIZE", "2"},
        {"GROUP_RANK", "1"}, {"MASTER_ADDR", "n1"}},
       1, 2, "n1", kDefaultMasterPort, 0, 2, false, "torchrun"},
      {"non-numeric rank", {{"RANK", "zero"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "n"}}, Err{"RANK=zero: not a whole number"}},
      {"rank >= size", {{"RANK", "3"}, {"WORLD_SIZE", "3"}, {"MASTER_ADDR", "n"}}, Err{"RANK=3 is not below WORLD_SIZE=3: ranks count from 0"}},
      {"size 0", {{"RANK", "0"}, {"WORLD_SIZE", "0"}}, Err{"WORLD_SIZE=0: the job has no processes"}},
      {"no MASTER_ADDR", {{"RANK", "1"}, {"WORLD_SIZE", "2"}}, Err{"node 1 of 2 from torchrun variables RANK=1 WORLD_SIZE=2: no master address; set "
       "PARALLELRUN_MASTER_ADDR (or --master-addr) to node 0's host name or address"}},
      {"bad MASTER_PORT",
       {{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "n"}, {"MASTER_PORT", "http"}}, Err{"MASTER_PORT=http: not a port number (1-65535)"}},
      {"local rank >= local size",
       {{"RANK", "1"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "2"}, {"LOCAL_WORLD_SIZE", "2"},
        {"MASTER_ADDR", "n"}},
       Err{"LOCAL_RANK=2 is not below LOCAL_WORLD_SIZE=2"}},
      {"uneven nodes",
       {{"RANK", "1"}, {"WORLD_SIZE", "5"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
        {"MASTER_ADDR", "n"}},
       Err{"WORLD_SIZE=5 is not a multiple of LOCAL_WORLD_SIZE=2: the nodes run different numbers of "
       "processes, so the node count is unknown; set PARALLELRUN_NODE_RANK and "
       "PARALLELRUN_NODE_COUNT"}},
  });
}

TEST_CASE("Role: Open MPI and Azure ML variables", "[role]") {
  Check({
      {"mpirun -np 8 on 2 nodes, by slot: rank 4 is node 1's agent",
       {{"OMPI_COMM_WORLD_RANK", "4"}, {"OMPI_COMM_WORLD_SIZE", "8"},
        {"OMPI_COMM_WORLD_LOCAL_RANK", "0"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"},
        {"PARALLELRUN_MASTER_ADDR", "n0"}},
       1, 2, "n0", kDefaultMasterPort, 0, 4, false, "Open MPI",
       "role: node 1 of 2 (agent of master n0:29517) from Open MPI variables "
       "PARALLELRUN_MASTER_ADDR=n0 OMPI_COMM_WORLD_RANK=4 OMPI_COMM_WORLD_SIZE=8 "
       "OMPI_COMM_WORLD_LOCAL_RANK=0 OMPI_COMM_WORLD_LOCAL_SIZE=4; 4 processes per node collapse "
       "to one agent per node; master port 29517 (the default: no port given)"},
      {"by slot: rank 5 is an extra process",
       {{"OMPI_COMM_WORLD_RANK", "5"}, {"OMPI_COMM_WORLD_SIZE", "8"},
        {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"}},
       1, 2, "127.0.0.1", kDefaultMasterPort, 1, 4, true, "Open MPI"},
      {"--map-by node: rank 1 is node 1's agent",
       {{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "8"},
        {"OMPI_COMM_WORLD_LOCAL_RANK", "0"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"},
        {"MASTER_ADDR", "n0"}},
       1, 2, "n0", kDefaultMasterPort, 0, 4, false, "Open MPI"},
      {"--map-by node: rank 6 is an extra process on node 0",
       {{"OMPI_COMM_WORLD_RANK", "6"}, {"OMPI_COMM_WORLD_SIZE", "8"},
        {"OMPI_COMM_WORLD_LOCAL_RANK", "3"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"}},
       0, 2, "127.0.0.1", kDefaultMasterPort, 3, 4, true, "Open MPI"},
      {"mpirun -np 3 on one machine collapses to one node",
       {{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "3"},
        {"OMPI_COMM_WORLD_LOCAL_RANK", "0"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "3"}},
       0, 1, "127.0.0.1", kDefaultMasterPort, 0, 3, false, "Open MPI"},
      {"...unless every process is its own node",
       {{"OMPI_COMM_WORLD_RANK", "2"}, {"OMPI_COMM_WORLD_SIZE", "3"},
        {"OMPI_COMM_WORLD_LOCAL_RANK", "2"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "3"},
        {"PARALLELRUN_AGENT_PER_PROCESS", "1"}, {"PARALLELRUN_MASTER_ADDR", "127.0.0.1"},
        {"PARALLELRUN_MASTER_PORT", "4444"}},
       2, 3, "127.0.0.1", 4444, 0, 1, false, "Open MPI",
       "role: node 2 of 3 (agent of master 127.0.0.1:4444) from Open MPI variables "
       "PARALLELRUN_MASTER_ADDR=127.0.0.1 PARALLELRUN_MASTER_PORT=4444 "
       "PARALLELRUN_AGENT_PER_PROCESS=1 OMPI_COMM_WORLD_RANK=2 OMPI_COMM_WORLD_SIZE=3 "
       "OMPI_COMM_WORLD_LOCAL_RANK=2 OMPI_COMM_WORLD_LOCAL_SIZE=3; every launcher process is its "
       "own node (agent per process)"},
      {"Azure: AZ_BATCH_MASTER_NODE ip:port",
       {{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"},
        {"OMPI_COMM_WORLD_LOCAL_RANK", "0"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "1"},
        {"AZ_BATCH_MASTER_NODE", "10.0.0.5:6105"}, {"AZ_BATCHAI_MPI_MASTER_NODE", "other"}},
       1, 2, "10.0.0.5", 6105, 0, 1, false, "Azure ML",
       "role: node 1 of 2 (agent of master 10.0.0.5:6105) from Open MPI variables (Azure ML) "
       "OMPI_COMM_WORLD_RANK=1 OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_LOCAL_RANK=0 "
       "OMPI_COMM_WORLD_LOCAL_SIZE=1 AZ_BATCH_MASTER_NODE=10.0.0.5:6105"},
      {"Azure: AZ_BATCHAI_MPI_MASTER_NODE",
       {{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"},
        {"AZ_BATCHAI_MPI_MASTER_NODE", "10.0.0.6"}, {"AZ_BATCHAI_JOB_MASTER_NODE_IP", "x"}},
       1, 2, "10.0.0.6", kDefaultMasterPort, 0, 1, false, "Azure ML"},
      {"Azure: localhost is skipped for the job master IP",
       {{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"},
        {"AZ_BATCHAI_MPI_MASTER_NODE", "localhost"}, {"AZ_BATCHAI_JOB_MASTER_NODE_IP", "10.0.0.7"}},
       1, 2, "10.0.0.7", kDefaultMasterPort, 0, 1, false, "Azure ML"},
      {"Azure: first of AZ_BATCH_HOST_LIST",
       {{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "2"},
        {"AZ_BATCH_HOST_LIST", "10.0.0.8,10.0.0.9"}},
       0, 2, "10.0.0.8", kDefaultMasterPort, 0, 1, false, "Azure ML"},
      {"Azure: bad AZ_BATCH_MASTER_NODE",
       {{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"},
        {"AZ_BATCH_MASTER_NODE", "10.0.0.5"}},
       Err{"AZ_BATCH_MASTER_NODE=10.0.0.5: expected address:port"}},
      {"Open MPI inside Slurm: master from the node list",
       {{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"},
        {"SLURM_JOB_NODELIST", "gpu-[07-08]"}},
       1, 2, "gpu-07", kDefaultMasterPort, 0, 1, false, "Open MPI"},
      {"no master address",
       {{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"}}, Err{"node 1 of 2 from Open MPI variables OMPI_COMM_WORLD_RANK=1 OMPI_COMM_WORLD_SIZE=2: no "
       "master address; set PARALLELRUN_MASTER_ADDR (or --master-addr) to node 0's host name or "
       "address"}},
      {"size missing", {{"OMPI_COMM_WORLD_RANK", "1"}}, Err{"Open MPI variables: OMPI_COMM_WORLD_RANK is set but OMPI_COMM_WORLD_SIZE is not"}},
      {"rank >= size", {{"OMPI_COMM_WORLD_RANK", "8"}, {"OMPI_COMM_WORLD_SIZE", "8"}}, Err{"OMPI_COMM_WORLD_RANK=8 is not below OMPI_COMM_WORLD_SIZE=8: ranks count from 0"}},
      {"non-numeric local size",
       {{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "8"},
        {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "4x"}},
       Err{"OMPI_COMM_WORLD_LOCAL_SIZE=4x: not a whole number"}},
      {"placement neither by slot nor by node",
       {{"OMPI_COMM_WORLD_RANK", "5"}, {"OMPI_COMM_WORLD_SIZE", "8"},
        {"OMPI_COMM_WORLD_LOCAL_RANK", "0"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"}},
       Err{"OMPI_COMM_WORLD_RANK=5 OMPI_COMM_WORLD_LOCAL_RANK=0 OMPI_COMM_WORLD_LOCAL_SIZE=4: ranks "
       "are placed neither by slot nor by node, so this process's node is unknown; set "
       "PARALLELRUN_NODE_RANK and PARALLELRUN_NODE_COUNT"}},
  });
}

TEST_CASE("Role: MPICH / Hydra variables", "[role]") {
  Check({
      {"agent", {{"PMI_RANK", "2"}, {"PMI_SIZE", "3"}, {"MASTER_ADDR", "h0"}, {"MASTER_PORT", "5555"}},
       2, 3, "h0", 5555, 0, 1, false, "MPICH",
       "role: node 2 of 3 (agent of master h0:5555) from MPICH variables PMI_RANK=2 PMI_SIZE=3 "
       "MASTER_ADDR=h0 MASTER_PORT=5555"},
      {"2 per node, extra",
       {{"PMI_RANK", "3"}, {"PMI_SIZE", "4"}, {"MPI_LOCALRANKID", "1"}, {"MPI_LOCALNRANKS", "2"}},
       1, 2, "127.0.0.1", kDefaultMasterPort, 1, 2, true, "MPICH"},
      {"2 per node, agent of node 1",
       {{"PMI_RANK", "2"}, {"PMI_SIZE", "4"}, {"MPI_LOCALRANKID", "0"}, {"MPI_LOCALNRANKS", "2"},
        {"PARALLELRUN_MASTER_ADDR", "h0"}},
       1, 2, "h0", kDefaultMasterPort, 0, 2, false, "MPICH"},
      {"PMI_SIZE missing", {{"PMI_RANK", "0"}}, Err{"MPICH variables: PMI_RANK is set but PMI_SIZE is not"}},
      {"rank not a number", {{"PMI_RANK", "1.0"}, {"PMI_SIZE", "2"}}, Err{"PMI_RANK=1.0: not a whole number"}},
  });
}

TEST_CASE("Role: Slurm variables", "[role]") {
  Check({
      {"srun, one task per node",
       {{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "3"}, {"SLURM_LOCALID", "0"},
        {"SLURM_NODEID", "1"}, {"SLURM_JOB_NUM_NODES", "3"}, {"SLURM_JOB_NODELIST", "n[1-3,7]"},
        {"SLURM_STEP_ID", "0"}},
       1, 3, "n1", kDefaultMasterPort, 0, 1, false, "Slurm",
       "role: node 1 of 3 (agent of master n1:29517) from Slurm variables SLURM_PROCID=1 "
       "SLURM_NTASKS=3 SLURM_LOCALID=0 SLURM_NODEID=1 SLURM_JOB_NUM_NODES=3 "
       "SLURM_JOB_NODELIST=n[1-3,7]; master port 29517 (the default: no port given)"},
      {"--ntasks-per-node=4: local 0 of node 1",
       {{"SLURM_PROCID", "4"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "0"},
        {"SLURM_NODEID", "1"}, {"SLURM_JOB_NUM_NODES", "2"}, {"SLURM_TASKS_PER_NODE", "4(x2)"},
        {"SLURM_JOB_NODELIST", "gpu-[01-04]"}, {"SLURM_STEP_ID", "0"}},
       1, 2, "gpu-01", kDefaultMasterPort, 0, 4, false, "Slurm"},
      {"--ntasks-per-node=4: an extra process",
       {{"SLURM_PROCID", "7"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "3"},
        {"SLURM_NODEID", "1"}, {"SLURM_JOB_NUM_NODES", "2"}, {"SLURM_TASKS_PER_NODE", "4(x2)"},
        {"SLURM_JOB_NODELIST", "gpu-[01-04]"}, {"SLURM_STEP_ID", "0"}},
       1, 2, "gpu-01", kDefaultMasterPort, 3, 4, true, "Slurm"},
      {"uneven tasks per node: node id given, so fine",
       {{"SLURM_PROCID", "4"}, {"SLURM_NTASKS", "5"}, {"SLURM_LOCALID", "1"},
        {"SLURM_NODEID", "1"}, {"SLURM_JOB_NUM_NODES", "2"}, {"SLURM_TASKS_PER_NODE", "3,2"},
        {"SLURM_JOB_NODELIST", "a1,b[2-3]"}, {"SLURM_STEP_ID", "0"}},
       1, 2, "a1", kDefaultMasterPort, 1, 2, true, "Slurm"},
      {"step variables win over job variables",
       {{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "8"}, {"SLURM_STEP_NUM_TASKS", "2"},
        {"SLURM_NODEID", "1"}, {"SLURM_JOB_NUM_NODES", "8"}, {"SLURM_STEP_NUM_NODES", "2"},
        {"SLURM_JOB_NODELIST", "n[1-8]"}, {"SLURM_STEP_NODELIST", "n[5-6]"},
        {"SLURM_STEP_ID", "3"}, {"PARALLELRUN_MASTER_PORT", "9000"}},
       1, 2, "n5", 9000, 0, 1, false, "Slurm"},
      {"no node id: node = rank ÷ tasks per node",
       {{"SLURM_PROCID", "2"}, {"SLURM_NTASKS", "4"}, {"SLURM_LOCALID", "0"},
        {"SLURM_NTASKS_PER_NODE", "2"}, {"SLURM_NODELIST", "x[10-11]"}, {"SLURM_STEPID", "0"}},
       1, 2, "x10", kDefaultMasterPort, 0, 2, false, "Slurm"},
      {"batch script without srun runs on one node",
       {{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}, {"SLURM_JOB_NUM_NODES", "4"},
        {"SLURM_JOB_NODELIST", "n[1-4]"}},
       0, 1, "127.0.0.1", kDefaultMasterPort, 0, 1, false, "Slurm",
       "role: single node (rank 0 of 1): master and agent in this process from Slurm variables "
       "SLURM_JOB_NUM_NODES=4; no SLURM_STEP_ID: this is the batch script, not an srun task, so "
       "it runs on this node only (start it with srun to use all 4 nodes)"},
      {"rank >= tasks",
       {{"SLURM_PROCID", "4"}, {"SLURM_NTASKS", "4"}, {"SLURM_STEP_ID", "0"}}, Err{"SLURM_PROCID=4 is not below SLURM_NTASKS=4: ranks count from 0"}},
      {"node id >= nodes",
       {{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"SLURM_NODEID", "2"},
        {"SLURM_JOB_NUM_NODES", "2"}, {"SLURM_STEP_ID", "0"}, {"SLURM_JOB_NODELIST", "n[1-2]"}},
       Err{"SLURM_NODEID=2 is not below the node count SLURM_JOB_NUM_NODES=2"}},
      {"no task count", {{"SLURM_PROCID", "1"}, {"SLURM_STEP_ID", "0"}}, Err{"SLURM_PROCID=1: Slurm variables give no task count (SLURM_STEP_NUM_TASKS or SLURM_NTASKS)"}},
      {"malformed node list",
       {{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"SLURM_STEP_ID", "0"},
        {"SLURM_JOB_NODELIST", "n[1-3"}},
       Err{"SLURM_JOB_NODELIST=n[1-3: host list 'n[1-3': unbalanced brackets"}},
      {"non-numeric SLURM_LOCALID",
       {{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"SLURM_LOCALID", "a"},
        {"SLURM_STEP_ID", "0"}, {"SLURM_JOB_NODELIST", "n1"}},
       Err{"SLURM_LOCALID=a: not a whole number"}},
  });
}

TEST_CASE("Role: Kubernetes Indexed Job", "[role]") {
  Check({
      {"index 2 of 4, master from HOSTNAME",
       {{"JOB_COMPLETION_INDEX", "2"}, {"HOSTNAME", "score-2"}, {"PARALLELRUN_NODE_COUNT", "4"}},
       2, 4, "score-0", kDefaultMasterPort, 0, 1, false, "Kubernetes",
       "role: node 2 of 4 (agent of master score-0:29517) from Kubernetes Indexed Job variables "
       "PARALLELRUN_NODE_COUNT=4 JOB_COMPLETION_INDEX=2 HOSTNAME=score-2; master port 29517 (the "
       "default: no port given)"},
      {"with the headless Service as subdomain",
       {{"JOB_COMPLETION_INDEX", "1"}, {"HOSTNAME", "my-job-1"}, {"PARALLELRUN_NODE_COUNT", "2"},
        {"PARALLELRUN_SUBDOMAIN", "prun"}},
       1, 2, "my-job-0.prun", kDefaultMasterPort, 0, 1, false, "Kubernetes"},
      {"explicit master address wins",
       {{"JOB_COMPLETION_INDEX", "0"}, {"HOSTNAME", "j-0"}, {"PARALLELRUN_NODE_COUNT", "2"},
        {"PARALLELRUN_MASTER_ADDR", "10.2.0.1"}},
       0, 2, "10.2.0.1", kDefaultMasterPort, 0, 1, false, "Kubernetes"},
      {"no completion count", {{"JOB_COMPLETION_INDEX", "1"}, {"HOSTNAME", "j-1"}}, Err{"JOB_COMPLETION_INDEX=1 (Kubernetes Indexed Job variables): no completion count; set "
       "PARALLELRUN_NODE_COUNT to the Job's spec.completions"}},
      {"HOSTNAME not <job>-<index>",
       {{"JOB_COMPLETION_INDEX", "1"}, {"HOSTNAME", "pod-xyz"}, {"PARALLELRUN_NODE_COUNT", "2"}},
       Err{"node 1 of 2 from Kubernetes Indexed Job variables PARALLELRUN_NODE_COUNT=2 "
       "JOB_COMPLETION_INDEX=1 HOSTNAME=pod-xyz: no master address; set PARALLELRUN_MASTER_ADDR "
       "(or --master-addr) to node 0's host name or address"}},
      {"index >= count",
       {{"JOB_COMPLETION_INDEX", "4"}, {"HOSTNAME", "j-4"}, {"PARALLELRUN_NODE_COUNT", "4"}}, Err{"JOB_COMPLETION_INDEX=4 is not below PARALLELRUN_NODE_COUNT=4: ranks count from 0"}},
  });
}

TEST_CASE("Role: the order of sources", "[role]") {
  EnvironmentMap all = {
      {"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "t"},
      {"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "5"},
      {"PMI_RANK", "0"}, {"PMI_SIZE", "6"},
      {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "7"}, {"SLURM_STEP_ID", "0"},
      {"SLURM_JOB_NODELIST", "s1"},
      {"JOB_COMPLETION_INDEX", "0"}, {"PARALLELRUN_NODE_COUNT", "9"}};
  const char* expected[] = {"torchrun", "Open MPI", "MPICH", "Slurm", "Kubernetes"};
  const std::vector<std::vector<std::string>> remove = {
      {"RANK", "WORLD_SIZE"}, {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
      {"PMI_RANK", "PMI_SIZE"}, {"SLURM_PROCID"}};
  for (size_t i = 0; i < 5; i++) {
    EnvironmentMap env = all;
    if (i < 4) env.erase("PARALLELRUN_NODE_COUNT");  // only Kubernetes takes a lone count
    for (size_t j = 0; j < i; j++) {
      for (const auto& name : remove[j]) env.erase(name);
    }
    env["MASTER_ADDR"] = "m";
    auto role = ResolveRole(env);
    INFO(i << ": " << (role.ok() ? role->explanation : role.status().message()));
    REQUIRE(role.ok());
    CHECK(role->source == expected[i]);
  }
}

TEST_CASE("Role: values are printed on one line", "[role]") {
  auto role = ResolveRole({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"},
                           {"TORCHELASTIC_RUN_ID", "a\nb"}, {"MASTER_PORT", "100"}});
  REQUIRE(role.ok());
  CHECK(role->explanation ==
        "role: node 0 of 2 (master, listening on h:101) from torchrun variables RANK=0 "
        "WORLD_SIZE=2 MASTER_ADDR=h MASTER_PORT=100 TORCHELASTIC_RUN_ID=a\\nb; MASTER_PORT=100 is "
        "torchrun's rendezvous store, so the master listens on 101");
}

TEST_CASE("Role: MakeEnvironmentMap", "[role]") {
  auto env = MakeEnvironmentMap({"A=1", "B=x=y", "C=", "=bad", "noequals", "A=2"});
  CHECK(env == EnvironmentMap{{"A", "2"}, {"B", "x=y"}, {"C", ""}});
}

// ---- host lists -------------------------------------------------------------

TEST_CASE("Role: Slurm host lists expand", "[role]") {
  struct Case {
    std::string list;
    std::vector<std::string> hosts;
  };
  const std::vector<Case> cases = {
      {"n1", {"n1"}},
      {"n[1-3,7]", {"n1", "n2", "n3", "n7"}},
      {"gpu-[01-04]", {"gpu-01", "gpu-02", "gpu-03", "gpu-04"}},
      {"a1,b[2-3]", {"a1", "b2", "b3"}},
      {"n[8-10]", {"n8", "n9", "n10"}},
      {"n[098-101]", {"n098", "n099", "n100", "n101"}},
      {"r[1-2]n[1-2]", {"r1n1", "r1n2", "r2n1", "r2n2"}},
      {"n[1-2]-ib", {"n1-ib", "n2-ib"}},
      {"x,y[5],z", {"x", "y5", "z"}},
  };
  for (const Case& c : cases) {
    INFO(c.list);
    auto hosts = ExpandHostList(c.list);
    REQUIRE(hosts.ok());
    CHECK(*hosts == c.hosts);
  }
  auto first = ExpandHostList("n[1-100000]", 1);
  REQUIRE(first.ok());
  CHECK(*first == std::vector<std::string>{"n1"});
}

TEST_CASE("Role: malformed host lists are errors", "[role]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "host list '': no hosts"},
      {"n[1-3", "host list 'n[1-3': unbalanced brackets"},
      {"n1-3]", "host list 'n1-3]': unbalanced brackets"},
      {"n[[1]]", "host list 'n[[1]]': unbalanced brackets"},
      {"n[3-1]", "host list 'n[3-1]': [3-1]: range 3-1 runs backwards"},
      {"n[a-b]", "host list 'n[a-b]': [a-b]: 'a-b' is not a number or range"},
      {"n[]", "host list 'n[]': []: '' is not a number or range"},
      {"n[1,]", "host list 'n[1,]': [1,]: '' is not a number or range"},
      {"a,,b", "host list 'a,,b': empty host name"},
      {"a,", "host list 'a,': empty host name"},
      {"a b", "host list 'a b': space or control character in a host name"},
  };
  for (const auto& [list, message] : cases) {
    INFO(list);
    auto hosts = ExpandHostList(list);
    REQUIRE_FALSE(hosts.ok());
    CHECK(hosts.status().message() == message);
  }
}

}  // namespace
}  // namespace parallelrun
