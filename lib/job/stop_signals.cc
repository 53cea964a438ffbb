#include "job/stop_signals.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>

namespace parallelrun {

namespace {

constexpr int kStartupSignals[3] = {SIGINT, SIGTERM, SIGHUP};
std::atomic<int> g_startup_signal{0};
std::atomic<int> g_startup_pipe{-1};
std::atomic<pid_t> g_startup_owner{0};

void OnStartupSignal(int signo) {
  // A child between its fork and its exec (the zygote's start) has this
  // handler too: its signals are not the job's.
  if (getpid() != g_startup_owner.load()) return;
  int none = 0;
  g_startup_signal.compare_exchange_strong(none, signo);
  int fd = g_startup_pipe.load();
  if (fd >= 0) {
    int saved = errno;
    ssize_t ignored = ::write(fd, "!", 1);
    (void)ignored;
    errno = saved;
  }
}

}  // namespace

StartupSignals::StartupSignals() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
    read_fd_ = p[0];
    write_fd_ = p[1];
  }
  g_startup_signal = 0;
  g_startup_pipe = write_fd_;
  g_startup_owner = getpid();
  struct sigaction sa = {};
  sa.sa_handler = OnStartupSignal;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < 3; i++) sigaction(kStartupSignals[i], &sa, &old_[i]);
}

StartupSignals::~StartupSignals() {
  for (int i = 0; i < 3; i++) sigaction(kStartupSignals[i], &old_[i], nullptr);
  g_startup_pipe = -1;
  if (read_fd_ >= 0) ::close(read_fd_);
  if (write_fd_ >= 0) ::close(write_fd_);
}

int StartupSignals::received() const { return g_startup_signal.load(); }

std::string StopSignalName(int signo) {
  switch (signo) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "signal " + std::to_string(signo);
  }
}

int StopSignals::Add(Clock::time_point now) {
  // Measured from the last signal that counted, not the last one received:
  // a stream of signals still makes a second request after the window.
  if (count_ > 0 && now - last_counted_ < kRepeatWindow) return 0;
  last_counted_ = now;
  return ++count_;
}

}  // namespace parallelrun
