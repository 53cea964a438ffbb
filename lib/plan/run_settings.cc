#include "parallelrun/run_settings.h"

#include <algorithm>
#include <cmath>
#include <cctype>
#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/spelling.h"

namespace parallelrun {

namespace {

std::string Normalize(const std::string& name) {
  std::string s = name;
  while (!s.empty() && s[0] == '-') s.erase(0, 1);
  std::replace(s.begin(), s.end(), '-', '_');
  return s;
}

// The original strips quotes and whitespace before parsing numbers
// (PythonScriptStep quotes every value).
std::string Strip(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (isspace(static_cast<unsigned char>(s[b])) || s[b] == '"' || s[b] == '\'')) b++;
  while (e > b && (isspace(static_cast<unsigned char>(s[e - 1])) || s[e - 1] == '"' || s[e - 1] == '\'')) e--;
  return s.substr(b, e - b);
}

// A whole number in decimal digits, optionally signed. strtoll alone would
// take "1e2" as 1 and stop, and a caller that then checks only the range
// would never see the rest; "1.5", "1e2" and "0x10" are not whole numbers.
bool IsWholeNumber(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); i++) {
    if (!isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

bool ParseInt(const std::string& text, int64_t* out) {
  std::string s = Strip(text);
  if (!IsWholeNumber(s)) return false;
  char* end = nullptr;
  errno = 0;
  long long v = strtoll(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

bool ParseDouble(const std::string& text, double* out) {
  std::string s = Strip(text);
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  double v = strtod(s.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

bool ParseBool(const std::string& text, bool* out) {
  std::string s = Strip(text);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return tolower(c); });
  if (s == "true" || s == "yes" || s == "1") *out = true;
  else if (s == "false" || s == "no" || s == "0") *out = false;
  else return false;
  return true;
}

}  // namespace

const std::vector<SettingInfo>& AllSettings() {
  static const std::vector<SettingInfo> kSettings = {
      {"mini_batch_size", "mini_batch_size", "10 files / 1MB",
       "files per mini-batch (file input), or bytes of a table per mini-batch: 1024, 100KB, 10MB, "
       "1GB (KB/MB/GB are ×1024)"},
      {"process_count_per_node", "max_concurrency_per_instance", "number of cores",
       "worker processes per node"},
      {"node_count", "resources.instance_count", "1",
       "nodes in the job (the launcher starts one parallelrun per node)"},
      {"error_threshold", "error_threshold", "-1",
       "failed items allowed before the job fails; -1: any number"},
      {"allowed_failed_count", "mini_batch_error_threshold", "-1",
       "failed mini-batches allowed before the job fails; -1: any number"},
      {"allowed_failed_percent", nullptr, "100",
       "percent of failed mini-batches allowed, checked once all are scheduled; 100: any"},
      {"run_invocation_timeout", "retry_settings.timeout", "60",
       "seconds one run() call may take"},
      {"run_max_try", "retry_settings.max_retries", "3",
       "attempts per mini-batch (v2 max_retries is read as the same number)"},
      {"logging_level", "logging_level", "INFO", "DEBUG, INFO or WARNING"},
      {"output_action", nullptr, "summary_only", "summary_only or append_row"},
      {"append_row_file_name", nullptr, "parallel_run_step.txt", "file that append_row writes"},
      {"partition_keys", "partition_keys", "", "JSON list of partition keys"},
      {"task_overhead_timeout", nullptr, "30", "seconds of overhead allowed per mini-batch"},
      {"progress_update_timeout", nullptr, "3 × (timeout + overhead)",
       "seconds without any finished mini-batch before the job stops"},
      {"first_task_creation_timeout", nullptr, "600",
       "seconds allowed until the first mini-batch exists"},
      {"resource_monitor_interval", nullptr, "600", "seconds between resource samples; 0: off"},
      {"profiling_module", nullptr, "", "cProfile or profile"},
      {"nice", nullptr, "5",
       "niceness the worker processes raise themselves to (0-20; one already nicer stays so)"},
      {"straggler_factor", nullptr, "3",
       "near the end, a mini-batch running longer than this × the median gets a second attempt "
       "on an idle worker, the first to succeed counts; 0: off (set 0 when run() writes its own "
       "files)"},
      {"copy_logs_to_parent", nullptr, "False", "accepted for compatibility; no effect locally", true},
      {"push_metrics_to_parent", nullptr, "False", "accepted for compatibility; no effect locally", true},
      {"metrics_name_prefix", nullptr, "", "accepted for compatibility; no effect locally", true},
      {"cleanup_leaked_queues", nullptr, "True", "accepted for compatibility; no effect locally", true},
  };
  return kSettings;
}

const std::vector<SettingAlias>& SettingAliases() {
  // The v2 and batch deployment names of reference §1.1 and the
  // ModelBatchDeploymentSettings of azure-ai-ml; nested YAML keys go by their
  // last part (retry_settings.timeout → timeout), the word a person types as
  // a flag. Only score_run_timeout is in the original driver's parser.
  static const std::vector<SettingAlias> kAliases = {
      {"score_run_timeout", "run_invocation_timeout", "driver alias", true},
      {"max_concurrency_per_instance", "process_count_per_node", "v2 / batch deployment key", false},
      {"instance_count", "node_count", "v2 / batch deployment key (resources.instance_count)", false},
      {"mini_batch_error_threshold", "allowed_failed_count", "v2 key", false},
      {"max_retries", "run_max_try", "v2 / batch deployment key retry_settings.max_retries", false},
      {"timeout", "run_invocation_timeout", "v2 / batch deployment key retry_settings.timeout", false},
      {"output_file_name", "append_row_file_name", "batch deployment key", false},
  };
  return kAliases;
}

const SettingAlias* FindSettingAlias(const std::string& name) {
  std::string n = Normalize(name);
  for (const auto& a : SettingAliases()) {
    if (n == a.name) return &a;
  }
  return nullptr;
}

const SettingInfo* FindSetting(const std::string& name) {
  std::string n = Normalize(name);
  for (const auto& s : AllSettings()) {
    if (n == s.name) return &s;
  }
  if (const SettingAlias* a = FindSettingAlias(n)) return FindSetting(a->canonical);
  return nullptr;
}

std::string ClosestSettingName(const std::string& word) {
  std::string n = Normalize(word);
  if (n.size() < 4) return "";
  std::vector<std::string> names;
  for (const auto& s : AllSettings()) names.push_back(s.name);
  for (const auto& a : SettingAliases()) names.push_back(a.name);
  std::string best = ClosestName(n, names);
  return best == n ? "" : best;
}

std::optional<uint64_t> ParseMiniBatchSize(const std::string& text) {
  std::string s = Strip(text);
  size_t i = 0;
  while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) i++;
  if (i == 0 || i > 18) return std::nullopt;
  uint64_t n = std::stoull(s.substr(0, i));
  std::string unit = s.substr(i);
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return tolower(c); });
  uint64_t mult = 1;
  if (unit.empty()) mult = 1;
  else if (unit == "kb") mult = 1ull << 10;
  else if (unit == "mb") mult = 1ull << 20;
  else if (unit == "gb") mult = 1ull << 30;
  else return std::nullopt;
  if (n > UINT64_MAX / mult) return std::nullopt;  // 18 digits of GB would wrap around
  return n * mult;
}

Result<RunSettings> ResolveRunSettings(const Spec& spec,
                                       const std::map<std::string, std::string>& flags, int cores,
                                       bool tabular, std::vector<Status>* errors) {
  RunSettings rs;
  rs.mini_batch_size = tabular ? (1ull << 20) : 10;
  rs.process_count_per_node = std::max(1, cores);

  // Flags win over the spec; remember where a spec value came from so that
  // an error can point at it.
  std::map<std::string, std::pair<std::string, const SourceLocation*>> values;
  for (const auto& [name, setting] : spec.settings) values[name] = {setting.value, &setting.where};
  for (const auto& [name, value] : flags) {
    // Keyed by the canonical name, so that --mini-batch-size replaces the
    // spec's mini_batch_size rather than sitting beside it.
    const SettingInfo* info = FindSetting(name);
    values[info ? info->name : name] = {value, nullptr};
  }
  // The format's own defaults (a batch deployment's) sit below both and are
  // not "given": they are not written to the log as the user's.
  std::map<std::string, bool> is_default;
  for (const auto& [name, value] : spec.setting_defaults) {
    if (values.count(name)) continue;
    values[name] = {value, nullptr};
    is_default[name] = true;
  }

  for (const auto& setting : values) {
    // Not a structured binding: C++17 does not let the lambdas below
    // capture one (clang, which builds the fuzz targets, refuses).
    const std::string& name = setting.first;
    const auto& entry = setting.second;
    // Each setting is checked on its own: with `errors`, a bad one is
    // recorded and the others are still checked.
    Status checked = [&]() -> Status {
      const std::string& text = entry.first;
      const SourceLocation* where = entry.second;
      const SettingInfo* info = FindSetting(name);
      auto fail = [&](const std::string& allowed) -> Status {
        std::string msg = fmt::format("{} '{}' is not valid: {}", name, text, allowed);
        if (where && where->line > 0) {
          msg = fmt::format("{}:{}:{}: {}", where->file, where->line, where->column, msg);
        } else {
          msg = fmt::format("setting --{}: {}", name, fmt::format("'{}' is not valid: {}", text, allowed));
        }
        return Status::Usage(msg);
      };
      if (!info) return Status::Usage(fmt::format("unknown setting {}", name));
      if (!is_default.count(name)) rs.given[info->name] = text;
      std::string n = info->name;
      int64_t i = 0;
      double d = 0;
      if (n == "mini_batch_size") {
        auto v = ParseMiniBatchSize(text);
        if (!v || *v < 1) {
          return fail("give a whole number ≥ 1, optionally with a unit KB, MB or GB (e.g. 10, 100KB, 1MB)");
        }
        // For files it is a count: "10MB" would silently mean 10485760 files.
        std::string stripped = Strip(text);
        if (!tabular && !isdigit(static_cast<unsigned char>(stripped.back()))) {
          return fail("for a file input it counts files: give a whole number ≥ 1 without a unit "
                      "(KB, MB and GB are for tabular inputs)");
        }
        rs.mini_batch_size = *v;
        rs.mini_batch_size_given = true;
      } else if (n == "process_count_per_node") {
        if (!ParseInt(text, &i) || i < 1 || i > 4096) return fail("give a whole number from 1 to 4096");
        rs.process_count_per_node = static_cast<int>(i);
      } else if (n == "node_count") {
        if (!ParseInt(text, &i) || i < 1 || i > 65536) return fail("give a whole number from 1 to 65536");
        rs.node_count = static_cast<int>(i);
      } else if (n == "error_threshold") {
        // The original's driver rounded a float up and read anything below -1
        // as -1; here a count of items is a whole number ≥ -1, so that a typo
        // ("1.5", "-2", "1e2") is an error rather than a different threshold.
        // Python's ints have no top, so a number beyond int64 (which strtoll
        // refuses) is the largest threshold.
        std::string v = Strip(text);
        if (ParseInt(text, &i) && i >= -1) {
          rs.error_threshold = i;
        } else if (IsWholeNumber(v) && v[0] != '-') {
          rs.error_threshold = INT64_MAX;
        } else {
          return fail("give a whole number ≥ -1 (-1: any number of failed items)");
        }
      } else if (n == "allowed_failed_count") {
        if (!ParseInt(text, &i) || i < -1) return fail("give a whole number ≥ -1 (-1: any number)");
        rs.allowed_failed_count = i;
      } else if (n == "allowed_failed_percent") {
        if (!ParseDouble(text, &d) || d < 0 || d > 100) return fail("give a number from 0 to 100");
        rs.allowed_failed_percent = d;
      } else if (n == "run_invocation_timeout") {
        if (!ParseDouble(text, &d) || d <= 0 || d > 259200) {
          return fail("give seconds, more than 0 and at most 259200 (3 days)");
        }
        rs.run_invocation_timeout = d;
      } else if (n == "run_max_try") {
        // Reference §1: [1, int.max].
        if (!ParseInt(text, &i) || i < 1 || i > INT32_MAX) {
          return fail("give a whole number from 1 to 2147483647");
        }
        rs.run_max_try = static_cast<int>(i);
      } else if (n == "logging_level") {
        std::string v = Strip(text);
        std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return toupper(c); });
        if (v != "DEBUG" && v != "INFO" && v != "WARNING") return fail("give DEBUG, INFO or WARNING");
        rs.logging_level = v;
      } else if (n == "output_action") {
        std::string v = Strip(text);
        std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return tolower(c); });
        if (v == "summary_only") rs.output_action = OutputAction::kSummaryOnly;
        else if (v == "append_row") rs.output_action = OutputAction::kAppendRow;
        else return fail("give summary_only or append_row");
      } else if (n == "append_row_file_name") {
        std::string v = Strip(text);
        if (v.empty() || v.find_first_of("~\"#%&*:<>?/\\{|}") != std::string::npos) {
          return fail("give a file name without any of ~ \" # % & * : < > ? / \\ { | }");
        }
        rs.append_row_file_name = v;
      } else if (n == "partition_keys") {
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_discarded() || !j.is_array()) return fail("give a JSON list of key names, e.g. [\"a\",\"b\"]");
        rs.partition_keys.clear();
        for (const auto& k : j) {
          if (!k.is_string()) return fail("give a JSON list of key names, e.g. [\"a\",\"b\"]");
          rs.partition_keys.push_back(k.get<std::string>());
        }
      } else if (n == "task_overhead_timeout" || n == "first_task_creation_timeout") {
        if (!ParseDouble(text, &d) || d <= 0 || d > 259200) {
          return fail("give seconds, more than 0 and at most 259200 (3 days)");
        }
        (n == "task_overhead_timeout" ? rs.task_overhead_timeout : rs.first_task_creation_timeout) = d;
      } else if (n == "progress_update_timeout") {
        // The original: unset or negative means "computed".
        if (!ParseDouble(text, &d) || d > 259200) return fail("give seconds, at most 259200 (3 days)");
        rs.progress_update_timeout = d > 0 ? d : 0;
      } else if (n == "resource_monitor_interval") {
        if (!ParseDouble(text, &d) || d < 0) return fail("give seconds ≥ 0 (0: off)");
        rs.resource_monitor_interval = d;
      } else if (n == "profiling_module") {
        std::string v = Strip(text);
        if (!v.empty() && v != "cProfile" && v != "profile") return fail("give cProfile or profile");
        rs.profiling_module = v;
      } else if (n == "straggler_factor") {
        // Below 1 every mini-batch slower than the median would run twice.
        if (!ParseDouble(text, &d) || d > 1000 || (d != 0 && d < 1)) {
          return fail("give 0 (off) or a factor from 1 to 1000");
        }
        rs.straggler_factor = d;
      } else if (n == "nice") {
        if (!ParseInt(text, &i) || i < 0 || i > 20) return fail("give a whole number from 0 to 20");
        rs.nice = static_cast<int>(i);
      } else if (info->ignored) {
        bool b;
        if ((n == "copy_logs_to_parent" || n == "push_metrics_to_parent" ||
             n == "cleanup_leaked_queues") && !ParseBool(text, &b)) {
          return fail("give True or False");
        }
      }
      return Status::Ok();
    }();
    if (!checked.ok()) {
      if (errors == nullptr) return checked;
      errors->push_back(checked);
    }
  }
  if (rs.progress_update_timeout <= 0) {
    rs.progress_update_timeout = 3 * (rs.run_invocation_timeout + rs.task_overhead_timeout);
  }
  return rs;
}

}  // namespace parallelrun
