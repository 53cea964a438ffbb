// JobReports: a finished (or stopped) job read back from its job dir's
// reports, for the tools that look at a job after the fact — the timeline
// (trace.h), `parallelrun report` (html_report.h) and `parallelrun tune`
// (tune.h). It reads only files the job wrote in the original's layout
// (base/job_dir.h): processed_mini-batches.csv, process_summary.csv, the
// master's log (for the settings the entry script was given) and, when a
// node measured them, logs/sys/perf/<node>/node_resource_usage.csv
// (reference §4.4). Nothing here talks to a running job.
#ifndef PARALLELRUN_REPORT_JOB_REPORTS_H_
#define PARALLELRUN_REPORT_JOB_REPORTS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "parallelrun/status.h"

namespace parallelrun {

// One row of processed_mini-batches.csv, without the Mini-batch Detail (the
// item list, which none of the readers needs and which is most of the bytes).
struct AttemptRow {
  uint64_t id = 0;
  uint32_t attempt = 0;       // Picked Count
  std::string process;        // "process003"
  uint32_t node = 0;
  double start = 0;           // epoch seconds
  uint64_t total = 0, succeeded = 0;
  double elapsed = 0, cpu = 0, run = 0;
  std::string status;         // "RUN_DONE", "RUN_EXCEPTION", …
  std::string category, message;
  bool ok() const { return status == "RUN_DONE"; }
  double end() const { return start + elapsed; }
};

// One row of process_summary.csv.
struct ProcessRow {
  uint32_t node = 0;
  std::string process;
  uint64_t attempts = 0, done = 0, failed_attempts = 0, items = 0, succeeded = 0;
  double elapsed = 0, cpu = 0, run = 0;
  double start = 0, end = 0;  // of its first and last attempt; 0 when none
  uint32_t pid = 0;
  double init_seconds = 0;
  std::string exit;
};

// One row of node_resource_usage.csv (the columns people chart).
struct PerfSample {
  double time = 0;  // epoch seconds
  double cpu_percent = 0, memory_used_mb = 0, memory_used_percent = 0;
};

// A function of the workers' profiles (the <profile>.top.tsv files the
// driver writes beside each one), summed over the workers that list it.
struct ProfileFunction {
  std::string function, file;
  uint64_t line = 0, calls = 0;
  double own_seconds = 0, cumulative_seconds = 0;
  uint32_t workers = 0;  // how many workers' top lists hold it
};

struct JobReports {
  std::string job_dir;
  std::vector<AttemptRow> attempts;   // in the order they finished
  std::vector<ProcessRow> processes;
  std::map<uint32_t, std::vector<PerfSample>> perf;  // by node; empty when not measured
  // The predefined arguments the entry script was given, from the master's
  // log ("mini_batch_size" → "10", "run_invocation_timeout" → "60", …).
  std::map<std::string, std::string> settings;
  std::string result;                 // logs/job_result.txt, "" when missing
  std::vector<std::string> profiles;  // *.prof files under logs/, full paths
  // The functions with the most own time over all workers, most first.
  std::vector<ProfileFunction> profile_top;
};

// Sums the top lists (<profile>.top.tsv text) of several workers: one entry
// per function (name, file, line), most own time first. Lines that are not
// six tab-separated fields with numbers where numbers go are skipped.
std::vector<ProfileFunction> SumProfileTops(const std::vector<std::string>& tsv_texts);

// Reads the reports of `job_dir`. Errors: no processed_mini-batches.csv
// (not a job dir, or a job that has not started), a row that cannot be
// parsed (file:line: what). Missing optional files leave their fields empty.
Result<JobReports> ReadJobReports(const std::string& job_dir);

// The rows of processed_mini-batches.csv at `path` (errors as above).
Result<std::vector<AttemptRow>> ReadAttemptRows(const std::string& path);

// The same rows one at a time, read in blocks: bounded memory whatever the
// file's size. Stops at the first row that cannot be parsed.
Status ForEachAttemptRow(const std::string& path, const std::function<void(AttemptRow&&)>& fn);

// An AttemptRow whose strings are views into the reader's block, valid
// during the call only: what a reader that looks at every row once needs,
// without copying each row's strings (the timeline of a job of 200,000
// attempts).
struct AttemptView {
  uint64_t id = 0;
  uint32_t attempt = 0;
  std::string_view process;
  uint32_t node = 0;
  double start = 0;
  uint64_t total = 0, succeeded = 0;
  double elapsed = 0, cpu = 0, run = 0;
  std::string_view status, category, message;
  bool ok() const { return status == "RUN_DONE"; }
  double end() const { return start + elapsed; }
};

// ForEachAttemptRow with views: the same rows, values and errors. Only the
// columns an AttemptRow has are parsed (not the Mini-batch Detail, most of
// the bytes), in one scan of each block.
Status ForEachAttempt(const std::string& path, const std::function<void(const AttemptView&)>& fn);

// processed_mini-batches.csv counted: its mini-batches by the outcome of
// their last attempt (rows are in the order attempts finished), and their
// items. Streamed; what it keeps is 12 bytes per mini-batch id.
struct MiniBatchCounts {
  uint64_t mini_batches = 0, succeeded = 0, failed = 0;
  uint64_t attempts = 0;
  uint64_t items = 0, items_succeeded = 0, items_failed = 0;
};
Result<MiniBatchCounts> CountMiniBatches(const std::string& path);

// "2026-12-01T03:51:31.123456" (UTC, as IsoTime writes) → epoch seconds;
// false when `text` is not such a time.
bool ParseIsoTime(std::string_view text, double* epoch_seconds);

// A number of a CSV column as the readers take it (strtod's, whole text);
// false when `text` is not one. JobLog reads back what it writes with it.
bool ParseCsvDouble(std::string_view text, double* out);

// The fields of one CSV record starting at `*pos` in `text` (RFC 4180:
// quoted fields may hold commas, doubled quotes and newlines); advances
// `*pos` past the record's line end. Returns false at the end of the text.
bool NextCsvRecord(const std::string& text, size_t* pos, std::vector<std::string>* fields);

// The process number of "process003" (3), or -1.
int ProcessNumber(const std::string& process);

}  // namespace parallelrun

#endif  // PARALLELRUN_REPORT_JOB_REPORTS_H_
