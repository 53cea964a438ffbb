// NewProcessGroup: the Boost.Process v2 launcher initializer that every child
// of parallelrun is started with (WorkerProcess, SupervisedProcess). Included
// only by node/*.cc files that include Boost.Process.
#ifndef PARALLELRUN_NODE_PROCESS_GROUP_H_
#define PARALLELRUN_NODE_PROCESS_GROUP_H_

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/process/v2/posix/default_launcher.hpp>

namespace parallelrun {

// Between fork and exec: marks every descriptor above stderr close-on-exec,
// so that the child keeps only its stdio (Boost.Process has dup2'ed them
// there already). parallelrun's own descriptors are opened close-on-exec,
// but libraries' are not all (Asio's sockets, fopen without "e"), and
// Boost.Process's own sweep (close_range) fails silently on kernels without
// it — then a worker, and a daemon it starts, held the job's logs, the
// report CSV and the master's listening socket. Async-signal-safe: system
// calls only (no allocation), as a forked child of a threaded process needs.
inline void CloseOnExecAbove2() {
#if defined(SYS_close_range)
  // CLOSE_RANGE_CLOEXEC (Linux 5.11): one call.
  if (::syscall(SYS_close_range, 3u, ~0u, 1u << 2) == 0) return;
#endif
  int dir = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    // No /proc: the descriptors a process of ours can have are few.
    for (int fd = 3; fd < 1024; fd++) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    return;
  }
  alignas(8) char buf[4096];
  for (;;) {
    long n = ::syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (n <= 0) break;
    for (long pos = 0; pos < n;) {
      // struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, name.
      unsigned short reclen;
      __builtin_memcpy(&reclen, buf + pos + 16, sizeof reclen);
      const char* name = buf + pos + 19;
      int fd = 0;
      bool number = *name != '\0';
      for (const char* c = name; *c; c++) {
        if (*c < '0' || *c > '9') {
          number = false;
          break;
        }
        fd = fd * 10 + (*c - '0');
      }
      if (number && fd > 2 && fd != dir) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
      pos += reclen;
    }
  }
  ::close(dir);
}

// Makes the child the leader of a new process group, between fork and exec,
// so that it can be stopped with what it started (kill(-pid)).
struct NewProcessGroup {
  boost::process::v2::error_code on_exec_setup(boost::process::v2::posix::default_launcher&,
                                               const boost::process::v2::filesystem::path&,
                                               const char* const*) {
    if (::setpgid(0, 0) != 0) {
      return boost::process::v2::error_code(errno, boost::process::v2::system_category());
    }
    // If parallelrun itself dies (SIGKILL, OOM), its children must not run on
    // unsupervised. The signal is tied to the forking thread: the event loop's
    // for workers, which lives as long as the process; the caller's of
    // SupervisedProcess::Run, which returns only once the child was reaped.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    CloseOnExecAbove2();
    return {};
  }
};

// Raises the child's niceness to `nice` (the job's nice setting) between
// fork and exec; never lowers it (an unprivileged process may not, and a
// parallelrun started under `nice 10` keeps its children at 10).
struct RaiseNiceness {
  int nice = 0;
  boost::process::v2::error_code on_exec_setup(boost::process::v2::posix::default_launcher&,
                                               const boost::process::v2::filesystem::path&,
                                               const char* const*) {
    if (nice <= 0) return {};
    errno = 0;
    int current = ::getpriority(PRIO_PROCESS, 0);
    if (errno == 0 && current < nice) ::setpriority(PRIO_PROCESS, 0, nice);
    return {};
  }
};

}  // namespace parallelrun

#endif  // PARALLELRUN_NODE_PROCESS_GROUP_H_
