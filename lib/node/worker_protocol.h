// The agent ⇄ worker protocol: how an agent drives one Python worker process
// over the worker's stdin (agent → worker) and stdout (worker → agent) pipes.
// The worker side is lib/node/worker_driver.py; keep the two in step.
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
//   INIT_DONE 0x02    u8 ok (0|1), f64 seconds, bytes error_category, bytes error_message,
//                     bytes traceback
//   LOADED 0x12       u64 mini_batch_id, u32 attempt, u64 rows — a table mini-batch's
//                     data was read (sent before run() is called), so that the agent can
//                     count its rows should the attempt then die or time out
//   RESULT 0x11       u64 mini_batch_id, u32 attempt, u8 status (AttemptStatus 0–6),
//                     u64 total (items given to run(): files, or rows of the DataFrame;
//                     kTotalUnknown when the data could not be read), u64 returned
//                     (len of run()'s value), f64 start_time (epoch s), f64 elapsed_s,
//                     f64 process_s, f64 run_s, bytes error_category, bytes error_message,
//                     bytes traceback
//   SHUTDOWN_DONE 0x21  u8 ok (0|1), bytes error_category, bytes error_message,
//                     bytes traceback
//   ERROR 0x7f        bytes message — the worker met a protocol error and exits
//
//   agent → worker
//   START 0x03        u32 version, then the WorkerStart below, its fields in this
//                     order: bytes entry_script, bytes code_dir, bytes output_dir,
//                     bytes logging_level, u32 n, n × bytes argv, u8 append_row (0|1),
//                     bytes append_row_dir (only when append_row is 1), u8 tabular
//                     (0|1), u8 partitioned (0|1), bytes process_name, bytes node_id,
//                     bytes stdout_log, bytes error_log, bytes entry_log, bytes log_dir,
//                     u8 nice (0–20), bytes profiling_module ("", "cProfile",
//                     "profile"), bytes profile_path, u8 gpu (0|1), bytes
//                     cuda_visible_devices (only when gpu is 1).
//                     The layout is fixed by the version: the driver refuses a START
//                     that ends early (a field missing) or has bytes left over (a
//                     field it does not know), naming the field and the offset. The
//                     worker then imports the entry script, runs init() and answers
//                     INIT_DONE. Before that it applies what START says of the
//                     process itself, so that it holds however the worker was
//                     started: the niceness (raised to `nice`, never lowered, as
//                     the original's os.nice), CUDA_VISIBLE_DEVICES (set when gpu
//                     is 1, left as inherited otherwise), and, with a profiling
//                     module, a profiler around init(), every run() and shutdown()
//                     whose stats go to profile_path when the worker ends normally
//   RUN 0x10          the mini-batch and its attempt: the fields before the items
//                     as base/mini_batch_codec.h encodes them (u64 mini_batch_id,
//                     u32 attempt, u32 input_index, u8 kind, partition, u64
//                     known_rows), then u32 n (the number of items), u8 joined
//                     (0|1), and
//                       joined 1: bytes items — the n items with one NUL byte
//                                 between each ("" when n is 0); sent whenever no
//                                 item holds a NUL, which no path can (the kernel
//                                 ends names there), so the driver decodes a whole
//                                 mini-batch with one decode() and one split()
//                       joined 0: n × bytes item — only when an item holds a NUL
//                     The block must split into exactly n items, and joined 0 is
//                     refused when no item holds a NUL (one encoding per
//                     mini-batch). Queued by the worker and run in order; the agent
//                     keeps a few RUNs in the pipe (prefetch) so a worker never
//                     waits for a round trip
//   SHUTDOWN 0x20     (empty) — after the queued RUNs: call shutdown(), answer
//                     SHUTDOWN_DONE, exit 0
//   ERROR 0x7f        bytes message
//
// Decoding is strict on both sides: a payload that ends inside a field, has
// bytes left over, a bool other than 0 or 1, a status or kind out of range is
// malformed, with a reason naming the message, the field and its offset
// ("RESULT: status at byte 12: 9 is not an attempt status"); the agent stops
// the worker and fails its mini-batch with that reason, the driver answers
// ERROR with it.
//
// Python modules: the driver imports lib/node/worker_tabular.py (tables,
// partitions' mini_batch_context) from where it was itself loaded from
// (node/python_locator.h DriverArgs); no code travels in the protocol.
//
// append_row (START append_row = 1): after a successful run() the worker
// writes what it returned to the part file
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
#include <optional>
#include <string>
#include <vector>

#include "base/mini_batch.h"
#include "base/wire.h"

namespace parallelrun {

// 2: RUN carries the mini-batch kind and partition, RESULT the total, LOADED.
// 3: RUN is the link's mini-batch encoding (known_rows added); START is a
// fixed layout (WorkerStart) instead of key/value pairs; worker_tabular.py is
// no longer sent in it.
// 4: START ends with nice, profiling_module, profile_path and the GPU.
// 5: RUN's items are one NUL-separated block (joined), not one field each.
constexpr uint32_t kWorkerProtocolVersion = 5;
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

// START's configuration, in the order it is encoded. job.cc fills what every
// worker of the job shares; the pool fills the rest for each process.
struct WorkerStart {
  std::string entry_script;
  std::string code_dir;                       // first on sys.path; "" = none
  std::string output_dir;                     // AZUREML_BI_OUTPUT_PATH, EntryScript.output_dir
  std::string logging_level;                  // "INFO", "DEBUG", …
  std::vector<std::string> argv;              // the entry script's sys.argv[1:]
  std::optional<std::string> append_row_dir;  // set: output_action append_row, parts go here
  bool tabular = false;      // table input: init() imports pandas and worker_tabular
  bool partitioned = false;  // partitions: run() may take worker_tabular's mini_batch_context
  // Per process.
  std::string process_name;  // "process003"
  std::string node_id;       // the node's rank
  std::string stdout_log;    // the user's stdout goes here
  std::string error_log;     // run()/init() failures with their tracebacks
  std::string entry_log;     // EntryScript().logger's file
  std::string log_dir;       // EntryScript().log_dir
  int nice = 0;              // run_settings nice: the niceness the worker raises itself to
  std::string profiling_module;  // "", "cProfile" or "profile" (job-wide)
  std::string profile_path;      // where the profile goes; "" without profiling_module
  // The worker's GPU (node/gpu_slots.h): its CUDA_VISIBLE_DEVICES, or none
  // (the variable is left as the worker inherited it).
  std::optional<std::string> cuda_visible_devices;
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
void EncodeStart(const WorkerStart& start, std::string* out);
void EncodeRun(const MiniBatch& batch, uint32_t attempt, std::string* out);
void EncodeShutdown(std::string* out);

// Decoders of what a worker sends. False, with *why naming the message, the
// field and its offset, when the payload is malformed. DecodeResult fills the
// worker-side fields of AttemptResult (not node/process); `total` may be
// kTotalUnknown, which the agent replaces.
bool DecodeHello(const std::string& payload, WorkerHello* out, std::string* why);
bool DecodeInitDone(const std::string& payload, WorkerInitDone* out, std::string* why);
bool DecodeResult(const std::string& payload, AttemptResult* out, std::string* why);
bool DecodeLoaded(const std::string& payload, WorkerLoaded* out, std::string* why);
bool DecodeShutdownDone(const std::string& payload, WorkerShutdownDone* out, std::string* why);
// An ERROR's message (from either side).
bool DecodeError(const std::string& payload, std::string* message, std::string* why);

}  // namespace parallelrun

#endif  // PARALLELRUN_NODE_WORKER_PROTOCOL_H_
