#include "plan/job_plan.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <limits.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "base/disk.h"
#include "base/job_dir.h"
#include "base/spelling.h"
#include "data/file_lister.h"
#include "plan/folder_keys.h"
#include "plan/mltable.h"

namespace parallelrun {

namespace {

std::string Absolute(const std::string& path, const std::string& base) {
  if (path.empty() || path[0] == '/') return path;
  std::string p = path;
  while (p.compare(0, 2, "./") == 0) p.erase(0, 2);
  if (p == ".") return base;
  return base + "/" + p;
}

bool IsParameterType(const Port& p) { return !p.is_data; }

// A remote location (azureml://, https://, wasbs://, …) cannot be read here.
bool IsRemote(const std::string& path) {
  return path.find("://") != std::string::npos || path.compare(0, 8, "azureml:") == 0;
}

std::string Closest(const std::string& word, const std::vector<Port>& ports) {
  std::vector<std::string> names;
  for (const auto& p : ports) names.push_back(p.name);
  return ClosestName(word, names);
}

std::string Names(const std::vector<Port>& ports) {
  std::string out;
  for (const auto& p : ports) out += (out.empty() ? "" : ", ") + p.name;
  return out.empty() ? "(none)" : out;
}

Status CheckParameter(const Port& p, const std::string& value) {
  std::string t = p.type;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return tolower(c); });
  char* end = nullptr;
  if (t == "integer" || t == "int") {
    errno = 0;
    strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end || errno) {
      return Status::Usage(fmt::format("input {}: '{}' is not an integer", p.name, value));
    }
  } else if (t == "float" || t == "number") {
    strtod(value.c_str(), &end);
    if (value.empty() || *end) {
      return Status::Usage(fmt::format("input {}: '{}' is not a number", p.name, value));
    }
  } else if (t == "boolean") {
    if (value != "True" && value != "False" && value != "true" && value != "false") {
      return Status::Usage(fmt::format("input {}: '{}' is not a boolean (True or False)", p.name, value));
    }
  }
  return Status::Ok();
}

bool IsMLTablePort(const Port& p) {
  std::string t = p.type;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return tolower(c); });
  return t == "mltable";
}

// Whether input `port` bound to `path` is read as tables: the port says so
// (an mltable in `direct` mode, a DataFrameDirectory) and, for an MLTable
// folder, the MLTable reads its files (a read_* transformation). The mode
// decides, as in Azure ML: an mltable input in ro_mount or download mode is
// a file list even when its MLTable could read a table. Decided before the
// input is checked (the unit of mini_batch_size depends on it), so a broken
// MLTable counts as what the port declares; PlanInput reports its errors.
bool ReadsTables(const Port& port, const std::string& path) {
  if (port.is_tabular && IsMLTable(path)) {
    Result<MLTable> t = LoadMLTable(path);
    if (t.ok()) return t->tabular();
  }
  return port.is_tabular;
}

// The one line that says an mltable input runs as a file list because of its
// mode, and how to have a table instead.
std::string FileListNote(const Port& port) {
  return fmt::format(
      "input {} (mltable, mode {}) is read as a file list: run() gets file paths; for a table "
      "(pandas DataFrames, mini_batch_size in bytes) give it mode: direct, or --set "
      "inputs.{}.mode=direct",
      port.name, port.mode.empty() ? "ro_mount" : port.mode, port.name);
}

// How input `port` bound to `path` (which exists) becomes mini-batches: an
// MLTable folder given to an mltable input is a table (in direct mode, with a
// read_* transformation) or a file list; any other path of a tabular input
// is a folder of tables or one table; the rest are folders (or files) of
// files. `notes` gets the line of FileListNote when the mode made a file list
// of what direct mode would read as a table.
Result<InputPlan> PlanInput(const Port& port, const std::string& path,
                            std::optional<PartitionFormat>* mltable_format,
                            std::vector<std::string>* notes) {
  InputPlan in;
  in.name = port.name;
  in.path = path;
  in.root = path;
  if ((IsMLTablePort(port) || port.is_tabular) && IsMLTable(path)) {
    Result<MLTable> t = LoadMLTable(path);
    if (!t.ok()) return t.status().WithContext("input " + port.name);
    in.root = t->folder;
    *mltable_format = t->partition_format;
    if (t->tabular() && port.is_tabular) {
      in.kind = InputPlan::Kind::kTable;
      in.table = t->ToTableInput(port.name);
    } else {
      // An MLTable without read_* is a file list whatever the mode: it says
      // so itself, and no note is needed.
      if (t->tabular()) notes->push_back(FileListNote(port));
      in.kind = InputPlan::Kind::kFileList;
      in.paths = t->paths;
    }
    return in;
  }
  if (IsMLTablePort(port) && !port.is_tabular) notes->push_back(FileListNote(port));
  if (port.is_tabular) {
    Result<TableInput> t = ResolveTableInput(port.name, path);
    if (!t.ok()) return t.status();
    in.kind = InputPlan::Kind::kTable;
    in.root = t->root;
    *mltable_format = t->partition_format;
    in.table = std::move(*t);
  }
  return in;
}

// The partition format of input `in` for `keys`: the MLTable's
// extract_columns_from_partition_format when it has one; else, for files,
// one key per folder level. A table whose keys are not all in its paths is
// partitioned by its columns (a shuffle, see InputSource).
Status PlanPartitions(InputPlan* in, std::optional<PartitionFormat> format,
                      const std::vector<std::string>& keys, std::vector<std::string>* notes) {
  bool table = in->kind == InputPlan::Kind::kTable;
  if (table && in->table && in->table->limits_rows()) {
    // Each partition is read whole by one worker; the rows a skip or take
    // keeps would have to be known per file before grouping them.
    return Status::Usage("input " + in->name + ": the MLTable's skip/take cannot be used with "
                         "partition_keys (parallelrun groups whole files into partitions); "
                         "remove skip/take, or partition_keys");
  }
  if (!format && !table) {
    // By position: checked on an example, and shown (plan/folder_keys.h).
    if (in->kind == InputPlan::Kind::kFolder) {
      std::string warning;
      Status s = CheckFolderLevelKeys(in->name, in->root, keys, &warning);
      if (!s.ok()) return s;
      if (!warning.empty()) notes->push_back(warning);
    }
    format = PartitionFormat::FolderLevels(keys);
  }
  bool in_paths = format.has_value();
  for (const auto& k : keys) {
    if (format && std::find(format->keys().begin(), format->keys().end(), k) == format->keys().end()) {
      in_paths = false;
    }
  }
  if (table && !in_paths) {
    for (size_t i = 0; i < keys.size(); i++) {
      for (size_t j = 0; j < i; j++) {
        if (keys[i] == keys[j]) {
          return Status::Usage(fmt::format("partition_keys names '{}' twice", keys[i]));
        }
      }
    }
    in->partition_by_columns = true;
    return Status::Ok();
  }
  Status s = CheckPartitionKeys(*format, keys, in->name);
  if (!s.ok()) return Status::Usage(s.message());
  in->partition_format = std::move(format);
  return Status::Ok();
}

std::string Basename(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Dirname(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// `path` with the symlinks of the part that exists resolved, and "." and
// ".." folded in the rest (the job's folders may not exist yet), so that two
// spellings of one folder compare equal.
std::string ResolvedPath(const std::string& path) {
  std::string head = path, tail;
  for (;;) {
    char buf[PATH_MAX];
    if (realpath(head.c_str(), buf) != nullptr) {
      std::string out = buf;
      size_t begin = 0;
      while (begin < tail.size()) {
        size_t end = tail.find('/', begin);
        if (end == std::string::npos) end = tail.size();
        std::string part = tail.substr(begin, end - begin);
        begin = end + 1;
        if (part.empty() || part == ".") continue;
        if (part == "..") {
          size_t slash = out.find_last_of('/');
          out = slash == 0 || slash == std::string::npos ? "/" : out.substr(0, slash);
        } else {
          out += (out == "/" ? "" : "/") + part;
        }
      }
      return out;
    }
    size_t slash = head.find_last_of('/');
    if (slash == std::string::npos || head == "/") return path;
    tail = head.substr(slash) + tail;
    head = slash == 0 ? "/" : head.substr(0, slash);
  }
}

// `inner` is strictly inside folder `outer` (both resolved).
bool Within(const std::string& inner, const std::string& outer) {
  if (outer == "/") return inner.size() > 1 && inner[0] == '/';
  return inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 &&
         inner[outer.size()] == '/';
}

bool IsFolder(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The folder to hold parallelrun-jobs/: the working folder, unless the job
// dir would then be inside a data input folder (`cd data && parallelrun run
// … -i data=.`), where the job would list its own logs; then the folder that
// holds the outermost such input, and a note says so.
std::string JobsParent(const std::string& cwd, const Spec& s,
                       const std::map<std::string, std::string>& values,
                       std::vector<std::string>* notes) {
  std::string jobs = ResolvedPath(cwd + "/parallelrun-jobs");
  std::string outer, outer_name;
  for (const auto& p : s.inputs) {
    auto it = values.find(p.name);
    if (!p.is_data || it == values.end() || !IsFolder(it->second)) continue;
    std::string folder = ResolvedPath(it->second);
    if ((folder == jobs || Within(jobs, folder)) && (outer.empty() || folder.size() < outer.size())) {
      outer = folder;
      outer_name = p.name;
    }
  }
  if (outer.empty() || outer == "/") return cwd;
  std::string parent = Dirname(outer);
  notes->push_back(fmt::format(
      "the job dir goes under {}/parallelrun-jobs: ./parallelrun-jobs would be inside input {} "
      "({}), and the job would read its own logs (--job-dir chooses another place)",
      parent == "/" ? "" : parent, outer_name, outer));
  return parent == "/" ? "" : parent;
}

// What a spec calls its args, for messages.
std::string WhatOfArgs(const Spec& s) {
  return s.format == SpecFormat::kV2Parallel ? "program_arguments" : "args";
}

// Flag-like words in `words` close to a setting's name: (the word's name,
// the setting it is likely meant as). The original passes such a word on
// silently (`--resource_monitor_interva 20`); here it is warned about.
std::vector<std::pair<std::string, std::string>> MisspeltSettings(
    const std::vector<std::string>& words) {
  std::vector<std::pair<std::string, std::string>> found;
  for (const auto& word : words) {
    if (word.compare(0, 2, "--") != 0) continue;
    size_t eq = word.find('=');
    std::string name = word.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    if (FindSetting(name)) continue;
    std::string near = ClosestSettingName(name);
    if (!near.empty()) found.emplace_back(name, near);
  }
  return found;
}


// One setting written as a driver flag inside args/program_arguments.
struct ArgSetting {
  std::string canonical;  // "run_invocation_timeout"
  std::string written;    // "--timeout"
  std::string value;
};

// Driver flags written inside args/program_arguments (the v2 way of passing
// e.g. --allowed_failed_percent) are settings too; they stay in argv, as the
// original forwards its whole command line. Every format's name is read
// (--max_concurrency_per_instance, --timeout, …), in order; a later one
// wins, as with the driver's argparse.
std::vector<ArgSetting> SettingsInArgs(const std::vector<std::string>& words) {
  std::vector<ArgSetting> found;
  for (size_t i = 0; i < words.size(); i++) {
    const std::string& w = words[i];
    if (w.compare(0, 2, "--") != 0) continue;
    std::string name = w.substr(2), value;
    size_t eq = name.find('=');
    bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const SettingInfo* info = FindSetting(name);
    if (!info || name.find('-') != std::string::npos) continue;  // only the driver spelling
    if (!inline_value) {
      if (i + 1 >= words.size()) continue;
      value = words[++i];
    }
    found.push_back({info->name, "--" + name, value});
  }
  return found;
}

// "file:line:col: " of the spec's args, or "" when unknown.
std::string ArgsPlace(const Spec& s) {
  if (s.args_where.line <= 0) return s.path + ": ";
  return fmt::format("{}:{}:{}: ", s.args_where.file, s.args_where.line, s.args_where.column);
}

// A batch deployment's one input and one output go by any name
// (`invoke(inputs={NAME: …})`): a single -i (or -o) renames the port.
void NameDeploymentPorts(const RunRequest& req, Spec* spec) {
  if (req.inputs.size() == 1 && spec->inputs.size() == 1 &&
      spec->FindOutput(req.inputs[0].first) == nullptr) {
    spec->inputs[0].name = req.inputs[0].first;
    spec->input_data.assign(1, req.inputs[0].first);
  }
  if (req.outputs.size() == 1 && spec->outputs.size() == 1 &&
      spec->FindInput(req.outputs[0].first) == nullptr) {
    spec->outputs[0].name = req.outputs[0].first;
    spec->output_data = req.outputs[0].first;
  }
}

// The model a batch deployment runs with: --model, else the deployment's
// local `path`. A registered model (azureml:…) has no local copy here.
Result<std::string> DeploymentModel(const RunRequest& req, const Spec& s,
                                    std::vector<std::string>* notes) {
  if (req.model.empty()) {
    if (!s.model_path.empty()) return s.model_path;
    return Status::Usage(fmt::format(
        "{}:{}:{}: model {} is a registered Azure ML model, which parallelrun cannot download; "
        "give a local copy of it with --model PATH (the folder or file that was registered)",
        s.model_where.file, s.model_where.line, s.model_where.column, s.model_reference));
  }
  std::string model = Absolute(req.model, req.cwd);
  while (model.size() > 1 && model.back() == '/') model.pop_back();
  struct stat st;
  if (stat(model.c_str(), &st) != 0) {
    return Status::Usage(fmt::format("--model {}: {}", req.model, strerror(errno)));
  }
  if (!s.model_path.empty() && ResolvedPath(model) != ResolvedPath(s.model_path)) {
    notes->push_back(fmt::format("--model {} replaces the deployment's model path {}", model,
                                 s.model_path));
  }
  return model;
}

}  // namespace

Result<JobPlan> MakeJobPlan(const RunRequest& req, PlanCheck* check) {
  auto spec = ParseSpecFile(req.spec_path, req.overrides);
  if (!spec.ok()) return spec.status();
  return MakeJobPlanForSpec(req, std::move(spec.value()), check);
}

Result<JobPlan> MakeJobPlanForSpec(const RunRequest& req, Spec spec, PlanCheck* check) {
  JobPlan plan;
  plan.spec = std::move(spec);
  if (plan.spec.format == SpecFormat::kBatchDeployment) NameDeploymentPorts(req, &plan.spec);
  const Spec& s = plan.spec;
  plan.notes = s.warnings;
  if (!req.model.empty() && s.format != SpecFormat::kBatchDeployment) {
    return Status::Usage(fmt::format(
        "--model is for batch deployment YAMLs; {} is a {} spec: give the model as one of its "
        "inputs (-i NAME=PATH)",
        s.path, SpecFormatName(s.format)));
  }
  // Problems that do not stop the checks after them, in the order found: a
  // run reports the first, `validate` every one (PlanCheck).
  std::vector<Status> errors;
  const bool validating = check != nullptr;
  auto finish = [&]() -> Result<JobPlan> {
    if (!validating) {
      if (!errors.empty()) return errors.front();
    } else {
      check->errors = std::move(errors);
    }
    return std::move(plan);
  };

  // ---- ports ----
  std::set<std::string> given;
  for (const auto& [name, value] : req.inputs) {
    const Port* p = s.FindInput(name);
    if (!p) {
      std::string near = Closest(name, s.inputs);
      errors.push_back(Status::Usage(fmt::format(
          "-i {}: the spec has no input '{}'{}; its inputs are: {}", name, name,
          near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near), Names(s.inputs))));
      continue;
    }
    if (given.count(name)) {
      errors.push_back(Status::Usage(fmt::format("input {} is given twice", name)));
      continue;
    }
    given.insert(name);
    if (IsParameterType(*p)) {
      Status st = CheckParameter(*p, value);
      if (!st.ok()) errors.push_back(st);
      plan.port_values[name] = value;
    } else {
      plan.port_values[name] = Absolute(value, req.cwd);
    }
  }
  for (const auto& p : s.inputs) {
    if (plan.port_values.count(p.name)) continue;
    if (p.default_value && !IsRemote(*p.default_value)) {
      plan.port_values[p.name] = IsParameterType(p) ? *p.default_value : Absolute(*p.default_value, s.dir);
      continue;
    }
    // `validate` checks a spec before its inputs are known.
    if (!p.optional && !(validating && check->inputs_optional)) {
      errors.push_back(Status::Usage(fmt::format("input {} has no value; give it with -i {}={}",
                                                 p.name, p.name,
                                                 IsParameterType(p) ? "VALUE" : "PATH")));
    }
  }
  const bool ports_ok = errors.empty();

  // ---- settings: flags > args/program_arguments > spec keys ----
  std::map<std::string, std::string> flags = req.settings;

  // ---- job dir and outputs ----
  plan.job_dir = req.job_dir.empty()
                     ? DefaultJobDir(JobsParent(req.cwd, s, plan.port_values, &plan.notes), s.name)
                     : Absolute(req.job_dir, req.cwd);
  given.clear();
  for (const auto& [name, value] : req.outputs) {
    const Port* p = s.FindOutput(name);
    if (!p) {
      std::string near = Closest(name, s.outputs);
      errors.push_back(Status::Usage(fmt::format(
          "-o {}: the spec has no output '{}'{}; its outputs are: {}", name, name,
          near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near), Names(s.outputs))));
      continue;
    }
    if (given.count(name)) {
      errors.push_back(Status::Usage(fmt::format("output {} is given twice", name)));
      continue;
    }
    given.insert(name);
    plan.port_values[name] = Absolute(value, req.cwd);
  }
  for (const auto& p : s.outputs) {
    if (plan.port_values.count(p.name)) continue;
    plan.port_values[p.name] = DefaultOutputDir(plan.job_dir, p.name);
    if (validating) continue;  // a job dir that no run made: no news
    plan.notes.push_back(fmt::format("output {} has no -o; writing it to {}", p.name,
                                     plan.port_values[p.name]));
  }
  for (const auto& p : s.outputs) {
    std::string t = p.type;
    if (t != "uri_file") plan.output_dirs[p.name] = plan.port_values[p.name];
  }
  if (!s.output_data.empty()) plan.output_dir = plan.port_values[s.output_data];

  // ---- a batch deployment's model ----
  if (s.format == SpecFormat::kBatchDeployment) {
    auto model = DeploymentModel(req, s, &plan.notes);
    if (!model.ok()) return model.status();
    plan.model_path = *model;
    plan.model_dir = ModelDir(plan.job_dir);
    // As Azure ML does: the model's folder (or file) one level below
    // AZUREML_MODEL_DIR, where the samples look (`$AZUREML_MODEL_DIR/model`,
    // glob("$AZUREML_MODEL_DIR/*/")). (AZUREML_BI_OUTPUT_PATH, where
    // custom-output scripts write, is set for every format.)
    auto& env = plan.spec.environment_variables;
    auto it = env.find("AZUREML_MODEL_DIR");
    if (it != env.end() && it->second != plan.model_dir) {
      plan.notes.push_back(fmt::format(
          "environment_variables AZUREML_MODEL_DIR={} is replaced by {}, as on Azure ML",
          it->second, plan.model_dir));
    }
    env["AZUREML_MODEL_DIR"] = plan.model_dir;
  }

  // ---- entry script arguments ----
  std::map<std::string, std::string> values = plan.port_values;
  if (validating && check->inputs_optional) {
    // An input without a value yet: its placeholder stands in, so that the
    // rest of the args (and the settings in them) are still checked.
    for (const auto& p : s.inputs) values.emplace(p.name, "{inputs." + p.name + "}");
  }
  auto resolved = ResolveArgs(s, values);
  // A port that failed to bind above also fails here: said once.
  if (!resolved.ok() && ports_ok) errors.push_back(resolved.status());
  std::vector<std::string> words = resolved.ok() ? *resolved : std::vector<std::string>();
  // Where each setting's value came from, for the notes on a setting given
  // in two places with different values: the command line wins over the
  // spec's args, which win over its YAML keys (and, inside the args, the
  // last of two wins, as with the driver's argparse).
  std::map<std::string, std::string> origin;
  for (const auto& [name, value] : flags) {
    origin[name] = fmt::format("--{} {} on the command line", name, value);
  }
  auto take = [&](const std::vector<ArgSetting>& found, const std::string& place,
                  const std::string& what) {
    std::map<std::string, std::string> set_here;  // canonical name → "--x 5 in args"
    for (const ArgSetting& a : found) {
      const SettingAlias* alias = FindSettingAlias(a.written);
      if (alias && !alias->driver_flag) {
        plan.notes.push_back(fmt::format(
            "{}note: {} in {} is read as the setting {}; Azure ML's driver reads only --{} there "
            "and passes {} to the entry script alone (it gets it here too)",
            place, a.written, what, a.canonical, a.canonical, a.written));
      }
      std::string here = fmt::format("{} {} in {}", a.written, a.value, what);
      const std::string& c = a.canonical;
      if (set_here.count(c)) {
        if (flags[c] != a.value) {
          plan.notes.push_back(fmt::format("{}setting {}: {} wins over the earlier {}", place, c,
                                           here, set_here[c]));
        }
      } else if (flags.count(c)) {
        if (flags[c] != a.value) {
          plan.notes.push_back(
              fmt::format("{}setting {}: {} wins over {}", place, c, origin[c], here));
        }
        continue;
      }
      flags[c] = a.value;
      origin[c] = here;
      set_here[c] = here;
    }
  };
  take(SettingsInArgs(words), ArgsPlace(s), WhatOfArgs(s));
  take(SettingsInArgs(req.passthrough), "", "the arguments after --");
  for (const auto& [name, setting] : s.settings) {
    auto it = flags.find(name);
    if (it == flags.end() || it->second == setting.value) continue;
    plan.notes.push_back(fmt::format("{}:{}:{}: setting {}: {} wins over {} here",
                                     setting.where.file, setting.where.line,
                                     setting.where.column, name, origin[name], setting.value));
  }
  // A flag-like word in the spec's args that is close to a setting's name
  // is likelier a misspelling than an argument of the script's own (the
  // original passes it on silently: `--resource_monitor_interva 20`).
  for (const auto& [name, near] : MisspeltSettings(words)) {
    plan.notes.push_back(fmt::format(
        "{}warning: {} has --{}, which is not a setting (did you mean --{}?); it is passed to "
        "the entry script unchanged",
        ArgsPlace(s), WhatOfArgs(s), name, near));
  }
  std::string tables, files;  // input names, for the mixed-inputs message
  for (const auto& name : s.input_data) {
    const Port* p = s.FindInput(name);
    auto it = plan.port_values.find(name);
    if (!p || it == plan.port_values.end()) continue;
    std::string& list = ReadsTables(*p, it->second) ? tables : files;
    list += (list.empty() ? "" : ", ") + name;
  }
  plan.tabular = !tables.empty();
  auto settings = ResolveRunSettings(s, flags, req.cores, plan.tabular, &errors);
  if (settings.ok()) plan.settings = std::move(settings.value());
  if (!s.append_row_to.empty()) plan.settings.output_action = OutputAction::kAppendRow;
  if (!tables.empty() && !files.empty()) {
    errors.push_back(Status::Usage(fmt::format(
        "input_data mixes tabular inputs ({}) and file inputs ({}); mini_batch_size cannot count "
        "bytes and files at once: run them as two jobs",
        tables, files)));
  }
  if (!plan.settings.partition_keys.empty() && plan.settings.mini_batch_size_given) {
    plan.notes.push_back(
        "partition_keys is set: mini_batch_size is not used (each partition is one mini-batch)");
  }

  // ---- inputs to split ----
  for (const auto& name : s.input_data) {
    auto it = plan.port_values.find(name);
    if (it == plan.port_values.end()) {
      // input_data needs a value, even an optional input's (a run says so;
      // `validate` checks a spec before its inputs are known).
      if (!validating || !check->inputs_optional) {
        errors.push_back(Status::Usage(
            fmt::format("input {} has no value; give it with -i {}=PATH", name, name)));
      }
      continue;
    }
    Status st = CheckInputPath(it->second);
    if (!st.ok()) {
      errors.push_back(st.WithContext("input " + name));
      continue;
    }
    plan.input_names.push_back(name);
    plan.input_paths.push_back(it->second);
    std::optional<PartitionFormat> mltable_format;
    Result<InputPlan> in = PlanInput(*s.FindInput(name), it->second, &mltable_format, &plan.notes);
    if (!in.ok()) {
      errors.push_back(in.status());
      continue;
    }
    if (!plan.settings.partition_keys.empty()) {
      st = PlanPartitions(&*in, std::move(mltable_format), plan.settings.partition_keys, &plan.notes);
      if (!st.ok()) {
        errors.push_back(st);
        continue;
      }
    }
    if (in->table && plan.parquet_input.empty()) {
      const TableInput& t = *in->table;
      bool parquet = t.read ? t.read->format == TableFormat::kParquet
                            : t.paths.size() == 1 && t.paths[0].kind == TablePath::Kind::kFile &&
                                  OptionsForExtension(t.paths[0].value) &&
                                  OptionsForExtension(t.paths[0].value)->format ==
                                      TableFormat::kParquet;
      if (parquet) plan.parquet_input = "input " + name;
    }
    plan.inputs.push_back(std::move(*in));
  }
  if (plan.settings.output_action == OutputAction::kAppendRow) {
    if (plan.output_dir.empty()) {
      errors.push_back(Status::Usage(
          "output_action append_row writes its rows into the output, but the spec names no "
          "output (output_data, or append_row_to in a v2 spec)"));
      return finish();
    }
    AppendRowTarget o;
    const Port* out = s.FindOutput(s.output_data);
    if (out && out->type == "uri_file") {
      // v2 append_row_to a uri_file: that path is the file (reference §1.2).
      o.output_dir = Dirname(plan.output_dir);
      o.file_name = Basename(plan.output_dir);
      plan.output_dirs[out->name] = o.output_dir;
    } else {
      o.output_dir = plan.output_dir;
      o.file_name = plan.settings.append_row_file_name;
    }
    o.parts_dir = AppendRowPartsDir(plan.job_dir);
    plan.append_row = std::move(o);
  }
  // ---- what the job writes is not input ----
  // An output or the job dir inside a folder that is listed is left out of
  // the listing; an output that is the folder itself cannot be, so it is an
  // error unless asked for.
  std::string job_dir = ResolvedPath(plan.job_dir);
  for (InputPlan& in : plan.inputs) {
    if (!IsFolder(in.root)) continue;
    std::string root = ResolvedPath(in.root);
    for (const auto& [name, dir] : plan.output_dirs) {
      std::string out = ResolvedPath(dir);
      if (out == root && !req.allow_output_in_input) {
        errors.push_back(Status::Usage(fmt::format(
            "output {} ({}) is the folder of input {} ({}): the job would read what it writes; "
            "give -o {} another folder, or --allow-output-in-input if that is meant",
            name, dir, in.name, in.root, name)));
      }
      if (Within(out, root)) in.exclude.push_back(out);
    }
    if (Within(job_dir, root)) in.exclude.push_back(job_dir);
  }
  for (const auto& [name, near] : MisspeltSettings(req.passthrough)) {
    plan.notes.push_back(fmt::format(
        "warning: --{} is not a parallelrun setting (did you mean --{}?); it is passed to the "
        "entry script unchanged",
        name, near));
  }
  for (const auto& [name, value] : plan.settings.given) {
    const SettingInfo* info = FindSetting(name);
    if (info && info->ignored) {
      plan.notes.push_back(fmt::format("setting {} has no effect on a local run", name));
    }
  }

  // ---- the entry script's argv ----
  const RunSettings& rs = plan.settings;
  std::vector<std::string>& argv = plan.entry_argv;
  argv = words;
  argv.insert(argv.end(), req.passthrough.begin(), req.passthrough.end());
  auto add = [&argv](const std::string& flag, const std::string& value) {
    argv.push_back("--" + flag);
    argv.push_back(value);
  };
  add("scoring_module_name", s.entry_script);
  add("mini_batch_size", std::to_string(rs.mini_batch_size));
  add("error_threshold", std::to_string(rs.error_threshold));
  add("output_action", rs.output_action == OutputAction::kAppendRow ? "append_row" : "summary_only");
  add("logging_level", rs.logging_level);
  add("run_invocation_timeout", fmt::format("{:g}", rs.run_invocation_timeout));
  add("run_max_try", std::to_string(rs.run_max_try));
  if (rs.given.count("allowed_failed_count")) add("allowed_failed_count", std::to_string(rs.allowed_failed_count));
  if (rs.given.count("allowed_failed_percent")) add("allowed_failed_percent", fmt::format("{:g}", rs.allowed_failed_percent));
  if (rs.output_action == OutputAction::kAppendRow) add("append_row_file_name", rs.append_row_file_name);
  if (!plan.output_dir.empty()) add("output", plan.output_dir);
  add("process_count_per_node", std::to_string(rs.process_count_per_node));
  for (size_t i = 0; i < plan.input_paths.size(); i++) {
    add(fmt::format("input_fds_{}", i), plan.input_paths[i]);
  }
  return finish();
}

namespace {

// What CreateJobFolders makes (the model folder is in the job dir), each
// with what it is for its errors.
std::vector<std::pair<std::string, std::string>> JobFolders(const JobPlan& plan) {
  std::vector<std::pair<std::string, std::string>> folders;
  for (const auto& [name, dir] : plan.output_dirs) folders.emplace_back(dir, "output " + name);
  folders.emplace_back(plan.job_dir, "job dir");
  if (plan.append_row) folders.emplace_back(plan.append_row->parts_dir, "append_row parts folder");
  return folders;
}

}  // namespace

std::vector<std::string> MissingJobFolders(const JobPlan& plan) {
  std::vector<std::string> missing;
  for (const auto& [dir, what] : JobFolders(plan)) {
    std::string cur = dir;
    while (cur.size() > 1 && access(cur.c_str(), F_OK) != 0 && errno == ENOENT) {
      if (std::find(missing.begin(), missing.end(), cur) == missing.end()) missing.push_back(cur);
      size_t slash = cur.find_last_of('/');
      if (slash == std::string::npos || slash == 0) break;
      cur.resize(slash);
    }
  }
  // Deepest first: a folder before its parent.
  std::stable_sort(missing.begin(), missing.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return missing;
}

void RemoveMadeFolders(const std::vector<std::string>& missing, const std::string& job_dir) {
  std::error_code ec;
  if (!job_dir.empty()) std::filesystem::remove_all(job_dir, ec);
  for (const auto& dir : missing) rmdir(dir.c_str());
}

Status CreateJobFolders(const JobPlan& plan) {
  // Check every folder before creating any, so that a usage error leaves
  // nothing behind: the deepest existing ancestor must be a writable folder.
  auto check = [](const std::string& path, const std::string& what) -> Status {
    std::string cur = path;
    struct stat st;
    while (stat(cur.c_str(), &st) != 0) {
      if (errno != ENOENT && errno != ENOTDIR) {
        return Status::Usage(fmt::format("{} {}: {}: {}", what, path, cur, strerror(errno)));
      }
      size_t slash = cur.find_last_of('/');
      if (slash == std::string::npos || slash == 0) {
        cur = "/";
        break;
      }
      cur = cur.substr(0, slash);
    }
    if (stat(cur.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
      return Status::Usage(fmt::format("{} {}: cannot create folder: {} is not a folder", what,
                                       path, cur));
    }
    if (access(cur.c_str(), W_OK) != 0) {
      return Status::Usage(fmt::format("{} {}: cannot create folder in {}: {}", what, path, cur,
                                       strerror(errno)));
    }
    return Status::Ok();
  };
  std::vector<std::pair<std::string, std::string>> folders = JobFolders(plan);
  for (const auto& [dir, what] : folders) {
    Status s = check(dir, what);
    if (!s.ok()) return s;
  }
  if (!plan.model_dir.empty()) folders.emplace_back(plan.model_dir, "model folder");
  for (const auto& [dir, what] : folders) {
    Status s = CreateFolders(dir, what);
    if (!s.ok()) return Status::Usage(s.message());
  }
  if (!plan.model_dir.empty()) {
    std::string link = plan.model_dir + "/" + Basename(plan.model_path);
    // A resumed job finds its first run's link: point it at today's model.
    struct stat st;
    if (lstat(link.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) unlink(link.c_str());
    if (symlink(plan.model_path.c_str(), link.c_str()) != 0) {
      return Status::Usage(fmt::format("model folder {}: cannot link {} to {}: {}",
                                       plan.model_dir, link, plan.model_path, strerror(errno)));
    }
  }
  return Status::Ok();
}

std::string DefaultJobDir(const std::string& cwd, const std::string& name,
                          const char* fallback) {
  std::string safe;
  for (char c : name.empty() ? std::string(fallback) : name) {
    safe += (isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  }
  time_t now = time(nullptr);
  struct tm tm;
  localtime_r(&now, &tm);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  std::string base = fmt::format("{}/parallelrun-jobs/{}-{}", cwd, safe, stamp);
  std::string dir = base;
  struct stat st;
  for (int n = 2; stat(dir.c_str(), &st) == 0; n++) dir = fmt::format("{}-{}", base, n);
  return dir;
}

}  // namespace parallelrun
