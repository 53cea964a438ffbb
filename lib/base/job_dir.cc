#include "base/job_dir.h"

#include <algorithm>

#include "base/disk.h"

namespace parallelrun {

// The order is readme.txt's: what a person looks at first comes first.
const JobDirEntry kJobDirLayout[] = {
    {"logs/readme.txt", "This file: what is where in the job dir."},
    {"logs/job_result.txt", "Did the job succeed? If not, why (which threshold, with numbers)."},
    {"logs/job_error.txt",
     "Only when something failed: failures by kind, the first failing mini-batches with their "
     "items, the end of each traceback and the log that has the whole of it."},
    {"logs/job_progress_overview.<yyyymmddhh>.txt",
     "Timestamped progress: scheduling, processed counts, estimates. A new file each hour (UTC)."},
    {"logs/sys/master_role.<n>.txt",
     "The master's log: listing, scheduling, thresholds, the result. <n> numbers the master's "
     "rounds: 0, then one more each time another node took the master role because the "
     "master's process died (failover); its first lines say who took it, when and why."},
    {"logs/sys/job_report/processed_mini-batches.csv",
     "One row per attempt of a mini-batch: Mini-batch Id, Picked Count (1 = first attempt), "
     "Process, Start Time, Total, Succeeded, Failed, Elapsed Seconds, Process Seconds, Run Method "
     "Seconds, Status (RUN_DONE, RUN_EXCEPTION, RUN_TIMEOUT, RUN_INVALID_RETURN, PROCESS_DIED, "
     "INTERRUPTED, LEASE_LOST), Error Category, Error Message, Mini-batch Detail, Node."},
    {"logs/sys/job_report/process_summary.csv",
     "The same, summed per worker process; the item columns count each mini-batch once, on the "
     "process of its last attempt, so that they add up to the job's items."},
    {"logs/sys/job_report/node_summary.csv", "The same, summed per node."},
    {"logs/sys/trace.json",
     "The job's timeline in the Chrome trace-event format, written at the end: one track per "
     "worker process (pid = node, tid = worker), a slice per attempt with its status and item "
     "count, the worker's start, init() and shutdown. Open it in https://ui.perfetto.dev or "
     "chrome://tracing."},
    {"logs/sys/node/<node>/_main.txt",
     "The node's agent: who this process is and why, worker starts, init() results, timeouts, "
     "exits with their exit codes or signals, replacements."},
    {"logs/sys/node/<node>/processNNN.txt", "One line per mini-batch a worker process completed."},
    {"logs/sys/node/<node>/processNNN.profile",
     "With profiling_module cProfile or profile: the worker process's profile, written when it "
     "ends normally (a worker that was killed leaves none); read it with pstats.Stats(path) or "
     "snakeviz."},
    {"logs/sys/node/<node>/processNNN.profile.top.tsv",
     "Beside each profile: its 40 functions with the most own time (function, file, line, "
     "calls, own and cumulative seconds), tab-separated; `parallelrun report` sums them."},
    {"logs/sys/perf/<node>/node_resource_usage.csv",
     "With resource_monitor_interval > 0: the node's CPU, memory, disk I/O, network and socket "
     "counts, one row per sample (at the start, every interval, at the end), in psutil's terms."},
    {"logs/sys/perf/<node>/node_disk_usage.csv",
     "Each mounted disk's size, use and free space, one row per disk per sample."},
    {"logs/sys/perf/<node>/processes_resource_usage.csv",
     "parallelrun's and its workers' processes (and what they started): CPU, memory, threads, "
     "one row per process per sample."},
    {"logs/sys/perf/<node>/processes_cpu_memory_usage/<yyyymmddhh>.csv",
     "Every process on the machine, CPU and memory, one row per process per sample; a file per "
     "hour (UTC)."},
    {"logs/user/stdout/<node>/processNNN.stdout.txt",
     "What the entry script printed (and the root logger)."},
    {"logs/user/stderr/<node>/processNNN.stderr.txt",
     "What it wrote to stderr, including Python's own crash output and, when a worker was "
     "stopped (a timeout, Ctrl-C), the stack it was stopped in."},
    {"logs/user/error/<node>/processNNN.txt",
     "Full tracebacks of init(), run() and shutdown() exceptions."},
    {"logs/user/entry_script_log/<node>/processNNN.log.txt", "EntryScript().logger output."},
    {"logs/user/stdout/<node>/zygote.stdout.txt",
     "With the start method fork: what the entry script printed while the node's zygote "
     "imported it, once for all its workers (README: start methods)."},
    {"logs/user/stderr/<node>/zygote.stderr.txt",
     "The same for stderr: warnings of that import, and why the workers were spawned instead "
     "when forking was not safe."},
    {"logs/user/entry_script_log/<node>/zygote.log.txt",
     "EntryScript().logger output of that import."},
    {"report.html",
     "Written by `parallelrun report`: one page of charts and tables about the job, "
     "self-contained (open it in any browser, offline)."},
    {"outputs/<output>/", "An output of the component that was not given with -o."},
    {"append_row/<mini-batch>.<attempt>.rows",
     "With output_action append_row: the rows of one attempt of a mini-batch, until the job "
     "joins one attempt of each mini-batch into the output file, in mini-batch order, and "
     "removes append_row/."},
    {"model/<model>",
     "With a batch deployment YAML: AZUREML_MODEL_DIR, holding a link to the model given "
     "(--model or the deployment's model path), named as the model's folder or file."},
    {"partitions/",
     "With partition_keys: the partitioning's scratch (each input's rows, spilled by partition "
     "while they are grouped, and the helper the shuffle processes import); removed when the job "
     "succeeds."},
    {".parallelrun/token",
     "The secret of a job of several nodes, when you put one there (PARALLELRUN_TOKEN comes "
     "first); read, never written."},
    {".parallelrun/tls/",
     "With --tls and no certificate files: the master's self-signed certificate (cert.pem, the "
     "one the agents trust) and its key (key.pem, mode 0600); made when the job starts, used "
     "again when it is resumed."},
};
const size_t kJobDirLayoutSize = sizeof kJobDirLayout / sizeof kJobDirLayout[0];

namespace {

std::string Join(const std::string& job_dir, const std::string& relative) {
  return job_dir.empty() ? relative : job_dir + "/" + relative;
}

std::string Node(uint32_t node) { return std::to_string(node); }

// The folder an entry is in (a folder entry: itself), without the trailing '/'.
std::string FolderOf(const std::string& path) { return path.substr(0, path.rfind('/')); }

bool UnderLogs(const std::string& path) { return path.compare(0, 5, "logs/") == 0; }

void AddOnce(std::string folder, std::vector<std::string>* folders) {
  if (std::find(folders->begin(), folders->end(), folder) == folders->end()) {
    folders->push_back(std::move(folder));
  }
}

// `text` in lines of at most `width` characters after `indent` spaces; the
// first line without the indent (it follows the entry's path).
std::string Wrap(const std::string& text, size_t indent, size_t width) {
  std::string out, line;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    std::string word = text.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && indent + line.size() + 1 + word.size() > width) {
      out += line + "\n" + std::string(indent, ' ');
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  return out + line + "\n";
}

}  // namespace

std::string LogsDir(const std::string& job_dir) { return Join(job_dir, "logs"); }
std::string ReadmePath(const std::string& job_dir) { return Join(job_dir, "logs/readme.txt"); }
std::string JobResultPath(const std::string& job_dir) {
  return Join(job_dir, "logs/job_result.txt");
}
std::string JobErrorPath(const std::string& job_dir) { return Join(job_dir, "logs/job_error.txt"); }

std::string OverviewPath(const std::string& job_dir, const std::string& yyyymmddhh) {
  return Join(job_dir, "logs/job_progress_overview." + yyyymmddhh + ".txt");
}

std::string MasterLogPath(const std::string& job_dir, int n) {
  return Join(job_dir, "logs/sys/master_role." + std::to_string(n) + ".txt");
}

std::string ProcessedMiniBatchesCsv(const std::string& job_dir) {
  return Join(job_dir, "logs/sys/job_report/processed_mini-batches.csv");
}
std::string HtmlReportPath(const std::string& job_dir) { return Join(job_dir, "report.html"); }
std::string TracePath(const std::string& job_dir) {
  return Join(job_dir, "logs/sys/trace.json");
}
std::string ProcessSummaryCsv(const std::string& job_dir) {
  return Join(job_dir, "logs/sys/job_report/process_summary.csv");
}
std::string NodeSummaryCsv(const std::string& job_dir) {
  return Join(job_dir, "logs/sys/job_report/node_summary.csv");
}

std::string NodeLogPath(const std::string& job_dir, uint32_t node) {
  return Join(job_dir, "logs/sys/node/" + Node(node) + "/_main.txt");
}

std::string ProcessLogPath(const std::string& job_dir, uint32_t node, const std::string& process) {
  return Join(job_dir, "logs/sys/node/" + Node(node) + "/" + process + ".txt");
}

std::string ProfilePath(const std::string& job_dir, uint32_t node, const std::string& process) {
  return Join(job_dir, "logs/sys/node/" + Node(node) + "/" + process + ".profile");
}

std::string PerfDir(const std::string& job_dir, uint32_t node) {
  return Join(job_dir, "logs/sys/perf/" + Node(node));
}
std::string NodeResourceUsageCsv(const std::string& job_dir, uint32_t node) {
  return PerfDir(job_dir, node) + "/node_resource_usage.csv";
}
std::string NodeDiskUsageCsv(const std::string& job_dir, uint32_t node) {
  return PerfDir(job_dir, node) + "/node_disk_usage.csv";
}
std::string ProcessesResourceUsageCsv(const std::string& job_dir, uint32_t node) {
  return PerfDir(job_dir, node) + "/processes_resource_usage.csv";
}
std::string ProcessesCpuMemoryCsv(const std::string& job_dir, uint32_t node,
                                  const std::string& yyyymmddhh) {
  return PerfDir(job_dir, node) + "/processes_cpu_memory_usage/" + yyyymmddhh + ".csv";
}

std::string UserLogDir(const std::string& job_dir, UserLog log, uint32_t node) {
  const char* kind = "";
  switch (log) {
    case UserLog::kStdout: kind = "stdout"; break;
    case UserLog::kStderr: kind = "stderr"; break;
    case UserLog::kError: kind = "error"; break;
    case UserLog::kEntryScript: kind = "entry_script_log"; break;
  }
  return Join(job_dir, std::string("logs/user/") + kind + "/" + Node(node));
}

std::string UserLogPath(const std::string& job_dir, UserLog log, uint32_t node,
                        const std::string& process) {
  const char* suffix = "";
  switch (log) {
    case UserLog::kStdout: suffix = ".stdout.txt"; break;
    case UserLog::kStderr: suffix = ".stderr.txt"; break;
    case UserLog::kError: suffix = ".txt"; break;
    case UserLog::kEntryScript: suffix = ".log.txt"; break;
  }
  return UserLogDir(job_dir, log, node) + "/" + process + suffix;
}

std::string DefaultOutputDir(const std::string& job_dir, const std::string& output) {
  return Join(job_dir, "outputs/" + output);
}
std::string AppendRowPartsDir(const std::string& job_dir) { return Join(job_dir, "append_row"); }
std::string ModelDir(const std::string& job_dir) { return Join(job_dir, "model"); }
std::string AppendRowPartName(uint64_t mini_batch, uint32_t attempt) {
  return std::to_string(mini_batch) + "." + std::to_string(attempt) + ".rows";
}
std::string PartitionsDir(const std::string& job_dir) { return Join(job_dir, "partitions"); }
std::string TokenPath(const std::string& job_dir) { return Join(job_dir, ".parallelrun/token"); }
std::string MasterAddressPath(const std::string& job_dir) {
  return Join(job_dir, ".parallelrun/master");
}

std::string JobDirIdPath(const std::string& job_dir) {
  return Join(job_dir, ".parallelrun/job_dir_id");
}

std::string StandbyDir(const std::string& job_dir) { return Join(job_dir, ".parallelrun/standby"); }

std::string StandbyJournalPath(const std::string& job_dir) {
  return Join(StandbyDir(job_dir), "journal");
}

std::string StandbyPartsDir(const std::string& job_dir) {
  return Join(StandbyDir(job_dir), "parts");
}

std::string TlsCertPath(const std::string& job_dir) {
  return Join(job_dir, ".parallelrun/tls/cert.pem");
}

std::string TlsKeyPath(const std::string& job_dir) {
  return Join(job_dir, ".parallelrun/tls/key.pem");
}

std::vector<std::string> NodeFolders(const std::string& job_dir, uint32_t node) {
  std::vector<std::string> folders;
  for (size_t i = 0; i < kJobDirLayoutSize; i++) {
    std::string folder = FolderOf(kJobDirLayout[i].path);
    size_t at = folder.find("<node>");
    if (!UnderLogs(folder + "/") || at == std::string::npos) continue;
    AddOnce(Join(job_dir, folder.replace(at, 6, Node(node))), &folders);
  }
  return folders;
}

std::vector<std::string> MasterFolders(const std::string& job_dir) {
  std::vector<std::string> folders;
  for (size_t i = 0; i < kJobDirLayoutSize; i++) {
    std::string folder = FolderOf(kJobDirLayout[i].path);
    if (!UnderLogs(folder + "/") || folder.find("<node>") != std::string::npos) continue;
    AddOnce(Join(job_dir, folder), &folders);
  }
  return folders;
}

Status CreateNodeFolders(const std::string& job_dir, uint32_t node) {
  for (const auto& folder : NodeFolders(job_dir, node)) {
    Status s = CreateFolders(folder, "job dir logs");
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status CreateMasterFolders(const std::string& job_dir) {
  for (const auto& folder : MasterFolders(job_dir)) {
    Status s = CreateFolders(folder, "job dir logs");
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

std::string ReadmeText() {
  // A path that leaves less than two spaces before the description's column
  // goes on a line of its own.
  constexpr size_t kColumn = 40, kWidth = 100;
  std::string out =
      "This folder holds the logs and reports of one parallelrun job.\n"
      "The layout follows Azure ML's ParallelRunStep, so habits and tools carry over.\n"
      "Paths are relative to the job dir, the folder that holds this logs/ folder.\n"
      "\n";
  bool in_logs = true;
  for (size_t i = 0; i < kJobDirLayoutSize; i++) {
    std::string path = kJobDirLayout[i].path;
    if (in_logs && !UnderLogs(path)) {
      in_logs = false;
      out += "\nNext to logs/, made when they are needed:\n\n";
    }
    out += path;
    if (path.size() + 2 > kColumn) out += "\n" + std::string(kColumn, ' ');
    else out += std::string(kColumn - path.size(), ' ');
    out += Wrap(kJobDirLayout[i].what, kColumn, kWidth);
  }
  out +=
      "\n<node> is the node rank (0 on one machine); processNNN numbers the worker processes of a\n"
      "node, counting up as failed workers are replaced.\n";
  return out;
}

}  // namespace parallelrun
