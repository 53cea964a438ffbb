// parallelrun: the command line. CLI11 flags → RunRequest, one call into the
// library, the error printed as "parallelrun: error: <message>", the exit
// code from exit_codes.h. Everything else lives in lib/.
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "parallelrun/exit_codes.h"
#include "parallelrun/job.h"
#include "parallelrun/jobs.h"
#include "parallelrun/pipeline.h"
#include "parallelrun/run.h"
#include "parallelrun/run_settings.h"

extern char** environ;

namespace {

std::vector<std::string> Environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e; e++) env.emplace_back(*e);
  return env;
}

std::string CurrentDir() {
  std::vector<char> buf(4096);
  if (getcwd(buf.data(), buf.size()) == nullptr) return ".";
  return buf.data();
}

bool SplitBinding(const std::string& text, std::pair<std::string, std::string>* out) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  *out = {text.substr(0, eq), text.substr(eq + 1)};
  return true;
}

// The NVIDIA GPUs this machine has (/dev/nvidia0, /dev/nvidia1, …), for `tune`.
int CountGpus() {
  int n = 0;
  if (DIR* d = opendir("/dev")) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > 6 && name.compare(0, 6, "nvidia") == 0 &&
          name.find_first_not_of("0123456789", 6) == std::string::npos) {
        n++;
      }
    }
    closedir(d);
  }
  return n;
}

int Fail(const parallelrun::Status& s) {
  std::fprintf(stderr, "parallelrun: error: %s\n", s.message().c_str());
  return parallelrun::ExitCodeFor(s);
}

// The words people type for help and version, and misspelt subcommands,
// turned into what CLI11 understands (or a usage error): `help [SUB]` →
// `[SUB] --help`, `version` → `--version`. Returns "" or the error message.
std::string NormalizeSubcommand(const std::vector<std::string>& subcommands,
                                std::vector<std::string>* args) {
  if (args->empty() || args->front().empty() || args->front()[0] == '-') return "";
  const std::string word = args->front();
  if (word == "help") {
    args->erase(args->begin());
    if (!args->empty() && std::find(subcommands.begin(), subcommands.end(), args->front()) !=
                              subcommands.end()) {
      args->resize(1);
    } else {
      args->clear();
    }
    args->push_back("--help");
    return "";
  }
  if (word == "version") {
    *args = {"--version"};
    return "";
  }
  if (std::find(subcommands.begin(), subcommands.end(), word) != subcommands.end()) return "";
  std::string names;
  for (const auto& s : subcommands) names += (names.empty() ? "" : ", ") + s;
  std::string message = "unknown subcommand '" + word + "'";
  std::string closest = parallelrun::SuggestName(word, subcommands);
  auto ends_with = [&word](const std::string& tail) {
    return word.size() > tail.size() && word.compare(word.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (!closest.empty()) {
    message += "; did you mean '" + closest + "'?";
  } else if (ends_with(".yaml") || ends_with(".yml")) {
    message += "; to run a spec, say 'parallelrun run " + word + "'";
  } else {
    message += "; the subcommands are " + names;
  }
  return message;
}

// The command line of a job, as `run` and `validate` both take it: a
// RunRequest and the -i/-o/--set texts that FinishJobFlags turns into its
// bindings.
struct JobFlags {
  parallelrun::RunRequest* req;
  std::vector<std::string> inputs, outputs, sets;
};

// Registers the flags that describe a job (spec, bindings, --set, the job
// dir, the interpreter, the cluster's role flags, every run setting) on `sub`.
void AddJobFlags(CLI::App* sub, JobFlags* f) {
  parallelrun::RunRequest* req = f->req;
  sub->add_option("spec", req->spec_path,
                  "component YAML (ParallelComponent, v2 parallel or batch deployment), or a v2 "
                  "pipeline YAML (type: pipeline)")
      ->required();
  sub->add_option("-i,--input", f->inputs, "bind an input: NAME=PATH (or NAME=VALUE); repeatable")
      ->allow_extra_args(false);
  sub->add_option("-o,--output", f->outputs, "bind an output: NAME=PATH; repeatable")
      ->allow_extra_args(false);
  sub->add_option("--set", f->sets,
                  "set a value in the YAML before it is read, as `az ml job create --set`: "
                  "PATH=VALUE, e.g. --set mini_batch_size=20 --set inputs.data.mode=direct; "
                  "repeatable")
      ->allow_extra_args(false);
  sub->add_option("--job-dir,--job_dir", req->job_dir,
                  "where logs and reports go (default: a new folder under ./parallelrun-jobs)");
  sub->add_flag("--allow-output-in-input,--allow_output_in_input", req->allow_output_in_input,
                "let an output folder be an input folder (the job then lists what it writes)");
  sub->add_option("--python", req->python, "the workers' Python interpreter");
  const char* kCluster = "Cluster (default: from the launcher's variables; see README)";
  sub->add_option("--node-rank,--node_rank", req->node_rank, "this node's rank (0 = master)")
      ->group(kCluster);
  sub->add_option("--master-addr,--master_addr", req->master_addr,
                  "address the master listens on and agents connect to")
      ->group(kCluster);
  sub->add_option("--master-port,--master_port", req->master_port, "the master's TCP port")
      ->group(kCluster);
  sub->add_option("--token-file,--token_file", req->token_file,
                  "the job secret: a file (mode 0600) holding the same token on every node")
      ->group(kCluster);
  sub->add_flag("--insecure-derived-secret,--insecure_derived_secret",
                req->insecure_derived_secret,
                "derive the job secret from the launcher's job id, which others can guess "
                "(only on a network you trust)")
      ->group(kCluster);
  sub->add_flag("--tls", req->tls,
                "TLS between the nodes (also PARALLELRUN_TLS=on); without certificate files the "
                "master makes a self-signed one in the job dir, which every node must see")
      ->group(kCluster);
  sub->add_option("--tls-cert,--tls_cert", req->tls_cert,
                  "TLS: this node's PEM certificate (chain); implies --tls (also "
                  "PARALLELRUN_TLS_CERT)")
      ->group(kCluster);
  sub->add_option("--tls-key,--tls_key", req->tls_key,
                  "TLS: its PEM private key, mode 0600 (also PARALLELRUN_TLS_KEY)")
      ->group(kCluster);
  sub->add_option("--tls-ca,--tls_ca", req->tls_ca,
                  "TLS: PEM CA certificates that verify the master (and, given on the master, "
                  "the agents) (also PARALLELRUN_TLS_CA)")
      ->group(kCluster);
  sub->add_flag("--agent-per-process,--agent_per_process", req->agent_per_process,
                "one agent per launched process instead of one per node")
      ->group(kCluster);
  sub->add_option("--model", req->model,
                  "a batch deployment's model: the local folder or file (AZUREML_MODEL_DIR holds "
                  "it); needed when the deployment names a registered model (azureml:…)");
  for (const auto& s : parallelrun::AllSettings()) {
    std::string name = s.name;
    // Every format's name of the setting is one option with it (so that two
    // spellings on one command line are refused as the option given twice).
    std::vector<std::string> words = {name};
    std::string also;
    for (const auto& a : parallelrun::SettingAliases()) {
      if (name != a.canonical) continue;
      words.push_back(a.name);
      also += std::string(also.empty() ? "" : "; ") + "--" + a.name + ": " + a.origin;
    }
    std::string names;
    for (const auto& word : words) {
      std::string dashed = word;
      for (char& c : dashed) if (c == '_') c = '-';
      names += std::string(names.empty() ? "" : ",") + "--" + dashed +
               (dashed != word ? ",--" + word : "");
    }
    std::string help = s.help;
    if (!also.empty()) help += " (also " + also + ")";
    if (*s.default_text) help += std::string(" (default: ") + s.default_text + ")";
    sub->add_option_function<std::string>(
           names, [req, name](const std::string& v) { req->settings[name] = v; }, help)
        ->group("Run settings (reference §1; both spellings)");
  }
  sub->allow_extras();
}

// After parsing: the bindings, the overrides and the pass-through arguments
// of `sub` into f->req, and the process's own things (environment, folder).
parallelrun::Status FinishJobFlags(CLI::App* sub, JobFlags* f,
                                   const std::vector<std::string>& env) {
  using parallelrun::Status;
  parallelrun::RunRequest& req = *f->req;
  for (const auto& text : f->inputs) {
    std::pair<std::string, std::string> b;
    if (!SplitBinding(text, &b)) return Status::Usage("-i " + text + ": give NAME=PATH");
    req.inputs.push_back(b);
  }
  for (const auto& text : f->outputs) {
    std::pair<std::string, std::string> b;
    if (!SplitBinding(text, &b)) return Status::Usage("-o " + text + ": give NAME=PATH");
    req.outputs.push_back(b);
  }
  for (const auto& text : f->sets) {
    auto o = parallelrun::ParseSetOverride(text);
    if (!o.ok()) return o.status();
    req.overrides.push_back(o.value());
  }
  req.passthrough = sub->remaining();
  if (!req.passthrough.empty() && req.passthrough.front() == "--") {
    req.passthrough.erase(req.passthrough.begin());
  }
  req.environment = env;
  req.cwd = CurrentDir();
  req.cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return Status::Ok();
}

int Main(int argc, char** argv) {
  using parallelrun::Status;
  // Named here, not from argv[0], so that usage lines read "parallelrun".
  CLI::App app{"parallelrun: run a Python entry script over a dataset in parallel, on one machine "
               "or every node of a cluster (Azure ML ParallelRunStep / parallel job compatible).",
               "parallelrun"};
  app.set_version_flag("-v,--version", std::string("parallelrun ") + PARALLELRUN_VERSION);
  // The top-level help shows every subcommand with its options, settings
  // included; a subcommand's --help shows that subcommand only.
  app.set_help_flag();
  app.set_help_all_flag("-h,--help", "Print this help (every subcommand and setting) and exit");
  app.require_subcommand(1);
  app.footer("Exit codes: 0 succeeded, 1 job failed, 2 usage or spec error, 3 infrastructure "
             "failure, 130 interrupted.");

  parallelrun::RunRequest req;
  JobFlags run_flags{&req, {}, {}, {}};
  auto own_help = [](CLI::App* sub) {
    sub->set_help_all_flag();
    sub->set_help_flag("-h,--help", "Print this subcommand's help and exit");
  };
  CLI::App* run = app.add_subcommand("run", "Run a component spec over its input data.");
  own_help(run);
  AddJobFlags(run, &run_flags);
  run->add_option("--start-method,--start_method", req.start_method,
                  "fork (default: one process imports the entry script once and forks the "
                  "workers) or spawn (each worker starts its own Python)");
  std::string only_job;
  run->add_option("--job", only_job,
                  "with a pipeline: run only this job (the jobs it reads from ran before, in "
                  "the same --job-dir)");
  run->add_option("--progress", req.progress, "auto, bar, plain or none")
      ->capture_default_str();
  run->add_flag("--dry-run,--dry_run", req.dry_run,
                "print the resolved plan and the entry script's arguments; run nothing");
  run->add_flag("--resume", req.resume,
                "continue the job in --job-dir from its journal (as `parallelrun resume`)");
  run->add_flag("--rerun-failed,--rerun_failed", req.rerun_failed,
                "with --resume: run the mini-batches that failed again");
  run->add_flag("--force", req.force,
                "with --resume: go on although the spec, entry script or inputs changed");
  run->footer("Arguments parallelrun does not know are passed on to the entry script, as the "
              "original does; put them after the spec, or after --.");

  std::string resume_dir;
  parallelrun::RunRequest resume_options;
  CLI::App* resume = app.add_subcommand(
      "resume", "Continue an interrupted, crashed or failed job from its job dir's journal.");
  resume->add_option("job_dir", resume_dir, "the job dir of the job to continue")->required();
  resume->add_flag("--rerun-failed,--rerun_failed", resume_options.rerun_failed,
                   "run the mini-batches that failed for good again");
  resume->add_flag("--force", resume_options.force,
                   "continue although the spec, the entry script or the inputs changed");
  resume->add_option("--progress", resume_options.progress, "auto, bar, plain or none")
      ->capture_default_str();
  resume->add_option("--start-method,--start_method", resume_options.start_method,
                     "fork (default) or spawn, as for run");

  parallelrun::RunRequest validate_req;
  JobFlags validate_flags{&validate_req, {}, {}, {}};
  CLI::App* validate = app.add_subcommand(
      "validate", "Check a component spec and its entry script, and what the command line binds "
                  "to it, as `run` would before starting workers; run nothing.");
  own_help(validate);
  AddJobFlags(validate, &validate_flags);
  validate->footer("Takes run's flags (-i, -o, --set, settings), so that a bound job can be "
                   "checked; inputs not given are not checked. Every problem found is listed.");

  parallelrun::JobsRequest jobs_req;
  CLI::App* jobs = app.add_subcommand(
      "jobs", "List the job dirs under ./parallelrun-jobs with their outcome, size and age; "
              "remove old ones.");
  own_help(jobs);
  jobs->add_option("--root", jobs_req.root, "the folder that holds the job dirs")
      ->capture_default_str();
  jobs->add_flag("--clean", jobs_req.clean,
                 "remove the job dirs that are not running, except the --keep newest");
  jobs->add_option("--keep", jobs_req.keep, "with --clean: how many of the newest to keep")
      ->capture_default_str()
      ->needs(jobs->get_option("--clean"));

  std::string report_dir, report_out;
  CLI::App* report = app.add_subcommand(
      "report", "Write one self-contained HTML page of charts and tables about a job "
                "(progress, throughput, busy ratio, durations, failures, CPU and memory).");
  own_help(report);
  report->add_option("job_dir", report_dir, "the job dir to report on")->required();
  report->add_option("-o,--output", report_out, "where to write the page (default: JOB_DIR/report.html)");

  std::string tune_dir;
  CLI::App* tune = app.add_subcommand(
      "tune", "Apply the Performance Tuning Guide to a finished job: suggested settings, each "
              "with its reason and the measured numbers.");
  own_help(tune);
  tune->add_option("job_dir", tune_dir, "the job dir of the job to measure")->required();

  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> subcommands;
  for (const CLI::App* sub : app.get_subcommands({})) subcommands.push_back(sub->get_name());
  std::string unknown = NormalizeSubcommand(subcommands, &args);
  if (args.empty()) {
    std::string names;
    for (const auto& sub : subcommands) names += (names.empty() ? "" : ", ") + sub;
    unknown = "give a subcommand (" + names + "); 'parallelrun help' says more";
  }
  if (!unknown.empty()) {
    std::fprintf(stderr, "parallelrun: error: %s\n", unknown.c_str());
    return parallelrun::kExitUsage;
  }
  try {
    // CLI11 takes the arguments last to first.
    std::reverse(args.begin(), args.end());
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "parallelrun: error: %s\n", e.what());
    std::fprintf(stderr, "Run 'parallelrun --help' or 'parallelrun run --help' for usage.\n");
    return parallelrun::kExitUsage;
  }

  if (jobs->parsed()) {
    jobs_req.cwd = CurrentDir();
    Status s = parallelrun::ListJobs(jobs_req, stdout);
    return s.ok() ? parallelrun::kExitSucceeded : Fail(s);
  }
  if (report->parsed()) {
    auto path = parallelrun::WriteJobReport(report_dir, report_out);
    if (!path.ok()) return Fail(path.status());
    std::printf("parallelrun: report written to %s\n", path->c_str());
    return parallelrun::kExitSucceeded;
  }
  if (tune->parsed()) {
    int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    Status s = parallelrun::TuneJobDir(tune_dir, cores, CountGpus(), stdout);
    return s.ok() ? parallelrun::kExitSucceeded : Fail(s);
  }
  std::vector<std::string> env = Environment();
  if (resume->parsed()) {
    resume_options.environment = env;
    resume_options.cwd = CurrentDir();
    resume_options.cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    resume_options.stderr_is_tty = isatty(STDERR_FILENO) != 0;
    Status s = parallelrun::ResumeJob(resume_dir, resume_options, stderr);
    return s.ok() ? parallelrun::kExitSucceeded : Fail(s);
  }
  if (validate->parsed()) {
    Status s = FinishJobFlags(validate, &validate_flags, env);
    if (s.ok() && parallelrun::IsPipeline(validate_req.spec_path)) {
      s = parallelrun::ValidatePipeline(validate_req.spec_path, env, validate_req.python, stdout);
    } else if (s.ok()) {
      s = parallelrun::ValidateJob(validate_req, stdout);
    }
    return s.ok() ? parallelrun::kExitSucceeded : Fail(s);
  }

  Status bound = FinishJobFlags(run, &run_flags, env);
  if (!bound.ok()) return Fail(bound);
  if ((req.rerun_failed || req.force) && !req.resume) {
    return Fail(Status::Usage("--rerun-failed and --force go with --resume"));
  }
  if (req.resume && req.job_dir.empty()) {
    return Fail(Status::Usage("--resume needs the --job-dir of the job to continue"));
  }
  req.stderr_is_tty = isatty(STDERR_FILENO) != 0;
  req.plan_out = stdout;  // so that `--dry-run > plan.txt` keeps the plan
  parallelrun::Job job = parallelrun::Job::Run({req, only_job}, stderr);
  return job.status().ok() ? parallelrun::kExitSucceeded : Fail(job.status());
}

}  // namespace

int main(int argc, char** argv) {
  // A closed stdin, stdout or stderr (`2>&-`) would be taken by the first
  // file opened, and the terminal's lines would land in a report. /dev/null
  // in its place takes what is written there, as a closed stream would.
  for (int fd = 0; fd <= 2; fd++) {
    if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
      int null_fd = open("/dev/null", O_RDWR);
      if (null_fd >= 0 && null_fd != fd) close(null_fd);
    }
  }
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parallelrun: error: internal error: %s\n", e.what());
    return parallelrun::kExitInfrastructure;
  }
}
