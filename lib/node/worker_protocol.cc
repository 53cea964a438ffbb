#include "node/worker_protocol.h"

#include <algorithm>

#include "base/mini_batch_codec.h"

namespace parallelrun {

void EncodeStart(const WorkerStart& start, std::string* out) {
  WireWriter w;
  w.U32(kWorkerProtocolVersion);
  w.Bytes(start.entry_script);
  w.Bytes(start.code_dir);
  w.Bytes(start.output_dir);
  w.Bytes(start.logging_level);
  w.U32(static_cast<uint32_t>(start.argv.size()));
  for (const std::string& a : start.argv) w.Bytes(a);
  w.U8(start.append_row_dir ? 1 : 0);
  if (start.append_row_dir) w.Bytes(*start.append_row_dir);
  w.U8(start.tabular ? 1 : 0);
  w.U8(start.partitioned ? 1 : 0);
  w.Bytes(start.process_name);
  w.Bytes(start.node_id);
  w.Bytes(start.stdout_log);
  w.Bytes(start.error_log);
  w.Bytes(start.entry_log);
  w.Bytes(start.log_dir);
  w.U8(static_cast<uint8_t>(start.nice));
  w.Bytes(start.profiling_module);
  w.Bytes(start.profile_path);
  w.U8(start.cuda_visible_devices ? 1 : 0);
  if (start.cuda_visible_devices) w.Bytes(*start.cuda_visible_devices);
  AppendFrame(kWorkerStart, w.data(), out);
}

void EncodeRun(const MiniBatch& batch, uint32_t attempt, std::string* out) {
  // The frame in one buffer, sized once: its header first, with the length
  // patched in at the end; the items go straight in (as AppendFrame of the
  // payload would lay them out, without the copies of the block and payload).
  size_t items_bytes = 0;
  bool joined = true;
  for (const std::string& item : batch.items) {
    items_bytes += item.size();
    joined = joined && item.find('\0') == std::string::npos;
  }
  size_t partition_bytes = 0;
  for (const auto& [key, value] : batch.partition) partition_bytes += 8 + key.size() + value.size();
  WireWriter w;
  w.Reserve(64 + partition_bytes + items_bytes + 4 * batch.items.size());
  w.U32(0);  // the frame's length, patched below
  w.U8(kWorkerRun);
  EncodeMiniBatchHead(batch, attempt, &w);
  w.U32(static_cast<uint32_t>(batch.items.size()));
  w.U8(joined ? 1 : 0);
  if (joined) {
    size_t size = batch.items.empty() ? 0 : batch.items.size() - 1;
    w.U32(static_cast<uint32_t>(size + items_bytes));
    for (size_t i = 0; i < batch.items.size(); i++) {
      if (i > 0) w.U8(0);
      w.Raw(batch.items[i]);
    }
  } else {
    for (const std::string& item : batch.items) w.Bytes(item);
  }
  w.PatchU32(0, static_cast<uint32_t>(w.size() - 4));
  if (out->empty()) {
    *out = w.Take();
  } else {
    out->append(w.data());
  }
}

void EncodeShutdown(std::string* out) { AppendFrame(kWorkerShutdown, {}, out); }

bool DecodeHello(const std::string& payload, WorkerHello* out, std::string* why) {
  WireFields f(payload);
  out->version = f.U32("version");
  out->pid = f.U32("pid");
  out->python_version = f.Bytes("python_version");
  out->python_executable = f.Bytes("python_executable");
  return f.Done("HELLO", why);
}

bool DecodeInitDone(const std::string& payload, WorkerInitDone* out, std::string* why) {
  WireFields f(payload);
  out->ok = f.Bool("ok");
  out->seconds = f.F64("seconds");
  out->error_category = f.Bytes("error_category");
  out->error_message = f.Bytes("error_message");
  out->traceback = f.Bytes("traceback");
  return f.Done("INIT_DONE", why);
}

bool DecodeResult(const std::string& payload, AttemptResult* out, std::string* why) {
  WireFields f(payload);
  out->id = f.U64("mini_batch_id");
  out->attempt = f.U32("attempt");
  out->status = static_cast<AttemptStatus>(
      f.Enum("status", static_cast<uint8_t>(AttemptStatus::kLeaseLost), "an attempt status"));
  out->total = f.U64("total");
  out->returned = f.U64("returned");
  out->start_time = f.F64("start_time");
  out->elapsed_seconds = f.F64("elapsed_seconds");
  out->process_seconds = f.F64("process_seconds");
  out->run_seconds = f.F64("run_seconds");
  out->error_category = f.Bytes("error_category");
  out->error_message = f.Bytes("error_message");
  out->traceback = f.Bytes("traceback");
  return f.Done("RESULT", why);
}

bool DecodeLoaded(const std::string& payload, WorkerLoaded* out, std::string* why) {
  WireFields f(payload);
  out->id = f.U64("mini_batch_id");
  out->attempt = f.U32("attempt");
  out->rows = f.U64("rows");
  return f.Done("LOADED", why);
}

bool DecodeShutdownDone(const std::string& payload, WorkerShutdownDone* out, std::string* why) {
  WireFields f(payload);
  out->ok = f.Bool("ok");
  out->error_category = f.Bytes("error_category");
  out->error_message = f.Bytes("error_message");
  out->traceback = f.Bytes("traceback");
  return f.Done("SHUTDOWN_DONE", why);
}

bool DecodeError(const std::string& payload, std::string* message, std::string* why) {
  WireFields f(payload);
  *message = f.Bytes("message");
  return f.Done("ERROR", why);
}

}  // namespace parallelrun
