// StandbyReplica: a standby node's copy of the master's journal and of the
// append_row parts it accepted (master/standby_feed.h sends them; link.h,
// JournalCopy and PartCopy), kept in StandbyDir(job_dir) (base/job_dir.h)
// apart from the node's own files until the node takes the master role
// (job/failover.h), when Promote moves it into place.
//
// The copy is a prefix of the master's journal, byte for byte: a chunk must
// start where the copy ends (a gap or an overlap is an error, and the node
// withdraws as standby). Parts are written as AppendRowOutput::WriteChunk
// writes the parts that arrive from agents: under a temporary name until the
// last chunk, then renamed.
//
// Not thread-safe: the agent's loop owns it.
#ifndef PARALLELRUN_NODE_STANDBY_REPLICA_H_
#define PARALLELRUN_NODE_STANDBY_REPLICA_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "base/disk.h"
#include "base/mini_batch.h"
#include "master/append_row_output.h"
#include "parallelrun/status.h"

namespace parallelrun {

class StandbyReplica {
 public:
  explicit StandbyReplica(std::string job_dir);

  // Starts an empty copy: removes any earlier one and creates the folders.
  // Errors name the folder.
  Status Reset();
  // Appends a chunk of the journal; `offset` must be the copy's size.
  Status AppendJournal(uint64_t offset, std::string_view data);
  Status WritePart(MiniBatchId id, uint32_t attempt, std::string_view data, bool last);
  // Deletes the copy (the job ended, or another node stands by now).
  void Remove();
  uint64_t journal_bytes() const { return journal_bytes_; }

  // Moves a copy in `job_dir` into place: its journal becomes `journal` (the
  // job dir's, replacing any), its whole parts go to `parts_dir` (when not
  // empty), and the copy's folder is removed. Errors: there is no copy, or
  // a rename fails; both name the path.
  static Status Promote(const std::string& job_dir, const std::string& journal,
                        const std::string& parts_dir);

 private:
  std::string job_dir_;
  UniqueFd journal_;
  uint64_t journal_bytes_ = 0;
  AppendRowOutput parts_;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_NODE_STANDBY_REPLICA_H_
