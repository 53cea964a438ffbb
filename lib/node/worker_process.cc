#include "node/worker_process.h"

// Boost.Process v2 (1.81) in header-only mode leaves process_environment
// undefined; compile its sources here, once (supervised_process.cc uses them
// too, with the same macro and without src.hpp).
#define BOOST_PROCESS_V2_SEPARATE_COMPILATION 1

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <deque>

#include <boost/asio/io_context.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/writable_pipe.hpp>
#include <boost/process/v2/environment.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/start_dir.hpp>
#include <boost/process/v2/stdio.hpp>
#include <boost/process/v2/src.hpp>
#include <fmt/format.h>

#include "node/process_group.h"
#include "node/process_tree.h"

namespace parallelrun {

namespace asio = boost::asio;
namespace bp = boost::process::v2;

std::string WorkerProcess::Exit::Describe() const {
  if (!signaled) return fmt::format("exit code {}", code);
  const char* abbrev = sigabbrev_np(code);
  return abbrev ? fmt::format("killed by SIG{}", abbrev) : fmt::format("killed by signal {}", code);
}

struct WorkerProcess::Impl {
  Impl(asio::io_context& io) : in(io), out(io) {}

  asio::writable_pipe in;
  asio::readable_pipe out;
  std::unique_ptr<bp::process> proc;
  pid_t pid = 0;
  DataHandler on_data;
  EndHandler on_eof;
  ExitHandler on_exit;
  std::deque<std::string> write_queue;
  size_t pending_bytes = 0;
  bool writing = false;
  // Frames written with one writev: the first `gathered` of write_queue.
  std::vector<asio::const_buffer> gather;
  size_t gathered = 0;
  bool flush_posted = false;
  bool exited = false;
  bool streams_closed = false;
  char read_buf[1 << 16];
  // Shared with the asynchronous handlers so that they see the object die.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  void ReadMore() {
    auto alive_now = alive;
    out.async_read_some(asio::buffer(read_buf), [this, alive_now](bp::error_code ec, size_t n) {
      if (!*alive_now) return;
      if (n > 0) on_data(read_buf, n);
      if (!*alive_now) return;
      if (ec) {
        if (!streams_closed) on_eof();
        return;
      }
      ReadMore();
    });
  }

  void WriteMore() {
    if (writing || write_queue.empty() || streams_closed) return;
    writing = true;
    // Everything queued goes in one writev: one system call, and at most
    // one wakeup of the worker, for the RUNs of a whole turn of the loop.
    gather.clear();
    for (const std::string& frame : write_queue) gather.push_back(asio::buffer(frame));
    gathered = write_queue.size();
    auto alive_now = alive;
    asio::async_write(in, gather, [this, alive_now](bp::error_code ec, size_t) {
      if (!*alive_now) return;
      writing = false;
      if (ec) {
        // The child closed its stdin or died; its exit reports why.
        write_queue.clear();
        pending_bytes = 0;
        gathered = 0;
        return;
      }
      for (; gathered > 0; gathered--) {
        pending_bytes -= write_queue.front().size();
        write_queue.pop_front();
      }
      WriteMore();
    });
  }

  // Writes what is queued once the handlers ready now have run: the frames
  // they queue meanwhile share the write.
  void FlushSoon() {
    if (writing || flush_posted) return;
    flush_posted = true;
    auto alive_now = alive;
    asio::post(in.get_executor(), [this, alive_now] {
      if (!*alive_now) return;
      flush_posted = false;
      WriteMore();
    });
  }
};

WorkerProcess::WorkerProcess(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WorkerProcess::~WorkerProcess() {
  *impl_->alive = false;
  bp::error_code ec;
  impl_->in.close(ec);
  impl_->out.close(ec);
  if (impl_->proc && !impl_->exited) {
    // Destroyed while the child runs (the job is being torn down): stop the
    // group and reap the child now so that nothing is left behind.
    SignalEscapedDescendants(impl_->pid, SIGKILL);
    ::kill(-impl_->pid, SIGKILL);
    int status;
    ::waitpid(impl_->pid, &status, 0);
    impl_->proc->detach();
  } else if (impl_->proc) {
    impl_->proc->detach();
  }
}

Result<std::unique_ptr<WorkerProcess>> WorkerProcess::Start(asio::io_context& io,
                                                            const Options& options,
                                                            DataHandler on_data, EndHandler on_eof,
                                                            ExitHandler on_exit) {
  auto impl = std::make_unique<Impl>(io);
  impl->on_data = std::move(on_data);
  impl->on_eof = std::move(on_eof);
  impl->on_exit = std::move(on_exit);

  int err_fd = ::open(options.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (err_fd < 0) {
    return Status::Infrastructure(
        fmt::format("cannot open {}: {}", options.stderr_path, strerror(errno)));
  }
  std::vector<bp::environment::key_value_pair> env;
  env.reserve(options.env.size());
  for (const std::string& kv : options.env) env.emplace_back(kv);

  bp::error_code ec;
  std::unique_ptr<bp::process> proc;
  if (options.cwd.empty()) {
    proc = std::make_unique<bp::process>(
        io.get_executor(), options.executable, options.args, ec,
        bp::process_stdio{impl->in, impl->out, err_fd}, bp::process_environment(env),
        NewProcessGroup{});
  } else {
    proc = std::make_unique<bp::process>(
        io.get_executor(), options.executable, options.args, ec,
        bp::process_stdio{impl->in, impl->out, err_fd}, bp::process_environment(env),
        bp::process_start_dir(options.cwd), NewProcessGroup{});
  }
  ::close(err_fd);
  if (ec) {
    return Status::Infrastructure(
        fmt::format("cannot start {}: {}", options.executable, ec.message()));
  }
  impl->pid = proc->id();
  impl->proc = std::move(proc);
  return Watch(std::move(impl));
}

Result<std::unique_ptr<WorkerProcess>> WorkerProcess::Adopt(asio::io_context& io, pid_t pid,
                                                            int stdin_fd, int stdout_fd,
                                                            DataHandler on_data, EndHandler on_eof,
                                                            ExitHandler on_exit) {
  auto impl = std::make_unique<Impl>(io);
  impl->on_data = std::move(on_data);
  impl->on_eof = std::move(on_eof);
  impl->on_exit = std::move(on_exit);
  bp::error_code ec;
  impl->in.assign(stdin_fd, ec);
  if (ec) ::close(stdin_fd);
  if (!ec) impl->out.assign(stdout_fd, ec);
  if (ec) {
    ::close(stdout_fd);
    return Status::Infrastructure(fmt::format("cannot watch worker pid {}: {}", pid, ec.message()));
  }
  impl->pid = pid;
  impl->proc = std::make_unique<bp::process>(io.get_executor(), pid);
  return Watch(std::move(impl));
}

Result<std::unique_ptr<WorkerProcess>> WorkerProcess::Watch(std::unique_ptr<Impl> impl) {
  Impl* raw = impl.get();
  auto alive_now = raw->alive;
  raw->proc->async_wait([raw, alive_now](bp::error_code wait_ec, int) {
    if (!*alive_now) return;
    raw->exited = true;
    Exit exit;
    int status = raw->proc->native_exit_code();
    if (WIFSIGNALED(status)) {
      exit.signaled = true;
      exit.code = WTERMSIG(status);
    } else if (WIFEXITED(status)) {
      exit.code = WEXITSTATUS(status);
    } else if (wait_ec) {
      exit.code = -1;
    }
    raw->on_exit(exit);
  });
  raw->ReadMore();
  return std::unique_ptr<WorkerProcess>(new WorkerProcess(std::move(impl)));
}

pid_t WorkerProcess::pid() const { return impl_->pid; }

void WorkerProcess::Write(std::string bytes) {
  if (impl_->streams_closed) return;
  impl_->pending_bytes += bytes.size();
  impl_->write_queue.push_back(std::move(bytes));
  impl_->FlushSoon();
}

size_t WorkerProcess::pending_write() const { return impl_->pending_bytes; }

void WorkerProcess::CloseStreams() {
  if (impl_->streams_closed) return;
  impl_->streams_closed = true;
  bp::error_code ec;
  impl_->in.close(ec);
  impl_->out.close(ec);
  impl_->write_queue.clear();
  impl_->pending_bytes = 0;
}

void WorkerProcess::KillGroup(int sig) {
  if (impl_->pid > 0 && !impl_->exited) {
    // What left the group (setsid) is still the child's descendant while
    // the child lives; once it died, its orphans are ours (KillOrphans).
    SignalEscapedDescendants(impl_->pid, sig);
    ::kill(-impl_->pid, sig);
  }
  // The leader may be gone while its group lives on; kill(-pgid) still
  // reaches the rest of the group.
  else if (impl_->pid > 0) ::kill(-impl_->pid, sig);
}

bool WorkerProcess::exited() const { return impl_->exited; }

}  // namespace parallelrun
