// The run settings of reference §1 (mini_batch_size, error_threshold, …): one
// table that names each setting, its spellings, default and allowed values,
// and the validated, typed RunSettings that the rest of the program reads.
// The table drives the command line (app/ registers one flag per entry, in
// both spellings), the spec (v2 keys map onto the same entries) and the
// arguments passed on to the entry script.
#ifndef PARALLELRUN_RUN_SETTINGS_H_
#define PARALLELRUN_RUN_SETTINGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "parallelrun/spec.h"
#include "parallelrun/status.h"

namespace parallelrun {

struct SettingInfo {
  const char* name;        // canonical, driver spelling: "mini_batch_size"
  const char* v2_key;      // key in a v2 spec ("retry_settings.timeout"), or nullptr
  const char* default_text;  // shown in --help; "" = computed (see help)
  const char* help;
  // True for settings the original accepted but that mean nothing on a local
  // run (copy_logs_to_parent, …): accepted, reported once, otherwise ignored.
  bool ignored = false;
};

// Every setting, in the order --help lists them.
const std::vector<SettingInfo>& AllSettings();

// Another format's name for a setting: a v2 YAML key or a batch deployment
// key (without its `retry_settings.`/`resources.` parent), or a driver alias.
// Each is accepted wherever a setting name is: as a parallelrun flag (both
// spellings), as a driver flag inside args/program_arguments, and in YAML
// where that format has it.
struct SettingAlias {
  const char* name;       // "max_concurrency_per_instance"
  const char* canonical;  // "process_count_per_node"
  const char* origin;     // where the name comes from, for help and notes
  // True when Azure ML's driver reads the name as a flag (it is in its
  // argument parser); false for names that are YAML keys only, which the
  // original passes on to the entry script untouched.
  bool driver_flag;
};

// Every alias, in the order --help lists them.
const std::vector<SettingAlias>& SettingAliases();

// Returns the entry named `name` in either spelling ("mini-batch-size" or
// "mini_batch_size"), by its canonical name or an alias ("timeout",
// "max_concurrency_per_instance"), or nullptr.
const SettingInfo* FindSetting(const std::string& name);

// The alias named `name` (either spelling), or nullptr for canonical names
// and unknown ones.
const SettingAlias* FindSettingAlias(const std::string& name);

// The closest setting name (canonical or alias) to `word` (a flag without
// its dashes) if it looks like a misspelling of one (small edit distance),
// else "".
std::string ClosestSettingName(const std::string& word);

enum class OutputAction { kSummaryOnly, kAppendRow };

struct RunSettings {
  // Files per mini-batch for file inputs; bytes for tabular inputs. Parsed
  // with the original's units (KB/MB/GB are binary).
  uint64_t mini_batch_size = 10;
  bool mini_batch_size_given = false;
  int process_count_per_node = 0;  // 0 before defaulting = number of cores
  int node_count = 1;
  int64_t error_threshold = -1;        // failed items; -1 = unlimited
  int64_t allowed_failed_count = -1;   // failed mini-batches; -1 = unlimited
  double allowed_failed_percent = 100; // failed mini-batches %; 100 = unlimited
  double run_invocation_timeout = 60;  // seconds
  int run_max_try = 3;                 // attempts per mini-batch
  std::string logging_level = "INFO";
  OutputAction output_action = OutputAction::kSummaryOnly;
  std::string append_row_file_name = "parallel_run_step.txt";
  std::vector<std::string> partition_keys;
  double task_overhead_timeout = 30;
  double progress_update_timeout = 0;  // 0 = 3 × (run_invocation_timeout + task_overhead_timeout)
  double first_task_creation_timeout = 600;
  double resource_monitor_interval = 600;
  std::string profiling_module;
  int nice = 5;  // the original's default (reference §1.2)
  // A mini-batch still running near the end after more than this many times
  // the median duration gets a second attempt on an idle worker (master/
  // batch_queue.h); 0: never. Given or not, it is 3 by default.
  double straggler_factor = 3;

  // Raw text of every setting that was given (flag or spec), canonical name →
  // value, for the arguments passed to the entry script and the log.
  std::map<std::string, std::string> given;
};

// Builds RunSettings from the spec's settings and the command line's
// (`flags`: name in either spelling → text; a flag wins over the spec). `cores` is the
// default process_count_per_node. `tabular` selects the unit and default of
// mini_batch_size. Errors name the setting, the value and what is allowed;
// a bad value in the spec is reported at its place in the file.
// With `errors`, every bad setting is appended there (the others keep their
// values, a bad one its default) and the result is Ok.
Result<RunSettings> ResolveRunSettings(const Spec& spec,
                                       const std::map<std::string, std::string>& flags,
                                       int cores, bool tabular,
                                       std::vector<Status>* errors = nullptr);

// Parses a mini_batch_size value ("10", "100KB", "1mb"); nullopt if malformed.
std::optional<uint64_t> ParseMiniBatchSize(const std::string& text);

}  // namespace parallelrun

#endif  // PARALLELRUN_RUN_SETTINGS_H_
