// Every name of every format, in every place (issue 10 item 3): the v1 /
// driver names, the v2 YAML names and the batch deployment names of each run
// setting are accepted as parallelrun flags (both spellings), as driver flags
// inside args/program_arguments, and as YAML keys where their format has
// them; a name misspelt inside the spec's arguments is warned about with
// "did you mean"; a setting given in two places says which value wins.
// The tables walk AllSettings() and SettingAliases(): a name added to either
// without a valid value here fails "every name has a value".
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "parallelrun/run.h"
#include "parallelrun/run_settings.h"
#include "parallelrun/spec.h"
#include "plan/job_plan.h"
#include "temp_dir.h"

namespace parallelrun {
namespace {

// A valid value of each setting (canonical name), unlike its default.
const std::map<std::string, std::string> kValue = {
    {"mini_batch_size", "7"},
    {"process_count_per_node", "3"},
    {"node_count", "2"},
    {"error_threshold", "5"},
    {"allowed_failed_count", "4"},
    {"allowed_failed_percent", "50"},
    {"run_invocation_timeout", "45"},
    {"run_max_try", "5"},
    {"logging_level", "DEBUG"},
    {"output_action", "append_row"},
    {"append_row_file_name", "rows.txt"},
    {"partition_keys", "[\"a\"]"},
    {"task_overhead_timeout", "40"},
    {"progress_update_timeout", "500"},
    {"first_task_creation_timeout", "700"},
    {"resource_monitor_interval", "20"},
    {"profiling_module", "cProfile"},
    {"nice", "3"},
    {"straggler_factor", "4"},
    {"copy_logs_to_parent", "True"},
    {"push_metrics_to_parent", "True"},
    {"metrics_name_prefix", "p"},
    {"cleanup_leaked_queues", "False"},
};

struct Name {
  std::string name;       // as a person writes it
  std::string canonical;
};

// Every name a setting goes by: canonical ones and aliases.
std::vector<Name> AllNames() {
  std::vector<Name> names;
  for (const auto& s : AllSettings()) names.push_back({s.name, s.name});
  for (const auto& a : SettingAliases()) names.push_back({a.name, a.canonical});
  return names;
}

std::string Dashed(std::string s) {
  for (char& c : s) {
    if (c == '_') c = '-';
  }
  return s;
}

TEST_CASE("Setting names: every name has a value and a canonical setting", "[names]") {
  for (const Name& n : AllNames()) {
    INFO(n.name);
    CHECK(kValue.count(n.canonical) == 1);
    const SettingInfo* info = FindSetting(n.name);
    REQUIRE(info != nullptr);
    CHECK(std::string(info->name) == n.canonical);
    CHECK(FindSetting(Dashed(n.name)) == info);
  }
}

TEST_CASE("Setting names: every name as a parallelrun flag, both spellings", "[names]") {
  for (const Name& n : AllNames()) {
    for (const std::string& flag : {n.name, Dashed(n.name)}) {
      INFO(flag);
      auto rs = ResolveRunSettings(Spec(), {{flag, kValue.at(n.canonical)}}, 4, false);
      REQUIRE(rs.ok());
      CHECK(rs->given.at(n.canonical) == kValue.at(n.canonical));
    }
  }
}

// A v2 job with one output and program_arguments `args` over data/.
struct V2Job {
  TempDir dir{"setting_names_test"};
  V2Job() {
    dir.Write("score.py", "def run(mini_batch):\n    return mini_batch\n");
    dir.Write("data/a.txt", "1\n");
  }
  Result<JobPlan> Plan(const std::string& args, const std::string& keys = "",
                       const std::map<std::string, std::string>& flags = {}) const {
    std::string spec = dir.Write(
        "job.yaml", "type: parallel\ninputs:\n  data:\n    type: uri_folder\noutputs:\n"
                    "  out:\n    type: uri_folder\ninput_data: ${{inputs.data}}\n" + keys +
                    "task:\n  entry_script: score.py\n  program_arguments: " + args + "\n");
    RunRequest req;
    req.spec_path = spec;
    req.cwd = dir.path();
    req.job_dir = dir.path() + "/job";
    req.cores = 4;
    req.inputs = {{"data", "data"}};
    req.settings = flags;
    return MakeJobPlan(req);
  }
};

TEST_CASE("Setting names: every name as a driver flag inside program_arguments", "[names]") {
  V2Job job;
  for (const Name& n : AllNames()) {
    if (n.canonical == "partition_keys") continue;  // needs partitioned data; flag place covers it
    INFO(n.name);
    const std::string& value = kValue.at(n.canonical);
    auto plan = job.Plan("--" + n.name + " '" + value + "'");
    REQUIRE(plan.ok());
    CHECK(plan->settings.given.at(n.canonical) == value);
    const SettingAlias* alias = FindSettingAlias(n.name);
    bool noted = false;
    for (const auto& note : plan->notes) {
      if (note.find("is read as the setting " + n.canonical) != std::string::npos) noted = true;
    }
    // A name Azure ML's driver does not read there is taken, and said so.
    CHECK(noted == (alias != nullptr && !alias->driver_flag));
    // Either way the script sees the words, as the original forwards them.
    CHECK(std::find(plan->entry_argv.begin(), plan->entry_argv.end(), "--" + n.name) !=
          plan->entry_argv.end());
  }
}

// Where each format's YAML has a setting: (document text, canonical name).
struct YamlPlace {
  std::string format;
  std::string text;  // the keys, at the top level of the document
  std::string canonical;
};

std::vector<YamlPlace> YamlPlaces() {
  std::vector<YamlPlace> places = {
      {"v2", "mini_batch_size: 7\n", "mini_batch_size"},
      {"v2", "max_concurrency_per_instance: 3\n", "process_count_per_node"},
      {"v2", "instance_count: 2\n", "node_count"},
      {"v2", "resources:\n  instance_count: 2\n", "node_count"},
      {"v2", "error_threshold: 5\n", "error_threshold"},
      {"v2", "mini_batch_error_threshold: 4\n", "allowed_failed_count"},
      {"v2", "logging_level: DEBUG\n", "logging_level"},
      {"v2", "retry_settings:\n  timeout: 45\n", "run_invocation_timeout"},
      {"v2", "retry_settings:\n  max_retries: 5\n", "run_max_try"},
      {"v2", "partition_keys:\n  - a\n", "partition_keys"},
  };
  // A deployment has each of its settings at the top level (older schema)
  // and under settings: (newer).
  const std::vector<std::pair<std::string, std::string>> deployment = {
      {"mini_batch_size: 7\n", "mini_batch_size"},
      {"max_concurrency_per_instance: 3\n", "process_count_per_node"},
      {"error_threshold: 5\n", "error_threshold"},
      {"logging_level: DEBUG\n", "logging_level"},
      {"output_action: summary_only\n", "output_action"},
      {"output_file_name: rows.txt\n", "append_row_file_name"},
      {"retry_settings:\n  timeout: 45\n", "run_invocation_timeout"},
      {"retry_settings:\n  max_retries: 5\n", "run_max_try"},
  };
  for (const auto& [text, canonical] : deployment) {
    places.push_back({"deployment", text, canonical});
    std::string nested = "settings:\n";
    size_t begin = 0;
    while (begin < text.size()) {
      size_t end = text.find('\n', begin);
      nested += "  " + text.substr(begin, end + 1 - begin);
      begin = end + 1;
    }
    places.push_back({"deployment", nested, canonical});
  }
  places.push_back({"deployment", "resources:\n  instance_count: 2\n", "node_count"});
  places.push_back({"deployment", "settings:\n  instance_count: 2\n", "node_count"});
  return places;
}

TEST_CASE("Setting names: every YAML key of every format", "[names]") {
  TempDir dir("setting_names_test");
  dir.Write("score.py", "def run(mini_batch):\n    return mini_batch\n");
  for (const YamlPlace& p : YamlPlaces()) {
    INFO(p.format << ":\n" << p.text);
    std::string text =
        p.format == "v2"
            ? "type: parallel\ninputs:\n  data:\n    type: uri_folder\n"
              "input_data: ${{inputs.data}}\ntask:\n  entry_script: score.py\n" + p.text
            : "type: model\nmodel: azureml:m@latest\ncode_configuration:\n"
              "  scoring_script: score.py\n" + p.text;
    auto spec = ParseSpecText(text, dir.path() + "/spec.yaml");
    REQUIRE(spec.ok());
    REQUIRE(spec->settings.count(p.canonical));
    CHECK(spec->settings.at(p.canonical).where.line > 0);
    auto rs = ResolveRunSettings(*spec, {}, 4, false);
    REQUIRE(rs.ok());
    CHECK(rs->given.count(p.canonical) == 1);
  }
}

TEST_CASE("Setting names: a misspelt name in program_arguments is warned about", "[names]") {
  V2Job job;
  for (const Name& n : AllNames()) {
    if (n.name.size() < 6) continue;  // "nice": too short to tell from a word of the script's
    std::string typo = n.name.substr(0, n.name.size() - 1);
    INFO(typo);
    auto plan = job.Plan("--" + typo + " 20");
    REQUIRE(plan.ok());
    std::string expected = job.dir.path() + "/job.yaml:11:22: warning: program_arguments has --" +
                           typo + ", which is not a setting (did you mean --" + n.name +
                           "?); it is passed to the entry script unchanged";
    CHECK(std::find(plan->notes.begin(), plan->notes.end(), expected) != plan->notes.end());
  }
  // The published sample's typo, exactly.
  auto plan = job.Plan("--resource_monitor_interva 20");
  REQUIRE(plan.ok());
  CHECK(std::count_if(plan->notes.begin(), plan->notes.end(), [](const std::string& note) {
          return note.find("--resource_monitor_interva, which is not a setting (did you mean "
                           "--resource_monitor_interval?)") != std::string::npos;
        }) == 1);
}

TEST_CASE("Setting names: command line > spec arguments > YAML keys, and said", "[names]") {
  V2Job job;
  auto plan = job.Plan("--timeout 20", "retry_settings:\n  timeout: 10\n",
                       {{"run_invocation_timeout", "30"}});
  REQUIRE(plan.ok());
  CHECK(plan->settings.run_invocation_timeout == 30);
  auto has = [&](const std::string& text) {
    for (const auto& note : plan->notes) {
      if (note.find(text) != std::string::npos) return true;
    }
    return false;
  };
  CHECK(has("setting run_invocation_timeout: --run_invocation_timeout 30 on the command line "
            "wins over --timeout 20 in program_arguments"));
  CHECK(has("setting run_invocation_timeout: --run_invocation_timeout 30 on the command line "
            "wins over 10 here"));

  plan = job.Plan("--timeout 20", "retry_settings:\n  timeout: 10\n");
  REQUIRE(plan.ok());
  CHECK(plan->settings.run_invocation_timeout == 20);
  CHECK(has(job.dir.path() + "/job.yaml:10:12: setting run_invocation_timeout: --timeout 20 in "
            "program_arguments wins over 10 here"));

  // Two names of one setting inside the arguments: the later wins, as argparse.
  plan = job.Plan("--run_invocation_timeout 20 --timeout 25");
  REQUIRE(plan.ok());
  CHECK(plan->settings.run_invocation_timeout == 25);
  CHECK(has("setting run_invocation_timeout: --timeout 25 in program_arguments wins over the "
            "earlier --run_invocation_timeout 20 in program_arguments"));

  // The same value twice is no conflict.
  plan = job.Plan("--timeout 10", "retry_settings:\n  timeout: 10\n");
  REQUIRE(plan.ok());
  CHECK_FALSE(has("wins over"));
}

}  // namespace
}  // namespace parallelrun
