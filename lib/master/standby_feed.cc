#include "master/standby_feed.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "base/disk.h"
#include "base/text.h"

namespace parallelrun {

Status StandbyFeed::SendFile(const std::string& path,
                             const std::function<void(std::string, bool)>& send) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::Infrastructure(ErrnoMessage(path, errno));
  for (;;) {
    std::string chunk(kMaxCopyChunk, '\0');
    ssize_t n = ReadAll(fd.get(), chunk.data(), chunk.size());
    if (n < 0) return Status::Infrastructure(ErrnoMessage(path, errno));
    chunk.resize(static_cast<size_t>(n));
    bool last = static_cast<size_t>(n) < kMaxCopyChunk;
    sent_ += chunk.size();
    send(std::move(chunk), last);
    if (last) return Status::Ok();
  }
}

Status StandbyFeed::Start(LinkEnd* link, MiniBatchId ids, size_t limit) {
  link_ = link;
  sent_ = 0;
  if (append_row_) {
    for (MiniBatchId id = 0; id < ids; id++) {
      uint32_t attempt = append_row_->accepted(id);
      if (attempt == 0) continue;
      Status s = Part(id, attempt);
      if (!s.ok()) {
        link_ = nullptr;
        return s;
      }
      if (backlog() > limit) {
        link_ = nullptr;
        return Status::Infrastructure(fmt::format(
            "the append_row rows accepted so far are more than {} MiB to copy", limit >> 20));
      }
    }
  }
  // The journal as committed: its file up to size(), which later commits
  // extend (Committed). The file may hold nothing more: Commit is the only
  // writer, and it runs on this loop.
  UniqueFd fd(open(journal_->path().c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    link_ = nullptr;
    return Status::Infrastructure(ErrnoMessage(journal_->path(), errno));
  }
  uint64_t size = journal_->size();
  if (size > limit) {
    link_ = nullptr;
    return Status::Infrastructure(
        fmt::format("the journal is {} MiB, more than {} MiB to copy", size >> 20, limit >> 20));
  }
  for (uint64_t at = 0; at < size;) {
    std::string chunk(std::min<uint64_t>(kMaxCopyChunk, size - at), '\0');
    ssize_t n = PreadAll(fd.get(), chunk.data(), chunk.size(), at);
    if (n != static_cast<ssize_t>(chunk.size())) {
      link_ = nullptr;
      return Status::Infrastructure(n < 0 ? ErrnoMessage(journal_->path(), errno)
                                          : journal_->path() + ": shorter than its records");
    }
    sent_ += chunk.size();
    link_->Send(JournalCopyMsg{at, std::move(chunk)});
    at += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

void StandbyFeed::Committed(uint64_t offset, std::string_view bytes) {
  if (!link_) return;
  for (size_t at = 0; at < bytes.size(); at += kMaxCopyChunk) {
    std::string_view chunk = bytes.substr(at, kMaxCopyChunk);
    sent_ += chunk.size();
    link_->Send(JournalCopyMsg{offset + at, std::string(chunk)});
  }
}

Status StandbyFeed::Part(MiniBatchId id, uint32_t attempt) {
  if (!link_ || !append_row_) return Status::Ok();
  LinkEnd* link = link_;
  return SendFile(append_row_->PartPath(id, attempt), [&](std::string chunk, bool last) {
    link->Send(PartCopyMsg{id, attempt, std::move(chunk), last});
  });
}

}  // namespace parallelrun
