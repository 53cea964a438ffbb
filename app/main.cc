// parallelrun: the command line. CLI11 flags → RunRequest, one call into the
// library, the error printed as "parallelrun: error: <message>", the exit
// code from exit_codes.h. Everything else lives in lib/.
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "parallelrun/exit_codes.h"
#include "parallelrun/jobs.h"
#include "parallelrun/pipeline.h"
#include "parallelrun/run.h"
#include "parallelrun/run_settings.h"
#include "base/spelling.h"
#include "plan/yaml_overrides.h"

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
  std::string closest = parallelrun::ClosestName(word, subcommands);
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
  std::vector<std::string> inputs, outputs;
  auto own_help = [](CLI::App* sub) {
    sub->set_help_all_flag();
    sub->set_help_flag("-h,--help", "Print this subcommand's help and exit");
  };
  CLI::App* run = app.add_subcommand("run", "Run a component spec over its input data.");
  own_help(run);
  run->add_option("spec", req.spec_path,
                  "component YAML (ParallelComponent or v2 parallel), or a v2 pipeline YAML "
                  "(type: pipeline)")
      ->required();
  std::string only_job;
  run->add_option("--job", only_job,
                  "with a pipeline: run only this job (the jobs it reads from ran before, in "
                  "the same --job-dir)");
  run->add_option("-i,--input", inputs, "bind an input: NAME=PATH (or NAME=VALUE); repeatable")
      ->allow_extra_args(false);
  run->add_option("-o,--output", outputs, "bind an output: NAME=PATH; repeatable")
      ->allow_extra_args(false);
  std::vector<std::string> sets;
  run->add_option("--set", sets,
                  "set a value in the YAML before it is read, as `az ml job create --set`: "
                  "PATH=VALUE, e.g. --set mini_batch_size=20 --set inputs.data.mode=direct; "
                  "repeatable")
      ->allow_extra_args(false);
  run->add_option("--job-dir,--job_dir", req.job_dir,
                  "where logs and reports go (default: a new folder under ./parallelrun-jobs)");
  run->add_flag("--allow-output-in-input,--allow_output_in_input", req.allow_output_in_input,
                "let an output folder be an input folder (the job then lists what it writes)");
  run->add_option("--python", req.python, "the workers' Python interpreter");
  run->add_option("--progress", req.progress, "auto, bar, plain or none")
      ->capture_default_str();
  const char* kCluster = "Cluster (default: from the launcher's variables; see README)";
  run->add_option("--node-rank,--node_rank", req.node_rank, "this node's rank (0 = master)")
      ->group(kCluster);
  run->add_option("--master-addr,--master_addr", req.master_addr,
                  "address the master listens on and agents connect to")
      ->group(kCluster);
  run->add_option("--master-port,--master_port", req.master_port, "the master's TCP port")
      ->group(kCluster);
  run->add_flag("--agent-per-process,--agent_per_process", req.agent_per_process,
                "one agent per launched process instead of one per node")
      ->group(kCluster);
  run->add_flag("--dry-run,--dry_run", req.dry_run,
                "print the resolved plan and the entry script's arguments; run nothing");
  run->add_flag("--resume", req.resume,
                "continue the job in --job-dir from its journal (as `parallelrun resume`)");
  run->add_flag("--rerun-failed,--rerun_failed", req.rerun_failed,
                "with --resume: run the mini-batches that failed again");
  run->add_flag("--force", req.force,
                "with --resume: go on although the spec, entry script or inputs changed");
  for (const auto& s : parallelrun::AllSettings()) {
    std::string name = s.name;
    std::string dashed = name;
    for (char& c : dashed) if (c == '_') c = '-';
    std::string names = "--" + dashed + (dashed != name ? ",--" + name : "");
    std::string help = s.help;
    if (*s.default_text) help += std::string(" (default: ") + s.default_text + ")";
    run->add_option_function<std::string>(
           names, [&req, name](const std::string& v) { req.settings[name] = v; }, help)
        ->group("Run settings (reference §1; both spellings)");
  }
  run->allow_extras();
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

  std::string validate_spec, validate_python;
  CLI::App* validate = app.add_subcommand("validate", "Check a component spec and its entry script.");
  own_help(validate);
  validate->add_option("spec", validate_spec, "component YAML, or a pipeline YAML (type: pipeline)")
      ->required();
  validate->add_option("--python", validate_python, "the Python interpreter to check with");

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
    if (parallelrun::IsPipeline(validate_spec)) {
      Status s = parallelrun::ValidatePipeline(validate_spec, env, validate_python, stdout);
      return s.ok() ? parallelrun::kExitSucceeded : Fail(s);
    }
    Status s = parallelrun::ValidateSpec(validate_spec, env, validate_python, stdout);
    return s.ok() ? parallelrun::kExitSucceeded : Fail(s);
  }

  for (const auto& text : inputs) {
    std::pair<std::string, std::string> b;
    if (!SplitBinding(text, &b)) {
      return Fail(Status::Usage("-i " + text + ": give NAME=PATH"));
    }
    req.inputs.push_back(b);
  }
  for (const auto& text : outputs) {
    std::pair<std::string, std::string> b;
    if (!SplitBinding(text, &b)) {
      return Fail(Status::Usage("-o " + text + ": give NAME=PATH"));
    }
    req.outputs.push_back(b);
  }
  for (const auto& text : sets) {
    auto o = parallelrun::ParseYamlOverride(text);
    if (!o.ok()) return Fail(o.status());
    req.overrides.push_back(o.value());
  }
  req.passthrough = run->remaining();
  if (!req.passthrough.empty() && req.passthrough.front() == "--") {
    req.passthrough.erase(req.passthrough.begin());
  }
  if ((req.rerun_failed || req.force) && !req.resume) {
    return Fail(Status::Usage("--rerun-failed and --force go with --resume"));
  }
  if (req.resume && req.job_dir.empty()) {
    return Fail(Status::Usage("--resume needs the --job-dir of the job to continue"));
  }
  req.environment = env;
  req.cwd = CurrentDir();
  req.cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  req.stderr_is_tty = isatty(STDERR_FILENO) != 0;
  req.plan_out = stdout;  // so that `--dry-run > plan.txt` keeps the plan
  if (parallelrun::IsPipeline(req.spec_path)) {
    Status s = parallelrun::RunPipeline(req, only_job, stderr);
    return s.ok() ? parallelrun::kExitSucceeded : Fail(s);
  }
  if (!only_job.empty()) {
    return Fail(Status::Usage("--job " + only_job + " names a job of a pipeline, but " +
                              req.spec_path + " is not a pipeline (type: pipeline)"));
  }
  Status s = parallelrun::RunJob(req, stderr);
  return s.ok() ? parallelrun::kExitSucceeded : Fail(s);
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
