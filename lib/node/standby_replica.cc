#include "node/standby_replica.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "base/job_dir.h"
#include "base/text.h"

namespace parallelrun {

namespace {

AppendRowTarget PartsTarget(const std::string& job_dir) {
  AppendRowTarget t;
  t.parts_dir = StandbyPartsDir(job_dir);
  return t;
}

}  // namespace

StandbyReplica::StandbyReplica(std::string job_dir)
    : job_dir_(std::move(job_dir)), parts_(PartsTarget(job_dir_)) {}

Status StandbyReplica::Reset() {
  Remove();
  Status made = CreateFolders(StandbyPartsDir(job_dir_), "the standby's copy");
  if (!made.ok()) return made;
  std::string path = StandbyJournalPath(job_dir_);
  journal_ = UniqueFd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644));
  if (!journal_.valid()) return Status::Infrastructure(ErrnoMessage(path, errno));
  return Status::Ok();
}

Status StandbyReplica::AppendJournal(uint64_t offset, std::string_view data) {
  std::string path = StandbyJournalPath(job_dir_);
  if (!journal_.valid()) {
    return Status::Infrastructure(path + ": the copy was not started (no STANDBY before it)");
  }
  if (offset != journal_bytes_) {
    return Status::Infrastructure(fmt::format(
        "{}: a chunk of the journal at byte {} does not follow the copy's {} bytes", path, offset,
        journal_bytes_));
  }
  if (!WriteAll(journal_.get(), data.data(), data.size())) {
    return Status::Infrastructure(ErrnoMessage(path, errno));
  }
  journal_bytes_ += data.size();
  return Status::Ok();
}

Status StandbyReplica::WritePart(MiniBatchId id, uint32_t attempt, std::string_view data,
                                 bool last) {
  if (!journal_.valid()) {
    return Status::Infrastructure(StandbyDir(job_dir_) +
                                  ": a part arrived before the copy was started");
  }
  return parts_.WriteChunk(id, attempt, data, last);
}

void StandbyReplica::Remove() {
  journal_.Close();
  journal_bytes_ = 0;
  std::error_code ec;
  std::filesystem::remove_all(StandbyDir(job_dir_), ec);
}

Status StandbyReplica::Promote(const std::string& job_dir, const std::string& journal,
                               const std::string& parts_dir) {
  std::string copy = StandbyJournalPath(job_dir);
  struct stat st;
  if (stat(copy.c_str(), &st) != 0) {
    return Status::Infrastructure(ErrnoMessage(copy, errno) + " (no copy of the journal)");
  }
  if (rename(copy.c_str(), journal.c_str()) != 0) {
    return Status::Infrastructure(ErrnoMessage(journal, errno));
  }
  std::string parts = StandbyPartsDir(job_dir);
  if (!parts_dir.empty()) {
    Status made = CreateFolders(parts_dir, "the append_row parts folder");
    if (!made.ok()) return made;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(parts, ec)) {
      std::string name = entry.path().filename().string();
      // A part still arriving when the master died was never accepted.
      static constexpr std::string_view kIncoming = ".incoming";
      if (name.size() >= kIncoming.size() &&
          name.compare(name.size() - kIncoming.size(), kIncoming.size(), kIncoming) == 0) {
        continue;
      }
      std::string to = parts_dir + "/" + name;
      if (rename(entry.path().c_str(), to.c_str()) != 0) {
        return Status::Infrastructure(ErrnoMessage(to, errno));
      }
    }
    if (ec) return Status::Infrastructure(parts + ": " + ec.message());
  }
  std::error_code ec;
  std::filesystem::remove_all(StandbyDir(job_dir), ec);
  return Status::Ok();
}

}  // namespace parallelrun
