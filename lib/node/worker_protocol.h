// The agent ⇄ worker protocol: how an agent drives one Python worker process
// over the worker's stdin (agent → worker) and stdout (worker → agent) pipes.
// The worker side is lib/worker_driver.py; keep the two in step.
//
// Transport: the pipes carry frames as defined in wire.h (u32 LE length, u8
// type, payload). The driver moves both pipes to private descriptors before
// it imports the entry script, and points fd 0 at /dev/null and fd 1 at the
// stdout log file, so nothing the user's code prints can enter the protocol.
//
// Version: kWorkerProtocolVersion. The worker speaks first (HELLO with its
// version); the agent answers START with its own, and either side that sees a
// version it does not speak sends ERROR and stops.
//
// Maximum frame: kMaxWorkerFrame bytes (length field). Larger is malformed.
//
// Messages (payload fields in order; see wire.h for encodings):
//
//   worker → agent
//   HELLO 0x01        u32 version, u32 pid, bytes python_version, bytes python_executable
//   INIT_DONE 0x02    u8 ok, f64 seconds, bytes error_category, bytes error_message,
//                     bytes traceback
//   LOADED 0x12       u64 mini_batch_id, u32 attempt, u64 rows — a table mini-batch's
//                     data was read (sent before run() is called), so that the agent can
//                     count its rows should the attempt then die or time out
//   RESULT 0x11       u64 mini_batch_id, u32 attempt, u8 status (AttemptStatus),
//                     u64 total (items given to run(): files, or rows of the DataFrame;
//                     kTotalUnknown when the data could not be read), u64 returned
//                     (len of run()'s value), f64 start_time (epoch s), f64 elapsed_s,
//                     f64 process_s, f64 run_s, bytes error_category, bytes error_message,
//                     bytes traceback
//   SHUTDOWN_DONE 0x21  u8 ok, bytes error_category, bytes error_message, bytes traceback
//   ERROR 0x7f        bytes message — the worker met a protocol error and exits
//
//   agent → worker
//   START 0x03        u32 version, u32 n, then n × (bytes key, bytes value) — the
//                     worker's configuration (see WorkerPool::Config::start_config:
//                     entry_script, argv (repeated), output_action, append_row_dir,
//                     tabular_source, …); the worker then imports the entry script,
//                     runs init() and answers INIT_DONE
//   RUN 0x10          u64 mini_batch_id, u32 attempt, u32 input_index, u8 kind
//                     (MiniBatchKind), u32 k, then k × (bytes key, bytes value) — the
//                     partition's key values, u32 n, then n × bytes item (paths, or
//                     table range descriptors) — queued by the worker and run in order;
//                     the agent keeps a few RUNs in the pipe (prefetch) so a worker
//                     never waits for a round trip
//   SHUTDOWN 0x20     (empty) — after the queued RUNs: call shutdown(), answer
//                     SHUTDOWN_DONE, exit 0
//   ERROR 0x7f        bytes message
//
// append_row (START output_action = append_row): after a successful run() the
// worker writes what it returned to the part file
// AppendRowOutput::PartPath(append_row_dir, id, attempt) — under a temporary
// name, renamed when complete — before it sends RESULT; a failure to write it
// makes the attempt RUN_EXCEPTION (category OutputError).
//
// A RESULT for a RUN comes in the order RUNs were sent, so the agent knows
// when each mini-batch started: when the previous one finished, or when it was
// sent to an idle worker. That is what run_invocation_timeout is measured from.
#ifndef PARALLELRUN_NODE_WORKER_PROTOCOL_H_
#define PARALLELRUN_NODE_WORKER_PROTOCOL_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/mini_batch.h"
#include "base/wire.h"

namespace parallelrun {

// 2: RUN carries the mini-batch kind and partition, RESULT the total, LOADED.
constexpr uint32_t kWorkerProtocolVersion = 2;
constexpr uint32_t kMaxWorkerFrame = 256u << 20;

enum WorkerMessage : uint8_t {
  kWorkerHello = 0x01,
  kWorkerInitDone = 0x02,
  kWorkerStart = 0x03,
  kWorkerRun = 0x10,
  kWorkerResult = 0x11,
  kWorkerLoaded = 0x12,
  kWorkerShutdown = 0x20,
  kWorkerShutdownDone = 0x21,
  kWorkerError = 0x7f,
};

struct WorkerHello {
  uint32_t version = 0;
  uint32_t pid = 0;
  std::string python_version;
  std::string python_executable;
};

struct WorkerInitDone {
  bool ok = false;
  double seconds = 0;
  std::string error_category;
  std::string error_message;
  std::string traceback;
};

// RESULT total when the worker could not count the items (reading failed).
constexpr uint64_t kTotalUnknown = ~uint64_t{0};

struct WorkerLoaded {
  MiniBatchId id = 0;
  uint32_t attempt = 0;
  uint64_t rows = 0;
};

struct WorkerShutdownDone {
  bool ok = false;
  std::string error_category;
  std::string error_message;
  std::string traceback;
};

// Encoders append a whole frame to `out`.
void EncodeStart(const std::vector<std::pair<std::string, std::string>>& config, std::string* out);
void EncodeRun(const MiniBatch& batch, uint32_t attempt, std::string* out);
void EncodeShutdown(std::string* out);

// Decoders return false when the payload is malformed. DecodeResult fills the
// worker-side fields of AttemptResult (not node/process); `total` may be
// kTotalUnknown, which the agent replaces.
bool DecodeHello(const std::string& payload, WorkerHello* out);
bool DecodeInitDone(const std::string& payload, WorkerInitDone* out);
bool DecodeResult(const std::string& payload, AttemptResult* out);
bool DecodeLoaded(const std::string& payload, WorkerLoaded* out);
bool DecodeShutdownDone(const std::string& payload, WorkerShutdownDone* out);

}  // namespace parallelrun

#endif  // PARALLELRUN_NODE_WORKER_PROTOCOL_H_
