#include "node/zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <deque>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <fmt/format.h>

#include "node/process_group.h"
#include "node/worker_process.h"

namespace parallelrun {

namespace {

constexpr uint8_t kCheck = 0x40, kPrepare = 0x41, kReady = 0x42, kFallback = 0x43, kFork = 0x44,
                  kForked = 0x45, kForkFailed = 0x46;
constexpr size_t kMaxMessage = 1u << 20;

// Waits until `fd` is readable or `ms` passed; false on timeout, or when
// `stop_fd` (if not -1) became readable first.
bool WaitReadable(int fd, int ms, int stop_fd = -1) {
  struct pollfd p[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
  for (;;) {
    int n = ::poll(p, stop_fd >= 0 ? 2 : 1, ms);
    if (n > 0 && stop_fd >= 0 && p[1].revents != 0) return false;
    if (n >= 0) return n > 0;
    if (errno != EINTR) return true;  // let the read say what is wrong
  }
}

// One message of the control socket (Z_MAX_MESSAGE at most); "" at EOF.
// Its length first (MSG_TRUNC), so that a buffer of that length is made,
// not one of kMaxMessage: zeroing a megabyte took ~1 ms of page faults.
Result<std::string> Receive(int fd) {
  ssize_t n;
  do n = ::recv(fd, nullptr, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0) return Status::Infrastructure(fmt::format("zygote: {}", strerror(errno)));
  std::string buf(std::min(static_cast<size_t>(n), kMaxMessage), '\0');
  do n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0) return Status::Infrastructure(fmt::format("zygote: {}", strerror(errno)));
  buf.resize(static_cast<size_t>(n));
  return buf;
}

std::string ReadTail(int fd, size_t max) {
  off_t end = ::lseek(fd, 0, SEEK_END);
  if (end <= 0) return "";
  off_t from = end > static_cast<off_t>(max) ? end - static_cast<off_t>(max) : 0;
  std::string text(static_cast<size_t>(end - from), '\0');
  ssize_t n = ::pread(fd, text.data(), text.size(), from);
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return text;
}

// clone3's arguments (linux/sched.h, CLONE_ARGS_SIZE_VER2), spelled out
// here: that header's CLONE_* macros collide with glibc's <sched.h>.
struct CloneArgs {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
      set_tid_size, cgroup;
};
constexpr uint64_t kCloneIntoCgroup = 0x200000000ULL;

// fork(), into the cgroup `cgroup_fd` when it is one and the kernel can
// (clone3 with CLONE_INTO_CGROUP): then *born_there. Otherwise a plain fork
// — before Linux 5.7, or where a seccomp filter answers clone3 with ENOSYS
// or EPERM (container runtimes do, so that glibc falls back) — and the
// caller moves the child. The child, as after fork(), may make only
// async-signal-safe calls before its exec.
pid_t ForkInto(int cgroup_fd, bool* born_there) {
  *born_there = false;
#if defined(SYS_clone3)
  if (cgroup_fd >= 0) {
    CloneArgs args{};
    args.flags = kCloneIntoCgroup;
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid >= 0) {
      *born_there = true;
      return static_cast<pid_t>(pid);
    }
  }
#endif
  return ::fork();
}

}  // namespace

struct Zygote::Waiter {
  explicit Waiter(boost::asio::io_context& io) : descriptor(io), fork_timer(io) {}
  boost::asio::posix::stream_descriptor descriptor;
  bool alive = true;
  // Forks asked and not answered yet, oldest first (ForkAsync).
  std::deque<std::function<void(Result<pid_t>)>> forks;
  bool reading = false;                  // an async_wait for FORKED is armed
  boost::asio::steady_timer fork_timer;  // kForkWait for the oldest fork
};

Result<std::unique_ptr<Zygote>> Zygote::Start(const std::string& python,
                                              const std::vector<std::string>& args,
                                              const std::vector<std::string>& env,
                                              const std::string& cwd, int birthplace,
                                              const std::string& birthplace_name) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return Status::Infrastructure(fmt::format("zygote: socketpair: {}", strerror(errno)));
  }
  // Its stderr until PREPARE names its log: read only to explain a zygote
  // that died during the check.
  int scratch = ::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (scratch < 0) scratch = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  std::vector<std::string> argv_s = {python};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv, envp;
  for (auto& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  bool born_there = false;
  pid_t pid = ForkInto(birthplace, &born_there);
  if (pid == 0) {
    // Async-signal-safe calls only: the parent may have threads.
    ::dup2(sv[1], 0);
    ::dup2(null, 1);
    ::dup2(scratch, 2);
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    CloseOnExecAbove2();
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(127);
    ::execve(python.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  int fork_errno = errno;
  ::close(sv[1]);
  ::close(null);
  if (pid < 0) {
    ::close(sv[0]);
    ::close(scratch);
    return Status::Infrastructure(fmt::format("zygote: cannot start {}: {}", python,
                                              strerror(fork_errno)));
  }
  ::setpgid(pid, pid);  // also here: no race with a kill of the group
  std::unique_ptr<Zygote> z(new Zygote());
  z->pid_ = pid;
  z->socket_ = sv[0];
  z->scratch_ = scratch;
  if (born_there) {
    z->placement_ = birthplace_name;
    z->placed_ = true;
  }
  return z;
}

void Zygote::PlaceIn(std::string cgroup, std::function<bool()> move) {
  placement_ = std::move(cgroup);
  placing_ = std::thread([this, move = std::move(move)] { placed_ = move(); });
}

bool Zygote::AwaitPlacement() {
  if (placing_.joinable()) placing_.join();
  return placed_;
}

Zygote::~Zygote() {
  if (placing_.joinable()) placing_.join();
  if (waiter_) waiter_->alive = false;
  waiter_.reset();
  if (socket_ >= 0) ::close(socket_);
  if (scratch_ >= 0) ::close(scratch_);
  if (pid_ > 0 && !reaped_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

void Zygote::Kill() {
  if (pid_ <= 0 || reaped_) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
}

bool Zygote::Reaped(int* status) {
  if (reaped_) {
    *status = status_;
    return true;
  }
  if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
    reaped_ = true;
    *status = status_;
    return true;
  }
  return false;
}

std::string Zygote::Describe() {
  int status;
  if (!Reaped(&status)) return "running";
  WorkerProcess::Exit e;
  e.signaled = WIFSIGNALED(status);
  e.code = e.signaled ? WTERMSIG(status) : WEXITSTATUS(status);
  return e.Describe();
}

Result<Zygote::Check> Zygote::ReadCheck(std::chrono::milliseconds deadline,
                                        const std::string& deadline_name, int stop_fd) {
  if (!WaitReadable(socket_, static_cast<int>(deadline.count()), stop_fd)) {
    if (stop_fd >= 0 && WaitReadable(stop_fd, 0)) {
      return Status::Interrupted("interrupted while Python started");
    }
    // As a spawned check says it (node/supervised_process.h); the caller's
    // end of the zygote kills it.
    return Status::JobFailed(fmt::format("ran past {} ({:g} seconds) and was killed",
                                         deadline_name, deadline.count() / 1000.0));
  }
  auto msg = Receive(socket_);
  if (!msg.ok()) return msg.status();
  Check check;
  if (!msg->empty() && (*msg)[0] == static_cast<char>(kCheck)) {
    check.json = msg->substr(1);
    return check;
  }
  // It ended (or said something else): how, and what it wrote.
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  status_ = status;
  check.exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  check.stderr_tail = ReadTail(scratch_, 8192);
  return check;
}

Status Zygote::SendMessage(uint8_t type, const std::string& payload, const std::vector<int>& fds) {
  std::string data(1, static_cast<char>(type));
  data += payload;
  struct iovec iov = {data.data(), data.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do n = ::sendmsg(socket_, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return Gone();
  if (n < 0) return Status::Infrastructure(fmt::format("zygote: {}", strerror(errno)));
  return Status::Ok();
}

Status Zygote::Prepare(const WorkerStart& start, int stdout_fd, int stderr_fd) {
  // START's payload: the frame EncodeStart makes, less its length and type.
  std::string frame;
  EncodeStart(start, &frame);
  return SendMessage(kPrepare, frame.substr(5), {stdout_fd, stderr_fd});
}

void Zygote::AwaitReady(boost::asio::io_context& io,
                        std::function<void(const std::string& why)> done) {
  waiter_ = std::make_shared<Waiter>(io);
  int fd = ::fcntl(socket_, F_DUPFD_CLOEXEC, 3);
  boost::system::error_code ec;
  waiter_->descriptor.assign(fd, ec);
  std::weak_ptr<Waiter> weak = waiter_;
  waiter_->descriptor.async_wait(
      boost::asio::posix::stream_descriptor::wait_read,
      [this, weak, done = std::move(done)](const boost::system::error_code& wait_ec) {
        auto w = weak.lock();
        if (!w || !w->alive || wait_ec == boost::asio::error::operation_aborted) return;
        auto msg = Receive(socket_);
        std::string why;
        if (!msg.ok()) {
          why = msg.status().message();
        } else if (msg->empty()) {
          why = Gone().message();
        } else if ((*msg)[0] == static_cast<char>(kFallback)) {
          why = msg->substr(1);
        } else if ((*msg)[0] != static_cast<char>(kReady)) {
          why = fmt::format("the zygote sent message type 0x{:02x} instead of READY",
                            static_cast<unsigned char>((*msg)[0]));
        }
        done(why);
      });
}

Status Zygote::Gone() {
  // Its end of the socket closed as it died: give it a moment to be reaped,
  // so that how it ended can be said.
  int status;
  for (int i = 0; i < 50 && !Reaped(&status); i++) ::usleep(2000);
  return Status::Infrastructure(fmt::format("the zygote (pid {}) is gone ({})", pid_, Describe()));
}

void Zygote::ForkAsync(int stdin_fd, int stdout_fd, int stderr_fd,
                       std::function<void(Result<pid_t>)> done) {
  Status sent = SendMessage(kFork, "", {stdin_fd, stdout_fd, stderr_fd});
  if (!sent.ok()) {
    // Not from inside the caller, which may be starting several workers.
    boost::asio::post(waiter_->descriptor.get_executor(),
                      [done = std::move(done), sent] { done(sent); });
    return;
  }
  waiter_->forks.push_back(std::move(done));
  if (waiter_->reading) return;
  AwaitForked();
}

void Zygote::AwaitForked() {
  Waiter* w = waiter_.get();
  w->reading = true;
  std::weak_ptr<Waiter> weak = waiter_;
  w->fork_timer.expires_after(kForkWait);
  w->fork_timer.async_wait([this, weak](const boost::system::error_code& ec) {
    auto w = weak.lock();
    if (ec || !w || !w->alive || !w->reading) return;
    FailForks(Status::Infrastructure(fmt::format(
        "the zygote (pid {}) did not answer FORK within {} s", pid_, kForkWait.count())));
  });
  w->descriptor.async_wait(
      boost::asio::posix::stream_descriptor::wait_read,
      [this, weak](const boost::system::error_code& wait_ec) {
        auto w = weak.lock();
        if (!w || !w->alive || wait_ec == boost::asio::error::operation_aborted) return;
        if (w->forks.empty()) {  // failed meanwhile (FailForks)
          w->reading = false;
          return;
        }
        auto msg = Receive(socket_);
        Result<pid_t> pid = Status::Infrastructure("the zygote answered FORK with something else");
        if (!msg.ok()) {
          return FailForks(msg.status());
        } else if (msg->empty()) {
          return FailForks(Gone());
        } else if ((*msg)[0] == static_cast<char>(kForked) && msg->size() == 5) {
          uint32_t raw;
          memcpy(&raw, msg->data() + 1, 4);  // little-endian, as every x86/ARM Linux
          pid = static_cast<pid_t>(raw);
        } else if ((*msg)[0] == static_cast<char>(kForkFailed)) {
          pid = Status::Infrastructure("the zygote could not fork: " + msg->substr(1));
        }
        auto done = std::move(w->forks.front());
        w->forks.pop_front();
        w->reading = false;
        w->fork_timer.cancel();
        done(std::move(pid));  // may destroy this Zygote
        if (w->alive && !w->forks.empty() && !w->reading) AwaitForked();
      });
}

void Zygote::FailForks(const Status& why) {
  std::shared_ptr<Waiter> w = waiter_;
  w->reading = false;
  w->fork_timer.cancel();
  while (w->alive && !w->forks.empty()) {
    auto done = std::move(w->forks.front());
    w->forks.pop_front();
    done(why);  // may destroy this Zygote: w->alive says so
  }
}

}  // namespace parallelrun
