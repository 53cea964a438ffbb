// RunJob and ValidateSpec: the library's entry points (include/parallelrun/run.h).
// They wire the pipeline of DESIGN.md §3: JobPlan → Master (listing,
// batching, BatchQueue, JobLog) ⇄ link ⇄ Agent (WorkerPool), all on one
// io_context per node. The role (role.h) decides what this process is: the
// master's node runs the Master with an in-process Agent and listens for the
// other nodes' agents over TCP (tcp_link.h); every other node runs an Agent
// that connects to it and exits with the job's outcome.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "base/clock.h"
#include "base/disk.h"
#include "base/hmac.h"
#include "base/text.h"
#include "job/job_dir_state.h"
#include "job/shuffle_processes.h"
#include "link/link.h"
#include "link/role.h"
#include "link/secret.h"
#include "link/tcp_link.h"
#include "master/master.h"
#include "node/agent.h"
#include "node/python_locator.h"
#include "parallelrun/run.h"
#include "plan/job_plan.h"
#include "report/job_log.h"
#include "report/progress.h"

namespace parallelrun {

namespace {

const char* SignalName(int signo) {
  switch (signo) {
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "SIGINT";
  }
}

std::string Hostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

std::vector<std::string> WorkerEnvironment(const JobPlan& plan, const RunRequest& req,
                                           const Role& role) {
  std::map<std::string, std::string> env;
  for (const auto& kv : req.environment) {
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : plan.spec.environment_variables) env[k] = v;
  if (!plan.output_dir.empty()) env["AZUREML_BI_OUTPUT_PATH"] = plan.output_dir;
  // Native crashes (segfaults in C extensions) then leave a Python stack in
  // the worker's stderr log.
  if (!env.count("PYTHONFAULTHANDLER")) env["PYTHONFAULTHANDLER"] = "1";
  env["PARALLELRUN_JOB_DIR"] = plan.job_dir;
  env["PARALLELRUN_NODE_RANK"] = std::to_string(role.node_rank);
  env["PARALLELRUN_NODE_COUNT"] = std::to_string(role.node_count);
  // The job secret lets a process join the job; user code has no need of it.
  env.erase("PARALLELRUN_TOKEN");
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

// The master's node: the Master, its in-process Agent, and — for a job of
// several nodes — a listener for the other nodes' agents.
Status RunMasterNode(boost::asio::io_context& io, boost::asio::signal_set& signals, const Role& role,
                     const JobSecret& secret, const Master::Config& mc, WorkerPool::Config wc,
                     const JobPlan& plan, const std::string& argv, Progress* progress, FILE* out) {
  auto log_or = JobLog::Open(plan.job_dir, 1, plan.input_names);
  if (!log_or.ok()) return log_or.status();
  std::unique_ptr<JobLog> log = std::move(log_or.value());
  // The first line says who this process is and why (DESIGN.md §6).
  log->Master("INFO", role.explanation);
  if (role.multi_node()) log->Master(secret.weak ? "WARNING" : "INFO", secret.Describe());
  log->Master("INFO", fmt::format("Entry script {} with arguments:{}", plan.spec.entry_script, argv));

  Status outcome = Status::Infrastructure("the job ended without a result");
  std::unique_ptr<TcpListener> listener;
  boost::asio::steady_timer linger(io);
  auto remote_joined = std::make_shared<size_t>(0);
  auto [master_end, agent_end] = MakeInProcessLink(io);
  Master master(io, mc, log.get(), progress, [&](Status s) {
    outcome = s;
    signals.cancel();
    // Posted: this may run inside one of the listener's own callbacks.
    boost::asio::post(io, [&] {
      if (!listener) {
        io.stop();
        return;
      }
      // Let the END messages reach the other nodes before the loop stops. A
      // node that has not joined yet may still be starting: keep listening a
      // little longer so that it hears the job's outcome instead of retrying
      // until its connect timeout.
      bool all_joined = *remote_joined + 1 >= static_cast<size_t>(role.node_count);
      linger.expires_after(std::chrono::milliseconds(all_joined ? 500 : 5000));
      linger.async_wait([&](const boost::system::error_code&) {
        listener.reset();
        io.stop();
      });
    });
  });
  // The node log's first line says who this process is and why, as on the
  // other nodes (DESIGN.md §6); the Agent appends to the same file.
  if (FILE* f = fopen(fmt::format("{}/sys/node/{}/_main.txt", wc.logs_dir, role.node_rank).c_str(),
                      "a")) {
    fmt::print(f, "{}|{}\n", IsoTime(WallSeconds()), role.explanation);
    fclose(f);
  }
  Agent agent(io, std::move(agent_end), std::move(wc), Hostname(), nullptr);
  master.AddAgent(std::move(master_end));
  master.SetDescribeWorkers([&agent] { return agent.Describe(); });

  if (role.multi_node()) {
    TcpListener::Events events;
    auto peers = std::make_shared<std::map<uint64_t, size_t>>();
    events.accepted = [&master, peers, &log, remote_joined](std::unique_ptr<TcpLinkEnd> end) {
      ++*remote_joined;
      uint64_t id = end->peer().id;
      log->Master("INFO", fmt::format("Node {} connected from {} ({} slots).", end->peer().node,
                                      end->peer().address, end->peer().slots));
      (*peers)[id] = master.AddAgent(std::move(end));
    };
    events.lost = [&master, peers](const PeerInfo& peer, const std::string& reason) {
      auto it = peers->find(peer.id);
      if (it != peers->end()) master.AgentLost(it->second, reason);
    };
    events.log = [&log](const std::string& line) { log->Master("INFO", line); };
    auto l = TcpListener::Listen(io, role.master_host, static_cast<uint16_t>(role.master_port),
                                 secret.key, TcpLinkOptions{}, std::move(events));
    if (!l.ok()) return l.status();
    listener = std::move(l.value());
    log->Master("INFO", fmt::format("Listening for {} other nodes on {}:{}.", role.node_count - 1,
                                    listener->address(), listener->port()));
  }
  int interrupts = 0;
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      interrupts++;
      master.Interrupt(interrupts > 1, SignalName(signo));
      wait_signal();
    });
  };
  wait_signal();

  if (mc.journal) {
    Status replayed = master.Replay();
    if (!replayed.ok()) return replayed;
  }
  agent.Start();
  master.Start();
  io.run();

  progress->Clear();
  std::string errors = log->ErrorReport(master.Totals());
  if (!errors.empty()) {
    fmt::print(out, "\n{}\n", errors);
  }
  progress->Say(master.Summary());
  if (master.Totals().batches == 0 && outcome.ok()) {
    progress->Say("the input has no files: 0 mini-batches, nothing to do");
  }
  progress->Say(outcome.ok() ? "job succeeded; job dir " + plan.job_dir
                            : "job failed; see " + plan.job_dir + "/logs/job_result.txt");
  // Every stop that leaves work undone says how to continue it.
  JobLog::Totals t = master.Totals();
  uint64_t unprocessed = t.batches - t.batches_done - t.batches_failed;
  if (!outcome.ok() && outcome.code() != Status::Code::kUsage) {
    if (plan.append_row && t.batches_done > 0) {
      progress->Say(fmt::format("the finished rows wait in {}; the output {}/{} is written when "
                                "the job completes",
                                plan.append_row->parts_dir, plan.append_row->output_dir,
                                plan.append_row->file_name));
    }
    if (unprocessed > 0 || outcome.code() == Status::Code::kInterrupted ||
        outcome.code() == Status::Code::kInfrastructure) {
      progress->Say("to continue: " + ResumeCommand(plan.job_dir));
    } else if (t.batches_failed > 0) {
      progress->Say("to run the failed mini-batches again: " + ResumeCommand(plan.job_dir) +
                    " --rerun-failed");
    }
  }
  return outcome;
}

// Any other node: an Agent connected to the master over TCP. It exits with
// the job's outcome, which the master sends when the job is over.
Status RunAgentNode(boost::asio::io_context& io, boost::asio::signal_set& signals, const Role& role,
                    const JobSecret& secret, WorkerPool::Config wc, const std::string& logs_dir,
                    const std::string& argv, TcpConnector::Options connect, Progress* progress,
                    FILE* out) {
  for (const char* sub : {"sys/node", "user/stdout", "user/stderr", "user/error",
                          "user/entry_script_log"}) {
    Status s = CreateFolders(fmt::format("{}/{}/{}", logs_dir, sub, role.node_rank), "job dir logs");
    if (!s.ok()) return s;
  }
  std::string main_log = fmt::format("{}/sys/node/{}/_main.txt", logs_dir, role.node_rank);
  auto note = [&main_log](const std::string& line) {
    if (FILE* f = fopen(main_log.c_str(), "a")) {
      fmt::print(f, "{}|{}\n", IsoTime(WallSeconds()), line);
      fclose(f);
    }
  };
  // The first line says who this process is and why (DESIGN.md §6).
  note(role.explanation);
  note(secret.Describe());
  note("entry script arguments:" + argv);

  Status outcome = Status::Infrastructure(
      fmt::format("lost the master at {}:{}", role.master_host, role.master_port));
  bool ended = false, interrupted = false;
  std::unique_ptr<Agent> agent;
  std::string host = Hostname();
  uint32_t slots = static_cast<uint32_t>(wc.slots);
  TcpConnector::Events events;
  events.done = [&](Result<std::unique_ptr<TcpLinkEnd>> link) {
    if (!link.ok()) {
      outcome = link.status();
      io.stop();
      return;
    }
    note(fmt::format("connected to the master at {}:{}", role.master_host, role.master_port));
    agent = std::make_unique<Agent>(io, std::move(link.value()), std::move(wc), host, [&] {
      // Our workers have exited and Bye is sent: wait for END, unless the
      // master is gone or we were interrupted.
      if (interrupted) io.stop();
    });
    agent->SetEnded([&](Status s) {
      ended = true;
      outcome = s;
      io.stop();
    });
    agent->Start();
  };
  events.lost = [&](const std::string& reason) {
    if (ended) return;
    outcome = Status::Infrastructure(fmt::format("lost the master at {}:{}: {}", role.master_host,
                                                 role.master_port, reason));
    note(outcome.message());
    if (agent) agent->MasterLost(reason);
    // Give the workers the kill grace, then stop whatever is left.
    io.stop();
  };
  events.log = note;
  TcpConnector connector(io, role.master_host, static_cast<uint16_t>(role.master_port), secret.key,
                         TcpConnector::Identity{static_cast<uint32_t>(role.node_rank), slots, host},
                         connect, std::move(events));
  int interrupts = 0;
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      interrupts++;
      interrupted = true;
      outcome = Status::Interrupted(SignalName(signo));
      if (agent) agent->Interrupt(interrupts > 1);
      else io.stop();
      wait_signal();
    });
  };
  wait_signal();
  progress->Say(fmt::format("node {}: connecting to the master at {}:{}", role.node_rank,
                            role.master_host, role.master_port));
  connector.Start();
  io.run();
  progress->Say(outcome.ok() ? "job succeeded (reported by the master)"
                             : "job ended: " + outcome.message());
  (void)out;
  return outcome;
}

}  // namespace

Status ValidateSpec(const std::string& spec_path, const std::vector<std::string>& environment,
                    const std::string& python, FILE* out) {
  auto spec = ParseSpecFile(spec_path);
  if (!spec.ok()) return spec.status();
  const Spec& s = spec.value();
  auto choice = ChoosePython(python, environment);
  if (!choice.ok()) return choice.status();
  auto pf = CheckEntryScript(*choice, s.entry_script, environment);
  if (!pf.ok()) return pf.status();
  fmt::print(out, "{}: valid {} spec '{}'\n", spec_path,
             s.format == SpecFormat::kParallelComponent ? "ParallelComponent" : "v2 parallel",
             s.name);
  for (const auto& p : s.inputs) {
    bool split = std::find(s.input_data.begin(), s.input_data.end(), p.name) != s.input_data.end();
    fmt::print(out, "  input  {} ({}{}{}){}\n", p.name, p.type, p.optional ? ", optional" : "",
               p.default_value ? ", default " + *p.default_value : "",
               split ? "  <- split into mini-batches" : "");
  }
  for (const auto& p : s.outputs) fmt::print(out, "  output {} ({})\n", p.name, p.type);
  fmt::print(out, "  entry script {} (defines init: {}) with Python {} ({})\n", s.entry_script,
             pf->defines_init ? "yes" : "no", pf->version, pf->executable);
  return Status::Ok();
}

Status RunJob(const RunRequest& request, FILE* out) {
  RunRequest req = request;
  EnvironmentMap env = MakeEnvironmentMap(req.environment);
  RoleFlags flags;
  if (!req.node_rank.empty()) flags.node_rank = req.node_rank;
  // --node-count (the node_count setting) given on the command line is a
  // role flag too; in a spec it only describes the job (the launcher decides).
  if (!req.node_count.empty()) flags.node_count = req.node_count;
  else if (req.settings.count("node_count")) flags.node_count = req.settings.at("node_count");
  if (!req.master_addr.empty()) flags.master_addr = req.master_addr;
  if (!req.master_port.empty()) flags.master_port = req.master_port;
  flags.agent_per_process = req.agent_per_process;
  // How long an agent keeps trying to reach the master (seconds; default 5
  // minutes): the master may start later than its agents, but not forever.
  TcpConnector::Options connect;
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
  auto role_or = ResolveRole(env, flags);
  if (!role_or.ok()) return role_or.status();
  const Role role = role_or.value();
  if (role.extra_process) {
    // One of several processes a launcher started on this node: the node's
    // first process runs its agent; this one has nothing to do.
    fmt::print(out, "parallelrun: {}\n", role.explanation);
    return Status::Ok();
  }
  JobSecret secret;
  if (role.multi_node()) {
    auto secret_or = ResolveJobSecret(env, req.job_dir);
    if (!secret_or.ok() && req.dry_run) {
      fmt::print(out, "parallelrun: dry run: {}\nparallelrun: dry run: no job secret: {}\n",
                 role.explanation, secret_or.status().message());
      return Status::Ok();
    }
    if (!secret_or.ok()) return secret_or.status();
    secret = secret_or.value();
    if (req.job_dir.empty()) {
      // Every node must name the same job dir without talking first: derive
      // it from the job's secret, which all nodes share and no other job has.
      req.job_dir = fmt::format("{}/parallelrun-jobs/job-{}", req.cwd,
                                HexEncode(Sha256Digest(secret.key)).substr(0, 12));
    }
  }

  auto planned = MakeJobPlan(req);
  if (!planned.ok()) return planned.status();
  JobPlan plan = std::move(planned.value());
  const RunSettings& rs = plan.settings;

  auto choice = ChoosePython(req.python, req.environment);
  if (!choice.ok()) return choice.status();
  auto pf = CheckEntryScript(*choice, plan.spec.entry_script, req.environment);
  if (!pf.ok()) return pf.status();
  if (plan.tabular) {
    auto tab = CheckTabular(pf->executable, req.environment, plan.parquet_input);
    if (!tab.ok()) return tab.status();
  }

  Progress::Mode mode;
  if (!Progress::ParseMode(req.progress, req.stderr_is_tty, &mode)) {
    return Status::Usage(fmt::format("--progress '{}' is not valid: give auto, bar, plain or none",
                                     req.progress));
  }
  Progress progress(mode, out);
  for (const auto& note : plan.notes) progress.Say(note);
  std::string workers = fmt::format("{} worker{} of Python {} ({}, from {})",
                                    rs.process_count_per_node,
                                    rs.process_count_per_node == 1 ? "" : "s", pf->version,
                                    pf->executable, choice->source);
  if (!plan.spec.environment_summary.empty()) {
    progress.Say(fmt::format("environment ({}) is not provisioned; workers use {}",
                             plan.spec.environment_summary, pf->executable));
  }
  if (req.dry_run) {
    progress.Say("dry run: " + role.explanation);
    for (size_t i = 0; i < plan.input_paths.size(); i++) {
      progress.Say(fmt::format("input {}: {} in mini-batches of {}", plan.input_names[i],
                               plan.input_paths[i], rs.mini_batch_size));
    }
    progress.Say("would run " + workers);
    std::string argv;
    for (const auto& a : plan.entry_argv) argv += " " + ShellQuote(Printable(a));
    progress.Say("entry script: " + plan.spec.entry_script + argv);
    return Status::Ok();
  }

  // The job dir: a new one for a run, the job's own for a resume — checked
  // before anything is made, and again under the lock (two jobs may race).
  std::optional<EarlierJob> earlier;
  std::string resume_warning;
  auto check_job_dir = [&]() -> Status {
    if (!role.is_master()) return Status::Ok();
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
    return CompareFingerprints(earlier->first.fingerprints, Fingerprints(plan), req.force,
                               &resume_warning);
  };
  Status fresh = check_job_dir();
  if (!fresh.ok()) return fresh;
  Status created = CreateJobFolders(plan);
  if (!created.ok()) return created;
  std::optional<JobDirLock> lock;
  std::unique_ptr<Journal> journal;
  if (role.is_master()) {
    auto locked = JobDirLock::Acquire(plan.job_dir);
    if (!locked.ok()) return locked.status();
    lock = std::move(*locked);
    fresh = check_job_dir();
    if (!fresh.ok()) return fresh;
    if (!resume_warning.empty()) progress.Say("warning: " + resume_warning);
    auto opened = Journal::Open(JournalPath(plan.job_dir));
    if (!opened.ok()) return opened.status();
    journal = std::move(*opened);
  }
  progress.Say("job dir " + plan.job_dir);
  progress.Say(role.explanation);
  progress.Say("running " + workers);
  if (role.multi_node()) progress.Say(secret.Describe());
  std::string argv;
  for (const auto& a : plan.entry_argv) argv += " " + ShellQuote(Printable(a));
  std::string logs_dir = plan.job_dir + "/logs";

  boost::asio::io_context io;

  Master::Config mc;
  mc.input_names = plan.input_names;
  mc.input_paths = plan.input_paths;
  mc.mini_batch_size = rs.mini_batch_size;
  mc.limits.max_tries = rs.run_max_try;
  mc.limits.error_threshold = rs.error_threshold;
  mc.limits.allowed_failed_count = rs.allowed_failed_count;
  mc.limits.allowed_failed_percent = rs.allowed_failed_percent;
  mc.progress_update_timeout = rs.progress_update_timeout;
  mc.inputs = plan.inputs;
  mc.partition_keys = rs.partition_keys;
  mc.partitions_dir = plan.job_dir + "/partitions";
  mc.append_row = plan.append_row;
  if (journal) {
    mc.journal = journal.get();
    JournalRunStarted& run = mc.run_record;
    run.run = earlier ? static_cast<uint32_t>(earlier->runs + 1) : 1;
    run.start_time = WallSeconds();
    run.host = Hostname();
    run.pid = static_cast<uint32_t>(getpid());
    run.request = earlier ? earlier->first.request : EncodeRunRequest(req);
    run.fingerprints = earlier ? earlier->first.fingerprints : Fingerprints(plan);
    if (req.resume) {
      mc.resume = Master::Config::Resume{JournalPath(plan.job_dir), req.rerun_failed, req.force};
    }
  }

  WorkerPool::Config wc;
  wc.python = pf->executable;
  wc.python_args = DriverArgs({"worker"});
  wc.env = WorkerEnvironment(plan, req, role);
  wc.cwd = req.cwd;
  wc.node = role.node_rank;
  wc.slots = rs.process_count_per_node;
  wc.logs_dir = logs_dir;
  auto ms = [](double seconds) {
    return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(seconds * 1000)));
  };
  wc.run_timeout = ms(rs.run_invocation_timeout);
  // init() gets what the original allowed it before declaring the job stuck
  // (reference §3.6: 3 × run_invocation_timeout + 30 s, the 30 s being the
  // default task_overhead_timeout): 210 s with the defaults, and as small as
  // the user's own timeouts make it. A hung init() is then stopped and
  // counts as an init failure.
  wc.init_timeout = ms(3 * rs.run_invocation_timeout + rs.task_overhead_timeout);
  wc.init_timeout_rule = "3 × run_invocation_timeout + task_overhead_timeout";
  // shutdown() is one more call into the entry script, bounded like run().
  wc.shutdown_timeout = ms(rs.run_invocation_timeout);
  wc.max_init_failures = 3 * rs.process_count_per_node;
  wc.start_config = {{"entry_script", plan.spec.entry_script},
                     {"code_dir", plan.spec.code_dir},
                     {"output_dir", plan.output_dir},
                     {"logging_level", rs.logging_level}};
  for (const auto& a : plan.entry_argv) wc.start_config.emplace_back("argv", a);
  if (plan.append_row) {
    wc.start_config.emplace_back("output_action", "append_row");
    wc.start_config.emplace_back("append_row_dir", plan.append_row->parts_dir);
  }
  if (plan.tabular) wc.start_config.emplace_back("tabular", "1");
  if (plan.tabular || !rs.partition_keys.empty()) {
    wc.start_config.emplace_back("tabular_source", WorkerTabularSource());
  }
  ShuffleProcesses shuffle(wc.python, wc.env, mc.partitions_dir);
  mc.shuffle = &shuffle;
  mc.shuffle_processes = wc.slots;

  // A closed terminal or ssh session (SIGHUP) stops the job as SIGTERM does.
  boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  // Workers write to pipes that may close under them; never die of SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  if (!role.is_master()) {
    return RunAgentNode(io, signals, role, secret, std::move(wc), logs_dir, argv, connect,
                        &progress, out);
  }
  Master::Config& master_config = mc;
  master_config.expected_nodes = role.node_count;
  return RunMasterNode(io, signals, role, secret, master_config, std::move(wc), plan, argv,
                       &progress, out);
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
  req.resume = true;
  req.rerun_failed = options.rerun_failed;
  req.force = options.force;
  return RunJob(req, out);
}

}  // namespace parallelrun
