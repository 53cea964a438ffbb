// The job dir's layout: the one place a path under a job dir is made, as
// leveldb's filename.h is for the files of a database. The layout is the
// original's (reference §4, DESIGN.md §7), so that people's habits and tools
// carry over:
//
//   logs/readme.txt, job_result.txt, job_error.txt,
//   logs/job_progress_overview.<yyyymmddhh>.txt
//   logs/sys/master_role.<n>.txt, logs/sys/job_report/*.csv
//   logs/sys/node/<node>/{_main.txt, processNNN.txt, processNNN.profile},
//   logs/sys/perf/<node>/{node_resource_usage.csv, …, processes_cpu_memory_usage/}
//   logs/user/{stdout,stderr,error,entry_script_log}/<node>/processNNN.*
//   outputs/<output>/, append_row/, partitions/, .parallelrun/token,
//   .parallelrun/tls/{cert,key}.pem
//
// kJobDirLayout lists every entry with what it holds; the folders made for
// the logs and logs/readme.txt are both generated from it, so the two cannot
// disagree. The functions below spell the paths of its entries. What is
// inside partitions/ is the partitioner's scratch (data/partitions.h) and not
// listed further.
//
// Every function takes the job dir as given and joins with '/'; a job dir of
// "" gives the path relative to the job dir ("logs/job_result.txt"), for
// messages that should stay right when the job dir is moved. Pure functions,
// safe on any thread, except the Create* ones, which touch the disk.
#ifndef PARALLELRUN_BASE_JOB_DIR_H_
#define PARALLELRUN_BASE_JOB_DIR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "parallelrun/status.h"

namespace parallelrun {

// One entry of the layout. `path` is relative to the job dir and may hold
// placeholders: <node> (node rank), processNNN (a worker process's name),
// <n>, <yyyymmddhh>, <output>, <mini-batch>, <attempt>. A folder's path ends
// in '/'. Every folder that holds an entry under logs/ is made when the job
// starts: those with <node> by each node for itself (NodeFolders), the others
// by the master (MasterFolders). Entries outside logs/ are made by their
// owners when they are needed.
struct JobDirEntry {
  const char* path;
  const char* what;  // for readme.txt: one or more sentences
};
extern const JobDirEntry kJobDirLayout[];
extern const size_t kJobDirLayoutSize;

// ---- logs/ -------------------------------------------------------------
std::string LogsDir(const std::string& job_dir);
std::string ReadmePath(const std::string& job_dir);
std::string JobResultPath(const std::string& job_dir);
std::string JobErrorPath(const std::string& job_dir);
// logs/job_progress_overview.<yyyymmddhh>.txt; `yyyymmddhh` is the UTC hour.
std::string OverviewPath(const std::string& job_dir, const std::string& yyyymmddhh);
// logs/sys/master_role.<n>.txt; `n` numbers the master's rounds: 0, then
// one more per failover (job/failover.h).
std::string MasterLogPath(const std::string& job_dir, int n);
std::string ProcessedMiniBatchesCsv(const std::string& job_dir);
std::string ProcessSummaryCsv(const std::string& job_dir);
std::string NodeSummaryCsv(const std::string& job_dir);
// logs/sys/trace.json: the job's timeline (report/trace.h).
std::string TracePath(const std::string& job_dir);

// logs/sys/node/<node>/_main.txt: the node's agent.
std::string NodeLogPath(const std::string& job_dir, uint32_t node);
// logs/sys/node/<node>/<process>.txt: one worker process's mini-batches.
std::string ProcessLogPath(const std::string& job_dir, uint32_t node, const std::string& process);
// logs/sys/node/<node>/<process>.profile: a worker's profile (profiling_module).
std::string ProfilePath(const std::string& job_dir, uint32_t node, const std::string& process);

// logs/sys/perf/<node>/ and the resource monitor's files in it
// (node/resource_monitor.h); `yyyymmddhh` is the UTC hour.
std::string PerfDir(const std::string& job_dir, uint32_t node);
std::string NodeResourceUsageCsv(const std::string& job_dir, uint32_t node);
std::string NodeDiskUsageCsv(const std::string& job_dir, uint32_t node);
std::string ProcessesResourceUsageCsv(const std::string& job_dir, uint32_t node);
std::string ProcessesCpuMemoryCsv(const std::string& job_dir, uint32_t node,
                                  const std::string& yyyymmddhh);

// The four logs of a worker process under logs/user/.
enum class UserLog { kStdout, kStderr, kError, kEntryScript };
// logs/user/<kind>/<node>/ ("stdout", "stderr", "error", "entry_script_log").
std::string UserLogDir(const std::string& job_dir, UserLog log, uint32_t node);
// UserLogDir()/<process>.stdout.txt, .stderr.txt, .txt or .log.txt.
std::string UserLogPath(const std::string& job_dir, UserLog log, uint32_t node,
                        const std::string& process);

// ---- next to logs/ -----------------------------------------------------
// report.html: `parallelrun report`'s page (report/html_report.h).
std::string HtmlReportPath(const std::string& job_dir);
// outputs/<output>/: an output that was not given with -o.
std::string DefaultOutputDir(const std::string& job_dir, const std::string& output);
// append_row/: the parts of append_row output until they are joined.
std::string AppendRowPartsDir(const std::string& job_dir);
// model/: a batch deployment's AZUREML_MODEL_DIR, holding one link, named as
// the model's folder or file, to the model given (Azure ML puts the
// registered folder one level below AZUREML_MODEL_DIR).
std::string ModelDir(const std::string& job_dir);
// "<mini-batch>.<attempt>.rows": the name of a part in AppendRowPartsDir.
// The Python driver (worker_driver.py, worker_tabular.py) writes the same name.
std::string AppendRowPartName(uint64_t mini_batch, uint32_t attempt);
// partitions/: partition_keys' scratch, removed when the job succeeds.
std::string PartitionsDir(const std::string& job_dir);
// .parallelrun/token: the job secret, when the user puts one there.
std::string TokenPath(const std::string& job_dir);
// .parallelrun/master: where the master of the latest failover round listens
// (job/failover.h), for the agents that lost the earlier one.
std::string MasterAddressPath(const std::string& job_dir);
// .parallelrun/job_dir_id: a random id the master writes at the start of each
// run; an agent that reads the master's id in its own job dir shares it
// (link.h, JobDir), otherwise its results travel over the link.
std::string JobDirIdPath(const std::string& job_dir);
// .parallelrun/standby/: on a node that stands by for a master whose job dir
// it does not share (job/failover.h), its copy of the master's journal
// (`journal`) and of the accepted append_row parts (`parts/`), moved into
// place if it takes the master role.
std::string StandbyDir(const std::string& job_dir);
std::string StandbyJournalPath(const std::string& job_dir);
std::string StandbyPartsDir(const std::string& job_dir);
// .parallelrun/tls/cert.pem and key.pem: the self-signed certificate a
// master with --tls and no certificate files makes (link/tls.h).
std::string TlsCertPath(const std::string& job_dir);
std::string TlsKeyPath(const std::string& job_dir);

// ---- folders and readme.txt, from kJobDirLayout -------------------------
// The folders under logs/ that node `node` writes in, parents first.
std::vector<std::string> NodeFolders(const std::string& job_dir, uint32_t node);
// The folders under logs/ that are not a node's: logs/, logs/sys/, …
std::vector<std::string> MasterFolders(const std::string& job_dir);
// Creates NodeFolders() / MasterFolders(); errors as CreateFolders().
Status CreateNodeFolders(const std::string& job_dir, uint32_t node);
Status CreateMasterFolders(const std::string& job_dir);

// The text of logs/readme.txt: every entry of kJobDirLayout, its path at the
// start of a line (relative to the job dir) and what it holds.
std::string ReadmeText();

}  // namespace parallelrun

#endif  // PARALLELRUN_BASE_JOB_DIR_H_
