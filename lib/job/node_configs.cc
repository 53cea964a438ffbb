#include "base/job_dir.h"
#include "job/node_configs.h"

#include <chrono>
#include <cmath>
#include <map>

namespace parallelrun {

namespace {

std::vector<std::string> WorkerEnvironment(const JobPlan& plan, const RunRequest& req,
                                           const Role& role) {
  std::map<std::string, std::string> env;
  for (const auto& kv : req.environment) {
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : plan.spec.environment_variables) env[k] = v;
  if (!plan.output_dir.empty()) env["AZUREML_BI_OUTPUT_PATH"] = plan.output_dir;
  // Native crashes (segfaults in C extensions) then leave a Python stack in
  // the worker's stderr log.
  if (!env.count("PYTHONFAULTHANDLER")) env["PYTHONFAULTHANDLER"] = "1";
  env["PARALLELRUN_JOB_DIR"] = plan.job_dir;
  env["PARALLELRUN_NODE_RANK"] = std::to_string(role.node_rank);
  env["PARALLELRUN_NODE_COUNT"] = std::to_string(role.node_count);
  // The job secret lets a process join the job; user code has no need of it.
  env.erase("PARALLELRUN_TOKEN");
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

}  // namespace

Master::Config MakeMasterConfig(const JobPlan& plan, const Role& role) {
  const RunSettings& rs = plan.settings;
  Master::Config mc;
  mc.input_names = plan.input_names;
  mc.input_paths = plan.input_paths;
  mc.mini_batch_size = rs.mini_batch_size;
  mc.limits.max_tries = rs.run_max_try;
  mc.limits.error_threshold = rs.error_threshold;
  mc.limits.allowed_failed_count = rs.allowed_failed_count;
  mc.limits.allowed_failed_percent = rs.allowed_failed_percent;
  mc.limits.straggler_factor = rs.straggler_factor;
  mc.progress_update_timeout = rs.progress_update_timeout;
  mc.first_task_creation_timeout = rs.first_task_creation_timeout;
  mc.inputs = plan.inputs;
  mc.partition_keys = rs.partition_keys;
  mc.partitions_dir = PartitionsDir(plan.job_dir);
  mc.append_row = plan.append_row;
  mc.shuffle_processes = rs.process_count_per_node;
  mc.expected_nodes = role.node_count;
  mc.process_count_per_node = rs.process_count_per_node;
  return mc;
}

WorkerPool::Config MakeWorkerConfig(const JobPlan& plan, const RunRequest& req, const Role& role,
                                    const Preflight& pf) {
  const RunSettings& rs = plan.settings;
  WorkerPool::Config wc;
  wc.python = pf.executable;
  wc.python_args = DriverArgs({"worker"});
  wc.env = WorkerEnvironment(plan, req, role);
  wc.cwd = req.cwd;
  wc.node = role.node_rank;
  wc.slots = rs.process_count_per_node;
  wc.job_dir = plan.job_dir;
  auto ms = [](double seconds) {
    return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(seconds * 1000)));
  };
  wc.run_timeout = ms(rs.run_invocation_timeout);
  // init() gets what the original allowed it before declaring the job stuck
  // (reference §3.6: 3 × run_invocation_timeout + 30 s, the 30 s being the
  // default task_overhead_timeout): 210 s with the defaults, and as small as
  // the user's own timeouts make it. A hung init() is then stopped and
  // counts as an init failure.
  wc.init_timeout = ms(3 * rs.run_invocation_timeout + rs.task_overhead_timeout);
  wc.init_timeout_rule = "3 × run_invocation_timeout + task_overhead_timeout";
  // shutdown() is one more call into the entry script, bounded like run().
  wc.shutdown_timeout = ms(rs.run_invocation_timeout);
  wc.max_init_failures = 3 * rs.process_count_per_node;
  wc.start.entry_script = plan.spec.entry_script;
  wc.start.code_dir = plan.spec.code_dir;
  wc.start.output_dir = plan.output_dir;
  wc.start.logging_level = rs.logging_level;
  wc.start.argv = plan.entry_argv;
  if (plan.append_row) wc.start.append_row_dir = plan.append_row->parts_dir;
  wc.start.tabular = plan.tabular;
  wc.start.partitioned = !rs.partition_keys.empty();
  wc.start.nice = rs.nice;
  wc.start.profiling_module = rs.profiling_module;
  wc.resource_monitor_interval = rs.resource_monitor_interval;
  return wc;
}

}  // namespace parallelrun
