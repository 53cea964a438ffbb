#include "report/summary_table.h"

#include <fmt/format.h>

#include "report/progress.h"

namespace parallelrun {

std::vector<std::string> SummaryTable(const JobLog::Totals& t, double elapsed) {
  // Items of mini-batches that never finished are what is left of the total:
  // items_failed counts only finished ones (and those awaiting a retry when
  // the job stopped, which are unprocessed too; see BatchQueue::Counters).
  uint64_t batches_left = t.batches - t.batches_done - t.batches_failed;
  uint64_t items_done = t.items_succeeded + t.items_failed;
  uint64_t items_left = t.items > items_done ? t.items - items_done : 0;
  std::vector<std::string> out;
  auto row = [&out](const char* what, uint64_t batches, const std::string& items) {
    out.push_back(fmt::format("  {:<15}{:>14}{:>12}", what, batches, items));
  };
  out.push_back(fmt::format("{:<17}{:>14}{:>12}", "summary", "mini-batches", "items"));
  row("succeeded", t.batches_done, std::to_string(t.items_succeeded));
  row("failed", t.batches_failed, std::to_string(t.items_failed));
  if (batches_left > 0 || items_left > 0) row("not processed", batches_left, std::to_string(items_left));
  row("total", t.batches, std::to_string(t.items));
  row("retried", t.batches_retried, std::to_string(t.items_retried));
  double rate_b = elapsed > 0 ? static_cast<double>(t.batches_done + t.batches_failed) / elapsed : 0;
  double rate_i = elapsed > 0 ? static_cast<double>(t.items_succeeded) / elapsed : 0;
  out.push_back(fmt::format("  attempts {}, elapsed {}, throughput {:.2f} mini-batches/s, "
                            "{:.2f} items/s",
                            t.attempts, Progress::Duration(elapsed), rate_b, rate_i));
  return out;
}

}  // namespace parallelrun
