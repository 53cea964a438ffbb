#include "base/disk.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace parallelrun {

namespace {

// strerror_r is the GNU one (returns char*) or the XSI one (returns int),
// depending on the feature macros; these pick the text either way.
[[maybe_unused]] const char* StrerrorText(const char* result, const char*) { return result; }
[[maybe_unused]] const char* StrerrorText(int, const char* buffer) { return buffer; }

// The loop of ReadAll and PreadAll: `read_some(at, want, done)` reads up to
// `want` bytes into `at`, `done` bytes being in already.
template <typename ReadSome>
ssize_t Fill(char* buf, size_t n, ReadSome read_some) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = read_some(buf + done, n - done, done);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(done);
}

}  // namespace

std::string ErrnoText(int err) {
  char buffer[256];
  buffer[0] = '\0';
  return StrerrorText(strerror_r(err, buffer, sizeof buffer), buffer);
}

std::string ErrnoMessage(const std::string& path, int err) { return path + ": " + ErrnoText(err); }

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.Release();
  }
  return *this;
}

int UniqueFd::Close() {
  int r = 0;
  if (fd_ >= 0) r = close(fd_);
  fd_ = -1;
  return r;
}

bool WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

ssize_t ReadAll(int fd, char* buf, size_t n) {
  return Fill(buf, n, [fd](char* at, size_t want, size_t) { return read(fd, at, want); });
}

ssize_t PreadAll(int fd, char* buf, size_t n, uint64_t offset) {
  return Fill(buf, n, [fd, offset](char* at, size_t want, size_t done) {
    return pread(fd, at, want, static_cast<off_t>(offset + done));
  });
}

Status CreateFolders(const std::string& path, const std::string& what) {
  std::string prefix = what.empty() ? path : what + " " + path;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    std::string part = path.substr(0, pos);
    if (part.empty()) continue;
    if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::Infrastructure(prefix + ": cannot create folder " + part + ": " +
                                    ErrnoText(errno));
    }
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Status::Infrastructure(prefix + ": " + ErrnoText(errno));
  if (!S_ISDIR(st.st_mode)) return Status::Infrastructure(prefix + ": not a folder");
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& path, const std::string& data,
                           Durability durability) {
  std::string temp = path + ".tmp";
  UniqueFd fd(open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::Infrastructure(ErrnoMessage(temp, errno));
  if (!WriteAll(fd.get(), data.data(), data.size()) ||
      (durability == Durability::kMachineCrash && fsync(fd.get()) != 0)) {
    int err = errno;
    unlink(temp.c_str());
    return Status::Infrastructure(ErrnoMessage(temp, err));
  }
  if (fd.Close() != 0 || rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(temp.c_str());
    return Status::Infrastructure(ErrnoMessage(path, err));
  }
  return Status::Ok();
}

}  // namespace parallelrun
