// RunPipeline and ValidatePipeline (include/parallelrun/pipeline.h): a
// pipeline file parsed and bound by plan/pipeline.h, its jobs run one after
// the other in the order of their bindings. A parallel job runs exactly as
// `parallelrun run` runs a spec (RunJobForSpec), in <pipeline job dir>/<job>;
// a command job runs its command through /bin/sh in its code folder, with
// the workers' Python first on PATH, its output in <job>/command.log.
//
// The pipeline's job dir:
//   <job dir>/<job>/             one per job: a parallel job's job dir, or a
//                                command job's folder (command.log)
//   <job dir>/<job>/outputs/<y>  a job output bound to no path
//   <job dir>/outputs/<y>        a pipeline output bound to no path
//   <job dir>/python-bin/        `python` and `python3` for command jobs
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/disk.h"
#include "base/spelling.h"
#include "base/text.h"
#include "job/job_for_spec.h"
#include "link/role.h"
#include "node/python_locator.h"
#include "parallelrun/pipeline.h"
#include "plan/job_plan.h"
#include "plan/pipeline.h"

namespace parallelrun {

namespace {

namespace fs = std::filesystem;

std::string Absolute(const std::string& path, const std::string& cwd) {
  if (!path.empty() && path[0] == '/') return fs::path(path).lexically_normal().string();
  return (fs::path(cwd) / path).lexically_normal().string();
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string KindName(const PipelineJob& job) {
  return job.kind == PipelineJob::Kind::kParallel ? "parallel" : "command";
}

// The last `lines` lines of the file at `path`, each indented.
std::string Tail(const std::string& path, size_t lines) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> kept;
  std::string line;
  while (std::getline(in, line)) {
    kept.push_back(line);
    if (kept.size() > lines) kept.erase(kept.begin());
  }
  std::string out;
  for (const auto& l : kept) out += "\n  " + Printable(l);
  return out;
}

// `python` and `python3` that start the workers' interpreter, so that a
// command's `python x.py` runs where the entry scripts run. Small scripts
// rather than symlinks: a virtual environment's interpreter finds its
// environment from the path it was started by.
Status MakePythonBin(const std::string& dir, const std::string& python) {
  Status s = CreateFolders(dir, "python-bin folder");
  if (!s.ok()) return s;
  for (const char* name : {"python", "python3"}) {
    std::string path = dir + "/" + name;
    std::ofstream f(path, std::ios::trunc);
    f << "#!/bin/sh\nexec " << ShellQuote(python) << " \"$@\"\n";
    f.close();
    if (!f || chmod(path.c_str(), 0755) != 0) {
      return Status::Infrastructure(ErrnoMessage(path, errno));
    }
  }
  return Status::Ok();
}

// Runs `command` with /bin/sh in `cwd` with `env`, stdout and stderr to
// `log`, in a process group of its own; SIGINT and SIGTERM to parallelrun
// stop the group (TERM, then KILL after a grace) and return Interrupted.
// Returns the exit code (128 + signal when killed by one).
Result<int> RunCommand(const std::string& command, const std::string& cwd,
                       const std::vector<std::string>& env, const std::string& log) {
  int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Status::Infrastructure(ErrnoMessage(log, errno));
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  sigset_t stop, old;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  // Blocked before the fork, so that a stop between the fork and the wait
  // is not lost; the child unblocks them.
  pthread_sigmask(SIG_BLOCK, &stop, &old);
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    close(log_fd);
    return Status::Infrastructure(ErrnoMessage("fork", err));
  }
  if (pid == 0) {
    setpgid(0, 0);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    if (chdir(cwd.c_str()) != 0) {
      dprintf(2, "parallelrun: cannot enter %s: %s\n", cwd.c_str(), strerror(errno));
      _exit(127);
    }
    execve("/bin/sh", const_cast<char* const*>(argv), envp.data());
    dprintf(2, "parallelrun: cannot start /bin/sh: %s\n", strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);  // also here: the child may not have run yet
  close(log_fd);
  bool stopping = false;
  int status = 0;
  timespec tick{0, 100 * 1000 * 1000};
  int grace_ticks = 0;
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) break;
    int sig = sigtimedwait(&stop, nullptr, &tick);
    if (sig > 0 && !stopping) {
      stopping = true;
      kill(-pid, SIGTERM);
    } else if (sig > 0 || (stopping && ++grace_ticks > 50)) {
      kill(-pid, SIGKILL);
    }
  }
  // Whatever the command left running in its group goes with it.
  kill(-pid, SIGKILL);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (stopping) return Status::Interrupted("interrupted");
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

// The values of a command job's environment: the process's, the workers'
// Python first on PATH, the job's variables.
std::vector<std::string> CommandEnvironment(const std::vector<std::string>& base,
                                            const std::string& python_bin,
                                            const std::map<std::string, std::string>& vars) {
  std::vector<std::string> env;
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const auto& e : base) {
    std::string name = e.substr(0, e.find('='));
    if (name == "PATH") {
      path = e.substr(5);
      continue;
    }
    if (vars.count(name)) continue;
    env.push_back(e);
  }
  env.push_back("PATH=" + python_bin + ":" + path);
  for (const auto& [k, v] : vars) env.push_back(k + "=" + v);
  return env;
}

Status Refuse(const RunRequest& req) {
  if (!req.settings.empty()) {
    return Status::Usage("run settings given as flags (--" + req.settings.begin()->first +
                         ") apply to one spec; for a job of a pipeline give them with --set "
                         "jobs.JOB.KEY=VALUE (e.g. --set jobs.score.mini_batch_size=20)");
  }
  if (!req.passthrough.empty()) {
    return Status::Usage("arguments for the entry script ('" + req.passthrough.front() +
                         "') are not taken with a pipeline: write them in the job's "
                         "program_arguments");
  }
  if (req.resume) {
    return Status::Usage("--resume is not available for a pipeline: run it again, or one job "
                         "with --job JOB");
  }
  if (!req.node_rank.empty() || !req.master_addr.empty() || !req.master_port.empty() ||
      req.agent_per_process || req.tls || !req.tls_cert.empty() || !req.tls_key.empty() ||
      !req.tls_ca.empty()) {
    return Status::Usage("a pipeline runs on one machine; the cluster flags are for one spec");
  }
  auto role = ResolveRole(MakeEnvironmentMap(req.environment));
  if (role.ok() && role->multi_node()) {
    return Status::Usage("a pipeline runs on one machine, but this process is one of " +
                         std::to_string(role->node_count) + " nodes (" + role->explanation +
                         "); run each parallel spec on its own on the cluster");
  }
  return Status::Ok();
}

struct Outcome {
  std::string job;
  std::string kind;
  std::string result = "not run";
};

}  // namespace

bool IsPipeline(const std::string& path) { return IsPipelineFile(path); }

Status RunPipeline(const RunRequest& request, const std::string& only_job, FILE* out) {
  Status refused = Refuse(request);
  if (!refused.ok()) return refused;
  auto parsed = ParsePipelineFile(request.spec_path, request.overrides);
  if (!parsed.ok()) return parsed.status();
  const Pipeline& pipeline = *parsed;
  if (!only_job.empty() && pipeline.FindJob(only_job) == nullptr) {
    std::vector<std::string> names;
    for (const auto& j : pipeline.jobs) names.push_back(j.name);
    std::string near = ClosestName(only_job, names);
    return Status::Usage("--job " + only_job + ": the pipeline has no job '" + only_job + "'" +
                         (near.empty() ? "; its jobs are: " + fmt::format("{}", fmt::join(names, ", "))
                                       : "; did you mean '" + near + "'?"));
  }
  const std::string job_dir = request.job_dir.empty()
                                  ? DefaultJobDir(request.cwd, pipeline.name, "pipeline")
                                  : Absolute(request.job_dir, request.cwd);
  std::error_code ec;
  if (only_job.empty() && !request.dry_run && Exists(job_dir) && !fs::is_empty(job_dir, ec)) {
    return Status::Usage("job dir " + job_dir + " is not empty; give a new --job-dir for the "
                         "pipeline (or run one of its jobs there with --job JOB)");
  }
  if (request.job_dir_out && !request.dry_run) *request.job_dir_out = job_dir;
  auto bound = BindPipeline(pipeline, request.inputs, request.outputs, request.cwd, job_dir);
  if (!bound.ok()) return bound.status();
  std::vector<const BoundJob*> to_run;
  for (const auto& b : *bound) {
    if (only_job.empty() || b.job->name == only_job) to_run.push_back(&b);
  }
  if (!only_job.empty() && !request.dry_run) {
    const BoundJob& b = *to_run.front();
    for (const auto& [input, from] : b.from_jobs) {
      if (!Exists(from.second)) {
        return Status::Usage(fmt::format(
            "job {} reads an output of job {} (input {}: {}), which does not exist yet: run job "
            "{} first (parallelrun run {} --job {} --job-dir {}), or the whole pipeline",
            only_job, from.first, input, from.second, from.first,
            request.spec_path, from.first, job_dir));
      }
    }
    if (Exists(b.dir)) {
      return Status::Usage("job " + only_job + " already ran in " + b.dir +
                           "; remove that folder to run it again, or give another --job-dir");
    }
  }
  auto python = ChoosePython(request.python, request.environment);
  if (!python.ok()) return python.status();

  std::string order;
  for (const auto* b : to_run) order += (order.empty() ? "" : " → ") + b->job->name;
  PutText(out, fmt::format("parallelrun: pipeline {}: {} job{} ({}); job dir {}\n", pipeline.name,
                           to_run.size(), to_run.size() == 1 ? "" : "s", order, job_dir));
  FILE* plan_out = request.plan_out ? request.plan_out : out;
  const std::string python_bin = job_dir + "/python-bin";
  bool bin_made = false;
  std::vector<Outcome> outcomes;
  for (const auto* b : to_run) outcomes.push_back({b->job->name, KindName(*b->job)});
  Status first_failure;
  for (size_t i = 0; i < to_run.size(); i++) {
    const BoundJob& b = *to_run[i];
    const PipelineJob& job = *b.job;
    Outcome& outcome = outcomes[i];
    PutText(out, fmt::format("parallelrun: job {} ({}){}\n", job.name, KindName(job),
                             request.dry_run ? "" : ": folder " + b.dir));
    for (const auto& note : b.notes) PutText(out, "parallelrun: " + note + "\n");
    Status s;
    if (job.kind == PipelineJob::Kind::kParallel) {
      std::vector<std::string> missing;
      for (const auto& [input, from] : b.from_jobs) {
        if (!Exists(from.second)) missing.push_back(input + " ← job " + from.first);
      }
      if (request.dry_run && !missing.empty()) {
        PutText(plan_out, fmt::format("job {}: its plan is made when the jobs before it have run "
                                      "(it reads {})\n",
                                      job.name, fmt::format("{}", fmt::join(missing, ", "))));
        outcome.result = "planned later";
        continue;
      }
      RunRequest sub = request;
      sub.spec_path = job.component_file.empty() ? request.spec_path : job.component_file;
      sub.overrides.clear();
      sub.inputs.assign(b.inputs.begin(), b.inputs.end());
      sub.outputs.assign(b.outputs.begin(), b.outputs.end());
      sub.settings = job.settings;
      sub.job_dir = b.dir;
      sub.job_dir_out = nullptr;  // the caller's is the pipeline's job dir
      if (!request.dry_run) {
        // The job's first line says where its logs are.
        s = CreateFolders(job_dir, "pipeline job dir");
      }
      if (s.ok()) s = RunJobForSpec(sub, &job.spec, out);
    } else {
      auto command = ResolveCommand(b);
      if (!command.ok()) {
        s = command.status();
      } else if (request.dry_run) {
        PutText(plan_out, fmt::format("job {}: in {}, /bin/sh -c {}\n", job.name, job.code_dir,
                                      ShellQuote(*command)));
        for (const auto& [name, path] : b.outputs) {
          PutText(plan_out, fmt::format("  output {} → {}\n", name, path));
        }
        outcome.result = "planned";
        continue;
      } else {
        if (!job.environment_summary.empty()) {
          PutText(out, fmt::format("parallelrun: environment ({}) is not provisioned; the command "
                                   "runs with {} as python\n",
                                   job.environment_summary, python->path));
        }
        if (!bin_made) {
          s = MakePythonBin(python_bin, python->path);
          bin_made = s.ok();
        }
        if (s.ok()) s = CreateFolders(b.dir, "job folder");
        for (const auto& [name, path] : b.outputs) {
          const PipelinePort* port = job.FindOutput(name);
          bool file = port != nullptr && port->type == "uri_file";
          if (s.ok()) s = CreateFolders(file ? fs::path(path).parent_path().string() : path, "output " + name);
        }
        const std::string log = b.dir + "/command.log";
        if (s.ok()) {
          auto code = RunCommand(*command, job.code_dir,
                                 CommandEnvironment(request.environment, python_bin,
                                                    job.environment_variables),
                                 log);
          if (!code.ok()) {
            s = code.status().code() == Status::Code::kInterrupted
                    ? Status::Interrupted("job " + job.name + " interrupted; its log: " + log)
                    : code.status();
          } else if (*code != 0) {
            s = Status::JobFailed(fmt::format("job {} failed: its command exited with code {}; "
                                              "its log: {}; the last lines:{}",
                                              job.name, *code, log, Tail(log, 20)));
          }
        }
      }
    }
    if (!s.ok()) {
      outcome.result = s.code() == Status::Code::kInterrupted ? "interrupted" : "failed";
      first_failure = s.message().rfind("job ", 0) == 0 ? s : s.WithContext("job " + job.name);
      break;
    }
    if (outcome.result == "not run") outcome.result = request.dry_run ? "planned" : "succeeded";
  }
  std::string summary = "parallelrun: pipeline " + pipeline.name + ":\n";
  size_t width = 0;
  for (const auto& o : outcomes) width = std::max(width, o.job.size());
  for (const auto& o : outcomes) {
    summary += fmt::format("  {:<{}}  {:<8}  {}\n", o.job, width, o.kind, o.result);
  }
  if (!request.dry_run) summary += "  job dir " + job_dir + "\n";
  PutText(out, summary);
  return first_failure;
}

Status ValidatePipeline(const std::string& path, const std::vector<std::string>& environment,
                        const std::string& python, FILE* out) {
  auto parsed = ParsePipelineFile(path);
  if (!parsed.ok()) return parsed.status();
  const Pipeline& pipeline = *parsed;
  auto choice = ChoosePython(python, environment);
  if (!choice.ok()) return choice.status();
  fmt::print(out, "{}: valid pipeline '{}' of {} job{}\n", path, pipeline.name,
             pipeline.jobs.size(), pipeline.jobs.size() == 1 ? "" : "s");
  // Remote paths are fine in the file; a run says how to give local ones.
  for (const auto& p : pipeline.inputs) {
    if (p.value.kind == PipelineBinding::Kind::kRemote) {
      fmt::print(out, "  input {} is {}, a remote path: a run needs -i {}=PATH\n", p.name,
                 p.value.text, p.name);
    }
  }
  for (const auto& job : pipeline.jobs) {
    std::string after;
    for (const auto& u : job.upstream) after += (after.empty() ? " after " : ", ") + u;
    fmt::print(out, "  job {} ({}{}){}\n", job.name, KindName(job),
               job.component_file.empty() ? "" : ", component " + job.component_file, after);
    if (job.kind == PipelineJob::Kind::kParallel) {
      auto pf = CheckEntryScript(*choice, job.spec.entry_script, environment);
      if (!pf.ok()) return pf.status().WithContext("job " + job.name);
      for (const auto& w : job.spec.warnings) fmt::print(out, "    {}\n", w);
      fmt::print(out, "    entry script {} with Python {} ({})\n", job.spec.entry_script,
                 pf->version, pf->executable);
    } else {
      fmt::print(out, "    command in {}\n", job.code_dir);
    }
    for (const auto& p : job.inputs) {
      if (p.value.kind == PipelineBinding::Kind::kRemote) {
        fmt::print(out, "    input {} is {}, a remote path: a run needs --set jobs.{}.inputs.{}.path=PATH\n",
                   p.name, p.value.text, job.name, p.name);
      }
    }
  }
  return Status::Ok();
}

}  // namespace parallelrun
