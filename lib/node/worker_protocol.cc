#include "node/worker_protocol.h"

namespace parallelrun {

void EncodeStart(const std::vector<std::pair<std::string, std::string>>& config,
                 std::string* out) {
  WireWriter w;
  w.U32(kWorkerProtocolVersion);
  w.U32(static_cast<uint32_t>(config.size()));
  for (const auto& [key, value] : config) {
    w.Bytes(key);
    w.Bytes(value);
  }
  AppendFrame(kWorkerStart, w.data(), out);
}

void EncodeRun(const MiniBatch& batch, uint32_t attempt, std::string* out) {
  WireWriter w;
  w.U64(batch.id);
  w.U32(attempt);
  w.U32(batch.input);
  w.U8(static_cast<uint8_t>(batch.kind));
  w.U32(static_cast<uint32_t>(batch.partition.size()));
  for (const auto& [key, value] : batch.partition) {
    w.Bytes(key);
    w.Bytes(value);
  }
  w.U32(static_cast<uint32_t>(batch.items.size()));
  for (const std::string& item : batch.items) w.Bytes(item);
  AppendFrame(kWorkerRun, w.data(), out);
}

void EncodeShutdown(std::string* out) { AppendFrame(kWorkerShutdown, {}, out); }

bool DecodeHello(const std::string& payload, WorkerHello* out) {
  WireReader r(payload);
  out->version = r.U32();
  out->pid = r.U32();
  out->python_version = r.Bytes();
  out->python_executable = r.Bytes();
  return r.done();
}

bool DecodeInitDone(const std::string& payload, WorkerInitDone* out) {
  WireReader r(payload);
  out->ok = r.U8() != 0;
  out->seconds = r.F64();
  out->error_category = r.Bytes();
  out->error_message = r.Bytes();
  out->traceback = r.Bytes();
  return r.done();
}

bool DecodeResult(const std::string& payload, AttemptResult* out) {
  WireReader r(payload);
  out->id = r.U64();
  out->attempt = r.U32();
  uint8_t status = r.U8();
  out->total = r.U64();
  out->returned = r.U64();
  out->start_time = r.F64();
  out->elapsed_seconds = r.F64();
  out->process_seconds = r.F64();
  out->run_seconds = r.F64();
  out->error_category = r.Bytes();
  out->error_message = r.Bytes();
  out->traceback = r.Bytes();
  if (status > static_cast<uint8_t>(AttemptStatus::kLeaseLost)) return false;
  out->status = static_cast<AttemptStatus>(status);
  return r.done();
}

bool DecodeLoaded(const std::string& payload, WorkerLoaded* out) {
  WireReader r(payload);
  out->id = r.U64();
  out->attempt = r.U32();
  out->rows = r.U64();
  return r.done();
}

bool DecodeShutdownDone(const std::string& payload, WorkerShutdownDone* out) {
  WireReader r(payload);
  out->ok = r.U8() != 0;
  out->error_category = r.Bytes();
  out->error_message = r.Bytes();
  out->traceback = r.Bytes();
  return r.done();
}

}  // namespace parallelrun
