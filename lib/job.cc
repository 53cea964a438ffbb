// RunJob and ValidateSpec: the library's entry points (include/parallelrun/run.h).
// They wire the pipeline of DESIGN.md §3 for one node: JobPlan → Master
// (listing, batching, BatchQueue, JobLog) ⇄ in-process link ⇄ Agent
// (WorkerPool), all on one io_context.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>

#include "agent.h"
#include "job_log.h"
#include "job_plan.h"
#include "link.h"
#include "master.h"
#include "parallelrun/run.h"
#include "progress.h"
#include "python_locator.h"

namespace parallelrun {

namespace {

std::string Hostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

std::string ShellQuote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789_-./=:,+@%") == std::string::npos) {
    return s;
  }
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<std::string> WorkerEnvironment(const JobPlan& plan, const RunRequest& req) {
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
  env["PARALLELRUN_NODE_RANK"] = "0";
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
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

Status RunJob(const RunRequest& req, FILE* out) {
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
    progress.Say("dry run: role single node (rank 0 of 1), master and agent on this machine");
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

  Status created = CreateJobFolders(plan);
  if (!created.ok()) return created;
  auto log_or = JobLog::Open(plan.job_dir, 1, plan.input_names);
  if (!log_or.ok()) return log_or.status();
  std::unique_ptr<JobLog> log = std::move(log_or.value());
  progress.Say("job dir " + plan.job_dir);
  progress.Say("running " + workers);
  log->Master("INFO", "Role: single node (rank 0 of 1): no launcher variables found; master and "
                      "agent run in this process.");
  std::string argv;
  for (const auto& a : plan.entry_argv) argv += " " + ShellQuote(Printable(a));
  log->Master("INFO", fmt::format("Entry script {} with arguments:{}", plan.spec.entry_script, argv));

  boost::asio::io_context io;
  Status outcome = Status::Infrastructure("the job ended without a result");

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

  WorkerPool::Config wc;
  wc.python = pf->executable;
  wc.python_args = {"-c", WorkerDriverSource(), "worker"};
  wc.env = WorkerEnvironment(plan, req);
  wc.cwd = req.cwd;
  wc.node = 0;
  wc.slots = rs.process_count_per_node;
  wc.logs_dir = log->logs_dir();
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
  mc.python = wc.python;
  mc.python_env = wc.env;
  mc.shuffle_processes = wc.slots;

  auto [master_end, agent_end] = MakeInProcessLink(io);
  Master master(io, mc, log.get(), &progress, [&](Status s) {
    outcome = s;
    io.stop();
  });
  Agent agent(io, std::move(agent_end), std::move(wc), Hostname(), nullptr);
  master.AddAgent(std::move(master_end));
  master.SetDescribeWorkers([&agent] { return agent.Describe(); });

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  int interrupts = 0;
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      interrupts++;
      master.Interrupt(interrupts > 1, signo == SIGTERM ? "SIGTERM" : "SIGINT");
      wait_signal();
    });
  };
  wait_signal();
  // Workers write to pipes that may close under them; never die of SIGPIPE.
  signal(SIGPIPE, SIG_IGN);

  agent.Start();
  master.Start();
  io.run();

  progress.Clear();
  std::string errors = log->ErrorReport(master.Totals());
  if (!errors.empty()) {
    fmt::print(out, "\n{}\n", errors);
  }
  progress.Say(master.Summary());
  if (master.Totals().batches == 0 && outcome.ok()) {
    progress.Say("the input has no files: 0 mini-batches, nothing to do");
  }
  progress.Say(outcome.ok() ? "job succeeded; job dir " + plan.job_dir
                            : "job failed; see " + plan.job_dir + "/logs/job_result.txt");
  return outcome;
}

}  // namespace parallelrun
