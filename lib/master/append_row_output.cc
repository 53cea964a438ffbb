#include "master/append_row_output.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "base/disk.h"
#include "base/job_dir.h"

namespace parallelrun {
namespace {

// Parts are copied through a buffer of this size (a megabyte's zeroed
// pages cost ~1 ms of page faults, more than its larger reads save).
constexpr size_t kCopyBlock = 64 << 10;

std::string MegaBytes(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", bytes / 1048576.0);
  return buf;
}

}  // namespace

AppendRowOutput::AppendRowOutput(Options options) : options_(std::move(options)) {}

Status AppendRowOutput::Prepare() { return CreateFolders(options_.parts_dir, "append_row parts folder"); }

std::string AppendRowOutput::PartPath(const std::string& parts_dir, MiniBatchId id,
                                      uint32_t attempt) {
  return parts_dir + "/" + AppendRowPartName(id, attempt);
}

Status AppendRowOutput::WriteChunk(MiniBatchId id, uint32_t attempt, std::string_view data,
                                   bool last) {
  std::string part = PartPath(id, attempt);
  std::string incoming = part + ".incoming";
  UniqueFd fd(open(incoming.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (fd.get() < 0) return Status::Infrastructure(ErrnoMessage(incoming, errno));
  if (!WriteAll(fd.get(), data.data(), data.size())) {
    return Status::Infrastructure(ErrnoMessage(incoming, errno));
  }
  if (fd.Close() != 0) return Status::Infrastructure(ErrnoMessage(incoming, errno));
  if (last && rename(incoming.c_str(), part.c_str()) != 0) {
    return Status::Infrastructure(ErrnoMessage(part, errno));
  }
  return Status::Ok();
}

bool AppendRowOutput::Accept(MiniBatchId id, uint32_t attempt) {
  if (id >= accepted_.size()) accepted_.resize(id + 1, 0);
  if (accepted_[id] != 0) {
    if (accepted_[id] != attempt) unlink(PartPath(id, attempt).c_str());
    return false;
  }
  accepted_[id] = attempt;
  return true;
}

void AppendRowOutput::Discard(MiniBatchId id, uint32_t attempt) {
  if (accepted(id) == attempt) return;  // never delete the accepted rows
  unlink(PartPath(id, attempt).c_str());
}

uint64_t AppendRowOutput::PartBytes(MiniBatchId id, uint32_t attempt) const {
  struct stat st;
  if (stat(PartPath(id, attempt).c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

Status AppendRowOutput::RestoreParts(
    const std::vector<std::tuple<MiniBatchId, uint32_t, uint64_t>>& accepted) {
  uint64_t total = 0;
  bool missing = false;
  for (const auto& [id, attempt, bytes] : accepted) {
    total += bytes;
    struct stat st;
    if (stat(PartPath(id, attempt).c_str(), &st) != 0) missing = true;
  }
  if (!missing) return Status::Ok();
  const std::string output = final_path();
  UniqueFd in(open(output.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) {
    return Status::Usage("the rows of the earlier runs are gone: " + ErrnoMessage(output, errno));
  }
  struct stat st;
  if (fstat(in.get(), &st) != 0) return Status::Infrastructure(ErrnoMessage(output, errno));
  if (static_cast<uint64_t>(st.st_size) != total) {
    return Status::Usage(fmt::format(
        "{} has {} bytes, but the earlier runs wrote {}: it changed since, so its rows cannot be "
        "kept; move it away and resume with --force",
        output, st.st_size, total));
  }
  std::vector<char> buf(kCopyBlock);
  for (const auto& [id, attempt, bytes] : accepted) {
    std::string part = PartPath(id, attempt);
    std::string temp = part + ".restoring";
    UniqueFd out(open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!out.valid()) return Status::Infrastructure(ErrnoMessage(temp, errno));
    uint64_t left = bytes;
    while (left > 0) {
      ssize_t r = read(in.get(), buf.data(), std::min<uint64_t>(left, buf.size()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return Status::Infrastructure(ErrnoMessage(output, r < 0 ? errno : EIO));
      if (!WriteAll(out.get(), buf.data(), static_cast<size_t>(r))) {
        return Status::Infrastructure(ErrnoMessage(temp, errno));
      }
      left -= static_cast<uint64_t>(r);
    }
    if (out.Close() != 0 || rename(temp.c_str(), part.c_str()) != 0) {
      return Status::Infrastructure(ErrnoMessage(part, errno));
    }
  }
  return Status::Ok();
}

Result<AppendRowOutput::Summary> AppendRowOutput::Finish(
    const std::function<void(const std::string&)>& log) {
  auto start = std::chrono::steady_clock::now();
  Summary summary;
  summary.path = final_path();
  const std::string partial = partial_path();

  uint64_t parts = 0, total = 0;
  for (MiniBatchId id = 0; id < accepted_.size(); id++) {
    if (!accepted_[id]) continue;
    parts++;
    struct stat st;
    if (stat(PartPath(id, accepted_[id]).c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_size);
  }
  if (log) {
    log("Concatenating the rows of " + std::to_string(parts) + " mini-batches (" + MegaBytes(total) +
        " MB) into " + summary.path + ".");
  }

  UniqueFd out(open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (out.get() < 0) return Status::Infrastructure(ErrnoMessage(partial, errno));
  auto fail = [&](Status s) {
    out.Close();
    unlink(partial.c_str());
    return s;
  };
  std::vector<char> buf(kCopyBlock);
  for (MiniBatchId id = 0; id < accepted_.size(); id++) {
    if (!accepted_[id]) continue;
    std::string part = PartPath(id, accepted_[id]);
    UniqueFd in(open(part.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.get() < 0) {
      return fail(Status::Infrastructure("rows of mini-batch " + std::to_string(id) + " (attempt " +
                                         std::to_string(accepted_[id]) +
                                         ") are missing: " + ErrnoMessage(part, errno)));
    }
    posix_fadvise(in.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    for (;;) {
      ssize_t r = read(in.get(), buf.data(), buf.size());
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return fail(Status::Infrastructure(ErrnoMessage(part, errno)));
      if (r == 0) break;
      if (!WriteAll(out.get(), buf.data(), static_cast<size_t>(r))) {
        return fail(Status::Infrastructure(ErrnoMessage(partial, errno)));
      }
      summary.bytes += static_cast<uint64_t>(r);
    }
    summary.mini_batches++;
  }
  if (fsync(out.get()) != 0) return fail(Status::Infrastructure(ErrnoMessage(partial, errno)));
  if (out.Close() != 0) return fail(Status::Infrastructure(ErrnoMessage(partial, errno)));
  if (rename(partial.c_str(), summary.path.c_str()) != 0) {
    return fail(Status::Infrastructure(ErrnoMessage(summary.path, errno)));
  }
  // The rename itself is durable only once the folder is synced.
  UniqueFd dir(open(options_.output_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) fsync(dir.get());

  Status cleaned = RemoveParts();
  summary.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (log) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.2f", summary.seconds);
    log("Finished concatenating " + std::to_string(summary.mini_batches) + " files (" +
        MegaBytes(summary.bytes) + " MB) in " + seconds + " s.");
    if (!cleaned.ok()) log("Could not remove the part files: " + cleaned.message());
  }
  return summary;
}

Status AppendRowOutput::RemoveParts() {
  DIR* dir = opendir(options_.parts_dir.c_str());
  if (!dir) return Status::Infrastructure(ErrnoMessage(options_.parts_dir, errno));
  std::vector<std::string> names;
  while (struct dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(dir);
  Status status;
  for (const auto& name : names) {
    std::string path = options_.parts_dir + "/" + name;
    if (unlink(path.c_str()) != 0 && status.ok()) status = Status::Infrastructure(ErrnoMessage(path, errno));
  }
  if (rmdir(options_.parts_dir.c_str()) != 0 && status.ok()) {
    status = Status::Infrastructure(ErrnoMessage(options_.parts_dir, errno));
  }
  return status;
}

}  // namespace parallelrun
