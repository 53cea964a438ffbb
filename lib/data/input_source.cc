#include "data/input_source.h"

#include <utility>

namespace parallelrun {

std::unique_ptr<InputSource> InputSource::Open(const InputPlan& plan, const Options& options,
                                               std::function<void()> notify) {
  if (plan.partition_by_columns && !options.partition_keys.empty()) {
    return OpenColumnPartitionBatches(plan, options, std::move(notify));
  }
  if (plan.partition_format && !options.partition_keys.empty()) {
    return OpenPartitionBatches(plan, options, std::move(notify));
  }
  if (plan.kind == InputPlan::Kind::kTable) {
    return OpenTableBatches(plan, options, std::move(notify));
  }
  return OpenFileBatches(plan, options, std::move(notify));
}

}  // namespace parallelrun
