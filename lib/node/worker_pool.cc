#include "node/worker_pool.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>
#include <thread>

#include <boost/asio/post.hpp>
#include <fmt/compile.h>
#include <fmt/format.h>

#include "base/clock.h"
#include "base/job_dir.h"
#include "base/text.h"
#include "data/table_range.h"
#include "node/cgroups.h"
#include "node/process_tree.h"
#include "node/worker_protocol.h"
#include "node/worker_timeline.h"

namespace parallelrun {

namespace {

// After a worker was reaped, how long its stdout pipe may stay open before we
// stop reading it. Whatever the worker wrote before it died is already in the
// pipe and arrives at once; only a process that escaped the worker's group
// (setsid) and inherited the pipe can keep it open longer.
constexpr auto kEofWait = std::chrono::milliseconds(250);
// How much of a stderr log's end is read to explain a crash or a timeout.
constexpr uint64_t kTailBytes = 8192;

double Seconds(std::chrono::milliseconds ms) { return std::chrono::duration<double>(ms).count(); }

// Lines of `text`, each cut to kLineBytes: a worker that floods stderr must
// not flood the report that quotes it.
std::vector<std::string> SplitLines(const std::string& text) {
  constexpr size_t kLineBytes = 300;
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, std::min(end - start, kLineBytes));
    if (end - start > kLineBytes) line += " …";
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

std::string LastLines(const std::string& text, size_t n) {
  std::vector<std::string> lines;
  for (auto& line : SplitLines(text)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(std::move(line));
  }
  std::string out;
  for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); i++) {
    out += lines[i] + "\n";
  }
  return out;
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// Explains the end of a worker's stderr log. Python's faulthandler (on for
// crashes through PYTHONFAULTHANDLER, and for SIGTERM by the driver) prints
// the innermost frame first; it is turned around so that, like a Python
// traceback, the last lines say where the process was. Frames of the driver
// itself ("<string>", or its cached copy parallelrun_driver_<hash>.py) are
// left out.
std::string ExplainStderr(const std::string& tail) {
  std::vector<std::string> lines = SplitLines(tail);
  size_t header = lines.size();
  for (size_t i = lines.size(); i-- > 0;) {
    if (lines[i].find("(most recent call first):") != std::string::npos) {
      header = i;
      break;
    }
  }
  if (header == lines.size()) return LastLines(tail, 12);
  std::string out;
  for (size_t back = 1; back <= 3 && back <= header; back++) {
    if (lines[header - back].rfind("Fatal Python error", 0) == 0) {
      out += lines[header - back] + "\n";
      break;
    }
  }
  std::vector<std::string> frames;
  for (size_t i = header + 1; i < lines.size() && lines[i].rfind("  ", 0) == 0; i++) {
    bool driver = lines[i].find("File \"<string>\"") != std::string::npos ||
                  lines[i].find("/parallelrun_driver_") != std::string::npos;
    if (!driver) frames.push_back(lines[i]);
  }
  out += "Stack (most recent call last):\n";
  for (auto it = frames.rbegin(); it != frames.rend(); ++it) out += *it + "\n";
  return out;
}

}  // namespace

enum class WorkerPool::Ending {
  kNone,
  kRunTimeout,       // run() exceeded run_timeout
  kInitTimeout,      // init() exceeded init_timeout
  kShutdownTimeout,  // shutdown() exceeded shutdown_timeout
  kStopped,          // Stop(): interrupt, no progress, node failed
  kNotNeeded,        // still in init() when the job ran out of work (Drain)
  kProtocol,         // the worker broke the protocol
  kCancelled,        // Cancel(): its attempt is not needed any more
};

struct WorkerPool::Worker {
  enum class State { kInitializing, kReady, kShuttingDown, kDead };

  Worker(boost::asio::io_context& io, const Clock& clock, WorkerTimeline::Timeouts timeouts)
      : times(clock, timeouts), timer(io), kill_timer(io), eof_timer(io) {}

  // What the worker is doing now, as far as its deadline goes.
  WorkerTimeline::Phase phase() const {
    return WorkerTimeline::PhaseOf(init_answered, !queue.empty(), state == State::kShuttingDown);
  }

  int number = 0;
  std::string name;
  std::unique_ptr<WorkerProcess> proc;
  FrameDecoder decoder{kMaxWorkerFrame};
  State state = State::kInitializing;
  std::deque<InFlight> queue;  // sent RUNs, oldest (running) first
  WorkerTimeline times;  // when the process, queue.front() and shutdown() began
  // The one deadline of the worker's current phase (init, run, shutdown);
  // `timer_generation` tells a superseded wait from the current one.
  boost::asio::steady_timer timer;
  bool timer_armed = false;
  Clock::TimePoint armed_for;
  uint64_t timer_generation = 0;
  boost::asio::steady_timer kill_timer;  // SIGTERM → SIGKILL grace
  boost::asio::steady_timer eof_timer;   // exit → stop reading (kEofWait)
  Ending ending = Ending::kNone;
  bool terminating = false;  // its group was signalled; its frames are ignored
  bool retiring = false;     // failed too often in a row; shutting down
  bool init_answered = false;
  bool hello = false;        // Python started and greeted
  bool exited = false;       // reaped by waitpid
  bool eof = false;          // stdout pipe closed
  bool reaped = false;       // exited and done with: counted, replaced
  WorkerProcess::Exit exit;
  bool init_failed = false;
  std::string init_error;    // one line, with the log path
  std::string init_details;  // the end of the traceback or stderr
  std::string protocol_error;
  std::string cancel_reason;
  int failed_in_a_row = 0;
  uint64_t stderr_mark = 0;  // size of the stderr log when it was told to stop
  std::string stderr_path;
  std::string error_path;
  ProcessReport report;
  std::unique_ptr<FILE, int (*)(FILE*)> sys_log{nullptr, fclose};
  IsoTimeWriter log_time;  // sys_log's time stamps
  std::string log_line;    // sys_log's line being made, reused
  // Moves the process into its cgroup (MoveToCgroup); joined on the loop.
  std::thread cgroup_move;
  // Asked of the zygote, no pid yet (ForkAsync): proc is null and these are
  // our ends of its stdin and stdout pipes until then.
  bool forking = false;
  bool born_in_cgroup = false;  // forked by a zygote placed in its cgroup
  int fork_stdin = -1;
  int fork_stdout = -1;
};

WorkerPool::WorkerPool(boost::asio::io_context& io, Config config, Events events)
    : io_(io), config_(std::move(config)), events_(std::move(events)), gpus_(config_.gpus) {}

WorkerPool::~WorkerPool() {
  // A move still under way finishes first: it uses cgroups_, and its
  // completion, posted to the loop, must find that this pool is gone.
  for (const auto& w : workers_) {
    if (w->cgroup_move.joinable()) w->cgroup_move.join();
    if (w->fork_stdin >= 0) ::close(w->fork_stdin);
    if (w->fork_stdout >= 0) ::close(w->fork_stdout);
  }
  if (zygote_move_.joinable()) zygote_move_.join();
  *alive_ = false;
}

void WorkerPool::Log(const std::string& line) {
  if (events_.log) events_.log(line);
}

std::string WorkerPool::Relative(const std::string& path) const {
  // Paths in messages are relative to the job dir ("logs/user/…"): short in
  // the CSV, and still right when the job dir is moved or downloaded.
  std::string job = config_.job_dir + "/";
  if (job.size() > 1 && path.compare(0, job.size(), job) == 0) return path.substr(job.size());
  return path;
}

std::string WorkerPool::StderrTail(Worker* w) const {
  uint64_t size = FileSize(w->stderr_path);
  uint64_t from = std::max(w->stderr_mark, size > kTailBytes ? size - kTailBytes : 0);
  if (from >= size) return "";
  std::ifstream in(w->stderr_path, std::ios::binary);
  if (!in) return "";
  in.seekg(static_cast<std::streamoff>(from));
  std::string text(size - from, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return ExplainStderr(text);
}

void WorkerPool::Start() {
  // Orphans of the workers (double forks, setsid) come to us, not to init,
  // so that OnExit can kill them: nothing a worker started outlives it.
  if (!BecomeSubreaper()) {
    Log("cannot become a child subreaper; processes that leave a worker's "
        "process group may outlive it");
    // A forked worker becomes our child only by being re-parented to us.
    DropZygote("this process cannot be a child subreaper, which a forked worker's parent must be");
  }
  // And each worker in a cgroup of its own where one can be made: what it
  // starts cannot leave that, however it detaches.
  std::string why;
  cgroups_ = config_.cgroups ? config_.cgroups : WorkerCgroups::Create(&why);
  Log(cgroups_ ? "each worker runs in a cgroup of its own under " + cgroups_->path()
               : "no cgroup per worker (" + why + "); the process groups and the child subreaper "
                 "keep what workers start from outliving them");
  if (gpus_.size() > 0) {
    Log(fmt::format("{} GPU{} (from {}): {}; each worker gets one as its CUDA_VISIBLE_DEVICES "
                    "while they last, workers beyond them none (the variable is left as "
                    "inherited)",
                    gpus_.size(), gpus_.size() == 1 ? "" : "s", config_.gpu_source,
                    fmt::join(config_.gpus, ", ")));
  } else if (!config_.gpu_source.empty()) {
    Log(fmt::format("no GPU (from {}); CUDA_VISIBLE_DEVICES is left as inherited",
                    config_.gpu_source));
  }
  if (!config_.start.profiling_module.empty()) {
    Log(fmt::format("profiling_module {}: each worker writes its profile to {} when it ends "
                    "normally; a worker that is killed (a timeout, an interrupt) loses its profile",
                    config_.start.profiling_module,
                    Relative(ProfilePath(config_.job_dir, config_.node, "processNNN"))));
  }
  WarmCgroupMoves();
  if (!config_.zygote) return StartSlots();
  // The zygote imports the entry script once (its logs beside the workers'),
  // then the workers are forked from it.
  const std::string& job = config_.job_dir;
  int out = ::open(UserLogPath(job, UserLog::kStdout, config_.node, "zygote").c_str(),
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int err = ::open(UserLogPath(job, UserLog::kStderr, config_.node, "zygote").c_str(),
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  WorkerStart start = config_.start;
  start.process_name = "zygote";
  start.node_id = std::to_string(config_.node);
  start.stdout_log = UserLogPath(job, UserLog::kStdout, config_.node, "zygote");
  start.error_log = UserLogPath(job, UserLog::kError, config_.node, "zygote");
  start.entry_log = UserLogPath(job, UserLog::kEntryScript, config_.node, "zygote");
  start.log_dir = UserLogDir(job, UserLog::kEntryScript, config_.node);
  Status sent = out < 0 || err < 0 ? Status::Infrastructure(fmt::format(
                                         "cannot open the zygote's logs: {}", strerror(errno)))
                                   : config_.zygote->Prepare(start, out, err);
  if (out >= 0) ::close(out);
  if (err >= 0) ::close(err);
  if (!sent.ok()) {
    DropZygote(sent.message());
    return StartSlots();
  }
  Log(fmt::format("zygote (pid {}) imports the entry script; workers are forked from it",
                  config_.zygote->pid()));
  // Where the caller put the zygote (PlaceIn, as it started), or now,
  // while it imports.
  if (cgroups_ && config_.cgroups == cgroups_ && !config_.zygote->placement().empty()) {
    zygote_moving_ = true;
    zygote_target_ = config_.zygote->placement();
    std::shared_ptr<Zygote> zygote = config_.zygote;
    std::shared_ptr<bool> alive = alive_;
    zygote_move_ = std::thread([this, zygote, alive]() mutable {
      zygote_move_ok_ = zygote->AwaitPlacement();
      // The last reference may be this one: given back on the loop.
      boost::asio::post(io_, [this, alive, zygote = std::move(zygote)] {
        if (!*alive) return;
        ZygotePlaced();
        ForkNext();
      });
    });
  } else {
    PlaceZygote();
  }
  config_.zygote->AwaitReady(io_, [this](const std::string& why) {
    if (why.empty()) {
      Log("zygote ready");
      SetAsideZygoteChildren();
    } else {
      DropZygote(why);
      WarmCgroupMoves();  // again: spawned workers are moved
    }
    StartSlots();
  });
}

void WorkerPool::StartSlots() {
  // Nothing to start for a pool that was stopped or drained meanwhile.
  if (stopping_ || draining_) return MaybeStopped();
  for (int i = 0; i < config_.slots; i++) StartWorker();
}

void WorkerPool::DropZygote(const std::string& why) {
  if (!config_.zygote) return;
  std::string line = fmt::format("start method fork: {}; workers start with spawn instead", why);
  Log(line);
  if (config_.say) config_.say(line);
  config_.zygote.reset();
  zygote_cgroup_.clear();
  // Forks it was asked for and never answered: spawned instead. (A worker it
  // forked without telling us waits for START on a pipe we now close, and
  // ends; KillOrphans takes it if it does not.)
  fork_queue_.clear();
  fork_in_flight_ = false;
  for (const auto& w : workers_) {
    if (!w->forking) continue;
    w->forking = false;
    if (w->fork_stdin >= 0) ::close(w->fork_stdin);
    if (w->fork_stdout >= 0) ::close(w->fork_stdout);
    w->fork_stdin = w->fork_stdout = -1;
    SpawnWorker(w.get());
  }
}

void WorkerPool::ForkNext() {
  // One fork at a time, each once the zygote is in the cgroup of the worker
  // it forks (PlaceZygote), or without one once the last worker was moved
  // into its own: the kernel's fork and a move between cgroups exclude each
  // other (a move waits for every fork under way), so a worker moved while
  // the zygote forks the next one waits for that fork (5-10 ms here) before
  // its START. The forks are one after the other in the zygote anyway.
  while (config_.zygote && !fork_in_flight_ && !zygote_moving_ && !fork_queue_.empty()) {
    Worker* w = fork_queue_.front();
    fork_queue_.pop_front();
    Status asked = ForkWorker(w);
    if (asked.ok()) return;
    w->forking = false;
    DropZygote(asked.message());  // spawns the ones still queued
    SpawnWorker(w);
  }
}

void WorkerPool::DiscardQueuedForks(const std::string& why) {
  // Workers not asked of the zygote yet have no process, logs or report:
  // when no more are wanted (Drain, Stop) they are simply not made.
  for (Worker* w : fork_queue_) {
    Log(fmt::format("{} is not started: {}", w->name, why));
    workers_.erase(std::find_if(workers_.begin(), workers_.end(),
                                [w](const auto& p) { return p.get() == w; }));
  }
  fork_queue_.clear();
}

Status WorkerPool::ForkWorker(Worker* w) {
  // Our ends close-on-exec and kept until the pid comes (OnForked); the
  // worker's ends go to the zygote and are closed here once sent.
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) {
    return Status::Infrastructure(fmt::format("pipe: {}", strerror(errno)));
  }
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return Status::Infrastructure(fmt::format("pipe: {}", strerror(errno)));
  }
  int err = ::open(w->stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (err < 0) {
    Status why = Status::Infrastructure(
        fmt::format("cannot open {}: {}", w->stderr_path, strerror(errno)));
    for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
    return why;
  }
  fork_in_flight_ = true;
  w->born_in_cgroup = !zygote_cgroup_.empty() && zygote_cgroup_ == w->name;
  w->fork_stdin = in[1];
  w->fork_stdout = out[0];
  std::shared_ptr<bool> alive = alive_;
  config_.zygote->ForkAsync(in[0], out[1], err, [this, w, alive](Result<pid_t> pid) {
    if (*alive) OnForked(w, std::move(pid));
  });
  ::close(in[0]);
  ::close(out[1]);
  ::close(err);
  return Status::Ok();
}

void WorkerPool::OnForked(Worker* w, Result<pid_t> pid) {
  if (!w->forking) return;  // spawned meanwhile (DropZygote)
  w->forking = false;
  fork_in_flight_ = false;
  // The fork Drain waited for: the zygote has nothing more to do, and its
  // exit (a whole interpreter's memory) overlaps the workers' shutdown
  // rather than following it.
  if (draining_ && config_.zygote) config_.zygote->Kill();
  int in = w->fork_stdin, out = w->fork_stdout;
  w->fork_stdin = w->fork_stdout = -1;
  Result<std::unique_ptr<WorkerProcess>> proc = pid.status();
  if (pid.ok()) {
    proc = WorkerProcess::Adopt(
        io_, *pid, in, out, [this, w](const char* d, size_t n) { OnData(w, d, n); },
        [this, w] { OnEof(w); }, [this, w](WorkerProcess::Exit e) { OnExit(w, e); });
  } else {
    ::close(in);
    ::close(out);
  }
  if (proc.ok()) {
    Launched(w, std::move(proc));
    // The next fork once this worker is in its cgroup (MoveToCgroup), or
    // the zygote in the next one's (PlaceZygote), or now.
    if (w->proc && w->cgroup_move.joinable()) return;
    if (!PlaceZygote()) ForkNext();
    return;
  }
  DropZygote(proc.status().message());  // spawns the ones still queued
  SpawnWorker(w);
}

void WorkerPool::SpawnWorker(Worker* w) {
  WorkerProcess::Options opts;
  opts.executable = config_.python;
  opts.args = config_.python_args;
  opts.env = config_.env;
  opts.stderr_path = w->stderr_path;
  opts.cwd = config_.cwd;
  Launched(w, WorkerProcess::Start(
                  io_, opts, [this, w](const char* d, size_t n) { OnData(w, d, n); },
                  [this, w] { OnEof(w); }, [this, w](WorkerProcess::Exit e) { OnExit(w, e); }));
}

void WorkerPool::StartWorker() {
  auto w = std::make_unique<Worker>(
      io_, *config_.clock,
      WorkerTimeline::Timeouts{config_.init_timeout, config_.run_timeout, config_.shutdown_timeout});
  Worker* raw = w.get();
  w->number = next_number_++;
  w->name = fmt::format("process{:03d}", w->number);
  const std::string& job = config_.job_dir;
  w->stderr_path = UserLogPath(job, UserLog::kStderr, config_.node, w->name);
  w->error_path = UserLogPath(job, UserLog::kError, config_.node, w->name);
  w->report.process = w->name;
  w->report.start_time = WallSeconds();
  workers_.push_back(std::move(w));

  if (config_.zygote) {
    // Launched once the zygote answers: the loop goes on meanwhile.
    raw->forking = true;
    fork_queue_.push_back(raw);
    return ForkNext();
  }
  SpawnWorker(raw);
}

void WorkerPool::Launched(Worker* raw, Result<std::unique_ptr<WorkerProcess>> proc) {
  std::optional<std::string> gpu = gpus_.Acquire(raw->name);
  if (!proc.ok()) {
    gpus_.Release(raw->name);
    raw->state = Worker::State::kDead;
    raw->exited = raw->eof = raw->reaped = true;
    raw->init_failed = true;
    raw->init_error = fmt::format("{} could not start: {}", raw->name, proc.status().message());
    raw->report.exit = "not started";
    CountInitFailure(raw);
    Log(raw->init_error);
    // Not from inside the caller: StartWorker may run in a loop over workers.
    boost::asio::post(io_, [this] { StartFailed(); });
    return;
  }
  raw->proc = std::move(proc.value());
  raw->sys_log.reset(
      fopen(ProcessLogPath(config_.job_dir, config_.node, raw->name).c_str(), "ae"));
  raw->report.pid = static_cast<uint32_t>(raw->proc->pid());
  if (events_.started) events_.started(raw->proc->pid(), raw->name);
  std::string gpu_note;
  if (gpu) gpu_note = "; CUDA_VISIBLE_DEVICES=" + *gpu;
  else if (gpus_.size() > 0) gpu_note = "; no GPU left for it";
  Log(fmt::format("{} started (pid {}){}", raw->name, raw->proc->pid(), gpu_note));
  if (config_.zygote) Log(fmt::format("{} is a fork of the zygote (pid {})", raw->name,
                                      config_.zygote->pid()));
  if (raw->terminating) {
    // Stopped (Drain, Stop) while it was being forked: it runs no user code.
    raw->proc->KillGroup(SIGKILL);
    return;
  }

  const std::string& job = config_.job_dir;
  WorkerStart start = config_.start;
  start.process_name = raw->name;
  start.node_id = std::to_string(config_.node);
  start.stdout_log = UserLogPath(job, UserLog::kStdout, config_.node, raw->name);
  start.error_log = raw->error_path;
  start.entry_log = UserLogPath(job, UserLog::kEntryScript, config_.node, raw->name);
  start.log_dir = UserLogDir(job, UserLog::kEntryScript, config_.node);
  if (!start.profiling_module.empty()) start.profile_path = ProfilePath(job, config_.node, raw->name);
  start.cuda_visible_devices = gpu;
  std::string frame;
  EncodeStart(start, &frame);
  ArmTimeout(raw);
  // Born in its cgroup (PlaceZygote), or moved there before its first line
  // of user code.
  if (cgroups_ && !raw->born_in_cgroup) return MoveToCgroup(raw, std::move(frame));
  raw->proc->Write(std::move(frame));
}

bool WorkerPool::PlaceZygote() {
  // The zygote waits in the cgroup of the next worker it forks, so that the
  // worker is born there: no move (an RCU grace period, 5-15 ms on this
  // project's VMs) between its fork and its START, and no moment outside
  // its cgroup. The move of the zygote runs on a thread, while it imports
  // the entry script or while the worker it forked last starts; ForkNext
  // waits for it. A move that fails leaves the workers to be moved after
  // their fork, as spawned ones are.
  if (!cgroups_ || !config_.zygote || zygote_moving_ || zygote_unplaced_) return false;
  std::string name = fork_queue_.empty() ? fmt::format("process{:03d}", next_number_)
                                         : fork_queue_.front()->name;
  if (zygote_cgroup_ == name) return false;
  if (zygote_move_.joinable()) zygote_move_.join();  // done: its completion ran
  zygote_moving_ = true;
  zygote_move_ok_ = false;
  zygote_target_ = name;
  pid_t pid = config_.zygote->pid();
  WorkerCgroups* cgroups = cgroups_.get();
  std::shared_ptr<bool> alive = alive_;
  zygote_move_ = std::thread([this, cgroups, pid, name, alive] {
    zygote_move_ok_ = cgroups->Add(name, pid);
    boost::asio::post(io_, [this, alive] {
      if (!*alive) return;
      ZygotePlaced();
      ForkNext();
    });
  });
  return true;
}

void WorkerPool::SetAsideZygoteChildren() {
  // What the entry script started as the zygote imported it (a server, a
  // multiprocessing Manager) serves every worker and lives as long as the
  // zygote: not in the first worker's cgroup, which goes when that worker
  // does, but in one of its own (killed at the pool's end). Where the zygote
  // never left our own cgroup they are left where they are, as before.
  if (!cgroups_ || !config_.zygote || (zygote_cgroup_.empty() && !zygote_moving_)) return;
  std::vector<pid_t> started = Descendants(config_.zygote->pid());
  if (started.empty()) return;
  int moved = 0;
  for (pid_t pid : started) moved += cgroups_->Add("zygote", pid) ? 1 : 0;
  Log(fmt::format("the zygote started {} process{} as it imported the entry script; moved {} "
                  "of them to a cgroup of their own ({}/zygote), which ends with the job",
                  started.size(), started.size() == 1 ? "" : "es", moved, cgroups_->path()));
}

void WorkerPool::ZygotePlaced() {
  // Also called early by OnExit, which must know where the zygote is before
  // it kills a cgroup: then the posted call finds nothing to do.
  if (!zygote_moving_) return;
  zygote_move_.join();
  zygote_moving_ = false;
  if (!config_.zygote) return;  // dropped meanwhile
  const std::string& name = zygote_target_;
  if (zygote_move_ok_) {
    zygote_cgroup_ = name;
    return;
  }
  zygote_unplaced_ = true;
  std::string was = zygote_cgroup_;
  zygote_cgroup_.clear();
  if (draining_ || stopping_) return;  // killed at Drain, or no longer needed
  Log(fmt::format("could not put the zygote in {}'s cgroup; workers are moved into theirs "
                  "after they are forked",
                  name));
  // Still in a worker's cgroup, whose end would kill it.
  if (!was.empty()) DropZygote("it could not leave the cgroup of " + was);
}

void WorkerPool::WarmCgroupMoves() {
  // On a thread: a cold warm-up waits for a grace period too. The first
  // worker's move, which follows it by a fork, then waits for the rest of
  // it at most, and the moves after it for nothing (cgroups.h, Warm).
  if (cgroups_) cgroups_->WarmAsync();
}

void WorkerPool::MoveToCgroup(Worker* w, std::string start_frame) {
  // Moving a process into a cgroup waits for an RCU grace period (the
  // kernel's cgroup_threadgroup_rwsem, unless cgroup2 is mounted with
  // favordynmods): 10-15 ms on this project's VMs, for each worker. On the
  // loop it delayed every later worker's start and every frame; on a thread
  // of its own the moves of all workers overlap with each other and with
  // the loop. The worker gets START, and with it its first line of user
  // code, only once it is in its cgroup: nothing it starts escapes.
  pid_t pid = w->proc->pid();
  std::string name = w->name;
  WorkerCgroups* cgroups = cgroups_.get();
  std::shared_ptr<bool> alive = alive_;
  w->cgroup_move = std::thread([this, w, cgroups, pid, name, alive,
                                frame = std::move(start_frame)]() mutable {
    bool moved = cgroups->Add(name, pid);
    boost::asio::post(io_, [this, w, alive, moved, frame = std::move(frame)]() mutable {
      if (!*alive) return;
      w->cgroup_move.join();  // it has just posted this
      // Stopped meanwhile (Drain, Stop): it runs no user code.
      if (!w->exited && !w->terminating) {
        if (!moved) Log(fmt::format("{}: could not be put in its cgroup", w->name));
        w->proc->Write(std::move(frame));
      }
      ForkNext();
    });
  });
}

void WorkerPool::StartFailed() {
  TopUp("a worker could not start");
  MaybeStopped();
}

size_t WorkerPool::Depth() const {
  // Enough queued work to cover ~2 ms of a worker's time, so that the round
  // trip to the loop (tens of µs when a core is idle) never leaves a worker
  // waiting; at least 2 (one running, one in the pipe).
  double want = std::ceil(0.002 / std::max(avg_batch_seconds_, 1e-6));
  return static_cast<size_t>(std::clamp(want, 2.0, 16.0));
}

bool WorkerPool::Accepts(const Worker& w) const {
  return w.state == Worker::State::kReady && !w.terminating && !w.retiring && !w.exited;
}

size_t WorkerPool::Capacity() const {
  if (draining_ || stopping_) return 0;
  size_t depth = Depth(), n = 0;
  for (const auto& w : workers_) {
    if (Accepts(*w) && w->queue.size() < depth) n += depth - w->queue.size();
  }
  return n;
}

void WorkerPool::Submit(std::shared_ptr<const MiniBatch> batch, uint32_t attempt) {
  // A straggler's second attempt is only worth starting at once: queued
  // behind its own first attempt (or anything) on this node it would wait
  // for the very thing it is meant to overtake. It goes to an idle worker or
  // back to the master, which offers it to another node.
  bool twin = false;
  for (const auto& w : workers_) {
    for (const InFlight& f : w->queue) twin = twin || f.batch->id == batch->id;
  }
  Worker* best = nullptr;
  for (const auto& w : workers_) {
    if (!Accepts(*w) || (twin && !w->queue.empty())) continue;
    if (!best || w->queue.size() < best->queue.size()) best = w.get();
  }
  if (!best || draining_ || stopping_) {
    // Nobody can take it (a worker died or timed out since Capacity() was
    // asked): it was never tried.
    events_.give_back(batch->id, attempt);
    return;
  }
  auto now = config_.clock->Steady();
  if (best->queue.empty()) best->times.HeadStarted();
  std::string frame;
  EncodeRun(*batch, attempt, &frame);
  best->queue.push_back(InFlight{std::move(batch), attempt, now, std::nullopt});
  best->proc->Write(std::move(frame));
  ArmTimeout(best);
}

void WorkerPool::ArmTimeout(Worker* w) {
  if (w->terminating || w->exited) return;
  auto deadline = w->times.Deadline(w->phase());
  if (!deadline) return;
  // An armed wait that fires no later is kept: OnTimeout re-checks the real
  // deadline and re-arms (deadlines mostly move later, as the head advances).
  if (w->timer_armed && w->armed_for <= *deadline) return;
  w->timer_armed = true;
  w->armed_for = *deadline;
  uint64_t generation = ++w->timer_generation;
  // Relative to the injected clock's now, which is also what OnTimeout
  // compares the deadline with.
  w->timer.expires_after(w->times.Until(*deadline));
  w->timer.async_wait([this, w, generation](const boost::system::error_code& ec) {
    if (generation != w->timer_generation) return;  // superseded
    w->timer_armed = false;
    if (ec || w->exited || w->terminating) return;
    OnTimeout(w);
  });
}

void WorkerPool::OnTimeout(Worker* w) {
  WorkerTimeline::Phase phase = w->phase();
  if (phase == WorkerTimeline::Phase::kIdle) return;
  if (!w->times.Expired(phase)) {
    ArmTimeout(w);
    return;
  }
  if (phase == WorkerTimeline::Phase::kInit) {
    // A hung init() is bounded like the original's (reference §3.6), and it
    // counts as an init failure: the replacement rules apply to it.
    w->init_failed = true;
    w->init_error = fmt::format(
        "{}: init() did not finish within {:g} s ({}); it was stopped", w->name,
        Seconds(config_.init_timeout),
        config_.init_timeout_rule.empty() ? "init_timeout" : config_.init_timeout_rule);
    CountInitFailure(w);
    Log(w->init_error);
    Terminate(w, Ending::kInitTimeout, false);
  } else if (phase == WorkerTimeline::Phase::kRun) {
    const InFlight& head = w->queue.front();
    Log(fmt::format("{}: run() of mini-batch {} (attempt {}) did not finish within {:g} s "
                    "(run_invocation_timeout); stopping its process group (SIGTERM, SIGKILL "
                    "after {:g} s)",
                    w->name, head.batch->id, head.attempt, Seconds(config_.run_timeout),
                    Seconds(config_.kill_grace)));
    GiveBackQueued(w, 1);
    Terminate(w, Ending::kRunTimeout, false);
  } else {
    Log(fmt::format("{}: shutdown() did not finish within {:g} s; stopping it", w->name,
                    Seconds(config_.shutdown_timeout)));
    Terminate(w, Ending::kShutdownTimeout, false);
  }
}

void WorkerPool::Terminate(Worker* w, Ending why, bool immediate) {
  if (w->reaped) return;
  if (w->exited) {
    // Waiting for EOF: only the rest of the group can be left. How the
    // worker ended is already decided.
    w->proc->KillGroup(SIGKILL);
    return;
  }
  if (w->ending == Ending::kNone) w->ending = why;
  if (w->terminating && !immediate) return;  // SIGTERM sent, SIGKILL on its way
  if (!w->terminating) {
    w->terminating = true;
    // What the worker writes from now on (faulthandler's stack, printed on
    // SIGTERM by the driver) explains where it was stuck.
    w->stderr_mark = FileSize(w->stderr_path);
    w->timer_generation++;
    w->timer.cancel();
    w->timer_armed = false;
  }
  if (!w->proc) return;  // still being forked: killed when it is (Launched)
  w->proc->KillGroup(immediate ? SIGKILL : SIGTERM);
  if (immediate) return;
  // A worker that ignores SIGTERM still dies.
  w->kill_timer.expires_after(config_.kill_grace);
  w->kill_timer.async_wait([w](const boost::system::error_code& ec) {
    if (ec || w->reaped) return;
    w->proc->KillGroup(SIGKILL);
  });
}

void WorkerPool::Retire(Worker* w) {
  if (w->retiring || w->terminating || w->exited || draining_ || stopping_) return;
  w->retiring = true;
  w->state = Worker::State::kShuttingDown;
  w->times.ShutdownAsked();
  Log(fmt::format("{} failed {} mini-batches in a row (more than {}); it runs the {} already "
                  "queued to it, then shutdown(), and a new process replaces it",
                  w->name, w->failed_in_a_row, kFailedInARowToReplace, w->queue.size()));
  std::string frame;
  EncodeShutdown(&frame);
  w->proc->Write(std::move(frame));
  ArmTimeout(w);
}

void WorkerPool::OnData(Worker* w, const char* data, size_t n) {
  // Once its group was told to stop, the worker's verdict is decided; a
  // late RESULT must not race it.
  if (w->terminating || w->reaped) return;
  w->decoder.Feed(data, n);
  for (;;) {
    Frame frame;
    std::string error;
    auto outcome = w->decoder.Next(&frame, &error);
    if (outcome == FrameDecoder::Outcome::kNeedMore) return;
    if (outcome == FrameDecoder::Outcome::kMalformed) {
      ProtocolFailure(w, error);
      return;
    }
    OnFrame(w, std::move(frame));
    if (w->terminating || w->reaped) return;
  }
}

void WorkerPool::ProtocolFailure(Worker* w, const std::string& why) {
  Log(fmt::format("{}: protocol error: {}; stopping it", w->name, why));
  w->protocol_error = fmt::format("{} broke the worker protocol: {}", w->name, why);
  GiveBackQueued(w, 1);
  Terminate(w, Ending::kProtocol, true);
}

void WorkerPool::OnInitDone(Worker* w, const std::string& payload) {
  WorkerInitDone init;
  std::string why;
  if (!DecodeInitDone(payload, &init, &why)) return ProtocolFailure(w, "malformed " + why);
  init.error_message = CutMiddle(init.error_message, kMaxErrorMessageBytes);
  init.traceback = CutMiddle(init.traceback, kMaxTracebackBytes);
  w->init_answered = true;
  w->report.init_seconds = init.seconds;
  w->timer_generation++;  // the init deadline no longer applies
  w->timer.cancel();
  w->timer_armed = false;
  if (init.ok) {
    w->report.init_ok = true;
    init_failures_in_a_row_ = 0;
    if (w->state == Worker::State::kInitializing) w->state = Worker::State::kReady;
    Log(fmt::format("{} init() done in {:.3f} s", w->name, init.seconds));
    ArmTimeout(w);  // shutdown() may already be asked for
    TopUp("init() works again");  // replacements held back while it failed
    if (events_.capacity) events_.capacity();
    return;
  }
  // The driver exits (code 72) after this; the exit starts the replacement.
  w->init_failed = true;
  w->init_error = fmt::format("{}: init() raised {} (traceback in {})", w->name,
                              init.error_message, Relative(w->error_path));
  w->init_details = LastLines(init.traceback, 6);
  CountInitFailure(w);
  Log(fmt::format("{} init() failed: {}\n{}", w->name, init.error_message, w->init_details));
}

void WorkerPool::OnFrame(Worker* w, Frame&& frame) {
  std::string why;
  switch (frame.type) {
    case kWorkerHello: {
      WorkerHello hello;
      if (!DecodeHello(frame.payload, &hello, &why)) return ProtocolFailure(w, "malformed " + why);
      if (hello.version != kWorkerProtocolVersion) {
        return ProtocolFailure(w, fmt::format("worker speaks protocol {}, agent {}",
                                              hello.version, kWorkerProtocolVersion));
      }
      w->hello = true;
      return;
    }
    case kWorkerInitDone:
      return OnInitDone(w, frame.payload);
    case kWorkerLoaded: {
      WorkerLoaded loaded;
      if (!DecodeLoaded(frame.payload, &loaded, &why)) {
        return ProtocolFailure(w, "malformed " + why);
      }
      if (w->queue.empty() || w->queue.front().batch->id != loaded.id ||
          w->queue.front().attempt != loaded.attempt) {
        return ProtocolFailure(w, fmt::format("LOADED for mini-batch {} attempt {} was not expected",
                                              loaded.id, loaded.attempt));
      }
      w->queue.front().loaded_rows = loaded.rows;
      return;
    }
    case kWorkerResult: {
      AttemptResult r;
      if (!DecodeResult(frame.payload, &r, &why)) return ProtocolFailure(w, "malformed " + why);
      // The driver cuts these already; a driver of another version, or one
      // the entry script tampered with, must not flood the reports.
      r.error_message = CutMiddle(r.error_message, kMaxErrorMessageBytes);
      r.traceback = CutMiddle(r.traceback, kMaxTracebackBytes);
      if (w->queue.empty() || w->queue.front().batch->id != r.id ||
          w->queue.front().attempt != r.attempt) {
        return ProtocolFailure(w, fmt::format("RESULT for mini-batch {} attempt {} was not expected",
                                              r.id, r.attempt));
      }
      InFlight f = std::move(w->queue.front());
      w->queue.pop_front();
      w->times.Answered();
      avg_batch_seconds_ = 0.9 * avg_batch_seconds_ + 0.1 * r.elapsed_seconds;
      Finish(w, std::move(f), std::move(r));
      ArmTimeout(w);
      if (events_.capacity) events_.capacity();
      return;
    }
    case kWorkerShutdownDone: {
      WorkerShutdownDone done;
      if (!DecodeShutdownDone(frame.payload, &done, &why)) {
        return ProtocolFailure(w, "malformed " + why);
      }
      if (!done.ok) {
        Log(fmt::format("{} shutdown() failed: {} (traceback in {})", w->name, done.error_message,
                        Relative(w->error_path)));
      }
      return;
    }
    case kWorkerError: {
      std::string message;
      if (!DecodeError(frame.payload, &message, &why)) return ProtocolFailure(w, "malformed " + why);
      return ProtocolFailure(w, "worker reported: " + message);
    }
    default:
      return ProtocolFailure(w, fmt::format("unknown message type 0x{:02x}", frame.type));
  }
}

void WorkerPool::Finish(Worker* w, InFlight&& f, AttemptResult&& r) {
  if (!IsTabular(f.batch->kind)) {
    r.total = f.batch->items.size();
  } else if (r.total == kTotalUnknown) {
    // The worker did not count the rows (it died, timed out or failed while
    // reading them): the count it sent before run(), else the one known in
    // advance; else one, so that error_threshold still sees a failure.
    r.total = f.loaded_rows ? *f.loaded_rows : std::max<uint64_t>(f.batch->known_rows, 1);
  }
  r.node = config_.node;
  r.process = w->name;
  if (r.status == AttemptStatus::kRunDone) {
    r.succeeded = std::min<uint64_t>(r.returned, r.total);
    if (r.returned > r.total && !warned_capped_) {
      warned_capped_ = true;
      Log(fmt::format("{}: run() returned {} items for mini-batch {}, which is more than its {} "
                      "items; using the input count as succeeded count (warned once)",
                      w->name, r.returned, r.id, r.total));
    }
  } else {
    r.succeeded = 0;
  }
  if (r.start_time == 0) r.start_time = WallSeconds();
  if (w->sys_log) {
    // fwrite, not fmt::print, which throws on a short write: a full disk
    // fails the job through its journal and reports, not through this log.
    // A line per mini-batch: the format compiled and the buffer reused.
    std::string& line = w->log_line;
    line.clear();
    w->log_time.AppendTo(r.start_time, &line);
    fmt::format_to(std::back_inserter(line),
                   FMT_COMPILE("|mini-batch {} attempt {}|{}|total {} succeeded {} elapsed "), r.id,
                   r.attempt, AttemptStatusName(r.status), r.total, r.succeeded);
    AppendFixed6(r.elapsed_seconds, &line);
    line += " process ";
    AppendFixed6(r.process_seconds, &line);
    line += " run ";
    AppendFixed6(r.run_seconds, &line);
    // (Up to a NUL, as the line was always written.)
    if (!r.error_message.empty()) line.append("|").append(r.error_message.c_str());
    line.push_back('\n');
    fwrite(line.data(), 1, line.size(), w->sys_log.get());
    // Failures are written at once; successes ride the buffer (flushed when
    // the worker's log closes) — a write per mini-batch was a third of the
    // loop's system calls.
    if (r.status != AttemptStatus::kRunDone) fflush(w->sys_log.get());
  }
  bool reported_failure =
      r.status == AttemptStatus::kRunException || r.status == AttemptStatus::kInvalidReturn;
  if (r.status == AttemptStatus::kRunDone) w->failed_in_a_row = 0;
  else if (reported_failure) w->failed_in_a_row++;
  events_.result(std::move(r));
  // A process whose every run() fails may be in a bad state (a broken CUDA
  // context, a closed connection): a fresh one with a new init() may do better.
  if (reported_failure && w->failed_in_a_row > kFailedInARowToReplace) Retire(w);
}

void WorkerPool::FailHead(Worker* w, AttemptStatus status, const std::string& category,
                          const std::string& message, const std::string& traceback) {
  if (w->queue.empty()) return;
  InFlight f = std::move(w->queue.front());
  w->queue.pop_front();
  AttemptResult r;
  r.id = f.batch->id;
  r.attempt = f.attempt;
  r.status = status;
  r.total = kTotalUnknown;
  r.elapsed_seconds = w->times.SecondsIn(WorkerTimeline::Phase::kRun);
  r.start_time = WallSeconds() - r.elapsed_seconds;
  r.error_category = category;
  r.error_message = message;
  r.traceback = traceback;
  Finish(w, std::move(f), std::move(r));
}

void WorkerPool::GiveBackQueued(Worker* w, size_t keep) {
  // Only the head of a worker's queue has started; the rest were never tried.
  while (w->queue.size() > keep) {
    InFlight f = std::move(w->queue.back());
    w->queue.pop_back();
    events_.give_back(f.batch->id, f.attempt);
  }
}

void WorkerPool::OnExit(Worker* w, WorkerProcess::Exit exit) {
  w->exited = true;
  w->exit = exit;
  w->state = Worker::State::kDead;
  w->timer_generation++;
  w->timer.cancel();
  w->timer_armed = false;
  // Whatever the worker started in its group (a subprocess, a forked
  // grandchild holding our pipe) must not outlive it. When we stopped the
  // worker, its group got the same signal: what is left then is routine
  // and not worth a log line.
  pid_t group = w->proc->pid();
  if (group > 0 && ::kill(-group, 0) == 0) {
    if (!w->terminating) {
      Log(fmt::format("{} left processes in its process group {}; killing them", w->name, group));
    }
    w->proc->KillGroup(SIGKILL);
  }
  // What left the group and lost its parent (setsid, a double fork) was
  // re-parented to us (BecomeSubreaper): it goes too. Orphans carry no mark
  // of their worker, so an orphan of another worker goes now as well.
  if (int n = KillOrphans()) {
    Log(fmt::format("{} exited; killed {} process{} that had left its process group", w->name, n,
                    n == 1 ? "" : "es"));
  }
  // Everything else it started, wherever it went (its cgroup) — once the
  // zygote has left it (PlaceZygote moves it on as soon as w was forked).
  // Draining or stopped, no more forks: the zygote may go with it, and its
  // move still under way (a whole RCU grace period) is not waited for.
  if (cgroups_ && zygote_cgroup_ == w->name && !draining_ && !stopping_) {
    ZygotePlaced();
    if (config_.zygote && zygote_cgroup_ == w->name) {
      DropZygote("it was still in the cgroup of " + w->name + ", which ended");
    }
  }
  if (cgroups_) cgroups_->Kill(w->name);
  if (w->eof) return Reap(w);
  // The pipe may still hold the worker's last frames (a RESULT sent just
  // before it died): read them first, but do not wait for an EOF that a
  // process outside the group could hold back forever.
  w->eof_timer.expires_after(kEofWait);
  w->eof_timer.async_wait([this, w](const boost::system::error_code& ec) {
    if (ec || w->reaped) return;
    Log(fmt::format("{}: its stdout pipe is still held open by another process; no longer "
                    "reading it",
                    w->name));
    Reap(w);
  });
}

void WorkerPool::OnEof(Worker* w) {
  w->eof = true;
  if (w->exited && !w->reaped) {
    w->eof_timer.cancel();
    Reap(w);
  }
}

void WorkerPool::Reap(Worker* w) {
  w->reaped = true;
  w->eof_timer.cancel();
  w->kill_timer.cancel();
  w->proc->CloseStreams();
  const WorkerProcess::Exit& exit = w->exit;
  w->report.end_time = WallSeconds();
  w->report.exit = exit.Describe();
  if (w->ending == Ending::kNotNeeded) w->report.exit = kStoppedInInit + w->report.exit;
  // "killed by SIGKILL" that we did not send is most often the kernel's
  // out-of-memory killer.
  bool oom = exit.signaled && exit.code == SIGKILL && !w->terminating;
  std::string how = exit.Describe() + (oom ? ", possibly out of memory" : "");
  // The original's wording ("process003 exits with returncode -9."), with
  // the signal named.
  Log(exit.signaled ? fmt::format("{} exits with returncode {} ({})", w->name, -exit.code, how)
                    : fmt::format("{} exits with returncode {}", w->name, exit.code));
  gpus_.Release(w->name);  // to the next worker started
  if (!config_.start.profiling_module.empty()) {
    struct stat st;
    if (stat(ProfilePath(config_.job_dir, config_.node, w->name).c_str(), &st) != 0) {
      Log(fmt::format("{} ended without writing its profile (it was killed or died)", w->name));
    }
  }
  std::string stderr_log = Relative(w->stderr_path);
  switch (w->ending) {
    case Ending::kRunTimeout:
      FailHead(w, AttemptStatus::kRunTimeout, "Timeout",
               fmt::format("run() did not finish within run_invocation_timeout ({:g} s); {} was "
                           "stopped ({}) and is replaced; stderr: {}",
                           Seconds(config_.run_timeout), w->name, how, stderr_log),
               StderrTail(w));
      break;
    case Ending::kStopped:
      FailHead(w, AttemptStatus::kInterrupted, "Interrupted", stop_reason_, "");
      break;
    case Ending::kCancelled:
      FailHead(w, AttemptStatus::kInterrupted, "Cancelled", w->cancel_reason, "");
      break;
    case Ending::kInitTimeout:
      w->init_details = StderrTail(w);  // where init() was stuck
      break;
    case Ending::kNotNeeded:
      break;  // nothing was queued on it: nothing failed
    case Ending::kProtocol:
      FailHead(w, AttemptStatus::kProcessDied, "ProtocolError", w->protocol_error, StderrTail(w));
      break;
    default:
      FailHead(w, AttemptStatus::kProcessDied, exit.signaled ? "Signal" : "ProcessExit",
               fmt::format("{} {}{}{} while running this mini-batch; stderr: {}", w->name,
                           exit.signaled ? "" : "exited with ", how, oom ? "," : "", stderr_log),
               StderrTail(w));
      break;
  }
  GiveBackQueued(w, 0);
  if (!w->init_failed && !w->report.init_ok && !stopping_ && !draining_) {
    // Died before init() answered: an init failure too (an import that
    // crashed, os._exit in init()).
    w->init_failed = true;
    w->init_error = fmt::format("{} {} during start-up or init(); stderr: {}", w->name,
                                exit.signaled ? how : "exited with " + how, stderr_log);
    w->init_details = StderrTail(w);
    CountInitFailure(w);
    Log(w->init_error);
  }
  TopUp(w->name + " exited");
  MaybeStopped();
}

void WorkerPool::CountInitFailure(Worker* w) {
  init_failures_++;
  init_failures_in_a_row_++;
  // The master counts them over all nodes (the job-wide rule); this node's
  // own rule is the one in a row above.
  if (events_.init_failed) events_.init_failed(w->name, w->init_error);
}

void WorkerPool::TopUp(const std::string& after) {
  if (stopping_ || draining_) return;
  for (;;) {
    int live = 0, in_init = 0;
    for (const auto& w : workers_) {
      if (w->reaped) continue;
      live++;
      if (!w->init_answered) in_init++;
    }
    if (live >= config_.slots) return;
    // Workers still in init() may fail too: counting them keeps the node at
    // exactly max_init_failures failures when init() cannot succeed. If one
    // of them succeeds, the count restarts and this tops the node up again.
    if (init_failures_in_a_row_ + in_init >= config_.max_init_failures) {
      Log(fmt::format("{}; not starting another worker: init() failed {} times in a row on this "
                      "node{} (the limit is 3 × process_count_per_node = {})",
                      after, init_failures_in_a_row_,
                      in_init == 0 ? "" : fmt::format(" and {} more in init() may fail", in_init),
                      config_.max_init_failures));
      return;
    }
    StartWorker();
  }
}

void WorkerPool::MaybeStopped() {
  bool any_alive = std::any_of(workers_.begin(), workers_.end(),
                               [](const auto& w) { return !w->reaped; });
  if (any_alive) return;
  if (!stopping_ && !draining_ && !failed_reported_ &&
      init_failures_in_a_row_ >= config_.max_init_failures) {
    failed_reported_ = true;
    const Worker* last = nullptr;
    for (auto it = workers_.rbegin(); it != workers_.rend(); ++it) {
      if ((*it)->init_failed) {
        last = it->get();
        break;
      }
    }
    std::string why = fmt::format(
        "init() failed {} times in a row on node {} (the limit is 3 × process_count_per_node = "
        "{}), so no worker is left to run mini-batches",
        init_failures_in_a_row_, config_.node, config_.max_init_failures);
    if (last) {
      why += "\nlast failure: " + last->init_error;
      if (!last->init_details.empty()) why += "\n" + last->init_details;
    }
    events_.failed(why);
    return;
  }
  if ((stopping_ || draining_ || failed_reported_) && !stopped_reported_) {
    stopped_reported_ = true;
    config_.zygote.reset();  // it has no more workers to fork
    KillOrphans();  // the last ones, re-parented since the last worker exited
    if (events_.stopped) events_.stopped();
  }
}

void WorkerPool::Drain() {
  if (draining_ || stopping_) return;
  draining_ = true;
  // No worker is started from here on: the zygote dies now, in parallel
  // with the workers' shutdown(), rather than after them. (One still
  // forking a worker is left to answer: that worker exists already.)
  DiscardQueuedForks("no work is left");
  if (config_.zygote && !fork_in_flight_) config_.zygote->Kill();
  for (const auto& w : workers_) {
    if (w->exited || w->terminating) continue;
    if (!w->init_answered && w->queue.empty()) {
      // It would finish init() (a model load: seconds, minutes) only to be
      // told to shut down: the job would wait for nothing. Its init() never
      // succeeded, so no shutdown() is owed either.
      // SIGKILL, not SIGTERM: the driver would print its stack to the
      // stderr log, which the end of the job would then point at.
      Log(fmt::format(w->proc ? "{} is still in init() and no work is left: stopping it now"
                              : "{} is being forked and no work is left: stopping it once it is",
                      w->name));
      Terminate(w.get(), Ending::kNotNeeded, true);
      continue;
    }
    if (w->state != Worker::State::kShuttingDown) {
      w->state = Worker::State::kShuttingDown;
      w->times.ShutdownAsked();
      std::string frame;
      EncodeShutdown(&frame);
      w->proc->Write(std::move(frame));
    }
    ArmTimeout(w.get());
  }
  MaybeStopped();
}

void WorkerPool::Stop(bool immediate, const std::string& reason) {
  if (stopping_) {
    if (immediate) {
      for (const auto& w : workers_) Terminate(w.get(), Ending::kStopped, true);
    }
    return;
  }
  stopping_ = true;
  stop_reason_ = reason;
  DiscardQueuedForks("the workers are being stopped (" + reason + ")");
  for (const auto& w : workers_) {
    if (w->reaped) continue;
    GiveBackQueued(w.get(), 1);
    Terminate(w.get(), Ending::kStopped, immediate);
  }
  MaybeStopped();
}

void WorkerPool::Cancel(MiniBatchId id, uint32_t attempt, const std::string& reason) {
  for (const auto& w : workers_) {
    if (w->reaped || w->exited) continue;
    for (size_t i = 0; i < w->queue.size(); i++) {
      if (w->queue[i].batch->id != id || w->queue[i].attempt != attempt) continue;
      if (i > 0) {
        // Queued behind another: never started.
        InFlight f = std::move(w->queue[i]);
        w->queue.erase(w->queue.begin() + static_cast<std::ptrdiff_t>(i));
        events_.give_back(f.batch->id, f.attempt);
        return;
      }
      if (w->terminating) return;  // already being stopped; its result follows
      Log(fmt::format("{}: stopping mini-batch {} (attempt {}): {}", w->name, id, attempt, reason));
      w->cancel_reason = reason;
      GiveBackQueued(w.get(), 1);
      Terminate(w.get(), Ending::kCancelled, false);
      return;
    }
  }
}

std::vector<ProcessReport> WorkerPool::Reports() const {
  std::vector<ProcessReport> out;
  for (const auto& w : workers_) out.push_back(w->report);
  return out;
}

std::vector<std::string> WorkerPool::Describe() const {
  std::vector<std::string> out;
  using Phase = WorkerTimeline::Phase;
  for (const auto& w : workers_) {
    if (w->reaped) continue;
    std::string what;
    if (!w->proc) {
      what = "being forked by the zygote";
    } else if (w->exited) {
      what = "exited; reading its last output";
    } else if (w->terminating) {
      what = "being stopped";
    } else if (!w->init_answered) {
      what = fmt::format("in init() for {:.0f} s", w->times.SecondsIn(Phase::kInit));
    } else if (!w->queue.empty()) {
      const InFlight& head = w->queue.front();
      std::string first = head.batch->items.empty() ? "" : ItemLabel(*head.batch, 0);
      what = fmt::format("running mini-batch {} (attempt {}, {} item{}{}{}) for {:.0f} s",
                         head.batch->id, head.attempt, head.batch->items.size(),
                         head.batch->items.size() == 1 ? "" : "s", first.empty() ? "" : ": ",
                         first + (head.batch->items.size() > 1 ? ", …" : ""),
                         w->times.SecondsIn(Phase::kRun));
    } else if (w->state == Worker::State::kShuttingDown) {
      what = fmt::format("in shutdown() for {:.0f} s", w->times.SecondsIn(Phase::kShutdown));
    } else {
      what = "idle, waiting for work";
    }
    out.push_back(fmt::format("node {} {} (pid {}): {}", config_.node, w->name, w->report.pid, what));
  }
  return out;
}

Progress::Workers WorkerPool::Count() const {
  Progress::Workers n;
  for (const auto& w : workers_) {
    if (w->reaped) continue;
    if (w->exited || w->terminating || w->state == Worker::State::kShuttingDown) n.stopping++;
    else if (!w->hello && !w->init_answered) n.starting++;
    else if (!w->init_answered) n.init++;
    else if (!w->queue.empty()) n.busy++;
    else n.idle++;
  }
  return n;
}

}  // namespace parallelrun
