#include "data/batcher.h"

namespace parallelrun {

Batcher::Outcome Batcher::Next(ItemSource& source, uint32_t input, MiniBatch* out) {
  while (partial_.size() < size_) {
    size_t want = static_cast<size_t>(size_ - partial_.size());
    if (source.Take(want, &partial_) == 0) {
      if (!source.finished()) return Outcome::kWaiting;
      break;
    }
  }
  if (partial_.empty()) return Outcome::kExhausted;
  out->id = next_id_++;
  out->input = input;
  out->items = std::move(partial_);
  partial_.clear();
  return Outcome::kBatch;
}

}  // namespace parallelrun
