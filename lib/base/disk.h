// Small, careful file-system calls that several stages share: errno as text,
// an owned descriptor, whole reads and writes, folders made with their
// parents, and a file replaced only complete. Every descriptor opened here is
// close-on-exec, so that worker processes never inherit one. Safe on any
// thread.
#ifndef PARALLELRUN_BASE_DISK_H_
#define PARALLELRUN_BASE_DISK_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "parallelrun/status.h"

namespace parallelrun {

// strerror(err), thread-safe.
std::string ErrnoText(int err);
// "<path>: <strerror(err)>".
std::string ErrnoMessage(const std::string& path, int err);

// An owned file descriptor, closed when it goes out of scope.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() { Close(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes now; returns close()'s result (0 when there was nothing to close).
  int Close();

 private:
  int fd_;
};

// Writes all `n` bytes (retrying short writes and EINTR). False with errno
// set on failure.
bool WriteAll(int fd, const char* data, size_t n);

// Reads until `n` bytes or the end of the file (retrying short reads and
// EINTR). Returns the bytes read — fewer than `n` only at the end — or -1
// with errno set.
ssize_t ReadAll(int fd, char* buf, size_t n);

// ReadAll at `offset`, with pread: the descriptor's position does not move.
ssize_t PreadAll(int fd, char* buf, size_t n, uint64_t offset);

// Creates `path` and its missing parents (mode 0755). Errors are
// Infrastructure and read "<what> <path>: cannot create folder <part>:
// <reason>", or "<what> <path>: not a folder".
Status CreateFolders(const std::string& path, const std::string& what);

// Replaces `path` with `data` whole: a temporary file beside it, then rename,
// so that a process killed at any moment leaves the old file or the new one.
// With `sync`, the data is also fsynced before the rename (a machine that
// crashes keeps it); without, the file may be lost by a crash of the machine,
// but never torn. Errors name the path and the reason.
enum class Durability { kProcessCrash, kMachineCrash };
Status WriteFileAtomically(const std::string& path, const std::string& data,
                           Durability durability = Durability::kMachineCrash);

}  // namespace parallelrun

#endif  // PARALLELRUN_BASE_DISK_H_
