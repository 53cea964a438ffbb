#include "node/supervised_process.h"

// The Boost.Process sources are compiled once, in worker_process.cc.
#define BOOST_PROCESS_V2_SEPARATE_COMPILATION 1

#include <signal.h>
#include <sys/wait.h>

#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/process/v2/environment.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/stdio.hpp>
#include <fmt/format.h>

#include "node/process_group.h"
#include "node/process_tree.h"

namespace parallelrun {

namespace asio = boost::asio;
namespace bp = boost::process::v2;

namespace {

// How long the pipes may stay open after the child was reaped and its group
// killed: only a process that left the group (setsid) can still hold them.
constexpr std::chrono::seconds kPipeGrace{2};

std::string DescribeDuration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 3600000 == 0) return fmt::format("{} hour{}", ms / 3600000, ms == 3600000 ? "" : "s");
  if (ms % 60000 == 0) return fmt::format("{} minute{}", ms / 60000, ms == 60000 ? "" : "s");
  return fmt::format("{:g} seconds", static_cast<double>(ms) / 1000);
}

}  // namespace

// What Run supervises; lives on Run's stack, touched only on its thread
// (Stop posts to `io`).
struct SupervisedProcess::Loop {
  asio::io_context io;
  pid_t pid = 0;
  bool killed = false;
  Status why;  // the first reason the group was killed

  void Kill(Status reason) {
    if (!killed) {
      killed = true;
      why = std::move(reason);
    }
    KillGroup();
  }
  // The leader may be gone while its group lives on: kill(-pgid) still
  // reaches the rest of the group.
  void KillGroup() const {
    if (pid > 0) {
      SignalEscapedDescendants(pid, SIGKILL);
      ::kill(-pid, SIGKILL);
    }
  }
};

SupervisedProcess::SupervisedProcess(Options options) : options_(std::move(options)) {}

void SupervisedProcess::Stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopped_ = true;
  if (loop_) {
    Loop* loop = loop_;
    asio::post(loop->io, [loop] { loop->Kill(Status::Interrupted("stopped")); });
  }
}

Result<SupervisedProcess::Outcome> SupervisedProcess::Run(const LineHandler& on_line) {
  Loop loop;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return Status::Interrupted("stopped");
    loop_ = &loop;
  }
  struct Unpublish {
    SupervisedProcess* self;
    ~Unpublish() {
      std::lock_guard<std::mutex> lock(self->mutex_);
      self->loop_ = nullptr;
    }
  } unpublish{this};

  asio::readable_pipe out(loop.io), err(loop.io);
  std::vector<bp::environment::key_value_pair> env;
  env.reserve(options_.env.size());
  for (const std::string& kv : options_.env) env.emplace_back(kv);
  bp::error_code ec;
  bp::process proc(loop.io.get_executor(), options_.executable, options_.args, ec,
                   bp::process_stdio{nullptr, out, err}, bp::process_environment(env),
                   NewProcessGroup{}, RaiseNiceness{options_.nice});
  if (ec) {
    return Status::Infrastructure(
        fmt::format("cannot start {}: {}", options_.executable, ec.message()));
  }
  loop.pid = proc.id();

  Outcome outcome;
  bool out_open = true, err_open = true, reaped = false;
  asio::steady_timer deadline(loop.io), grace(loop.io);
  auto maybe_done = [&] {
    if (reaped && !out_open && !err_open) {
      deadline.cancel();
      grace.cancel();
    }
  };

  // stdout, line by line. After a kill it is drained and dropped, so that
  // the pipe reaches its end.
  std::string pending;
  uint64_t line_number = 0;
  auto deliver = [&](std::string_view line) {
    line_number++;
    if (line.size() > options_.max_line) {
      loop.Kill(Status::JobFailed(fmt::format("stdout line {} is longer than {} bytes",
                                              line_number, options_.max_line)));
      return;
    }
    Status s = on_line(line, line_number);
    if (!s.ok()) {
      loop.Kill(Status::JobFailed(fmt::format("stdout line {}: {}", line_number, s.message())));
    }
  };
  char out_buf[1 << 16];
  std::function<void()> read_out = [&] {
    out.async_read_some(asio::buffer(out_buf), [&](bp::error_code e, size_t n) {
      if (n > 0 && !loop.killed) {
        pending.append(out_buf, n);
        size_t start = 0;
        for (size_t nl; !loop.killed && (nl = pending.find('\n', start)) != std::string::npos;
             start = nl + 1) {
          deliver(std::string_view(pending).substr(start, nl - start));
        }
        pending.erase(0, start);
        if (!loop.killed && pending.size() > options_.max_line) {
          loop.Kill(Status::JobFailed(fmt::format("stdout line {} is longer than {} bytes",
                                                  line_number + 1, options_.max_line)));
        }
      }
      if (!e) return read_out();
      if (!pending.empty() && !loop.killed) deliver(pending);
      pending.clear();
      out_open = false;
      maybe_done();
    });
  };

  // stderr: only its end is kept.
  char err_buf[1 << 16];
  std::string& tail = outcome.stderr_tail;
  std::function<void()> read_err = [&] {
    err.async_read_some(asio::buffer(err_buf), [&](bp::error_code e, size_t n) {
      tail.append(err_buf, n);
      if (tail.size() > 2 * options_.stderr_tail) {
        tail.erase(0, tail.size() - options_.stderr_tail);
        outcome.stderr_cut = true;
      }
      if (!e) return read_err();
      err_open = false;
      maybe_done();
    });
  };

  if (options_.deadline.count() > 0) {
    deadline.expires_after(options_.deadline);
    deadline.async_wait([&](bp::error_code e) {
      if (e) return;
      loop.Kill(Status::JobFailed(fmt::format("ran past {} ({}) and was killed",
                                              options_.deadline_name,
                                              DescribeDuration(options_.deadline))));
    });
  }

  proc.async_wait([&](bp::error_code wait_ec, int) {
    reaped = true;
    int status = proc.native_exit_code();
    if (WIFSIGNALED(status)) {
      outcome.exit.signaled = true;
      outcome.exit.code = WTERMSIG(status);
    } else if (WIFEXITED(status)) {
      outcome.exit.code = WEXITSTATUS(status);
    } else if (wait_ec) {
      outcome.exit.code = -1;
    }
    // Whatever the child started in its group ends with it; a grandchild
    // holding our pipes would otherwise keep Run waiting.
    loop.KillGroup();
    if (out_open || err_open) {
      grace.expires_after(kPipeGrace);
      grace.async_wait([&](bp::error_code e) {
        if (e) return;
        bp::error_code ignored;
        out.close(ignored);
        err.close(ignored);
      });
    }
    maybe_done();
  });

  read_out();
  read_err();
  loop.io.run();
  if (tail.size() > options_.stderr_tail) {
    tail.erase(0, tail.size() - options_.stderr_tail);
    outcome.stderr_cut = true;
  }
  if (loop.killed) return loop.why;
  return outcome;
}

Result<std::string> RunToCompletion(const std::string& executable,
                                    const std::vector<std::string>& args,
                                    const std::vector<std::string>& env, int* exit_code,
                                    std::string* err_out, std::chrono::milliseconds deadline,
                                    const std::string& deadline_name) {
  SupervisedProcess::Options options;
  options.executable = executable;
  options.args = args;
  options.env = env;
  options.deadline = deadline;
  options.deadline_name = deadline_name;
  SupervisedProcess process(std::move(options));
  std::string text;
  auto outcome = process.Run([&](std::string_view line, uint64_t) {
    text.append(line.data(), line.size());
    text.push_back('\n');
    return Status::Ok();
  });
  if (!outcome.ok()) return outcome.status().WithContext(executable);
  if (exit_code) {
    *exit_code = outcome->exit.signaled ? 128 + outcome->exit.code : outcome->exit.code;
  }
  if (err_out) *err_out = outcome->stderr_tail;
  return text;
}

}  // namespace parallelrun
