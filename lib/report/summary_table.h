// The table the terminal shows when a job ends: mini-batches and items that
// succeeded, failed, were not processed and were retried, then attempts,
// elapsed time and throughput. Every number is one of JobLog::Totals, so
// the rows add up (succeeded + failed + not processed = total) and agree
// with processed_mini-batches.csv (the last row of each mini-batch).
#ifndef PARALLELRUN_REPORT_SUMMARY_TABLE_H_
#define PARALLELRUN_REPORT_SUMMARY_TABLE_H_

#include <string>
#include <vector>

#include "report/job_log.h"

namespace parallelrun {

// The table's lines, without a prefix or newline.
std::vector<std::string> SummaryTable(const JobLog::Totals& t, double elapsed_seconds);

}  // namespace parallelrun

#endif  // PARALLELRUN_REPORT_SUMMARY_TABLE_H_
