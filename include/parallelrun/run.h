// The entry points of parallelrun: run a job, validate a spec. app/ turns the
// command line into a RunRequest and the returned Status into an exit code;
// the library never reads argv or the environment itself.
#ifndef PARALLELRUN_RUN_H_
#define PARALLELRUN_RUN_H_

#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "parallelrun/status.h"

namespace parallelrun {

struct RunRequest {
  std::string spec_path;
  // -i/--input NAME=VALUE and -o/--output NAME=VALUE, in the order given.
  std::vector<std::pair<std::string, std::string>> inputs;
  std::vector<std::pair<std::string, std::string>> outputs;
  // --set PATH=VALUE, in the order given: put into the spec's YAML before
  // it is read, as `az ml job create --set` does (plan/yaml_overrides.h).
  std::vector<std::pair<std::string, std::string>> overrides;
  // Run settings given as flags: canonical name → text.
  std::map<std::string, std::string> settings;
  // Arguments after the spec that are not parallelrun's: passed on to the
  // entry script, as the original does.
  std::vector<std::string> passthrough;
  // --model PATH: a batch deployment's model, a local folder or file; it
  // replaces the deployment's own `model` (required when that names a
  // registered model, azureml:…). "" = the deployment's model path.
  std::string model;
  std::string job_dir;              // "" = a new folder under ./parallelrun-jobs
  // An output folder may be an input folder (--allow-output-in-input);
  // otherwise that is a usage error, as the job would read what it writes.
  bool allow_output_in_input = false;
  std::string python;               // --python, "" = choose (DESIGN.md §4)
  // --start-method: "fork" (a zygote imports once and forks the workers) or
  // "spawn" (each worker starts its own Python); "" = $PARALLELRUN_START_METHOD,
  // else fork (README: start methods).
  std::string start_method;
  std::string progress = "auto";    // auto | bar | plain | none
  bool dry_run = false;
  FILE* plan_out = nullptr;         // where --dry-run prints the plan; nullptr = RunJob's `out`
  // When set, receives the job dir as soon as it is known (the default one
  // is chosen while the spec is read), so that a caller that gave none can
  // find the reports (job.h's Job). Not part of the journaled request.
  std::string* job_dir_out = nullptr;
  // Continue the job in job_dir from its journal instead of starting one
  // (`run --resume`, `parallelrun resume`): only unfinished mini-batches run,
  // failed ones too with rerun_failed; `force` resumes although the spec,
  // the entry script or the inputs changed since the first run.
  bool resume = false;
  bool rerun_failed = false;
  bool force = false;
  // Role flags (--node-rank, --master-addr, --master-port,
  // --agent-per-process; --node-count is the node_count setting); "" = not
  // given, the launcher's variables decide.
  std::string node_rank;
  std::string node_count;
  std::string master_addr;
  std::string master_port;
  bool agent_per_process = false;
  // The job secret (link/secret.h): --token-file FILE, and
  // --insecure-derived-secret to derive one from the launcher's job id.
  std::string token_file;
  bool insecure_derived_secret = false;
  // TLS on the link between nodes (link/tls.h): --tls, and certificate
  // files --tls-cert, --tls-key, --tls-ca ("" = not given: PARALLELRUN_TLS*
  // decide).
  bool tls = false;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  // The process environment (NAME=value), which workers inherit.
  std::vector<std::string> environment;
  std::string cwd;                  // the invocation's working folder
  int cores = 1;                    // default process_count_per_node
  bool stderr_is_tty = false;
};

// Runs the job to the end. Progress and the summary go to `out` (stderr).
// Returns Ok when every mini-batch was processed within the thresholds,
// JobFailed, Usage (nothing ran), Infrastructure, or Interrupted.
Status RunJob(const RunRequest& request, FILE* out);

// `parallelrun resume JOB_DIR`: runs again what the job's first run was
// asked to run (its journal keeps the request), with resume set. From
// `options` it takes the process's own things — environment, cores, the
// terminal, progress, rerun_failed, force. Errors: Usage when the folder
// holds no job, or one that has nothing left to do.
Status ResumeJob(const std::string& job_dir, const RunRequest& options, FILE* out);

// `parallelrun validate`: every check RunJob makes before a worker starts —
// the spec (with request.overrides), the -i/-o bindings given, the settings
// and their ranges, the inputs given (exist, tables, partitions), the role,
// the interpreter and the entry script (compiles, defines run(), pandas for
// tables) — without starting or creating anything. Inputs without a value
// are not a problem (the spec is checked before its data is known). Prints
// a short description to `out` when valid. Every problem found is reported,
// not only the first: one is returned as it is, several as one Usage status
// "N problems:" with one per line; a spec that does not parse stops the rest.
Status ValidateJob(const RunRequest& request, FILE* out);

// ValidateJob of `spec_path` alone (no bindings), from the working folder.
Status ValidateSpec(const std::string& spec_path, const std::vector<std::string>& environment,
                    const std::string& python, FILE* out);

}  // namespace parallelrun

#endif  // PARALLELRUN_RUN_H_
