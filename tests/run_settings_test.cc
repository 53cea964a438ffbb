// Tests of lib/plan/run_settings.cc: every run setting of reference §1 — its
// default, its two flag spellings (--mini-batch-size, --mini_batch_size), its
// v2 spec key, and bad values (negative, out of range, wrong type) with the
// whole message. The tables below name every setting; a setting added to
// AllSettings() without a row here fails "every setting has test rows".
#include <cstdint>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "parallelrun/run_settings.h"
#include "parallelrun/spec.h"

namespace parallelrun {
namespace {

using Flags = std::map<std::string, std::string>;

// A v2 spec next to tests/data/specs/valid/score.py (the parser checks that
// the entry script exists); the spec itself need not exist.
const std::string kSpecPath = std::string(PARALLELRUN_TEST_DATA) + "/specs/valid/settings.yaml";
const std::string kSpecHead =
    "type: parallel\n"
    "inputs:\n"
    "  data:\n"
    "    type: uri_folder\n"
    "input_data: ${{inputs.data}}\n"
    "task:\n"
    "  entry_script: score.py\n";
const int kSpecHeadLines = 7;

Result<RunSettings> Resolve(const Flags& flags, const Spec& spec = Spec(), bool tabular = false,
                            int cores = 4) {
  return ResolveRunSettings(spec, flags, cores, tabular);
}

RunSettings Resolved(const Flags& flags, const Spec& spec = Spec(), bool tabular = false,
                     int cores = 4) {
  Result<RunSettings> r = Resolve(flags, spec, tabular, cores);
  INFO(r.status().message());
  REQUIRE(r.ok());
  return std::move(r).value();
}

std::string Error(const Flags& flags, const Spec& spec = Spec(), bool tabular = false) {
  Result<RunSettings> r = Resolve(flags, spec, tabular);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kUsage);
  return r.status().message();
}

template <typename T>
std::string Text(const T& value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// The value RunSettings holds for setting `name`, as text. The settings that
// mean nothing locally have no field: their raw text in `given`.
std::string Field(const RunSettings& rs, const std::string& name) {
  if (name == "mini_batch_size") return Text(rs.mini_batch_size);
  if (name == "process_count_per_node") return Text(rs.process_count_per_node);
  if (name == "node_count") return Text(rs.node_count);
  if (name == "error_threshold") return Text(rs.error_threshold);
  if (name == "allowed_failed_count") return Text(rs.allowed_failed_count);
  if (name == "allowed_failed_percent") return Text(rs.allowed_failed_percent);
  if (name == "run_invocation_timeout") return Text(rs.run_invocation_timeout);
  if (name == "run_max_try") return Text(rs.run_max_try);
  if (name == "logging_level") return rs.logging_level;
  if (name == "output_action") {
    return rs.output_action == OutputAction::kAppendRow ? "append_row" : "summary_only";
  }
  if (name == "append_row_file_name") return rs.append_row_file_name;
  if (name == "partition_keys") {
    std::string out;
    for (const auto& k : rs.partition_keys) out += (out.empty() ? "" : ",") + k;
    return out;
  }
  if (name == "task_overhead_timeout") return Text(rs.task_overhead_timeout);
  if (name == "progress_update_timeout") return Text(rs.progress_update_timeout);
  if (name == "first_task_creation_timeout") return Text(rs.first_task_creation_timeout);
  if (name == "resource_monitor_interval") return Text(rs.resource_monitor_interval);
  if (name == "profiling_module") return rs.profiling_module;
  if (name == "nice") return Text(rs.nice);
  if (name == "straggler_factor") return Text(rs.straggler_factor);
  auto it = rs.given.find(name);
  return it == rs.given.end() ? "(not given)" : it->second;
}

std::string Dashed(std::string name) {
  for (char& c : name) {
    if (c == '_') c = '-';
  }
  return name;
}

// A v2 spec that gives `key` (dotted: "retry_settings.timeout") the YAML
// scalar `value`; *line and *column are where the value is.
Result<Spec> SpecWith(const std::string& key, const std::string& value, int* line = nullptr,
                      int* column = nullptr) {
  std::string text = kSpecHead, indent;
  int at = kSpecHeadLines;
  size_t begin = 0;
  for (size_t dot; (dot = key.find('.', begin)) != std::string::npos; begin = dot + 1) {
    text += indent + key.substr(begin, dot - begin) + ":\n";
    indent += "  ";
    at++;
  }
  std::string last = indent + key.substr(begin) + ": ";
  text += last + value + "\n";
  if (line) *line = at + 1;
  if (column) *column = static_cast<int>(last.size()) + 1;
  return ParseSpecText(text, kSpecPath);
}

Spec ParsedSpecWith(const std::string& key, const std::string& value) {
  Result<Spec> r = SpecWith(key, value);
  INFO(r.status().message());
  REQUIRE(r.ok());
  return std::move(r).value();
}

// ---- defaults ---------------------------------------------------------------

struct Default {
  const char* name;
  const char* value;  // Field() with nothing given, file input, 4 cores
};

const std::vector<Default> kDefaults = {
    {"mini_batch_size", "10"},
    {"process_count_per_node", "4"},
    {"node_count", "1"},
    {"error_threshold", "-1"},
    {"allowed_failed_count", "-1"},
    {"allowed_failed_percent", "100"},
    {"run_invocation_timeout", "60"},
    {"run_max_try", "3"},
    {"logging_level", "INFO"},
    {"output_action", "summary_only"},
    {"append_row_file_name", "parallel_run_step.txt"},
    {"partition_keys", ""},
    {"task_overhead_timeout", "30"},
    {"progress_update_timeout", "270"},  // 3 × (60 + 30)
    {"first_task_creation_timeout", "600"},
    {"resource_monitor_interval", "600"},
    {"profiling_module", ""},
    {"nice", "5"},
    {"straggler_factor", "3"},
    {"copy_logs_to_parent", "(not given)"},
    {"push_metrics_to_parent", "(not given)"},
    {"metrics_name_prefix", "(not given)"},
    {"cleanup_leaked_queues", "(not given)"},
};

TEST_CASE("run settings: the default of every setting", "[run_settings]") {
  RunSettings rs = Resolved({});
  for (const Default& d : kDefaults) {
    INFO(d.name);
    CHECK(Field(rs, d.name) == d.value);
  }
  CHECK_FALSE(rs.mini_batch_size_given);
  CHECK(rs.given.empty());
}

TEST_CASE("run settings: defaults that depend on the job", "[run_settings]") {
  // Tabular input: 1MB per mini-batch; file input: 10 files.
  CHECK(Resolved({}, Spec(), true).mini_batch_size == 1048576);
  CHECK(Resolved({}, Spec(), false).mini_batch_size == 10);
  // process_count_per_node: the number of cores, at least 1.
  CHECK(Resolved({}, Spec(), false, 16).process_count_per_node == 16);
  CHECK(Resolved({}, Spec(), false, 0).process_count_per_node == 1);
  // progress_update_timeout: 3 × (run_invocation_timeout + task_overhead_timeout)
  // when unset, 0 or negative (the original's "dynamically calculated").
  for (const char* unset : {"", "0", "-1"}) {
    Flags flags = {{"run_invocation_timeout", "10"}, {"task_overhead_timeout", "5"}};
    if (*unset) flags["progress_update_timeout"] = unset;
    INFO("progress_update_timeout " << unset);
    CHECK(Resolved(flags).progress_update_timeout == 45);
  }
  CHECK(Resolved({{"progress_update_timeout", "7"}}).progress_update_timeout == 7);
}

TEST_CASE("run settings: --help's default texts are the real defaults", "[run_settings]") {
  RunSettings defaults = Resolved({});
  for (const SettingInfo& s : AllSettings()) {
    std::string text = s.default_text;
    // Computed defaults ("number of cores", "3 × (timeout + overhead)") and
    // the settings without a field are checked above.
    if (text.empty() || text.find(' ') != std::string::npos || s.ignored) continue;
    INFO(s.name << " = " << text);
    CHECK(Field(Resolved({{s.name, text}}), s.name) == Field(defaults, s.name));
  }
}

// ---- good values, in both spellings and in the spec -------------------------

struct Good {
  const char* name;
  const char* value;     // as written after the flag
  const char* expected;  // Field() afterwards
  bool tabular = false;  // resolved for a tabular input (a size with a unit)
};

const std::vector<Good> kGood = {
    {"mini_batch_size", "5", "5"},
    {"mini_batch_size", "100KB", "102400", true},
    {"mini_batch_size", "1mb", "1048576", true},
    {"mini_batch_size", "2Gb", "2147483648", true},
    {"mini_batch_size", "300", "300", true},
    {"mini_batch_size", "\"7\"", "7"},  // the original strips PythonScriptStep's quotes
    {"mini_batch_size", " '8' ", "8"},
    {"process_count_per_node", "1", "1"},
    {"process_count_per_node", "4096", "4096"},
    {"node_count", "1", "1"},
    {"node_count", "65536", "65536"},
    {"error_threshold", "-1", "-1"},
    {"error_threshold", "0", "0"},
    {"error_threshold", "25", "25"},
    {"error_threshold", "'10'", "10"},
    {"error_threshold", "99999999999999999999", "9223372036854775807"},  // beyond int64
    {"allowed_failed_count", "-1", "-1"},
    {"allowed_failed_count", "0", "0"},
    {"allowed_failed_count", "12", "12"},
    {"allowed_failed_percent", "0", "0"},
    {"allowed_failed_percent", "12.5", "12.5"},
    {"allowed_failed_percent", "100", "100"},
    {"run_invocation_timeout", "0.5", "0.5"},
    {"run_invocation_timeout", "259200", "259200"},
    {"run_max_try", "1", "1"},
    {"run_max_try", "2147483647", "2147483647"},
    {"logging_level", "DEBUG", "DEBUG"},
    {"logging_level", "warning", "WARNING"},
    {"logging_level", "Info", "INFO"},
    {"output_action", "append_row", "append_row"},
    {"output_action", "SUMMARY_ONLY", "summary_only"},
    {"append_row_file_name", "scores.csv", "scores.csv"},
    {"append_row_file_name", "with space.txt", "with space.txt"},
    {"partition_keys", "[\"Store\",\"Brand\"]", "Store,Brand"},
    {"partition_keys", "[]", ""},
    {"task_overhead_timeout", "1", "1"},
    {"task_overhead_timeout", "259200", "259200"},
    {"progress_update_timeout", "100", "100"},
    {"progress_update_timeout", "259200", "259200"},
    {"first_task_creation_timeout", "0.25", "0.25"},
    {"first_task_creation_timeout", "259200", "259200"},
    {"resource_monitor_interval", "0", "0"},
    {"resource_monitor_interval", "30", "30"},
    {"profiling_module", "cProfile", "cProfile"},
    {"profiling_module", "profile", "profile"},
    {"profiling_module", "", ""},
    {"nice", "0", "0"},
    {"nice", "20", "20"},
    {"straggler_factor", "0", "0"},
    {"straggler_factor", "1", "1"},
    {"straggler_factor", "2.5", "2.5"},
    {"straggler_factor", "1000", "1000"},
    {"copy_logs_to_parent", "True", "True"},
    {"copy_logs_to_parent", "no", "no"},
    {"push_metrics_to_parent", "yes", "yes"},
    {"push_metrics_to_parent", "FALSE", "FALSE"},
    {"metrics_name_prefix", "run 7/", "run 7/"},
    {"cleanup_leaked_queues", "1", "1"},
    {"cleanup_leaked_queues", "false", "false"},
};

TEST_CASE("run settings: good values in both flag spellings", "[run_settings]") {
  for (const Good& g : kGood) {
    for (const std::string& flag : {std::string(g.name), Dashed(g.name)}) {
      INFO("--" << flag << " '" << g.value << "'");
      RunSettings rs = Resolved({{flag, g.value}}, Spec(), g.tabular);
      CHECK(Field(rs, g.name) == g.expected);
      // The raw text, by canonical name, for the entry script's arguments.
      CHECK(rs.given == Flags{{g.name, g.value}});
    }
  }
  CHECK(Resolved({{"mini_batch_size", "5"}}).mini_batch_size_given);
}

TEST_CASE("run settings: good values under their v2 spec keys", "[run_settings]") {
  size_t checked = 0;
  for (const Good& g : kGood) {
    const SettingInfo* info = FindSetting(g.name);
    REQUIRE(info);
    std::string value = g.value;
    // A spec's scalars carry no shell quoting, and partition_keys is a YAML list.
    if (!info->v2_key || value.empty() || value.find_first_of("\"' ") != std::string::npos ||
        std::string(g.name) == "partition_keys") {
      continue;
    }
    INFO(info->v2_key << ": " << value);
    RunSettings rs = Resolved({}, ParsedSpecWith(info->v2_key, value), g.tabular);
    CHECK(Field(rs, g.name) == g.expected);
    CHECK(rs.given == Flags{{g.name, value}});
    checked++;
  }
  CHECK(checked >= 20);
  // Keys outside AllSettings' v2_key: instance_count at the top level, and
  // partition_keys as a YAML list.
  CHECK(Resolved({}, ParsedSpecWith("instance_count", "3")).node_count == 3);
  CHECK(Resolved({}, ParsedSpecWith("partition_keys", "[Store, Brand]")).partition_keys ==
        std::vector<std::string>{"Store", "Brand"});
}

TEST_CASE("run settings: the v2 keys of the settings that have one", "[run_settings]") {
  std::map<std::string, std::string> keys;
  for (const SettingInfo& s : AllSettings()) {
    if (s.v2_key) keys[s.name] = s.v2_key;
  }
  CHECK(keys == std::map<std::string, std::string>{
                    {"mini_batch_size", "mini_batch_size"},
                    {"process_count_per_node", "max_concurrency_per_instance"},
                    {"node_count", "resources.instance_count"},
                    {"error_threshold", "error_threshold"},
                    {"allowed_failed_count", "mini_batch_error_threshold"},
                    {"run_invocation_timeout", "retry_settings.timeout"},
                    {"run_max_try", "retry_settings.max_retries"},
                    {"logging_level", "logging_level"},
                    {"partition_keys", "partition_keys"},
                });
}

TEST_CASE("run settings: a flag wins over the spec", "[run_settings]") {
  Spec spec = ParsedSpecWith("mini_batch_size", "5");
  CHECK(Resolved({}, spec).mini_batch_size == 5);
  RunSettings rs = Resolved({{"mini-batch-size", "9"}}, spec);
  CHECK(rs.mini_batch_size == 9);
  CHECK(rs.given == Flags{{"mini_batch_size", "9"}});
  // The flag's value is the one checked: a bad spec value it replaces is no error.
  CHECK(Resolved({{"mini_batch_size", "9"}}, ParsedSpecWith("mini_batch_size", "ten"))
            .mini_batch_size == 9);
}

// ---- bad values --------------------------------------------------------------

const std::string kWholeOrUnit =
    "give a whole number ≥ 1, optionally with a unit KB, MB or GB (e.g. 10, 100KB, 1MB)";
const std::string kSeconds = "give seconds, more than 0 and at most 259200 (3 days)";
const std::string kKeys = "give a JSON list of key names, e.g. [\"a\",\"b\"]";
const std::string kFileName = "give a file name without any of ~ \" # % & * : < > ? / \\ { | }";

struct Bad {
  const char* name;
  std::vector<const char*> values;
  std::string allowed;  // the message's tail
  bool tabular = false;  // resolved for a tabular input
};

const std::string kFileCount =
    "for a file input it counts files: give a whole number ≥ 1 without a unit (KB, MB and GB "
    "are for tabular inputs)";

const std::vector<Bad> kBad = {
    {"mini_batch_size",
     {"0", "-1", "-2", "0KB", "ten", "10XB", "1.5", "1e2", "0x10", "", "1 0",
      "1234567890123456789", "999999999999999999GB"},
     kWholeOrUnit},
    {"mini_batch_size", {"1.5", "1e2", "0x10", "-2", "1.5MB"}, kWholeOrUnit, true},
    // A file input's mini_batch_size is a count of files, not a size.
    {"mini_batch_size", {"10MB", "100KB", "1gb", "'2KB'"}, kFileCount},
    {"process_count_per_node", {"0", "-2", "4097", "two", "1.5", "1e2", "0x10", ""},
     "give a whole number from 1 to 4096"},
    {"node_count", {"0", "-1", "65537", "x", "2.0", "1e2", "0x10"},
     "give a whole number from 1 to 65536"},
    {"error_threshold",
     {"many", "", "inf", "nan", "1%", "1.5", "2.5", "1e2", "0x10", "-2", "-7", "-1e30", "-1.0"},
     "give a whole number ≥ -1 (-1: any number of failed items)"},
    {"allowed_failed_count", {"-2", "1.5", "1e2", "0x10", "x", "99999999999999999999"},
     "give a whole number ≥ -1 (-1: any number)"},
    {"allowed_failed_percent", {"-0.1", "100.5", "half", "inf"}, "give a number from 0 to 100"},
    {"run_invocation_timeout", {"0", "-1", "259201", "soon", "nan"}, kSeconds},
    {"run_max_try", {"0", "-1", "-2", "2147483648", "x", "1.5", "1e2", "0x10"},
     "give a whole number from 1 to 2147483647"},
    {"logging_level", {"LOUD", "", "ERROR"}, "give DEBUG, INFO or WARNING"},
    {"output_action", {"file", "", "append"}, "give summary_only or append_row"},
    {"append_row_file_name", {"a/b", "", "x:y", "a|b", "~x", "q?", "back\\slash"}, kFileName},
    {"partition_keys", {"Store", "{}", "[1]", "[", "\"Store\""}, kKeys},
    {"task_overhead_timeout", {"0", "-5", "259201", "x"}, kSeconds},
    {"progress_update_timeout", {"259201", "x"}, "give seconds, at most 259200 (3 days)"},
    {"first_task_creation_timeout", {"0", "-5", "259201", "x"}, kSeconds},
    {"resource_monitor_interval", {"-1", "x"}, "give seconds ≥ 0 (0: off)"},
    {"profiling_module", {"cprofile", "yappi"}, "give cProfile or profile"},
    {"nice", {"-1", "-2", "21", "x", "1.5", "1e2", "0x10"}, "give a whole number from 0 to 20"},
    {"straggler_factor", {"-1", "0.5", "0.99", "1001", "x", "nan"},
     "give 0 (off) or a factor from 1 to 1000"},
    {"copy_logs_to_parent", {"maybe", ""}, "give True or False"},
    {"push_metrics_to_parent", {"2"}, "give True or False"},
    {"cleanup_leaked_queues", {"yes please"}, "give True or False"},
};

TEST_CASE("run settings: bad values, in both flag spellings, with the whole message",
          "[run_settings]") {
  for (const Bad& b : kBad) {
    for (const char* value : b.values) {
      for (const std::string& flag : {std::string(b.name), Dashed(b.name)}) {
        INFO("--" << flag << " '" << value << "'");
        CHECK(Error({{flag, value}}, Spec(), b.tabular) ==
              "setting --" + std::string(b.name) + ": '" + value + "' is not valid: " + b.allowed);
      }
    }
  }
}

TEST_CASE("run settings: a bad value in the spec is reported where it is", "[run_settings]") {
  size_t checked = 0;
  for (const Bad& b : kBad) {
    const SettingInfo* info = FindSetting(b.name);
    REQUIRE(info);
    if (!info->v2_key || std::string(b.name) == "partition_keys") continue;
    for (const std::string value : b.values) {
      // Values YAML would read as something else than the text.
      if (value.empty() || value.find_first_of("{[\"'%?:|~\\") != std::string::npos) continue;
      int line = 0, column = 0;
      Result<Spec> spec = SpecWith(info->v2_key, value, &line, &column);
      INFO(info->v2_key << ": " << value);
      REQUIRE(spec.ok());
      CHECK(Error({}, spec.value(), b.tabular) ==
            kSpecPath + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                b.name + " '" + value + "' is not valid: " + b.allowed);
      checked++;
    }
  }
  CHECK(checked >= 25);
}

TEST_CASE("run settings: a setting of the wrong YAML type in the spec", "[run_settings]") {
  // A list or mapping where a scalar belongs is the spec parser's error.
  for (const char* value : {"[1, 2]", "{a: 1}"}) {
    INFO(value);
    Result<Spec> spec = SpecWith("retry_settings.timeout", value);
    REQUIRE_FALSE(spec.ok());
    CHECK(spec.status().code() == Status::Code::kUsage);
    CHECK(spec.status().message().rfind(kSpecPath + ":9:12: ", 0) == 0);
  }
}

TEST_CASE("run settings: every setting has test rows", "[run_settings]") {
  std::set<std::string> with_default, good, bad;
  for (const Default& d : kDefaults) with_default.insert(d.name);
  for (const Good& g : kGood) good.insert(g.name);
  for (const Bad& b : kBad) bad.insert(b.name);
  for (const SettingInfo& s : AllSettings()) {
    INFO(s.name);
    CHECK(with_default.count(s.name));
    CHECK(good.count(s.name));
    // metrics_name_prefix takes any text.
    if (std::string(s.name) != "metrics_name_prefix") CHECK(bad.count(s.name));
  }
  CHECK(with_default.size() == AllSettings().size());
}

// ---- names -------------------------------------------------------------------

TEST_CASE("run settings: names in both spellings, the alias, and misspellings",
          "[run_settings]") {
  for (const SettingInfo& s : AllSettings()) {
    INFO(s.name);
    CHECK(FindSetting(s.name) == &s);
    CHECK(FindSetting(Dashed(s.name)) == &s);
    CHECK(FindSetting("--" + Dashed(s.name)) == &s);
  }
  // The original's alias of run_invocation_timeout.
  REQUIRE(FindSetting("score_run_timeout"));
  CHECK(std::string(FindSetting("score-run-timeout")->name) == "run_invocation_timeout");
  RunSettings rs = Resolved({{"score_run_timeout", "90"}});
  CHECK(rs.run_invocation_timeout == 90);
  CHECK(rs.given == Flags{{"run_invocation_timeout", "90"}});

  CHECK(FindSetting("mini_batch") == nullptr);
  CHECK(Error({{"mini_batch", "5"}}) == "unknown setting mini_batch");
  CHECK(ClosestSettingName("--mini-bach-size") == "mini_batch_size");
  CHECK(ClosestSettingName("resource_monitor_interva") == "resource_monitor_interval");
  CHECK(ClosestSettingName("mini_batch_size") == "");  // not a misspelling
  CHECK(ClosestSettingName("nic") == "");              // too short to guess
}

TEST_CASE("run settings: ParseMiniBatchSize", "[run_settings]") {
  CHECK(ParseMiniBatchSize("10") == 10u);
  CHECK(ParseMiniBatchSize("1KB") == 1024u);
  CHECK(ParseMiniBatchSize("3kb") == 3072u);
  CHECK(ParseMiniBatchSize("10MB") == 10u << 20);
  CHECK(ParseMiniBatchSize("1GB") == 1u << 30);
  CHECK(ParseMiniBatchSize("0") == 0u);  // well-formed; ResolveRunSettings refuses it
  CHECK(ParseMiniBatchSize("17179869183GB") == 17179869183ull << 30);  // the largest that fits
  CHECK_FALSE(ParseMiniBatchSize("17179869184GB"));                    // would wrap around
  for (const char* bad : {"", "KB", "1TB", "1 KB", "1.5MB", "-1", "+1", "1KBKB", "0x10"}) {
    INFO(bad);
    CHECK_FALSE(ParseMiniBatchSize(bad));
  }
}

TEST_CASE("run settings: with a list of errors, every bad setting is named", "[run_settings]") {
  // `parallelrun validate` lists every problem: each setting is checked on
  // its own, the good ones keep their values.
  std::vector<Status> errors;
  auto rs = ResolveRunSettings(Spec(),
                               {{"mini_batch_size", "0"}, {"run_max_try", "x"},
                                {"error_threshold", "5"}, {"nice", "21"}},
                               2, false, &errors);
  REQUIRE(rs.ok());
  REQUIRE(errors.size() == 3);
  CHECK(errors[0].message().find("setting --mini_batch_size: '0' is not valid") == 0);
  CHECK(errors[1].message().find("setting --nice: '21' is not valid") == 0);
  CHECK(errors[2].message().find("setting --run_max_try: 'x' is not valid") == 0);
  CHECK(rs->error_threshold == 5);
  CHECK(rs->run_max_try == 3);
  // Without the list, the first bad one is the error, as before.
  auto first = ResolveRunSettings(Spec(), {{"nice", "21"}, {"run_max_try", "x"}}, 2, false);
  REQUIRE_FALSE(first.ok());
  CHECK(first.status().message().find("setting --nice:") == 0);
}

}  // namespace
}  // namespace parallelrun
