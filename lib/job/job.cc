// RunJob, ValidateJob and ResumeJob: the library's entry points (include/parallelrun/run.h).
// They wire the pipeline of DESIGN.md §3: JobPlan → Master (listing,
// batching, BatchQueue, JobLog) ⇄ link ⇄ Agent (WorkerPool), all on one
// io_context per node (node_loop.h). The role (role.h) decides what this
// process is: the master's node runs the Master with an in-process Agent and
// listens for the other nodes' agents over TCP (master_node.h); every other
// node runs an Agent that connects to it and exits with the job's outcome
// (agent_node.h).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstring>
#include <functional>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/hmac.h"
#include "base/job_dir.h"
#include "base/text.h"
#include "job/agent_node.h"
#include "job/dry_run.h"
#include "job/failover.h"
#include "job/job_for_spec.h"
#include "job/job_dir_state.h"
#include "job/master_node.h"
#include "job/node_configs.h"
#include "job/node_loop.h"
#include "job/shuffle_processes.h"
#include "job/stop_signals.h"
#include "link/role.h"
#include "link/secret.h"
#include "link/tcp_link.h"
#include "link/tls.h"
#include "node/gpu_slots.h"
#include "node/python_locator.h"
#include "node/cgroups.h"
#include "node/zygote.h"
#include "report/job_log.h"
#include "parallelrun/run.h"
#include "plan/job_plan.h"
#include "report/progress.h"

namespace parallelrun {

namespace {

// Runs `undo` when it goes out of scope, unless disarmed first.
class Undo {
 public:
  explicit Undo(std::function<void()> undo) : undo_(std::move(undo)) {}
  ~Undo() {
    if (undo_) undo_();
  }
  Undo(const Undo&) = delete;
  Undo& operator=(const Undo&) = delete;
  void Disarm() { undo_ = nullptr; }

 private:
  std::function<void()> undo_;
};

bool PathExists(const std::string& path) {
  return access(path.c_str(), F_OK) == 0 || errno != ENOENT;
}

// Who this process is in the job.
struct NodeIdentity {
  Role role;
  JobSecret secret;                // a job of several nodes only
  TcpConnector::Options connect;   // how an agent reaches the master
  bool failover = true;            // PARALLELRUN_FAILOVER (failover.h)
  TlsSettings tls;                 // the link's TLS (a job of several nodes)
  // This process has nothing to do (it said why on `out`): one of several
  // processes a launcher started on a node, or a dry run without a secret.
  bool nothing_to_do = false;
};

// The default job dir's name for a job of several nodes: "job-" and the
// launcher's job id ("SLURM_JOB_ID=812 SLURM_STEP_ID=0" → job-slurm-812.0),
// else the master's address and port, in characters safe in a file name.
std::string MultiNodeJobDirName(const std::string& identity, const Role& role) {
  std::string text;
  if (!identity.empty()) {
    static const std::pair<const char*, const char*> kShort[] = {
        {"SLURM_JOB_ID=", "slurm-"}, {" SLURM_STEP_ID=", "."},
        {"TORCHELASTIC_RUN_ID=", "torchrun-"}, {"PMIX_NAMESPACE=", "pmix-"},
        {"OMPI_MCA_ess_base_jobid=", "ompi-"}, {"OMPI_MCA_orte_ess_jobid=", "ompi-"},
        {"AZUREML_RUN_ID=", "azureml-"}, {"AZ_BATCH_JOB_ID=", "batch-"}};
    text = identity;
    for (const auto& [long_name, short_name] : kShort) {
      size_t at = text.find(long_name);
      if (at != std::string::npos) text.replace(at, std::strlen(long_name), short_name);
    }
  } else {
    text = fmt::format("{}-{}", role.master_host, role.master_port);
  }
  std::string name = "job-";
  for (char c : text) {
    bool safe = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    name += safe ? c : '_';
  }
  if (name.size() > 80) name.resize(80);
  return name;
}

// The role and the secret: this process's role from the launcher's
// variables and the flags, and for a job of several nodes the job's secret —
// and from it the job dir, when `req` names none.
Result<NodeIdentity> ResolveNodeIdentity(const EnvironmentMap& env, FILE* out, RunRequest* req) {
  NodeIdentity node;
  RoleFlags flags;
  if (!req->node_rank.empty()) flags.node_rank = req->node_rank;
  // --node-count (the node_count setting) given on the command line is a
  // role flag too; in a spec it only describes the job (the launcher decides).
  if (!req->node_count.empty()) flags.node_count = req->node_count;
  else if (req->settings.count("node_count")) flags.node_count = req->settings.at("node_count");
  if (!req->master_addr.empty()) flags.master_addr = req->master_addr;
  if (!req->master_port.empty()) flags.master_port = req->master_port;
  flags.agent_per_process = req->agent_per_process;
  // How long an agent keeps trying to reach the master (seconds; default 5
  // minutes): the master may start later than its agents, but not forever.
  TcpConnector::Options& connect = node.connect;
  if (auto it = env.find("PARALLELRUN_CONNECT_TIMEOUT"); it != env.end()) {
    char* end = nullptr;
    double seconds = strtod(it->second.c_str(), &end);
    if (it->second.empty() || *end != '\0' || !(seconds > 0) || seconds > 86400) {
      return Status::Usage(fmt::format(
          "PARALLELRUN_CONNECT_TIMEOUT='{}' is not valid: give the seconds an agent keeps "
          "trying to reach the master (more than 0, at most 86400)",
          it->second));
    }
    connect.retry_for = std::chrono::milliseconds(static_cast<int64_t>(std::ceil(seconds * 1000)));
  }
  if (auto it = env.find("PARALLELRUN_FAILOVER"); it != env.end()) {
    auto failover = ParseFailoverSetting(it->second);
    if (!failover.ok()) return failover.status();
    node.failover = *failover;
  }
  auto role_or = ResolveRole(env, flags);
  if (!role_or.ok()) return role_or.status();
  auto tls = ResolveTlsSettings(env, TlsFlags{req->tls, req->tls_cert, req->tls_key, req->tls_ca});
  if (!tls.ok()) return tls.status();
  node.tls = tls.value();
  const Role& role = node.role = role_or.value();
  if (role.extra_process) {
    // One of several processes a launcher started on this node: the node's
    // first process runs its agent; this one has nothing to do.
    PutText(out, fmt::format("parallelrun: {}\n", role.explanation));
    node.nothing_to_do = true;
    return node;
  }
  if (role.multi_node()) {
    SecretOptions so;
    so.job_dir = req->job_dir;
    so.token_file = req->token_file;
    so.insecure_derived = req->insecure_derived_secret;
    so.is_master = role.node_rank == 0 && !req->dry_run;
    so.wait_for_token = req->dry_run ? std::chrono::milliseconds(0)
                                     : std::chrono::duration_cast<std::chrono::milliseconds>(
                                           connect.retry_for);
    if (role.node_rank != 0 && !req->dry_run && !req->job_dir.empty() &&
        req->token_file.empty() && env.count("PARALLELRUN_TOKEN") == 0 &&
        env.count("PARALLELRUN_TOKEN_FILE") == 0 && !req->insecure_derived_secret &&
        access(TokenPath(req->job_dir).c_str(), F_OK) != 0) {
      PutText(out, fmt::format("parallelrun: waiting for the master to write the job's token to "
                               "{}\n", TokenPath(req->job_dir)));
    }
    auto secret_or = ResolveJobSecret(env, so);
    if (!secret_or.ok() && req->dry_run) {
      PutText(out, fmt::format("parallelrun: dry run: {}\nparallelrun: dry run: no job secret: {}\n",
                 role.explanation, secret_or.status().message()));
      node.nothing_to_do = true;
      return node;
    }
    if (!secret_or.ok()) return secret_or.status();
    node.secret = secret_or.value();
    if (req->job_dir.empty()) {
      // Every node must name the same job dir without talking first: from
      // the launcher's job id, which is public anyway, or the master's
      // address — never from the secret.
      req->job_dir = fmt::format("{}/parallelrun-jobs/{}", req->cwd,
                                 MultiNodeJobDirName(LauncherJobIdentity(env), role));
    }
  }
  return node;
}

// --start-method, or $PARALLELRUN_START_METHOD; fork when neither says.
Result<bool> UseFork(const RunRequest& req, const EnvironmentMap& env) {
  std::string method = req.start_method, where = "--start-method";
  if (method.empty()) {
    auto it = env.find("PARALLELRUN_START_METHOD");
    if (it != env.end() && !it->second.empty()) {
      method = it->second;
      where = "PARALLELRUN_START_METHOD";
    }
  }
  if (method.empty() || method == "fork") return true;
  if (method == "spawn") return false;
  return Status::Usage(fmt::format("{} '{}' is not valid: give fork or spawn", where, method));
}

// The workers' interpreter and its pre-flight checks: the entry script
// compiles and defines run(), and tabular input finds pandas (and pyarrow).
// With the start method fork the zygote makes the check, as the first thing
// it does: the same Python start then serves it and the workers, and the
// entry script's imports run while the job sets itself up. `meanwhile` runs
// while Python starts (before a spawned check): work that is needed later
// and says nothing, taken off the critical path.
Status ChooseInterpreter(const JobPlan& plan, const RunRequest& req, const Role& role,
                         bool fork, const std::function<void()>& meanwhile,
                         PythonChoice* choice, Preflight* preflight,
                         std::shared_ptr<Zygote>* zygote,
                         std::shared_ptr<WorkerCgroups>* cgroups, int stop_fd) {
  auto chosen = ChoosePython(req.python, req.environment);
  if (!chosen.ok()) return chosen.status();
  Result<Preflight> pf = Status::Infrastructure("no check");
  if (fork && !req.dry_run) {
    Preflight as_chosen;
    as_chosen.executable = chosen->path;
    WorkerPool::Config wc = MakeWorkerConfig(plan, req, role, as_chosen);
    // The workers' cgroups first, and the zygote born in the first one's:
    // the first worker is then born there too, with no move on the way to
    // its START (WorkerPool::PlaceZygote). Where it cannot be born there, it
    // is moved there while Python starts. No cgroups: the pool says why.
    std::string no_cgroups;
    *cgroups = WorkerCgroups::Create(&no_cgroups);
    const std::string first = "process000";
    int birthplace = *cgroups ? (*cgroups)->OpenForBirth(first) : -1;
    auto started = Zygote::Start(chosen->path, DriverArgs({"zygote", plan.spec.entry_script}),
                                 wc.env, wc.cwd, birthplace, first);
    if (birthplace >= 0) ::close(birthplace);
    if (!started.ok()) return started.status();
    *zygote = std::move(*started);
    if (*cgroups && (*zygote)->placement().empty()) {
      (*zygote)->PlaceIn(first, [c = *cgroups, first, pid = (*zygote)->pid()] {
        return c->Add(first, pid);
      });
    } else if (*cgroups) {
      // Born there, it is not moved; but it will be, into the next worker's
      // cgroup once it forked the first (PlaceZygote), and the first move
      // after a quiet while waits for a grace period, as the warm-up now.
      (*cgroups)->WarmAsync();
    }
    meanwhile();
    pf = CheckEntryScriptInZygote(*chosen, plan.spec.entry_script, zygote->get(),
                                  req.environment, stop_fd);
  } else {
    meanwhile();
    pf = CheckEntryScript(*chosen, plan.spec.entry_script, req.environment);
  }
  if (!pf.ok()) return pf.status();
  if (plan.tabular) {
    auto tab = CheckTabular(pf->executable, req.environment, plan.parquet_input);
    if (!tab.ok()) return tab.status();
  }
  *choice = chosen.value();
  *preflight = pf.value();
  return Status::Ok();
}

// The entry script's arguments as they are logged: one shell-quoted string,
// each argument after a space.
std::string QuotedArgv(const JobPlan& plan) {
  std::string argv;
  for (const auto& a : plan.entry_argv) argv += " " + ShellQuote(Printable(a));
  return argv;
}

// The spec asks for more nodes (resources.instance_count, node_count) than
// this job has: one line saying how to start the others, or "". A warning,
// not an error: a spec written for Azure ML often sets instance_count, and it
// must run unmodified on one machine — where every mini-batch is still
// processed, only on fewer workers. Asking for nodes on the command line
// (--node-count) without a launcher is an error instead (ResolveRole).
std::string NodeCountWarning(const Role& role, const RunSettings& rs) {
  if (rs.node_count <= static_cast<int>(role.node_count)) return "";
  int n = rs.node_count;
  return fmt::format(
      "warning: the spec asks for {} nodes (instance_count) but {}: running on {} node{}; to "
      "run on {} nodes, start this same command on each node with a launcher, e.g. srun "
      "--nodes={} --ntasks-per-node=1 parallelrun run … (mpirun and torchrun work too; see "
      "\"Running on a cluster\" in the README)",
      n, role.source == "single node" ? "no launcher was found" : "the launcher started " +
                                                                       std::to_string(role.node_count),
      role.node_count == 1 ? "this one" : std::to_string(role.node_count),
      role.node_count == 1 ? "" : "s", n, n);
}

// Every problem of a `validate`, as one Status: the problem itself when
// there is one, else a count and one problem per line.
Status Problems(const std::vector<Status>& errors) {
  if (errors.size() == 1) return errors.front();
  std::string text = fmt::format("{} problems:", errors.size());
  for (const auto& e : errors) text += "\n  " + e.message();
  return Status::Usage(text);
}

}  // namespace

Status ValidateSpec(const std::string& spec_path, const std::vector<std::string>& environment,
                    const std::string& python, FILE* out) {
  RunRequest req;
  req.spec_path = spec_path;
  req.environment = environment;
  req.python = python;
  char cwd[4096];
  req.cwd = getcwd(cwd, sizeof cwd) ? cwd : ".";
  return ValidateJob(req, out);
}

Status ValidateJob(const RunRequest& request, FILE* out) {
  // The checks of RunJob before any worker starts, in its order; each
  // problem that does not stop the later checks is collected, so that one
  // validate lists everything to fix. A spec that does not parse stops here.
  PlanCheck check;
  check.inputs_optional = true;
  auto planned = MakeJobPlan(request, &check);
  if (!planned.ok()) return planned.status();
  const JobPlan& plan = planned.value();
  const Spec& s = plan.spec;
  std::vector<Status> errors = std::move(check.errors);
  std::vector<std::string> notes = plan.notes;

  // The role: the launcher's variables and the role flags, as a run reads them.
  RunRequest req = request;
  EnvironmentMap env = MakeEnvironmentMap(req.environment);
  RoleFlags flags;
  if (!req.node_rank.empty()) flags.node_rank = req.node_rank;
  if (!req.node_count.empty()) flags.node_count = req.node_count;
  else if (req.settings.count("node_count")) flags.node_count = req.settings.at("node_count");
  if (!req.master_addr.empty()) flags.master_addr = req.master_addr;
  if (!req.master_port.empty()) flags.master_port = req.master_port;
  auto role = ResolveRole(env, flags);
  if (!role.ok()) errors.push_back(role.status());
  else if (std::string w = NodeCountWarning(*role, plan.settings); !w.empty()) notes.push_back(w);

  // A job dir given must not hold a job (run refuses it).
  if (!req.job_dir.empty()) {
    Status fresh = CheckJobDirIsNew(plan.job_dir);
    if (!fresh.ok()) errors.push_back(fresh);
  }

  // The interpreter and the entry script, whatever the plan's problems.
  std::optional<Preflight> pf;
  auto choice = ChoosePython(req.python, req.environment);
  if (!choice.ok()) {
    errors.push_back(choice.status());
  } else {
    auto checked = CheckEntryScript(*choice, s.entry_script, req.environment);
    if (!checked.ok()) {
      errors.push_back(checked.status());
    } else {
      pf = *checked;
      if (plan.tabular) {
        auto tab = CheckTabular(pf->executable, req.environment, plan.parquet_input);
        if (!tab.ok()) errors.push_back(tab.status());
      }
    }
  }
  for (const auto& note : notes) fmt::print(out, "{}\n", note);
  if (!errors.empty()) {
    fflush(out);
    return Problems(errors);
  }
  const std::string& spec_path = req.spec_path;
  fmt::print(out, "{}: valid {} spec '{}'\n", spec_path, SpecFormatName(s.format), s.name);
  for (const auto& p : s.inputs) {
    bool split = std::find(s.input_data.begin(), s.input_data.end(), p.name) != s.input_data.end();
    fmt::print(out, "  input  {} ({}{}{}){}\n", p.name, p.type, p.optional ? ", optional" : "",
               p.default_value ? ", default " + *p.default_value : "",
               split ? "  <- split into mini-batches" : "");
  }
  for (const auto& p : s.outputs) fmt::print(out, "  output {} ({})\n", p.name, p.type);
  fmt::print(out, "  entry script {} (defines init: {}) with Python {} ({})\n", s.entry_script,
             pf->defines_init ? "yes" : "no", pf->version, pf->executable);
  if (!req.inputs.empty() || !req.outputs.empty() || !req.settings.empty() ||
      !req.overrides.empty()) {
    // What the bindings made of it: what a run would split, and how.
    for (size_t i = 0; i < plan.inputs.size(); i++) {
      const InputPlan& in = plan.inputs[i];
      fmt::print(out, "  bound  {} = {} ({})\n", in.name, plan.input_paths[i],
                 in.kind == InputPlan::Kind::kTable      ? "a table: mini_batch_size in bytes"
                 : in.kind == InputPlan::Kind::kFileList ? "an MLTable file list"
                                                         : "files");
    }
  }
  return Status::Ok();
}

Status RunJob(const RunRequest& request, FILE* out) { return RunJobForSpec(request, nullptr, out); }

Status RunJobForSpec(const RunRequest& request, const Spec* spec, FILE* out) {
  RunRequest req = request;
  EnvironmentMap env = MakeEnvironmentMap(req.environment);
  auto node_or = ResolveNodeIdentity(env, out, &req);
  if (!node_or.ok()) return node_or.status();
  const NodeIdentity& node = node_or.value();
  if (node.nothing_to_do) return Status::Ok();
  const Role& role = node.role;

  auto planned = spec ? MakeJobPlanForSpec(req, *spec) : MakeJobPlan(req);
  if (!planned.ok()) return planned.status();
  JobPlan plan = std::move(planned.value());
  const RunSettings& rs = plan.settings;

  auto fork = UseFork(req, env);
  if (!fork.ok()) return fork.status();
  PythonChoice choice;
  Preflight pf;
  std::shared_ptr<WorkerCgroups> cgroups;  // before the zygote, which is in one
  std::shared_ptr<Zygote> zygote;
  std::string fingerprints;

  // The job dir: a new one for a run, the job's own for a resume — checked
  // before anything is made, and again under the lock (two jobs may race).
  std::optional<EarlierJob> earlier;
  std::string resume_warning;
  auto check_job_dir = [&](bool locked) -> Status {
    if (!role.is_master()) return Status::Ok();
    if (!locked) {
      // A running job is the first thing to say (its journal is incomplete).
      Status free = JobDirLock::CheckFree(plan.job_dir);
      if (!free.ok()) return free;
    }
    if (!req.resume) return CheckJobDirIsNew(plan.job_dir);
    auto read = ReadEarlierJob(plan.job_dir);
    if (!read.ok()) return read.status();
    if (!read->has_value()) {
      return Status::Usage(plan.job_dir + " holds no job to resume: it has no journal");
    }
    earlier = std::move(**read);
    if (earlier->ended && earlier->status_code == 0 && !req.rerun_failed) {
      return Status::Usage(fmt::format(
          "job dir {}: the job already succeeded; nothing to resume (add --rerun-failed to run "
          "its failed mini-batches again)",
          plan.job_dir));
    }
    return CompareFingerprints(earlier->first.fingerprints, fingerprints, req.force,
                               &resume_warning);
  };
  // Its folders, its lock and the journal's first record: claimed.
  std::optional<JobDirLock> lock;
  std::unique_ptr<Journal> journal;
  auto claim = [&]() -> Status {
    Status fresh = check_job_dir(false);
    if (!fresh.ok()) return fresh;
    Status created = CreateJobFolders(plan);
    if (!created.ok()) return created;
    if (!role.is_master()) return Status::Ok();
    auto locked = JobDirLock::Acquire(plan.job_dir);
    if (!locked.ok()) return locked.status();
    lock = std::move(*locked);
    fresh = check_job_dir(true);
    if (!fresh.ok()) return fresh;
    auto opened = Journal::Open(JournalPath(plan.job_dir));
    if (!opened.ok()) return opened.status();
    journal = std::move(*opened);
    JournalRunStarted run;
    run.run = earlier ? static_cast<uint32_t>(earlier->runs + 1) : 1;
    run.start_time = WallSeconds();
    run.host = Hostname();
    run.pid = static_cast<uint32_t>(getpid());
    run.request = earlier ? earlier->first.request : EncodeRunRequest(req);
    run.fingerprints = earlier ? earlier->first.fingerprints : fingerprints;
    // The request goes to the journal before anything else, so that a job
    // killed at any later moment can be resumed. (Written, not synced: only
    // a crash of the machine in the next moments could lose it, and then
    // nothing of the job ran; a sync here would delay every job's start.)
    journal->Append(run);
    return journal->Commit();
  };

  // A new job dir of a master is made while Python starts and checks the
  // entry script (~2 ms of folders on the critical path otherwise), with its
  // logs. Should the check — or anything else before the job dir would have
  // been made — fail, it is removed, with every folder made for it, so that
  // a mistake leaves nothing behind, as before. A job dir that exists (a
  // resume, or a folder given with --job-dir) is claimed after the check.
  bool early = *fork && role.is_master() && !req.dry_run && !req.resume &&
               !PathExists(plan.job_dir);
  // A stop signal in that time (Ctrl-C, a closed terminal) stops the start
  // and removes the job dir: nothing ran. The job's loop takes them later.
  std::optional<StartupSignals> startup_signals;
  if (early) startup_signals.emplace();
  auto stopped_at_start = [&]() -> Status {
    int signo = startup_signals ? startup_signals->received() : 0;
    if (signo == 0) return Status::Ok();
    return Status::Interrupted(fmt::format(
        "interrupted by {} while the job started; nothing ran, and the job dir {} was removed",
        StopSignalName(signo), plan.job_dir));
  };
  std::vector<std::string> missing = early ? MissingJobFolders(plan) : std::vector<std::string>{};
  Status early_claim;
  std::unique_ptr<JobLog> early_log;
  Undo undo([&] {
    if (!early) return;
    early_log.reset();
    journal.reset();
    // The job dir is ours only if we hold its lock: another job racing for
    // the same new folder may hold it instead.
    RemoveMadeFolders(missing, lock ? plan.job_dir : "");
    lock.reset();
  });
  // The journal's fingerprints read the spec and the entry script and hash
  // them; the first hash initialises OpenSSL (milliseconds): while Python starts.
  auto meanwhile = [&] {
    if (role.is_master() && !req.dry_run) fingerprints = Fingerprints(plan);
    if (!early) return;
    early_claim = claim();
    if (!early_claim.ok()) return;
    auto log = JobLog::Open(plan.job_dir, 1, plan.input_names, 0);
    if (log.ok()) {
      early_log = std::move(*log);
    } else {
      early_claim = log.status();
    }
  };
  Status python = ChooseInterpreter(plan, req, role, *fork, meanwhile, &choice, &pf, &zygote,
                                    &cgroups, startup_signals ? startup_signals->fd() : -1);
  if (Status stopped = stopped_at_start(); !stopped.ok()) return stopped;
  if (!python.ok()) return python;

  Progress::Mode mode;
  if (!Progress::ParseMode(req.progress, req.stderr_is_tty, &mode)) {
    return Status::Usage(fmt::format("--progress '{}' is not valid: give auto, bar, plain or none",
                                     req.progress));
  }
  Progress progress(mode, out);
  // The original's default on a machine with GPUs is one worker (reference
  // §1.2, current docs), not one per core.
  GpuList gpus = FindGpus(req.environment);
  if (!gpus.note.empty()) plan.notes.push_back("warning: " + gpus.note);
  if (!gpus.devices.empty() && !rs.given.count("process_count_per_node")) {
    plan.settings.process_count_per_node = 1;
    plan.notes.push_back(fmt::format(
        "{} GPU{} (from {}): process_count_per_node defaults to 1 as the original's does on a "
        "GPU machine; give --process_count_per_node {} for one worker per GPU",
        gpus.devices.size(), gpus.devices.size() == 1 ? "" : "s", gpus.source,
        gpus.devices.size()));
  }
  // node_count on the command line is a role flag (ResolveNodeIdentity); in
  // a spec it can only describe the job, which has the nodes that were
  // started: a count it does not have is said, not ignored.
  if (rs.given.count("node_count") && rs.node_count != static_cast<int>(role.node_count)) {
    plan.notes.push_back(fmt::format(
        "warning: setting node_count ({}, from the spec) has no effect here: this run is {}; the "
        "launcher's processes (or --node_count with PARALLELRUN_NODE_RANK on each) make a job's "
        "nodes",
        rs.node_count,
        role.node_count == 1 ? std::string("a single node")
                             : fmt::format("node {} of {}", role.node_rank, role.node_count)));
  }
  for (const auto& note : plan.notes) progress.Say(note);
  if (std::string w = NodeCountWarning(role, rs); !w.empty()) progress.Say(w);
  if (node.tls.enabled && !role.multi_node()) {
    progress.Say("note: TLS (--tls, PARALLELRUN_TLS*) is not used: this job runs on one node, "
                 "whose master and agent talk inside one process");
  }
  std::string workers = fmt::format("{} worker{} of Python {} ({}, from {})",
                                    rs.process_count_per_node,
                                    rs.process_count_per_node == 1 ? "" : "s", pf.version,
                                    pf.executable, choice.source);
  if (!plan.spec.environment_summary.empty()) {
    progress.Say(fmt::format("environment ({}) is not provisioned; workers use {}",
                             plan.spec.environment_summary, pf.executable));
  }
  if (req.dry_run) {
    DryRunText text{role.multi_node() ? role.explanation : "", workers,
                    plan.spec.entry_script + QuotedArgv(plan)};
    return PrintDryRun(plan, text, req.plan_out ? req.plan_out : out);
  }

  // The job dir, made while Python started (early) or now.
  if (early) {
    if (!early_claim.ok()) return early_claim;  // undone
  } else {
    Status claimed = claim();
    if (!claimed.ok()) return claimed;
  }
  if (Status stopped = stopped_at_start(); !stopped.ok()) return stopped;
  undo.Disarm();
  // From here a stop signal stops the job as it runs (NodeLoop), which says
  // how to continue it. (Between these two lines, it ends the process.)
  startup_signals.reset();
  if (!resume_warning.empty()) progress.Say("warning: " + resume_warning);
  // The job dir is this job's from here on (a caller that named none learns it).
  if (req.job_dir_out) *req.job_dir_out = plan.job_dir;
  if (role.multi_node()) {
    progress.Say("job dir " + plan.job_dir);
    progress.Say(role.explanation);
    progress.Say("running " + workers);
    progress.Say(node.secret.Describe());
  } else {
    // One machine: one line says what runs and where; roles and ranks are
    // words of a cluster (the node log still names the role).
    progress.Say(fmt::format("running {}; job dir {}", workers, plan.job_dir));
  }
  std::string argv = QuotedArgv(plan);

  Master::Config mc = MakeMasterConfig(plan, role);
  mc.journal = journal.get();
  if (req.resume) {
    mc.resume = Master::Config::Resume{JournalPath(plan.job_dir), req.rerun_failed, req.force};
  }
  WorkerPool::Config wc = MakeWorkerConfig(plan, req, role, pf);
  wc.zygote = std::move(zygote);
  wc.cgroups = std::move(cgroups);
  wc.say = [&progress](const std::string& line) { progress.Say(line); };
  wc.gpus = gpus.devices;
  wc.gpu_source = gpus.source;
  ShuffleProcesses shuffle(wc.python, wc.env, mc.partitions_dir, wc.start.nice);
  mc.shuffle = &shuffle;

  // TLS for the link: the master's certificate is made (or read) now,
  // before it listens; an agent reads it when the master greets.
  TcpLinkOptions link;
  if (role.multi_node() && node.tls.enabled) {
    auto tls = role.is_master()
                   ? TlsContext::ForMaster(node.tls, plan.job_dir)
                   : TlsContext::ForAgent(node.tls, plan.job_dir, role.master_host);
    if (!tls.ok()) return tls.status();
    link.tls = std::move(tls.value());
    progress.Say(link.tls->description());
  }

  if (!role.is_master() && node.failover) {
    TcpConnector::Options connect = node.connect;
    connect.link.tls = link.tls;
    FailoverNode standby{role, node.secret, std::move(wc), &plan, argv, connect, node.tls};
    return RunAgentNodeWithFailover(std::move(standby), &progress, out);
  }
  NodeLoop loop;
  if (!role.is_master()) {
    TcpConnector::Options connect = node.connect;
    connect.link.tls = link.tls;
    return RunAgentNode(loop, role, node.secret, std::move(wc), plan.job_dir, argv, connect,
                        &progress, out);
  }
  return RunMasterNode(loop, role, node.secret, link, mc, std::move(wc), plan, argv, &progress,
                       out, nullptr, std::move(early_log));
}

Status ResumeJob(const std::string& job_dir, const RunRequest& options, FILE* out) {
  std::string dir = job_dir;
  if (!dir.empty() && dir[0] != '/') dir = options.cwd + "/" + dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  auto earlier = ReadEarlierJob(dir);
  if (!earlier.ok()) return earlier.status();
  if (!earlier->has_value()) return Status::Usage(job_dir + " holds no job to resume: it has no journal");
  auto request = DecodeRunRequest((*earlier)->first.request);
  if (!request.ok()) return request.status().WithContext(JournalPath(dir));
  RunRequest req = std::move(*request);
  // The job's own: what to run, where. The process's own: the rest.
  req.job_dir = dir;
  req.environment = options.environment;
  req.cores = options.cores;
  req.stderr_is_tty = options.stderr_is_tty;
  req.progress = options.progress;
  req.start_method = options.start_method;
  req.resume = true;
  req.rerun_failed = options.rerun_failed;
  req.force = options.force;
  req.job_dir_out = options.job_dir_out;
  return RunJob(req, out);
}

}  // namespace parallelrun
