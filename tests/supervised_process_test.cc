#include "node/supervised_process.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace parallelrun {
namespace {

using Clock = std::chrono::steady_clock;

SupervisedProcess::Options Shell(const std::string& script) {
  SupervisedProcess::Options o;
  o.executable = "/bin/sh";
  o.args = {"-c", script};
  o.env = {"PATH=/usr/bin:/bin"};
  return o;
}

// Collects stdout lines; can wait, with a deadline, for a given one.
struct Lines {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::string> lines;

  SupervisedProcess::LineHandler Handler() {
    return [this](std::string_view line, uint64_t number) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        CHECK(number == lines.size() + 1);
        lines.emplace_back(line);
      }
      cv.notify_all();
      return Status::Ok();
    };
  }
  bool WaitFor(const std::string& line) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_until(lock, Clock::now() + std::chrono::seconds(20), [&] {
      for (const auto& l : lines) {
        if (l == line) return true;
      }
      return false;
    });
  }
};

// A process is gone once kill(0) fails or it is a zombie waiting for its
// (new) parent to reap it.
bool Gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  return paren == std::string::npos || (paren + 2 < text.size() && text[paren + 2] == 'Z');
}

bool GoneWithin(pid_t pid, std::chrono::seconds limit) {
  auto deadline = Clock::now() + limit;
  while (!Gone(pid)) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

TEST_CASE("supervised_process: lines, exit code and stderr", "[supervised_process]") {
  SupervisedProcess p(Shell("echo one; echo two >&2; printf 'two\\nthree'; exit 3"));
  Lines lines;
  auto r = p.Run(lines.Handler());
  REQUIRE(r.ok());
  CHECK(lines.lines == std::vector<std::string>{"one", "two", "three"});
  CHECK(r->exit.code == 3);
  CHECK(!r->exit.signaled);
  CHECK(r->stderr_tail == "two\n");
  CHECK(!r->stderr_cut);
}

TEST_CASE("supervised_process: Stop kills the group, SIGTERM ignored, grandchild and all",
          "[supervised_process]") {
  // The shell ignores SIGTERM and starts a grandchild that holds the pipes.
  SupervisedProcess p(Shell("trap '' TERM; sleep 1000 & echo $!; echo ready; wait"));
  Lines lines;
  std::optional<Result<SupervisedProcess::Outcome>> result;
  Clock::time_point ended;
  std::thread t([&] {
    result = p.Run(lines.Handler());
    ended = Clock::now();
  });
  REQUIRE(lines.WaitFor("ready"));
  pid_t grandchild = static_cast<pid_t>(std::stoi(lines.lines[0]));
  auto stopped = Clock::now();
  p.Stop();
  CHECK(Clock::now() - stopped < std::chrono::milliseconds(100));  // Stop does not wait
  t.join();
  CHECK(ended - stopped < std::chrono::seconds(5));
  REQUIRE(result.has_value());
  REQUIRE(!result->ok());
  CHECK(result->status().code() == Status::Code::kInterrupted);
  CHECK(result->status().message() == "stopped");
  CHECK(GoneWithin(grandchild, std::chrono::seconds(10)));
}

TEST_CASE("supervised_process: Stop before Run returns at once", "[supervised_process]") {
  SupervisedProcess p(Shell("sleep 1000"));
  p.Stop();
  auto r = p.Run([](std::string_view, uint64_t) { return Status::Ok(); });
  REQUIRE(!r.ok());
  CHECK(r.status().code() == Status::Code::kInterrupted);
}

TEST_CASE("supervised_process: the deadline kills the group and says which",
          "[supervised_process]") {
  auto o = Shell("sleep 1000 & echo $!; wait");
  o.deadline = std::chrono::milliseconds(300);
  o.deadline_name = "the test deadline";
  SupervisedProcess p(o);
  Lines lines;
  auto started = Clock::now();
  auto r = p.Run(lines.Handler());
  CHECK(Clock::now() - started < std::chrono::seconds(10));
  REQUIRE(!r.ok());
  CHECK(r.status().code() == Status::Code::kJobFailed);
  CHECK(r.status().message() == "ran past the test deadline (0.3 seconds) and was killed");
  REQUIRE(lines.lines.size() == 1);
  CHECK(GoneWithin(static_cast<pid_t>(std::stoi(lines.lines[0])), std::chrono::seconds(10)));
}

TEST_CASE("supervised_process: a stdout line beyond max_line is an error",
          "[supervised_process]") {
  // Without a newline, then a long sleep: the bound applies before the line ends.
  auto o = Shell("echo short; head -c 5000 /dev/zero | tr '\\0' x; sleep 1000");
  o.max_line = 1000;
  SupervisedProcess p(o);
  Lines lines;
  auto started = Clock::now();
  auto r = p.Run(lines.Handler());
  CHECK(Clock::now() - started < std::chrono::seconds(10));
  REQUIRE(!r.ok());
  CHECK(r.status().message() == "stdout line 2 is longer than 1000 bytes");
  CHECK(lines.lines == std::vector<std::string>{"short"});
}

TEST_CASE("supervised_process: only the end of stderr is kept", "[supervised_process]") {
  auto o = Shell("head -c 1000000 /dev/zero | tr '\\0' e >&2; echo END >&2");
  o.stderr_tail = 100;
  SupervisedProcess p(o);
  auto r = p.Run([](std::string_view, uint64_t) { return Status::Ok(); });
  REQUIRE(r.ok());
  CHECK(r->stderr_tail.size() == 100);
  CHECK(r->stderr_tail.substr(96) == "END\n");
  CHECK(r->stderr_cut);
}

TEST_CASE("supervised_process: a line the handler rejects stops the child, naming the line",
          "[supervised_process]") {
  SupervisedProcess p(Shell("echo good; echo bad; sleep 1000"));
  auto started = Clock::now();
  auto r = p.Run([](std::string_view line, uint64_t) {
    return line == "bad" ? Status::JobFailed("not JSON: bad") : Status::Ok();
  });
  CHECK(Clock::now() - started < std::chrono::seconds(10));
  REQUIRE(!r.ok());
  CHECK(r.status().message() == "stdout line 2: not JSON: bad");
}

TEST_CASE("supervised_process: a grandchild left holding the pipes does not keep Run waiting",
          "[supervised_process]") {
  SupervisedProcess p(Shell("sleep 1000 & echo $!; exit 0"));
  Lines lines;
  auto started = Clock::now();
  auto r = p.Run(lines.Handler());
  CHECK(Clock::now() - started < std::chrono::seconds(10));
  REQUIRE(r.ok());
  CHECK(r->exit.code == 0);
  REQUIRE(lines.lines.size() == 1);
  CHECK(GoneWithin(static_cast<pid_t>(std::stoi(lines.lines[0])), std::chrono::seconds(10)));
}

TEST_CASE("supervised_process: RunToCompletion gives stdout and the exit code",
          "[supervised_process]") {
  int code = -1;
  std::string err;
  auto out = RunToCompletion("/usr/bin/python3",
                             {"-c", "import sys; print('{\"ok\": 1}'); sys.stderr.write('w'); "
                                    "sys.exit(4)"},
                             {}, &code, &err);
  REQUIRE(out.ok());
  CHECK(*out == "{\"ok\": 1}\n");
  CHECK(code == 4);
  CHECK(err == "w");
}

TEST_CASE("SupervisedProcess: the child runs at the niceness asked for, never lower",
          "[supervised]") {
  // The shuffle's processes run at the job's nice setting, as the workers do.
  errno = 0;
  int here = getpriority(PRIO_PROCESS, 0);
  REQUIRE(errno == 0);
  for (int nice : {0, 7, here - 1}) {
    auto options = Shell("nice");  // coreutils' nice, no arguments: prints the niceness
    options.nice = nice;
    SupervisedProcess p(options);
    Lines lines;
    auto outcome = p.Run(lines.Handler());
    REQUIRE(outcome.ok());
    REQUIRE(lines.lines.size() == 1);
    CHECK(lines.lines[0] == std::to_string(std::max(here, nice)));
  }
}

}  // namespace
}  // namespace parallelrun
