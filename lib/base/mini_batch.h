// The unit of scheduling and what one try of it produced. These plain structs
// cross every boundary of DESIGN.md §3: the batcher makes MiniBatches, the
// BatchQueue leases them, the link carries them to an agent, a worker runs
// them, and AttemptResults flow back the same way.
#ifndef PARALLELRUN_BASE_MINI_BATCH_H_
#define PARALLELRUN_BASE_MINI_BATCH_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace parallelrun {

using MiniBatchId = uint64_t;

// What a mini-batch's items are, and so what run() gets (reference §3.2).
enum class MiniBatchKind : uint8_t {
  kFiles = 0,           // paths; run() gets the list of paths
  kTableRanges = 1,     // table range descriptors (EncodeTableRange); run() gets one DataFrame
  kFilePartition = 2,   // the paths of one partition; run(list, mini_batch_context)
  kTablePartition = 3,  // descriptors of one partition's data; run(DataFrame, mini_batch_context)
};

// True for the kinds whose items are rows of tables.
inline bool IsTabular(MiniBatchKind k) {
  return k == MiniBatchKind::kTableRanges || k == MiniBatchKind::kTablePartition;
}

struct MiniBatch {
  MiniBatchId id = 0;    // stable: the same data gets the same id in every run
  uint32_t input = 0;    // index into the job's input_data list
  MiniBatchKind kind = MiniBatchKind::kFiles;
  // Files: paths (bytes exactly as on disk). Tables: one EncodeTableRange
  // descriptor per piece of data (a range of a file, or a whole file).
  std::vector<std::string> items;
  // A partition's key values, in partition_keys order (empty otherwise).
  std::vector<std::pair<std::string, std::string>> partition;
  // Tables: the rows, when known before reading (Parquet row groups, a
  // shuffle's spill files); 0 when only the worker can count them (CSV,
  // JSON Lines). Unused for files.
  uint64_t known_rows = 0;

  // The items counted against error_threshold as far as known before the
  // run: files, or rows (0 while unknown; the attempt reports the real count).
  uint64_t ItemCount() const { return IsTabular(kind) ? known_rows : items.size(); }
};

// How one attempt ended. The names are the Status column of
// processed_mini-batches.csv (reference §4.2, §4.5).
enum class AttemptStatus : uint8_t {
  kRunDone = 0,         // RUN_DONE: run() returned a list/DataFrame
  kRunException = 1,    // RUN_EXCEPTION: run() raised
  kRunTimeout = 2,      // RUN_TIMEOUT: run() exceeded run_invocation_timeout
  kInvalidReturn = 3,   // RUN_INVALID_RETURN: run() returned None or a non-list
  kProcessDied = 4,     // PROCESS_DIED: the worker exited or was killed mid-batch
  kInterrupted = 5,     // INTERRUPTED: the job was stopped while this ran
  kLeaseLost = 6,       // LEASE_LOST: the agent running it went away
};

const char* AttemptStatusName(AttemptStatus s);

// True when the attempt counts as a failure of the mini-batch (it is retried
// while tries remain). kRunDone with fewer items than given is a success of the
// attempt; its missing items only feed error_threshold (reference §1.2).
inline bool AttemptFailed(AttemptStatus s) { return s != AttemptStatus::kRunDone; }

struct AttemptResult {
  MiniBatchId id = 0;
  uint32_t attempt = 0;       // 1 for the first try ("Picked Count")
  AttemptStatus status = AttemptStatus::kRunDone;
  uint64_t total = 0;         // items given: files, or rows of a table mini-batch
  uint64_t succeeded = 0;     // len(run()) capped at total; 0 unless kRunDone
  uint64_t returned = 0;      // len(run()) uncapped (for the "more than given" warning)
  double start_time = 0;      // seconds since the Unix epoch, when the worker began
  double elapsed_seconds = 0; // wall time seen by the worker, incl. overhead
  double process_seconds = 0; // CPU time of the worker process during it
  double run_seconds = 0;     // time inside run()
  uint32_t node = 0;
  std::string process;        // "process003"
  std::string error_category; // exception class, "Timeout", "Signal", …
  std::string error_message;  // one line
  std::string traceback;      // full text, may be long
};

}  // namespace parallelrun

#endif  // PARALLELRUN_BASE_MINI_BATCH_H_
