// Journal: the job's memory on disk (DESIGN.md §3). Every state change the
// master makes is appended here before anything irreversible follows from it:
// the mini-batches as they are formed (their composition), every attempt's
// result, the append_row parts accepted, each input's listing finished, each
// node's final report, and the start and end of each run. `resume`, the
// reports after a crash and (later) master failover read it; the CSV reports
// are views that can be rebuilt from it.
//
// File format (version 1), little-endian, base/wire.h primitives:
//
//   header   8 bytes "PRJNL001"
//   record   u32 length L (of the body, 1 ≤ L ≤ kMaxRecord)
//            u32 CRC-32C of the body
//            body: u8 type, then the type's payload (L - 1 bytes)
//
//   type 1  run started   u32 run (1, then +1 per resume), f64 start time (epoch s),
//                          Bytes host, u32 pid, Bytes request (the job's JSON, see
//                          job/), Bytes fingerprints (JSON)
//   type 2  mini-batch    the mini-batch as base/mini_batch_codec.h encodes it
//                          (EncodeMiniBatch, attempt 0): the one encoding the
//                          link and the worker protocol use too
//   type 3  attempt       the AttemptResult as base/mini_batch_codec.h encodes it
//                          (EncodeAttemptResult, as the link's RESULT carries it)
//   type 4  accepted      u64 id, u32 attempt, u64 bytes: append_row took this
//                          attempt's rows (its part file's size)
//   type 5  input listed  u32 input, u64 mini-batches formed so far in the job
//   type 6  node report   u32 node, Bytes host, u32 n, then per process: Bytes process,
//                          u32 pid, f64 start, f64 end, u8 init_ok, f64 init_seconds,
//                          Bytes exit
//   type 7  run ended     u8 status code (Status::Code), Bytes message
//
// Group commit: appends go to a buffer; Commit() writes the buffer with one
// write() — the master commits a few milliseconds after the first append, and
// before anything irreversible (the append_row output). A process killed at
// any moment therefore leaves whole records followed by at most one torn
// record; Sync() adds fdatasync for the end of a run. Reading stops at the
// first record that is incomplete, oversized or fails its checksum — the torn
// tail — and Open() cuts the file there before appending, so a torn tail is
// never misread and never followed by new records.
//
// Not thread-safe: the master's loop owns the writer.
#ifndef PARALLELRUN_MASTER_JOURNAL_H_
#define PARALLELRUN_MASTER_JOURNAL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "base/disk.h"
#include "base/mini_batch.h"
#include "base/wire.h"
#include "link/link.h"
#include "parallelrun/status.h"

namespace parallelrun {

inline constexpr char kJournalMagic[] = "PRJNL001";
inline constexpr size_t kJournalHeaderBytes = 8;
inline constexpr uint32_t kMaxJournalRecord = 64u << 20;

struct JournalRunStarted {
  uint32_t run = 1;
  double start_time = 0;
  std::string host;
  uint32_t pid = 0;
  std::string request;       // what to run again (JSON, written by job/)
  std::string fingerprints;  // what resume compares (JSON, written by job/)
};
struct JournalAccepted {
  MiniBatchId id = 0;
  uint32_t attempt = 0;
  uint64_t bytes = 0;  // the size of its rows: the output file is cut by them on resume
};
struct JournalInputListed {
  uint32_t input = 0;
  uint64_t batches = 0;  // mini-batches formed in the job when this input's listing ended
};
struct JournalRunEnded {
  uint8_t status_code = 0;
  std::string message;
};

using JournalRecord = std::variant<JournalRunStarted, MiniBatch, AttemptResult, JournalAccepted,
                                   JournalInputListed, NodeReport, JournalRunEnded>;

// The body of one record (type byte and payload), and back. Decoding is pure
// and total: any bytes give a record or `why` they are not one.
std::string EncodeJournalRecord(const JournalRecord& record);
// The same, appended to `out`.
void EncodeJournalRecordTo(const JournalRecord& record, WireWriter* out);
// The two records of every mini-batch, encoded from the caller's object: a
// JournalRecord made of one would copy its items (a malloc each), and these
// run for every lease and every attempt.
void EncodeJournalRecordTo(const MiniBatch& batch, WireWriter* out);
void EncodeJournalRecordTo(const AttemptResult& result, WireWriter* out);
bool DecodeJournalRecord(std::string_view body, JournalRecord* out, std::string* why);

struct JournalReadSummary {
  uint64_t records = 0;
  uint64_t valid_bytes = 0;  // header + whole, valid records
  uint64_t file_bytes = 0;
  // Why reading stopped before file_bytes ("record at byte 1234: checksum
  // mismatch"), "" when the file ended cleanly.
  std::string torn_tail;
};

// Reads `path` from the start, calling `visit` with each valid record in
// order. Stops at a torn tail (reported, not an error) or when `visit`
// returns an error (returned). Errors: the file cannot be read, or it is not
// a journal (wrong header).
Result<JournalReadSummary> ReadJournal(const std::string& path,
                                       const std::function<Status(JournalRecord&&)>& visit);

class Journal {
 public:
  // Opens `path` for appending. A missing file is created with its header;
  // an existing one is read to its last valid record and cut there (the
  // summary says what was cut). The descriptor is close-on-exec.
  static Result<std::unique_ptr<Journal>> Open(const std::string& path,
                                               JournalReadSummary* existing = nullptr);

  // Appends a record to the commit buffer.
  void Append(const JournalRecord& record);
  void Append(const MiniBatch& batch);
  void Append(const AttemptResult& result);
  // Writes the buffer with one write(). The first error sticks: later
  // Commit/Sync calls return it. Errors name the path and errno.
  Status Commit();
  // Commit(), then fdatasync.
  Status Sync();

  size_t buffered_bytes() const { return buffer_.size(); }
  const std::string& path() const { return path_; }
  // The file's size: its header and every committed record.
  uint64_t size() const { return size_; }

  // Called after each Commit that wrote something, with the bytes written
  // and where they start in the file: how the master keeps a standby's copy
  // of the journal (master.h) byte for byte. The hook may Append and Commit
  // again (those records follow these).
  using Committed = std::function<void(uint64_t offset, std::string_view bytes)>;
  void SetCommitted(Committed committed) { committed_ = std::move(committed); }

 private:
  Journal(std::string path, UniqueFd fd, uint64_t size)
      : path_(std::move(path)), fd_(std::move(fd)), size_(size) {}

  std::string path_;
  UniqueFd fd_;
  uint64_t size_ = 0;
  Committed committed_;
  WireWriter buffer_;  // whole records not yet written
  Status error_;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_MASTER_JOURNAL_H_
