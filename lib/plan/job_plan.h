// JobPlan: everything a run needs, resolved once from the spec and the
// command line (DESIGN.md §3: RunOptions + Spec → JobPlan). After this point
// no stage reaches back to the YAML or argv.
#ifndef PARALLELRUN_PLAN_JOB_PLAN_H_
#define PARALLELRUN_PLAN_JOB_PLAN_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/input_source.h"
#include "parallelrun/run.h"
#include "parallelrun/run_settings.h"
#include "parallelrun/spec.h"
#include "parallelrun/status.h"
#include "plan/append_row_target.h"

namespace parallelrun {

struct JobPlan {
  Spec spec;
  RunSettings settings;
  // input_data, in order: names and absolute paths (folders or files).
  std::vector<std::string> input_names;
  std::vector<std::string> input_paths;
  // How each of them becomes mini-batches, same order.
  std::vector<InputPlan> inputs;
  // The inputs are tables: mini_batch_size is bytes, items are rows, and the
  // workers need pandas.
  bool tabular = false;
  // An input known to read Parquet before listing ("input x"; "" if none):
  // the workers' Python must then import pyarrow.
  std::string parquet_input;
  // output_action append_row: where the rows go. Its parts_dir is
  // <job dir>/append_row.
  std::optional<AppendRowTarget> append_row;
  // Every port with a value: name → value (absolute path for data ports).
  std::map<std::string, std::string> port_values;
  // Outputs to create before the job starts: name → absolute folder.
  std::map<std::string, std::string> output_dirs;
  std::string output_dir;  // the output_data folder, "" if the spec names none
  // sys.argv[1:] of the entry script: resolved args, pass-through arguments,
  // then the original's predefined arguments (reference §1.3).
  std::vector<std::string> entry_argv;
  std::string job_dir;  // absolute
  // A batch deployment's model (absolute; "" for other formats) and the
  // folder the workers see as AZUREML_MODEL_DIR, which CreateJobFolders
  // makes with one link in it, named as the model, to model_path.
  std::string model_path;
  std::string model_dir;
  // Lines to show before the job starts: warnings and notes.
  std::vector<std::string> notes;
};

// What `parallelrun validate` asks of MakeJobPlan: every problem, not the
// first, and optionally a spec whose inputs are not bound yet.
struct PlanCheck {
  // An input without a value (no -i, no default) is not a problem: the spec
  // is checked before the data is known.
  bool inputs_optional = false;
  // Out: the problems found, in order; each a Status::Usage.
  std::vector<Status> errors;
};

// Parses the spec, binds -i/-o values and defaults to its ports, validates the
// run settings (flags, spec, and driver flags inside args), checks the inputs
// exist and chooses the job dir. Creates nothing. Errors are Status::Usage
// naming the input, setting or flag at fault.
// With `check`, a problem does not end the checks that do not depend on it
// (ports, each setting, each input, the outputs): all of them go to
// check->errors and the plan is returned as far as it could be made; only a
// spec that does not parse is returned as the error.
Result<JobPlan> MakeJobPlan(const RunRequest& request, PlanCheck* check = nullptr);

// Same, for a spec already parsed (a pipeline's job): `request.spec_path`
// and `request.overrides` are not read.
Result<JobPlan> MakeJobPlanForSpec(const RunRequest& request, Spec spec,
                                   PlanCheck* check = nullptr);

// Creates the job dir and the output folders of `plan` (and the append_row
// parts folder), after checking that every one of them can be created (a
// usage error leaves nothing behind).
Status CreateJobFolders(const JobPlan& plan);
// The folders CreateJobFolders would make that do not exist now (each
// missing ancestor too), deepest first: what undoes it (RemoveMadeFolders).
std::vector<std::string> MissingJobFolders(const JobPlan& plan);
// Undoes CreateJobFolders, given MissingJobFolders from before it: removes
// `job_dir` with all it holds (when not "": the caller's own, locked), then
// each folder of `missing` that is empty — one that is not (another job
// made something there meanwhile) stays, with its ancestors.
void RemoveMadeFolders(const std::vector<std::string>& missing, const std::string& job_dir);


// A new folder <cwd>/parallelrun-jobs/<name>-<yyyymmdd-hhmmss>[-n] (the name
// in characters safe in a file name; `fallback` when it is empty), not yet
// made: the default job dir of a run, and of a pipeline.
std::string DefaultJobDir(const std::string& cwd, const std::string& name,
                          const char* fallback = "job");

}  // namespace parallelrun

#endif  // PARALLELRUN_PLAN_JOB_PLAN_H_
