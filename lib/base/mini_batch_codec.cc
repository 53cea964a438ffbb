#include "base/mini_batch_codec.h"

namespace parallelrun {

namespace {

// Smallest encodings, to refuse a count the rest cannot hold.
constexpr size_t kMinItemBytes = 4;      // bytes ""
constexpr size_t kMinKeyValueBytes = 8;  // bytes "", bytes ""

}  // namespace

void EncodeMiniBatch(const MiniBatch& batch, uint32_t attempt, WireWriter* w) {
  EncodeMiniBatchHead(batch, attempt, w);
  w->U32(static_cast<uint32_t>(batch.items.size()));
  for (const std::string& item : batch.items) w->Bytes(item);
}

void EncodeMiniBatchHead(const MiniBatch& batch, uint32_t attempt, WireWriter* w) {
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

void EncodeAttemptResult(const AttemptResult& r, WireWriter* w) {
  w->U64(r.id);
  w->U32(r.attempt);
  w->U8(static_cast<uint8_t>(r.status));
  w->U64(r.total);
  w->U64(r.succeeded);
  w->U64(r.returned);
  w->F64(r.start_time);
  w->F64(r.elapsed_seconds);
  w->F64(r.process_seconds);
  w->F64(r.run_seconds);
  w->U32(r.node);
  w->Bytes(r.process);
  w->Bytes(r.error_category);
  w->Bytes(r.error_message);
  w->Bytes(r.traceback);
}

void ReadAttemptResult(WireFields* f, AttemptResult* r) {
  r->id = f->U64("mini_batch_id");
  r->attempt = f->U32("attempt");
  r->status = static_cast<AttemptStatus>(
      f->Enum("status", static_cast<uint8_t>(AttemptStatus::kLeaseLost), "an attempt status"));
  r->total = f->U64("total");
  r->succeeded = f->U64("succeeded");
  r->returned = f->U64("returned");
  r->start_time = f->F64("start_time");
  r->elapsed_seconds = f->F64("elapsed_seconds");
  r->process_seconds = f->F64("process_seconds");
  r->run_seconds = f->F64("run_seconds");
  r->node = f->U32("node");
  r->process = f->Bytes("process");
  r->error_category = f->Bytes("error_category");
  r->error_message = f->Bytes("error_message");
  r->traceback = f->Bytes("traceback");
}

}  // namespace parallelrun
