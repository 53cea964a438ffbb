// StandbyFeed: what the master sends its standby — an agent whose node has a
// job dir of its own and that takes the master role if this master's process
// dies (job/failover.h, "without shared storage") — so that the standby's
// copy holds, at every moment, a prefix of the master's journal and every
// append_row part that prefix accepts.
//
// Order on the one link (TCP keeps it):
//   Start:   every part accepted so far (PartCopy chunks), then the journal
//            from byte 0 to its committed size (JournalCopy chunks, the
//            first at offset 0: the standby starts its copy anew).
//   Then:    an accepted part (Part) before the journal records its
//            acceptance (the master calls Part before Record), and each
//            commit's bytes as the journal wrote them (Committed).
// So a journal record the standby holds never names a part it lacks; a part
// it holds whose record never came is left over, as after a crash, and the
// new master deletes it.
//
// Memory: the copies queue on the link. backlog() tells the master when the
// standby falls behind (it then drops it: master.cc); Start refuses a copy
// larger than `limit` to begin with.
//
// Not thread-safe: the master's loop owns it.
#ifndef PARALLELRUN_MASTER_STANDBY_FEED_H_
#define PARALLELRUN_MASTER_STANDBY_FEED_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "base/mini_batch.h"
#include "link/link.h"
#include "master/append_row_output.h"
#include "master/journal.h"
#include "parallelrun/status.h"

namespace parallelrun {

class StandbyFeed {
 public:
  // `journal` and `append_row` (null when the output is not append_row) are
  // the master's and outlive this.
  StandbyFeed(const Journal* journal, const AppendRowOutput* append_row)
      : journal_(journal), append_row_(append_row) {}

  // Starts feeding `link` (not owned; until Stop): the parts accepted among
  // ids below `ids`, then the journal as committed so far. Errors: a file
  // cannot be read, or the copy would exceed `limit` bytes (then nothing
  // more is sent, and the caller drops the standby).
  Status Start(LinkEnd* link, MiniBatchId ids, size_t limit);
  void Stop() { link_ = nullptr; }
  bool active() const { return link_ != nullptr; }

  // The journal wrote `bytes` at `offset` (Journal::Committed).
  void Committed(uint64_t offset, std::string_view bytes);
  // The master accepted this attempt's part: its bytes go now, before the
  // commit that records it. Errors: the part cannot be read.
  Status Part(MiniBatchId id, uint32_t attempt);

  // Bytes queued on the standby's link and not yet sent.
  size_t backlog() const { return link_ ? link_->queued_bytes() : 0; }
  uint64_t sent_bytes() const { return sent_; }

 private:
  // Sends `path`'s bytes in chunks through `send(chunk, last)`.
  Status SendFile(const std::string& path,
                  const std::function<void(std::string, bool)>& send);

  const Journal* journal_;
  const AppendRowOutput* append_row_;
  LinkEnd* link_ = nullptr;
  uint64_t sent_ = 0;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_MASTER_STANDBY_FEED_H_
