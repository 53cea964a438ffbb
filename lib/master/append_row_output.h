// AppendRowOutput: the append_row output action (reference §1.2, §3.4) —
// everything run() returned, in one file `<output>/<append_row_file_name>`.
//
// The original appended rows to one temp file per worker process and
// concatenated those in glob order at the end: no order, and a retried or
// twice-leased mini-batch could write its rows twice (reference §6 #9). Here:
//
//  1. The worker writes the rows of each successful attempt to its own part
//     file, PartPath(parts_dir, id, attempt) = "<parts_dir>/<id>.<attempt>.rows",
//     encoded as the original did (worker_driver.py _write_rows). It
//     writes "<that>.tmp-<pid>" first and renames it, so a part file under
//     its final name is always complete; a worker killed mid-write leaves only
//     a .tmp- file, which nothing reads. A part is written (maybe empty) for
//     every successful attempt. Rows that come over the network (a remote
//     agent without a shared folder) go through WriteChunk(), same scheme.
//  2. The master calls Accept(id, attempt) when the BatchQueue records a
//     successful attempt. The first accepted attempt of an id wins; a later
//     one (a duplicate lease that also finished) returns false and its part
//     is deleted. Parts of failed attempts are never accepted (Discard()
//     deletes them early; Finish() deletes whatever is left).
//  3. Finish() concatenates the accepted parts in mini-batch id order into
//     "<output>/.<name>.partial", streaming with a fixed buffer, fsyncs it,
//     renames it to "<output>/<name>" and fsyncs the folder. A crash before
//     the rename leaves the .partial file and the parts, never a half-written
//     final file; a failure removes the .partial file and keeps the parts
//     (the original kept its temp files too). An existing final file is
//     replaced only by the rename, i.e. all at once.
//
// Memory: 4 bytes per mini-batch id for the accepted-attempt index; rows are
// never held. Not thread-safe: the master's loop owns it. Finish() does
// blocking I/O proportional to the output size; call it after the loop ends
// (or from a helper thread).
#ifndef PARALLELRUN_MASTER_APPEND_ROW_OUTPUT_H_
#define PARALLELRUN_MASTER_APPEND_ROW_OUTPUT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "base/mini_batch.h"
#include "parallelrun/status.h"
#include "plan/append_row_target.h"

namespace parallelrun {

class AppendRowOutput {
 public:
  using Options = AppendRowTarget;

  explicit AppendRowOutput(Options options);

  // Creates parts_dir (and its parents). Errors name the folder.
  Status Prepare();

  // The part file of one attempt.
  static std::string PartPath(const std::string& parts_dir, MiniBatchId id, uint32_t attempt);
  std::string PartPath(MiniBatchId id, uint32_t attempt) const {
    return PartPath(options_.parts_dir, id, attempt);
  }

  // Rows that arrive as bytes: appended to "<part>.incoming"; with `last`
  // the part is complete and renamed to its final name. An attempt with no
  // rows sends one empty last chunk.
  Status WriteChunk(MiniBatchId id, uint32_t attempt, std::string_view data, bool last);

  // The attempt succeeded and its result was recorded. Returns true when it
  // is now the mini-batch's accepted attempt, false when another attempt of
  // the same id was accepted before (this attempt's part is then deleted).
  bool Accept(MiniBatchId id, uint32_t attempt);
  // The attempt failed (or was superseded): its part, if any, is deleted.
  void Discard(MiniBatchId id, uint32_t attempt);

  // The size of an attempt's part file (0 when it cannot be read).
  uint64_t PartBytes(MiniBatchId id, uint32_t attempt) const;

  // Resume of a job whose earlier run wrote the output (and removed the
  // parts): cuts the output file back into the part files of `accepted`
  // ((id, attempt, bytes) in id order, as the journal recorded them), so that
  // the next Finish() writes them again with the new mini-batches' rows. Does
  // nothing when every part is still there. Errors: the output is missing or
  // its size is not the parts' sum (it was changed since).
  Status RestoreParts(const std::vector<std::tuple<MiniBatchId, uint32_t, uint64_t>>& accepted);

  // The accepted attempt of `id`, 0 if none.
  uint32_t accepted(MiniBatchId id) const { return id < accepted_.size() ? accepted_[id] : 0; }

  struct Summary {
    std::string path;         // the final file
    uint64_t mini_batches = 0;  // accepted parts concatenated
    uint64_t bytes = 0;
    double seconds = 0;
  };
  // Writes the final file as described above. `log` (may be empty) gets a
  // line before and after, as the original logged them. Errors: a missing
  // accepted part ("rows of mini-batch 17 (attempt 2) are missing: …"), any
  // I/O error; both name the file.
  Result<Summary> Finish(const std::function<void(const std::string&)>& log = {});

  const Options& options() const { return options_; }
  std::string final_path() const { return options_.output_dir + "/" + options_.file_name; }
  std::string partial_path() const { return options_.output_dir + "/." + options_.file_name + ".partial"; }

 private:
  Status RemoveParts();

  const Options options_;
  std::vector<uint32_t> accepted_;  // by id: the accepted attempt, 0 = none
};

}  // namespace parallelrun

#endif  // PARALLELRUN_MASTER_APPEND_ROW_OUTPUT_H_
