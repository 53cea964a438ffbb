#include "base/mini_batch_codec.h"

namespace parallelrun {

namespace {

// Smallest encodings, to refuse a count the rest cannot hold.
constexpr size_t kMinItemBytes = 4;      // bytes ""
constexpr size_t kMinKeyValueBytes = 8;  // bytes "", bytes ""

}  // namespace

void EncodeMiniBatch(const MiniBatch& batch, uint32_t attempt, WireWriter* w) {
  w->U64(batch.id);
  w->U32(attempt);
  w->U32(batch.input);
  w->U8(static_cast<uint8_t>(batch.kind));
  w->U32(static_cast<uint32_t>(batch.partition.size()));
  for (const auto& [key, value] : batch.partition) {
    w->Bytes(key);
    w->Bytes(value);
  }
  w->U64(batch.known_rows);
  w->U32(static_cast<uint32_t>(batch.items.size()));
  for (const std::string& item : batch.items) w->Bytes(item);
}

bool DecodeMiniBatch(std::string_view payload, MiniBatch* batch, uint32_t* attempt,
                     std::string* why) {
  WireFields f(payload);
  batch->id = f.U64("mini_batch_id");
  *attempt = f.U32("attempt");
  batch->input = f.U32("input_index");
  batch->kind = static_cast<MiniBatchKind>(
      f.Enum("kind", static_cast<uint8_t>(MiniBatchKind::kTablePartition), "a mini-batch kind"));
  uint32_t k = f.Count("partition keys", kMinKeyValueBytes);
  batch->partition.clear();
  batch->partition.reserve(k);
  for (uint32_t i = 0; i < k && f.ok(); i++) {
    std::string key = f.Bytes("partition key");
    batch->partition.emplace_back(std::move(key), f.Bytes("partition value"));
  }
  batch->known_rows = f.U64("known_rows");
  uint32_t n = f.Count("items", kMinItemBytes);
  batch->items.clear();
  batch->items.reserve(n);
  for (uint32_t i = 0; i < n && f.ok(); i++) batch->items.push_back(f.Bytes("item"));
  return f.Done(why);
}

}  // namespace parallelrun
