#include "batcher.h"

#include <fmt/format.h>

#include "table_source.h"

namespace parallelrun {

std::string ItemLabel(const MiniBatch& batch, size_t i) {
  const std::string& item = batch.items[i];
  if (!IsTabular(batch.kind)) return item;
  TableRange r;
  if (!DecodeTableRange(item, &r)) return "(a table range that does not decode)";
  if (r.whole_file) return r.path;
  if (r.options.format == TableFormat::kParquet) {
    return fmt::format("{} (rows {}-{})", r.path, r.row_begin, r.row_end - 1);
  }
  return fmt::format("{} (bytes {}-{})", r.path, r.offset, r.offset + r.length - 1);
}

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
