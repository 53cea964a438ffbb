// JobLog: the job dir's logs and reports, in the original's layout
// (reference §4, DESIGN.md §7) so that people's habits and tools carry over.
// base/job_dir.h spells every path and gives logs/readme.txt its text; this
// class writes the master's files in it: readme.txt, the progress overview,
// job_result.txt, job_error.txt, sys/master_role.0.txt and sys/job_report/.
//
// Rows are written as results arrive; summaries are kept as small per-process
// counters, never as a list of attempts. Loop thread only.
#ifndef PARALLELRUN_REPORT_JOB_LOG_H_
#define PARALLELRUN_REPORT_JOB_LOG_H_

#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/disk.h"
#include "base/mini_batch.h"
#include "base/text.h"
#include "link/link.h"
#include "parallelrun/status.h"
#include "report/trace.h"

namespace parallelrun {

class JobLog {
 public:
  // Creates logs/ and its folders under `job_dir` (MasterFolders, and
  // NodeFolders of nodes 0..nodes-1). The master's log is
  // logs/sys/master_role.<master_round>.txt (a failover's new master: 1, 2, …).
  static Result<std::unique_ptr<JobLog>> Open(const std::string& job_dir, int nodes,
                                              std::vector<std::string> input_names,
                                              int master_round = 0);
  ~JobLog();

  // A line in logs/sys/master_role.<n>.txt ("time|LEVEL|pid|message").
  void Master(const char* level, const std::string& message);
  // A timestamped line in logs/job_progress_overview.<yyyymmddhh>.txt.
  void Overview(const std::string& message);

  // Records one attempt: a row in processed_mini-batches.csv and the
  // per-process/per-node counters of attempts and seconds. `batch` is the
  // mini-batch it ran.
  void Attempt(const AttemptResult& r, const MiniBatch& batch);
  // The mini-batch finished with attempt `r` (done, or failed for good): its
  // items count in the summaries' item columns, once, on the process that
  // ran that attempt — so that the items of node_summary.csv add up to the
  // job's, however often a mini-batch was tried.
  void Finished(const AttemptResult& r);
  // Counts a failed attempt by kind and keeps the details of the first
  // failing mini-batches (those that failed for good first) for job_error.txt.
  void Failure(const AttemptResult& r, const MiniBatch& batch, bool final_try);
  // A node could not run workers (init() kept failing): `reason` is a
  // sentence, then detail lines.
  void NodeFailure(uint32_t node, const std::string& reason);

  void Node(const NodeReport& report);
  // Where node `node`'s job dir is on that node; `shared`: it is this one.
  // job_result.txt says where each node's user logs are.
  void NodeDir(uint32_t node, const std::string& host, const std::string& job_dir, bool shared);

  struct Totals {
    uint64_t batches = 0, batches_done = 0, batches_failed = 0, items = 0, items_succeeded = 0,
             items_failed = 0, attempts = 0, retries = 0, batches_retried = 0, items_retried = 0;
  };
  // Writes process_summary.csv, node_summary.csv, job_result.txt,
  // job_error.txt (when anything failed) and flushes everything.
  // `outcome` is the job's Status; `summary` one paragraph for job_result.txt.
  // Errors: a report that could not be written (path and reason).
  Status Close(const Status& outcome, const Totals& totals, const std::string& summary);

  // Writes the buffered rows of processed_mini-batches.csv (whole rows, one
  // write). The first error sticks and names the file and the reason.
  Status Flush();

  // The job_error text (also printed at the end), "" when nothing failed:
  // failed attempts by kind, the first failing mini-batches with their items,
  // the end of their traceback and the full path of the log that has it all,
  // nodes that could not run workers, workers whose init() did not succeed.
  std::string ErrorReport(const Totals& totals) const;

  // The failed attempts grouped by kind and message, most mini-batches
  // first, for the terminal: "RUN_EXCEPTION ValueError: bad item — 30
  // mini-batches (90 attempts); first: mini-batch 4 (a.txt, …) on node 0
  // process001", then the end of that attempt's traceback. "" when nothing
  // failed.
  std::string FailureGroups() const;

  // "User logs stay on the node that ran them:" and a line per node, when a
  // node has its own job dir (NodeDir); "" when every node shares this one.
  std::string UserLogsNote() const;

 private:
  struct Counters {
    uint64_t attempts = 0, done = 0, failed_attempts = 0, items = 0, succeeded = 0, failed = 0;
    double elapsed = 0, cpu = 0, run = 0, first_start = 0, last_end = 0;
    void Add(const AttemptResult& r);
    void AddItems(const AttemptResult& r);
  };
  // One failing mini-batch: its latest failed attempt and what followed.
  struct FailureNote {
    AttemptResult result;            // the latest failed attempt
    std::vector<std::string> items;  // the first few
    size_t item_count = 0;
    uint32_t failed_tries = 0;
    bool final_try = false;          // failed for good
    bool succeeded_later = false;    // a retry succeeded
  };

  // Failed attempts of one kind with one message.
  struct FailureGroup {
    uint64_t attempts = 0;
    std::set<MiniBatchId> mini_batches;
    AttemptResult first;  // its first attempt, with the traceback
    std::vector<std::string> items;  // of that mini-batch, the first few
    size_t item_count = 0;
  };

  JobLog() = default;
  // The Mini-batch Detail column: the batch's JSON as a quoted CSV field.
  void AppendDetail(const MiniBatch& batch, std::string* out) const;

  std::string job_dir_;
  std::vector<std::string> input_names_;
  std::unique_ptr<FILE, int (*)(FILE*)> master_{nullptr, fclose};
  std::unique_ptr<FILE, int (*)(FILE*)> overview_{nullptr, fclose};
  std::string overview_hour_;
  UniqueFd csv_;
  std::string csv_path_;
  std::string csv_buffer_;  // whole rows not yet written
  Status error_;
  std::map<std::pair<uint32_t, std::string>, Counters> processes_;
  std::map<uint32_t, Counters> nodes_;
  std::map<uint32_t, NodeReport> node_reports_;
  struct NodeDirNote {
    std::string host, job_dir;
    bool shared = true;
  };
  std::map<uint32_t, NodeDirNote> node_dirs_;
  std::map<std::string, uint64_t> failures_by_kind_;
  std::vector<FailureNote> first_failures_;  // at most kFailuresKept, by first failure
  // By (kind, message); at most kGroupsKept, the rest counted together.
  std::map<std::pair<std::string, std::string>, FailureGroup> failure_groups_;
  uint64_t other_failed_attempts_ = 0;
  std::vector<std::pair<uint32_t, std::string>> node_failures_;
  // The timeline's bounds as the CSV's rows read back, so that Close()
  // reads the CSV once for it; off when a row would not read back as
  // written (a process name that needs CSV quoting).
  TraceBounds trace_bounds_;
  bool trace_bounds_ok_ = true;
  IsoTimeWriter row_time_;  // the Start Time column
  std::string start_, elapsed_;  // Attempt's, reused
};

}  // namespace parallelrun

#endif  // PARALLELRUN_REPORT_JOB_LOG_H_
