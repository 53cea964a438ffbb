#include "master/job_init_failures.h"

#include <chrono>

#include <fmt/format.h>

namespace parallelrun {

JobInitFailures::JobInitFailures(const Clock& clock, int node_count, int process_count_per_node)
    : clock_(clock), node_count_(node_count), per_node_(process_count_per_node),
      limit_(node_count > 0 && process_count_per_node > 0
                 ? 2 * static_cast<uint64_t>(node_count) * static_cast<uint64_t>(process_count_per_node)
                 : 0) {}

void JobInitFailures::Start() { started_ = clock_.Steady(); }

void JobInitFailures::Failed(uint32_t node, const std::string& process, const std::string& reason) {
  count_++;
  by_node_[node]++;
  // The reason already names the process when the pool wrote it; a peer's
  // empty one still says which process it was.
  last_ = fmt::format("node {}: {}", node, reason.empty() ? process + ": init() failed" : reason);
}

std::optional<JobInitFailures::Stop> JobInitFailures::Exceeded() const {
  if (limit_ == 0 || count_ < limit_) return std::nullopt;
  double elapsed = std::chrono::duration<double>(clock_.Steady() - started_).count();
  if (elapsed <= kGraceSeconds) return std::nullopt;
  std::string nodes;
  for (const auto& [node, n] : by_node_) {
    nodes += fmt::format("{}node {}: {}", nodes.empty() ? "" : ", ", node, n);
  }
  Stop stop;
  stop.reason = fmt::format(
      "init() in the entry script failed {} times over all nodes ({}); a job that has run more "
      "than 2 minutes stops at 2 × node_count × process_count_per_node = 2 × {} × {} = {} init() "
      "failures",
      count_, nodes, node_count_, per_node_, limit_);
  stop.last_failure = last_;
  return stop;
}

}  // namespace parallelrun
