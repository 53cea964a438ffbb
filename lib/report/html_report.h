// `parallelrun report JOBDIR`: one self-contained HTML page about a job —
// inline SVG charts drawn here, no scripts, no network — made only from the
// job dir's reports (job_reports.h): progress over time per node,
// throughput, each process's busy ratio (Process Seconds / Elapsed Seconds),
// the mini-batch durations (histogram, and over time: the tuning guide's
// degradation check), statuses and failures grouped by message, the slowest
// mini-batches, CPU and memory when logs/sys/perf/ has them, and the
// profiles when there are any.
#ifndef PARALLELRUN_REPORT_HTML_REPORT_H_
#define PARALLELRUN_REPORT_HTML_REPORT_H_

#include <string>

#include "parallelrun/status.h"
#include "report/job_reports.h"

namespace parallelrun {

// The page. Pure: the same reports give the same bytes.
std::string HtmlReport(const JobReports& reports);

// Reads the reports of `job_dir` and writes the page to `path` (whole or
// not at all). Errors: as ReadJobReports, or the file cannot be written.
Status WriteHtmlReport(const std::string& job_dir, const std::string& path);

// "<>&\"'" escaped for HTML text and attribute values.
std::string HtmlEscape(const std::string& text);

}  // namespace parallelrun

#endif  // PARALLELRUN_REPORT_HTML_REPORT_H_
