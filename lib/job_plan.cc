#include "job_plan.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

#include "file_lister.h"
#include "spelling.h"

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

std::string DefaultJobDir(const std::string& cwd, const std::string& name) {
  std::string safe;
  for (char c : name.empty() ? std::string("job") : name) {
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

// Driver flags written inside args/program_arguments (the v2 way of passing
// e.g. --allowed_failed_percent) are settings too; they stay in argv, as the
// original forwards its whole command line.
std::map<std::string, std::string> SettingsInArgs(const std::vector<std::string>& words) {
  std::map<std::string, std::string> found;
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
    found[info->name] = value;
  }
  return found;
}

}  // namespace

Result<JobPlan> MakeJobPlan(const RunRequest& req) {
  JobPlan plan;
  auto spec = ParseSpecFile(req.spec_path);
  if (!spec.ok()) return spec.status();
  plan.spec = std::move(spec.value());
  const Spec& s = plan.spec;

  // ---- ports ----
  std::set<std::string> given;
  for (const auto& [name, value] : req.inputs) {
    const Port* p = s.FindInput(name);
    if (!p) {
      std::string near = Closest(name, s.inputs);
      return Status::Usage(fmt::format("-i {}: the spec has no input '{}'{}; its inputs are: {}",
                                       name, name,
                                       near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near),
                                       Names(s.inputs)));
    }
    if (given.count(name)) return Status::Usage(fmt::format("input {} is given twice", name));
    given.insert(name);
    if (IsParameterType(*p)) {
      Status st = CheckParameter(*p, value);
      if (!st.ok()) return st;
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
    if (!p.optional) {
      return Status::Usage(fmt::format("input {} has no value; give it with -i {}={}", p.name, p.name,
                                       IsParameterType(p) ? "VALUE" : "PATH"));
    }
  }

  // ---- settings: flags > args/program_arguments > spec keys ----
  std::map<std::string, std::string> flags = req.settings;

  // ---- job dir and outputs ----
  plan.job_dir = req.job_dir.empty() ? DefaultJobDir(req.cwd, s.name) : Absolute(req.job_dir, req.cwd);
  given.clear();
  for (const auto& [name, value] : req.outputs) {
    const Port* p = s.FindOutput(name);
    if (!p) {
      std::string near = Closest(name, s.outputs);
      return Status::Usage(fmt::format("-o {}: the spec has no output '{}'{}; its outputs are: {}",
                                       name, name,
                                       near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near),
                                       Names(s.outputs)));
    }
    if (given.count(name)) return Status::Usage(fmt::format("output {} is given twice", name));
    given.insert(name);
    plan.port_values[name] = Absolute(value, req.cwd);
  }
  for (const auto& p : s.outputs) {
    if (plan.port_values.count(p.name)) continue;
    plan.port_values[p.name] = plan.job_dir + "/outputs/" + p.name;
    plan.notes.push_back(fmt::format("output {} has no -o; writing it to {}", p.name,
                                     plan.port_values[p.name]));
  }
  for (const auto& p : s.outputs) {
    std::string t = p.type;
    if (t != "uri_file") plan.output_dirs[p.name] = plan.port_values[p.name];
  }
  if (!s.output_data.empty()) plan.output_dir = plan.port_values[s.output_data];

  // ---- entry script arguments ----
  std::map<std::string, std::string> values = plan.port_values;
  auto words = ResolveArgs(s, values);
  if (!words.ok()) return words.status();
  for (const auto& [name, value] : SettingsInArgs(*words)) {
    if (!flags.count(name)) flags[name] = value;
  }
  for (const auto& [name, value] : SettingsInArgs(req.passthrough)) {
    if (!flags.count(name)) flags[name] = value;
  }
  bool tabular = false;
  for (const auto& name : s.input_data) {
    const Port* p = s.FindInput(name);
    if (p && p->is_tabular) tabular = true;
  }
  auto settings = ResolveRunSettings(s, flags, req.cores, tabular);
  if (!settings.ok()) return settings.status();
  plan.settings = std::move(settings.value());
  if (!s.append_row_to.empty()) plan.settings.output_action = OutputAction::kAppendRow;
  if (tabular) {
    return Status::Usage(
        "tabular inputs (mltable in direct mode, DataFrameDirectory) are not supported yet; "
        "pass the folder as a uri_folder input to process its files");
  }
  if (!plan.settings.partition_keys.empty()) {
    return Status::Usage("partition_keys is not supported yet");
  }
  if (plan.settings.output_action == OutputAction::kAppendRow) {
    return Status::Usage("output_action append_row is not supported yet; use summary_only");
  }
  if (plan.settings.node_count > 1) {
    plan.notes.push_back(fmt::format(
        "node_count {} asks for several nodes; this version runs on this node only",
        plan.settings.node_count));
  }

  // ---- inputs to split ----
  for (const auto& name : s.input_data) {
    auto it = plan.port_values.find(name);
    if (it == plan.port_values.end()) {
      return Status::Usage(fmt::format("input {} has no value; give it with -i {}=PATH", name, name));
    }
    Status st = CheckInputPath(it->second);
    if (!st.ok()) return st.WithContext("input " + name);
    plan.input_names.push_back(name);
    plan.input_paths.push_back(it->second);
  }
  for (const auto& word : req.passthrough) {
    if (word.compare(0, 2, "--") != 0) continue;
    std::string name = word.substr(2, word.find('=') == std::string::npos ? std::string::npos
                                                                          : word.find('=') - 2);
    if (FindSetting(name)) continue;
    std::string near = ClosestSettingName(name);
    if (!near.empty()) {
      plan.notes.push_back(fmt::format(
          "warning: --{} is not a parallelrun setting (did you mean --{}?); it is passed to the "
          "entry script unchanged",
          name, near));
    }
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
  argv = *words;
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
  return plan;
}

Status CreateFolders(const std::string& path, const std::string& what) {
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::Usage(fmt::format("{} {}: cannot create folder {}: {}", what, path, cur,
                                       strerror(errno)));
    }
  }
  return Status::Ok();
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
  std::vector<std::pair<std::string, std::string>> folders;
  for (const auto& [name, dir] : plan.output_dirs) folders.emplace_back(dir, "output " + name);
  folders.emplace_back(plan.job_dir, "job dir");
  for (const auto& [dir, what] : folders) {
    Status s = check(dir, what);
    if (!s.ok()) return s;
  }
  for (const auto& [dir, what] : folders) {
    Status s = CreateFolders(dir, what);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace parallelrun
