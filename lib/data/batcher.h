// Batcher: forms mini-batches from a stream of items (DESIGN.md §3), lazily —
// it takes only as many items from its source as the next mini-batch needs,
// so look-ahead stays bounded by what the master asks for. Ids are given in
// order from 0 across every input, so the same data gets the same ids in
// every run; several inputs are batched one after another (reference §5),
// and a mini-batch never mixes two inputs.
#ifndef PARALLELRUN_DATA_BATCHER_H_
#define PARALLELRUN_DATA_BATCHER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/mini_batch.h"

namespace parallelrun {

// Where items come from: FileLister, or a fake in tests.
class ItemSource {
 public:
  virtual ~ItemSource() = default;
  // Appends up to `max` items to `out`; returns how many.
  virtual size_t Take(size_t max, std::vector<std::string>* out) = 0;
  // No item will ever come again.
  virtual bool finished() const = 0;
};

class Batcher {
 public:
  // REQUIRES: items_per_batch ≥ 1.
  explicit Batcher(uint64_t items_per_batch) : size_(items_per_batch) {}

  enum class Outcome {
    kBatch,     // *out holds the next mini-batch
    kWaiting,   // the source has nothing now; ask again when it says so
    kExhausted  // the source is finished and every item is in a mini-batch
  };

  // Forms the next mini-batch of input `input` from `source`. A partial
  // mini-batch is only returned once the source is finished.
  Outcome Next(ItemSource& source, uint32_t input, MiniBatch* out);

  // Mini-batches made so far (= the next id).
  uint64_t made() const { return next_id_; }

 private:
  uint64_t size_;
  MiniBatchId next_id_ = 0;
  std::vector<std::string> partial_;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_DATA_BATCHER_H_
