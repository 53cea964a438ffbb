#include "link/role.h"

#include <cctype>
#include <utility>

#include <fmt/format.h>
#include "base/text.h"

namespace parallelrun {

namespace {

// Reads variables and remembers which ones it read, in order, for the
// explanation. An empty value counts as unset (`export RANK=` is common).
class Reader {
 public:
  explicit Reader(const EnvironmentMap& env) : env_(env) {}

  std::optional<std::string> Get(const std::string& name) {
    auto it = env_.find(name);
    if (it == env_.end() || it->second.empty()) return std::nullopt;
    Note(name, it->second);
    return it->second;
  }
  // The first of `names` that is set.
  std::optional<std::pair<std::string, std::string>> First(std::initializer_list<const char*> names) {
    for (const char* n : names) {
      if (auto v = Get(n)) return std::make_pair(std::string(n), *v);
    }
    return std::nullopt;
  }
  bool Has(const std::string& name) const {
    auto it = env_.find(name);
    return it != env_.end() && !it->second.empty();
  }
  void Note(const std::string& name, const std::string& value) {
    for (const auto& r : read_) {
      if (r == name + "=" + PrintableShort(value, 120)) return;
    }
    read_.push_back(name + "=" + PrintableShort(value, 120));
  }
  const std::vector<std::string>& read() const { return read_; }

 private:
  const EnvironmentMap& env_;
  std::vector<std::string> read_;
};

// A value with the words that name it in an error: "RANK=abc" for a
// variable, "--node-rank abc" for a flag.
struct Field {
  std::string label;
  std::string value;
};

Field Var(const std::string& name, const std::string& value) {
  return {name + "=" + PrintableShort(value, 120), value};
}

Status ParseNumber(const Field& f, uint32_t* out) {
  const std::string& v = f.value;
  bool digits = !v.empty() && v.size() <= 9;
  for (char c : v) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  if (!digits) return Status::Usage(f.label + ": not a whole number");
  *out = static_cast<uint32_t>(std::stoul(v));
  return Status::Ok();
}

Status ParsePort(const Field& f, uint16_t* out) {
  uint32_t n = 0;
  Status s = ParseNumber(f, &n);
  if (!s.ok() || n == 0 || n > 65535) {
    return Status::Usage(f.label + ": not a port number (1-65535)");
  }
  *out = static_cast<uint16_t>(n);
  return Status::Ok();
}

Status ParseHost(const Field& f, std::string* out) {
  std::string h = f.value;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  bool ok = !h.empty();
  for (char c : h) {
    unsigned char u = static_cast<unsigned char>(c);
    ok = ok && u > 0x20 && u != 0x7f && c != '/';
  }
  if (!ok) return Status::Usage(f.label + ": not a host name or address");
  *out = h;
  return Status::Ok();
}

// "host:port" (Azure's AZ_BATCH_MASTER_NODE).
Status ParseHostPort(const Field& f, std::string* host, uint16_t* port) {
  size_t colon = f.value.rfind(':');
  if (colon == std::string::npos) {
    return Status::Usage(f.label + ": expected address:port");
  }
  Status s = ParseHost({f.label, f.value.substr(0, colon)}, host);
  if (!s.ok()) return Status::Usage(f.label + ": expected address:port");
  s = ParsePort({f.label, f.value.substr(colon + 1)}, port);
  if (!s.ok()) return Status::Usage(f.label + ": expected address:port");
  return Status::Ok();
}

// Slurm's tasks per node, "2(x3),1" → {2, 2, 2, 1}; nullopt if not of that form.
std::optional<std::vector<uint32_t>> ParseTasksPerNode(const std::string& s) {
  std::vector<uint32_t> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) j++;
    if (j == i || j - i > 6) return std::nullopt;
    uint32_t n = static_cast<uint32_t>(std::stoul(s.substr(i, j - i)));
    uint32_t times = 1;
    if (j < s.size() && s[j] == '(') {
      if (s.compare(j, 2, "(x") != 0) return std::nullopt;
      size_t k = j + 2, m = k;
      while (m < s.size() && std::isdigit(static_cast<unsigned char>(s[m]))) m++;
      if (m == k || m - k > 6 || m >= s.size() || s[m] != ')') return std::nullopt;
      times = static_cast<uint32_t>(std::stoul(s.substr(k, m - k)));
      j = m + 1;
    }
    for (uint32_t t = 0; t < times && out.size() < 100000; t++) out.push_back(n);
    if (j < s.size() && s[j] != ',') return std::nullopt;
    i = j + 1;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

// What a launcher said, before collapsing processes into nodes.
struct Launch {
  std::string source;  // Role::source
  std::string words;   // "torchrun variables"
  Field rank, size;    // global process rank and count
  std::optional<Field> local_rank, local_size;
  std::optional<Field> node_rank, node_count;  // the launcher's own node index
  std::optional<std::string> master_host;
  std::optional<uint16_t> master_port;
  std::vector<std::string> notes;
  // Kubernetes gives a rank but no count: the count must be explicit.
  bool needs_count = false;
};

// ---- one function per launcher; nullopt = not this launcher -----------------

Result<std::optional<Launch>> FromTorchrun(Reader& r) {
  if (!r.Has("RANK") || !r.Has("WORLD_SIZE")) return std::optional<Launch>();
  Launch l;
  l.source = "torchrun";
  l.words = "torchrun variables";
  l.rank = Var("RANK", *r.Get("RANK"));
  l.size = Var("WORLD_SIZE", *r.Get("WORLD_SIZE"));
  if (auto v = r.Get("LOCAL_RANK")) l.local_rank = Var("LOCAL_RANK", *v);
  if (auto v = r.Get("LOCAL_WORLD_SIZE")) l.local_size = Var("LOCAL_WORLD_SIZE", *v);
  if (auto v = r.Get("GROUP_RANK")) l.node_rank = Var("GROUP_RANK", *v);
  if (l.node_rank) {
    if (auto v = r.Get("GROUP_WORLD_SIZE")) l.node_count = Var("GROUP_WORLD_SIZE", *v);
  }
  if (auto v = r.Get("MASTER_ADDR")) {
    std::string host;
    Status s = ParseHost(Var("MASTER_ADDR", *v), &host);
    if (!s.ok()) return s;
    l.master_host = host;
  }
  if (auto v = r.Get("MASTER_PORT")) {
    uint16_t port = 0;
    Status s = ParsePort(Var("MASTER_PORT", *v), &port);
    if (!s.ok()) return s;
    if (auto run_id = r.Get("TORCHELASTIC_RUN_ID")) {
      if (port == 65535) {
        return Status::Usage("MASTER_PORT=65535: torchrun's store holds it and parallelrun needs "
                             "the port above; set PARALLELRUN_MASTER_PORT");
      }
      l.notes.push_back(fmt::format("MASTER_PORT={} is torchrun's rendezvous store, so the master "
                                    "listens on {}", port, port + 1));
      port = static_cast<uint16_t>(port + 1);
    }
    l.master_port = port;
  }
  return std::optional<Launch>(std::move(l));
}

Result<std::optional<Launch>> FromOpenMpi(Reader& r) {
  if (!r.Has("OMPI_COMM_WORLD_RANK") && !r.Has("OMPI_COMM_WORLD_SIZE")) {
    return std::optional<Launch>();
  }
  Launch l;
  l.source = "Open MPI";
  l.words = "Open MPI variables";
  auto rank = r.Get("OMPI_COMM_WORLD_RANK");
  auto size = r.Get("OMPI_COMM_WORLD_SIZE");
  if (!rank || !size) {
    return Status::Usage(fmt::format("Open MPI variables: {} is set but {} is not",
                                     rank ? "OMPI_COMM_WORLD_RANK" : "OMPI_COMM_WORLD_SIZE",
                                     rank ? "OMPI_COMM_WORLD_SIZE" : "OMPI_COMM_WORLD_RANK"));
  }
  l.rank = Var("OMPI_COMM_WORLD_RANK", *rank);
  l.size = Var("OMPI_COMM_WORLD_SIZE", *size);
  if (auto v = r.Get("OMPI_COMM_WORLD_LOCAL_RANK")) l.local_rank = Var("OMPI_COMM_WORLD_LOCAL_RANK", *v);
  if (auto v = r.Get("OMPI_COMM_WORLD_LOCAL_SIZE")) l.local_size = Var("OMPI_COMM_WORLD_LOCAL_SIZE", *v);

  // Azure ML's MPI distribution names the master node (microsoft/hi-ml's
  // order: AZ_BATCH_MASTER_NODE, then AZ_BATCHAI_MPI_MASTER_NODE unless it is
  // "localhost", which it is on single-node jobs).
  if (auto v = r.Get("AZ_BATCH_MASTER_NODE")) {
    std::string host;
    uint16_t port = 0;
    Status s = ParseHostPort(Var("AZ_BATCH_MASTER_NODE", *v), &host, &port);
    if (!s.ok()) return s;
    l.master_host = host;
    l.master_port = port;
  } else if (r.Has("AZ_BATCHAI_MPI_MASTER_NODE") &&
             r.Get("AZ_BATCHAI_MPI_MASTER_NODE") != std::optional<std::string>("localhost")) {
    std::string host;
    Status s = ParseHost(Var("AZ_BATCHAI_MPI_MASTER_NODE", *r.Get("AZ_BATCHAI_MPI_MASTER_NODE")),
                         &host);
    if (!s.ok()) return s;
    l.master_host = host;
  } else if (auto v = r.Get("AZ_BATCHAI_JOB_MASTER_NODE_IP")) {
    std::string host;
    Status s = ParseHost(Var("AZ_BATCHAI_JOB_MASTER_NODE_IP", *v), &host);
    if (!s.ok()) return s;
    l.master_host = host;
  } else if (auto v = r.Get("AZ_BATCH_HOST_LIST")) {
    std::string first = v->substr(0, v->find(','));
    std::string host;
    Status s = ParseHost({"AZ_BATCH_HOST_LIST=" + PrintableShort(*v, 120), first}, &host);
    if (!s.ok()) return s;
    l.master_host = host;
  }
  if (l.master_host) {
    l.source = "Azure ML";
    l.words = "Open MPI variables (Azure ML)";
  }
  return std::optional<Launch>(std::move(l));
}

Result<std::optional<Launch>> FromMpich(Reader& r) {
  if (!r.Has("PMI_RANK") && !r.Has("PMI_SIZE")) return std::optional<Launch>();
  auto rank = r.Get("PMI_RANK");
  auto size = r.Get("PMI_SIZE");
  if (!rank || !size) {
    return Status::Usage(fmt::format("MPICH variables: {} is set but {} is not",
                                     rank ? "PMI_RANK" : "PMI_SIZE",
                                     rank ? "PMI_SIZE" : "PMI_RANK"));
  }
  Launch l;
  l.source = "MPICH";
  l.words = "MPICH variables";
  l.rank = Var("PMI_RANK", *rank);
  l.size = Var("PMI_SIZE", *size);
  if (auto v = r.Get("MPI_LOCALRANKID")) l.local_rank = Var("MPI_LOCALRANKID", *v);
  if (auto v = r.Get("MPI_LOCALNRANKS")) l.local_size = Var("MPI_LOCALNRANKS", *v);
  return std::optional<Launch>(std::move(l));
}

Result<std::string> SlurmFirstHost(Reader& r) {
  auto list = r.First({"SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST"});
  if (!list) return std::string();
  auto hosts = ExpandHostList(list->second, 1);
  if (!hosts.ok()) return hosts.status().WithContext(list->first + "=" + PrintableShort(list->second, 120));
  return hosts->front();
}

// Slurm's batch script is not an srun task: it has SLURM_PROCID=0 but
// SLURM_NTASKS counts the tasks srun would start. Returns a single-node
// Launch for it.
Result<std::optional<Launch>> FromSlurm(Reader& r) {
  if (!r.Has("SLURM_PROCID")) return std::optional<Launch>();
  Launch l;
  l.source = "Slurm";
  l.words = "Slurm variables";
  if (!r.Has("SLURM_STEP_ID") && !r.Has("SLURM_STEPID")) {
    l.rank = Var("SLURM_PROCID", "0");
    l.size = Var("(tasks)", "1");
    auto nodes = r.First({"SLURM_JOB_NUM_NODES", "SLURM_NNODES"});
    l.notes.push_back(fmt::format(
        "no SLURM_STEP_ID: this is the batch script, not an srun task, so it runs on this node "
        "only{}", nodes ? fmt::format(" (start it with srun to use all {} nodes)", nodes->second)
                        : std::string(" (start it with srun to use every node)")));
    return std::optional<Launch>(std::move(l));
  }
  l.rank = Var("SLURM_PROCID", *r.Get("SLURM_PROCID"));
  auto size = r.First({"SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_NPROCS"});
  if (!size) {
    return Status::Usage(l.rank.label + ": Slurm variables give no task count "
                         "(SLURM_STEP_NUM_TASKS or SLURM_NTASKS)");
  }
  l.size = Var(size->first, size->second);
  if (auto v = r.Get("SLURM_LOCALID")) l.local_rank = Var("SLURM_LOCALID", *v);
  if (auto v = r.Get("SLURM_NODEID")) {
    l.node_rank = Var("SLURM_NODEID", *v);
    if (auto n = r.First({"SLURM_STEP_NUM_NODES", "SLURM_JOB_NUM_NODES", "SLURM_NNODES"})) {
      l.node_count = Var(n->first, n->second);
    }
  }
  // Tasks on this node: the entry of the per-node list at this node's index.
  if (auto v = r.First({"SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE"})) {
    uint32_t node = 0;
    auto per_node = ParseTasksPerNode(v->second);
    if (per_node && l.node_rank && ParseNumber(*l.node_rank, &node).ok() &&
        node < per_node->size()) {
      l.local_size = Field{v->first + "=" + PrintableShort(v->second, 120),
                           std::to_string((*per_node)[node])};
    }
  } else if (auto n = r.Get("SLURM_NTASKS_PER_NODE")) {
    l.local_size = Var("SLURM_NTASKS_PER_NODE", *n);
  }
  auto first = SlurmFirstHost(r);
  if (!first.ok()) return first.status();
  if (!first->empty()) l.master_host = *first;
  return std::optional<Launch>(std::move(l));
}

Result<std::optional<Launch>> FromKubernetes(Reader& r) {
  auto index = r.Get("JOB_COMPLETION_INDEX");
  if (!index) return std::optional<Launch>();
  Launch l;
  l.source = "Kubernetes";
  l.words = "Kubernetes Indexed Job variables";
  l.rank = Var("JOB_COMPLETION_INDEX", *index);
  l.needs_count = true;
  // Indexed Job pods are named <job>-<index>; index 0's name is the master's.
  if (auto host = r.Get("HOSTNAME")) {
    std::string suffix = "-" + *index;
    if (host->size() > suffix.size() &&
        host->compare(host->size() - suffix.size(), suffix.size(), suffix) == 0) {
      std::string master = host->substr(0, host->size() - suffix.size()) + "-0";
      if (auto sub = r.Get("PARALLELRUN_SUBDOMAIN")) master += "." + *sub;
      l.master_host = master;
    }
  }
  return std::optional<Launch>(std::move(l));
}

// ---- collapsing launcher processes into nodes --------------------------------

struct Placement {
  uint32_t node_rank = 0, node_count = 1, local_rank = 0, local_size = 1;
  bool extra = false;
};

Result<Placement> Place(const Launch& l, bool agent_per_process, std::vector<std::string>* notes) {
  uint32_t rank = 0, size = 0;
  Status s = ParseNumber(l.rank, &rank);
  if (!s.ok()) return s;
  s = ParseNumber(l.size, &size);
  if (!s.ok()) return s;
  if (size == 0) return Status::Usage(l.size.label + ": the job has no processes");
  if (rank >= size) {
    return Status::Usage(fmt::format("{} is not below {}: ranks count from 0", l.rank.label,
                                     l.size.label));
  }
  Placement p;
  p.node_rank = rank;
  p.node_count = size;
  if (agent_per_process) {
    if (l.local_size || l.local_rank) {
      notes->push_back("every launcher process is its own node (agent per process)");
    }
    return p;
  }
  uint32_t local_rank = 0, local_size = 0;
  if (l.local_rank) {
    s = ParseNumber(*l.local_rank, &local_rank);
    if (!s.ok()) return s;
  }
  if (l.local_size) {
    s = ParseNumber(*l.local_size, &local_size);
    if (!s.ok()) return s;
    if (local_size == 0) return Status::Usage(l.local_size->label + ": no processes on the node");
    if (local_rank >= local_size) {
      return Status::Usage(fmt::format("{} is not below {}", l.local_rank->label,
                                       l.local_size->label));
    }
  }
  p.local_rank = local_rank;
  p.local_size = local_size > 0 ? local_size : 1;
  p.extra = local_rank > 0;

  if (l.node_rank) {
    uint32_t node = 0;
    s = ParseNumber(*l.node_rank, &node);
    if (!s.ok()) return s;
    uint32_t count = 0;
    if (l.node_count) {
      s = ParseNumber(*l.node_count, &count);
      if (!s.ok()) return s;
    } else if (local_size > 0 && size % local_size == 0) {
      count = size / local_size;
    } else {
      return Status::Usage(fmt::format("{}: the launcher gives no node count", l.node_rank->label));
    }
    if (node >= count) {
      return Status::Usage(fmt::format("{} is not below the node count {}", l.node_rank->label,
                                       l.node_count ? l.node_count->label : std::to_string(count)));
    }
    p.node_rank = node;
    p.node_count = count;
  } else if (local_size > 1) {
    if (size % local_size != 0) {
      return Status::Usage(fmt::format(
          "{} is not a multiple of {}: the nodes run different numbers of processes, so the "
          "node count is unknown; set PARALLELRUN_NODE_RANK and PARALLELRUN_NODE_COUNT",
          l.size.label, l.local_size->label));
    }
    uint32_t nodes = size / local_size;
    if (local_rank == rank % local_size) {
      p.node_rank = rank / local_size;  // consecutive ranks share a node (by slot)
    } else if (local_rank == rank / nodes) {
      p.node_rank = rank % nodes;  // ranks dealt round-robin over the nodes (by node)
    } else {
      return Status::Usage(fmt::format(
          "{} {} {}: ranks are placed neither by slot nor by node, so this process's node is "
          "unknown; set PARALLELRUN_NODE_RANK and PARALLELRUN_NODE_COUNT",
          l.rank.label, l.local_rank ? l.local_rank->label : "", l.local_size->label));
    }
    p.node_count = nodes;
  }
  if (p.local_size > 1) {
    notes->push_back(fmt::format("{} processes per node collapse to one agent per node",
                                 p.local_size));
  }
  return p;
}

std::string Describe(const Role& role) {
  if (role.extra_process) {
    return fmt::format("extra process, local rank {} of {} on node {} (exits 0 quietly: local "
                       "rank 0 is the node's agent)",
                       role.local_rank, role.local_size, role.node_rank);
  }
  if (role.node_count == 1) return "single node (rank 0 of 1): master and agent in this process";
  if (role.is_master()) {
    return fmt::format("node 0 of {} (master, listening on {}:{})", role.node_count,
                       role.master_host, role.master_port);
  }
  return fmt::format("node {} of {} (agent of master {}:{})", role.node_rank, role.node_count,
                     role.master_host, role.master_port);
}

}  // namespace

EnvironmentMap MakeEnvironmentMap(const std::vector<std::string>& environment) {
  EnvironmentMap env;
  for (const std::string& kv : environment) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

Result<Role> ResolveRole(const EnvironmentMap& env, const RoleFlags& flags) {
  Reader r(env);
  std::vector<std::string> notes;

  // Explicit settings: a flag wins over its variable.
  auto explicit_field = [&](const std::optional<std::string>& flag, const char* flag_name,
                            const char* var) -> std::optional<Field> {
    if (flag) {
      r.Note(flag_name, *flag);
      return Field{std::string(flag_name) + " " + PrintableShort(*flag, 120), *flag};
    }
    if (auto v = r.Get(var)) return Var(var, *v);
    return std::nullopt;
  };
  auto x_rank = explicit_field(flags.node_rank, "--node-rank", "PARALLELRUN_NODE_RANK");
  auto x_count = explicit_field(flags.node_count, "--node-count", "PARALLELRUN_NODE_COUNT");
  auto x_addr = explicit_field(flags.master_addr, "--master-addr", "PARALLELRUN_MASTER_ADDR");
  auto x_port = explicit_field(flags.master_port, "--master-port", "PARALLELRUN_MASTER_PORT");
  bool agent_per_process = flags.agent_per_process;
  if (auto v = r.Get("PARALLELRUN_AGENT_PER_PROCESS")) {
    if (*v != "0" && *v != "1") {
      return Status::Usage("PARALLELRUN_AGENT_PER_PROCESS=" + PrintableShort(*v, 120) + ": give 0 or 1");
    }
    agent_per_process = agent_per_process || *v == "1";
  }

  std::optional<Launch> launch;
  uint32_t explicit_count = 0;
  if (x_count) {
    Status s = ParseNumber(*x_count, &explicit_count);
    if (!s.ok()) return s;
    if (explicit_count == 0) return Status::Usage(x_count->label + ": a job has at least one node");
  }
  if (x_rank) {
    if (!x_count) {
      return Status::Usage(x_rank->label + ": give the node count too "
                           "(PARALLELRUN_NODE_COUNT or --node-count)");
    }
    Launch l;
    l.source = "explicit";
    l.words = "explicit settings";
    l.rank = *x_rank;
    l.size = *x_count;
    launch = std::move(l);
  } else if (x_count && explicit_count == 1) {
    Launch l;
    l.source = "explicit";
    l.words = "explicit settings";
    l.rank = Field{"(rank)", "0"};
    l.size = *x_count;
    launch = std::move(l);
  } else {
    using Finder = Result<std::optional<Launch>> (*)(Reader&);
    for (Finder find : {&FromTorchrun, &FromOpenMpi, &FromMpich, &FromSlurm, &FromKubernetes}) {
      auto found = find(r);
      if (!found.ok()) return found.status();
      if (found->has_value()) {
        launch = std::move(**found);
        break;
      }
    }
    if (x_count) {
      if (!launch) {
        return Status::Usage(x_count->label + ": no node rank; set PARALLELRUN_NODE_RANK (or "
                             "--node-rank) too, or start under a launcher");
      }
      if (!launch->needs_count) {
        return Status::Usage(fmt::format("{} without a node rank, while {} give the node count: "
                                         "set both PARALLELRUN_NODE_RANK and "
                                         "PARALLELRUN_NODE_COUNT, or neither",
                                         x_count->label, launch->words));
      }
      launch->size = *x_count;
      launch->needs_count = false;
    }
    if (launch && launch->needs_count) {
      return Status::Usage(launch->rank.label + " (" + launch->words +
                           "): no completion count; set PARALLELRUN_NODE_COUNT to the Job's "
                           "spec.completions");
    }
  }

  Role role;
  if (!launch) {
    role.source = "single node";
    role.explanation = "role: " + Describe(role) + " (no launcher variables found)";
    return role;
  }

  auto placed = Place(*launch, agent_per_process, &notes);
  if (!placed.ok()) return placed.status();
  role.source = launch->source;
  role.node_rank = placed->node_rank;
  role.node_count = placed->node_count;
  role.local_rank = placed->local_rank;
  role.local_size = placed->local_size;
  role.extra_process = placed->extra;

  // Master address: explicit, the launcher's, MASTER_ADDR/MASTER_PORT (for
  // launchers that have no convention of their own), Slurm's first node.
  bool have_host = false, have_port = false;
  if (x_addr) {
    Status s = ParseHost(*x_addr, &role.master_host);
    if (!s.ok()) return s;
    have_host = true;
  } else if (launch->master_host) {
    role.master_host = *launch->master_host;
    have_host = true;
  }
  if (x_port) {
    Status s = ParsePort(*x_port, &role.master_port);
    if (!s.ok()) return s;
    have_port = true;
  } else if (launch->master_port) {
    role.master_port = *launch->master_port;
    have_port = true;
  }
  if (launch->source != "torchrun") {
    if (!have_host) {
      if (auto v = r.Get("MASTER_ADDR")) {
        Status s = ParseHost(Var("MASTER_ADDR", *v), &role.master_host);
        if (!s.ok()) return s;
        have_host = true;
      }
    }
    if (!have_port) {
      if (auto v = r.Get("MASTER_PORT")) {
        Status s = ParsePort(Var("MASTER_PORT", *v), &role.master_port);
        if (!s.ok()) return s;
        have_port = true;
      }
    }
    if (!have_host && launch->source != "Slurm" && role.node_count > 1) {
      auto first = SlurmFirstHost(r);
      if (!first.ok()) return first.status();
      if (!first->empty()) {
        role.master_host = *first;
        have_host = true;
      }
    }
  }
  if (role.node_count > 1 && !have_host && !role.extra_process) {
    return Status::Usage(fmt::format(
        "node {} of {} from {} {}: no master address; set PARALLELRUN_MASTER_ADDR (or "
        "--master-addr) to node 0's host name or address",
        role.node_rank, role.node_count, launch->words, fmt::join(r.read(), " ")));
  }
  if (role.node_count > 1 && !have_port && !role.extra_process) {
    notes.push_back(fmt::format("master port {} (the default: no port given)", role.master_port));
  }

  std::string line = "role: " + Describe(role) + " from " + launch->words;
  if (!r.read().empty()) line += " " + fmt::format("{}", fmt::join(r.read(), " "));
  for (const auto& n : launch->notes) line += "; " + n;
  for (const auto& n : notes) line += "; " + n;
  role.explanation = std::move(line);
  return role;
}

// ---- Slurm host lists ---------------------------------------------------------

namespace {

// One bracket's values: "1-3,7" → {"1","2","3","7"} with padding kept.
Status ExpandRanges(const std::string& ranges, size_t max, std::vector<std::string>* out) {
  size_t i = 0;
  while (i <= ranges.size()) {
    size_t comma = ranges.find(',', i);
    std::string part = ranges.substr(i, comma == std::string::npos ? std::string::npos : comma - i);
    size_t dash = part.find('-');
    std::string lo = part.substr(0, dash);
    std::string hi = dash == std::string::npos ? lo : part.substr(dash + 1);
    auto numeric = [](const std::string& s) {
      if (s.empty() || s.size() > 9) return false;
      for (char c : s) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
      }
      return true;
    };
    if (!numeric(lo) || !numeric(hi)) {
      return Status::Usage(fmt::format("[{}]: '{}' is not a number or range", ranges, part));
    }
    unsigned long a = std::stoul(lo), b = std::stoul(hi);
    if (a > b) return Status::Usage(fmt::format("[{}]: range {} runs backwards", ranges, part));
    for (unsigned long n = a; n <= b && out->size() < max; n++) {
      out->push_back(fmt::format("{:0{}}", n, lo.size()));
    }
    if (comma == std::string::npos) break;
    i = comma + 1;
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<std::string>> ExpandHostList(const std::string& list, size_t max_hosts) {
  std::vector<std::string> hosts;
  auto bad = [&](const std::string& why) {
    return Status::Usage(fmt::format("host list '{}': {}", PrintableShort(list, 120), why));
  };
  size_t i = 0;
  while (i < list.size() && hosts.size() < max_hosts) {
    // One name pattern runs to the next comma outside brackets.
    size_t end = i;
    int depth = 0;
    for (; end < list.size(); end++) {
      if (list[end] == '[') depth++;
      if (list[end] == ']') depth--;
      if (depth < 0 || depth > 1) return bad("unbalanced brackets");
      if (list[end] == ',' && depth == 0) break;
    }
    if (depth != 0) return bad("unbalanced brackets");
    std::string pattern = list.substr(i, end - i);
    if (pattern.empty()) return bad("empty host name");
    // Cartesian product of the literal parts and bracket expansions.
    std::vector<std::string> names = {""};
    size_t p = 0;
    while (p < pattern.size()) {
      size_t open = pattern.find('[', p);
      std::string literal = pattern.substr(p, open == std::string::npos ? std::string::npos : open - p);
      for (char c : literal) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) return bad("space or control character in a host name");
      }
      for (auto& n : names) n += literal;
      if (open == std::string::npos) break;
      size_t close = pattern.find(']', open);
      std::vector<std::string> values;
      Status s = ExpandRanges(pattern.substr(open + 1, close - open - 1), max_hosts, &values);
      if (!s.ok()) return bad(s.message());
      std::vector<std::string> next;
      for (const auto& n : names) {
        for (const auto& v : values) {
          if (next.size() >= max_hosts) break;
          next.push_back(n + v);
        }
      }
      names = std::move(next);
      p = close + 1;
    }
    for (auto& n : names) {
      if (hosts.size() >= max_hosts) break;
      hosts.push_back(std::move(n));
    }
    i = end + 1;
    if (end == list.size() - 1) return bad("empty host name");
  }
  if (hosts.empty()) return bad("no hosts");
  return hosts;
}

}  // namespace parallelrun
