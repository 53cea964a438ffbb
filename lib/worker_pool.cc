#include "worker_pool.h"

#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cmath>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "worker_protocol.h"

namespace parallelrun {

namespace {

double EpochSeconds() {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6;
}

std::string LastLines(const std::string& text, int n) {
  size_t end = text.size();
  while (end > 0 && text[end - 1] == '\n') end--;
  size_t pos = end;
  for (int i = 0; i < n && pos > 0; i++) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) {
      pos = 0;
      break;
    }
  }
  return text.substr(pos == 0 ? 0 : pos + 1, end - (pos == 0 ? 0 : pos + 1));
}

}  // namespace

struct WorkerPool::Worker {
  enum class State { kInitializing, kReady, kShuttingDown, kDead };

  explicit Worker(boost::asio::io_context& io) : timer(io) {}

  int number = 0;
  std::string name;
  std::unique_ptr<WorkerProcess> proc;
  FrameDecoder decoder{kMaxWorkerFrame};
  State state = State::kInitializing;
  std::deque<InFlight> queue;  // sent RUNs, oldest (running) first
  std::chrono::steady_clock::time_point head_started;
  boost::asio::steady_timer timer;  // run timeout, then kill grace
  bool timer_armed = false;
  bool terminating = false;   // SIGTERM sent
  bool exited = false;
  bool init_failed = false;
  std::string init_error;     // one line + log path, for NodeFailed
  bool warned_capped = false;
  std::string stderr_path;
  std::string error_path;
  ProcessReport report;
  std::unique_ptr<FILE, int (*)(FILE*)> sys_log{nullptr, fclose};
};

WorkerPool::WorkerPool(boost::asio::io_context& io, Config config, Events events)
    : io_(io), config_(std::move(config)), events_(std::move(events)) {}

WorkerPool::~WorkerPool() = default;

void WorkerPool::Log(const std::string& line) {
  if (events_.log) events_.log(line);
}

void WorkerPool::Start() {
  for (int i = 0; i < config_.slots; i++) StartWorker();
}

void WorkerPool::StartWorker() {
  auto w = std::make_unique<Worker>(io_);
  Worker* raw = w.get();
  w->number = next_number_++;
  w->name = fmt::format("process{:03d}", w->number);
  std::string node = std::to_string(config_.node);
  const std::string& logs = config_.logs_dir;
  std::string stdout_path = fmt::format("{}/user/stdout/{}/{}.stdout.txt", logs, node, w->name);
  w->stderr_path = fmt::format("{}/user/stderr/{}/{}.stderr.txt", logs, node, w->name);
  w->error_path = fmt::format("{}/user/error/{}/{}.txt", logs, node, w->name);
  std::string sys_path = fmt::format("{}/sys/node/{}/{}.txt", logs, node, w->name);
  w->sys_log.reset(fopen(sys_path.c_str(), "a"));
  w->report.process = w->name;
  w->report.start_time = EpochSeconds();
  workers_.push_back(std::move(w));

  WorkerProcess::Options opts;
  opts.executable = config_.python;
  opts.args = config_.python_args;
  opts.env = config_.env;
  opts.stderr_path = raw->stderr_path;
  opts.cwd = config_.cwd;
  auto proc = WorkerProcess::Start(
      io_, opts, [this, raw](const char* d, size_t n) { OnData(raw, d, n); }, [] {},
      [this, raw](WorkerProcess::Exit e) { OnExit(raw, e); });
  if (!proc.ok()) {
    raw->state = Worker::State::kDead;
    raw->exited = true;
    raw->init_failed = true;
    raw->init_error = proc.status().message();
    raw->report.exit = "not started";
    init_failures_++;
    Log(fmt::format("{} could not start: {}", raw->name, proc.status().message()));
    boost::asio::post(io_, [this] { MaybeStopped(); });
    return;
  }
  raw->proc = std::move(proc.value());
  raw->report.pid = static_cast<uint32_t>(raw->proc->pid());
  Log(fmt::format("{} started (pid {})", raw->name, raw->proc->pid()));

  auto start = config_.start_config;
  start.emplace_back("process_name", raw->name);
  start.emplace_back("node_id", node);
  start.emplace_back("stdout_log", stdout_path);
  start.emplace_back("error_log", raw->error_path);
  start.emplace_back("entry_log",
                     fmt::format("{}/user/entry_script_log/{}/{}.log.txt", logs, node, raw->name));
  start.emplace_back("log_dir", fmt::format("{}/user/entry_script_log/{}", logs, node));
  std::string frame;
  EncodeStart(start, &frame);
  raw->proc->Write(std::move(frame));
}

size_t WorkerPool::Depth() const {
  // Enough queued work to cover ~2 ms of a worker's time, so that the round
  // trip to the loop (tens of µs when a core is idle) never leaves a worker
  // waiting; at least 2 (one running, one in the pipe).
  double want = std::ceil(0.002 / std::max(avg_batch_seconds_, 1e-6));
  return static_cast<size_t>(std::clamp(want, 2.0, 16.0));
}

size_t WorkerPool::Capacity() const {
  if (draining_ || stopping_) return 0;
  size_t depth = Depth(), n = 0;
  for (const auto& w : workers_) {
    if (w->state == Worker::State::kReady && w->queue.size() < depth) n += depth - w->queue.size();
  }
  return n;
}

void WorkerPool::Submit(const MiniBatch& batch, uint32_t attempt) {
  Worker* best = nullptr;
  for (const auto& w : workers_) {
    if (w->state != Worker::State::kReady) continue;
    if (!best || w->queue.size() < best->queue.size()) best = w.get();
  }
  if (!best) {
    // Nobody can take it (a worker died since Capacity() was asked).
    events_.give_back(batch.id, attempt);
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (best->queue.empty()) best->head_started = now;
  best->queue.push_back(InFlight{batch, attempt, now});
  std::string frame;
  EncodeRun(batch, attempt, &frame);
  best->proc->Write(std::move(frame));
  ArmTimeout(best);
}

void WorkerPool::ArmTimeout(Worker* w) {
  if (w->timer_armed || w->queue.empty() || w->terminating) return;
  w->timer_armed = true;
  w->timer.expires_at(w->head_started + config_.run_timeout);
  w->timer.async_wait([this, w](const boost::system::error_code& ec) {
    w->timer_armed = false;
    if (ec || w->exited || w->terminating) return;
    OnTimeout(w);
  });
}

void WorkerPool::OnTimeout(Worker* w) {
  if (w->queue.empty()) return;
  auto deadline = w->head_started + config_.run_timeout;
  if (std::chrono::steady_clock::now() < deadline) {
    ArmTimeout(w);  // the head changed since the timer was set: re-arm lazily
    return;
  }
  double secs = std::chrono::duration<double>(config_.run_timeout).count();
  FailHead(w, AttemptStatus::kRunTimeout, "Timeout",
           fmt::format("run() did not finish within run_invocation_timeout ({:g} s); {} was "
                       "stopped and will be replaced",
                       secs, w->name));
  GiveBackQueued(w);
  Terminate(w, false);
}

void WorkerPool::Terminate(Worker* w, bool immediate) {
  if (w->exited) return;
  w->terminating = true;
  w->proc->KillGroup(immediate ? SIGKILL : SIGTERM);
  if (immediate) return;
  w->timer.cancel();
  w->timer.expires_after(config_.kill_grace);
  w->timer.async_wait([w](const boost::system::error_code& ec) {
    if (ec || w->exited) return;
    w->proc->KillGroup(SIGKILL);
  });
}

void WorkerPool::OnData(Worker* w, const char* data, size_t n) {
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
    if (w->exited || w->terminating) return;
  }
}

void WorkerPool::ProtocolFailure(Worker* w, const std::string& why) {
  Log(fmt::format("{}: protocol error: {}; stopping it", w->name, why));
  if (!w->queue.empty()) {
    FailHead(w, AttemptStatus::kProcessDied, "ProtocolError",
             fmt::format("{} broke the worker protocol: {}", w->name, why));
  }
  GiveBackQueued(w);
  Terminate(w, true);
}

void WorkerPool::OnFrame(Worker* w, Frame&& frame) {
  switch (frame.type) {
    case kWorkerHello: {
      WorkerHello hello;
      if (!DecodeHello(frame.payload, &hello)) return ProtocolFailure(w, "malformed HELLO");
      if (hello.version != kWorkerProtocolVersion) {
        return ProtocolFailure(w, fmt::format("worker speaks protocol {}, agent {}",
                                              hello.version, kWorkerProtocolVersion));
      }
      return;
    }
    case kWorkerInitDone: {
      WorkerInitDone init;
      if (!DecodeInitDone(frame.payload, &init)) return ProtocolFailure(w, "malformed INIT_DONE");
      w->report.init_seconds = init.seconds;
      if (init.ok) {
        w->report.init_ok = true;
        init_failures_in_a_row_ = 0;
        if (w->state == Worker::State::kInitializing) w->state = Worker::State::kReady;
        Log(fmt::format("{} init() done in {:.3f} s", w->name, init.seconds));
        if (events_.capacity) events_.capacity();
      } else {
        w->init_failed = true;
        w->init_error = fmt::format("{} (traceback in {})", init.error_message, w->error_path);
        init_failures_++;
        init_failures_in_a_row_++;
        Log(fmt::format("{} init() failed: {}\n{}", w->name, init.error_message,
                        LastLines(init.traceback, 6)));
      }
      return;
    }
    case kWorkerResult: {
      AttemptResult r;
      if (!DecodeResult(frame.payload, &r)) return ProtocolFailure(w, "malformed RESULT");
      if (w->queue.empty() || w->queue.front().batch.id != r.id ||
          w->queue.front().attempt != r.attempt) {
        return ProtocolFailure(w, fmt::format("RESULT for mini-batch {} attempt {} was not expected",
                                              r.id, r.attempt));
      }
      InFlight f = std::move(w->queue.front());
      w->queue.pop_front();
      w->head_started = std::chrono::steady_clock::now();
      avg_batch_seconds_ = 0.9 * avg_batch_seconds_ + 0.1 * r.elapsed_seconds;
      Finish(w, std::move(f), std::move(r));
      ArmTimeout(w);
      if (events_.capacity) events_.capacity();
      return;
    }
    case kWorkerShutdownDone: {
      WorkerShutdownDone done;
      if (!DecodeShutdownDone(frame.payload, &done)) {
        return ProtocolFailure(w, "malformed SHUTDOWN_DONE");
      }
      if (!done.ok) {
        Log(fmt::format("{} shutdown() failed: {} (traceback in {})", w->name, done.error_message,
                        w->error_path));
      }
      return;
    }
    case kWorkerError: {
      WireReader r(frame.payload);
      std::string message = r.Bytes();
      return ProtocolFailure(w, "worker reported: " + message);
    }
    default:
      return ProtocolFailure(w, fmt::format("unknown message type 0x{:02x}", frame.type));
  }
}

void WorkerPool::Finish(Worker* w, InFlight&& f, AttemptResult&& r) {
  r.total = f.batch.items.size();
  r.node = config_.node;
  r.process = w->name;
  if (r.status == AttemptStatus::kRunDone) {
    r.succeeded = std::min<uint64_t>(r.returned, r.total);
    if (r.returned > r.total && !w->warned_capped) {
      w->warned_capped = true;
      Log(fmt::format("{}: run() returned {} items for mini-batch {} of {}; using the input count "
                      "as succeeded count (warned once per process)",
                      w->name, r.returned, r.id, r.total));
    }
  } else {
    r.succeeded = 0;
  }
  if (r.start_time == 0) r.start_time = EpochSeconds();
  if (w->sys_log) {
    fmt::print(w->sys_log.get(), "{:.6f}|mini-batch {} attempt {}|{}|total {} succeeded {} "
               "elapsed {:.6f} process {:.6f} run {:.6f}{}{}\n",
               r.start_time, r.id, r.attempt, AttemptStatusName(r.status), r.total, r.succeeded,
               r.elapsed_seconds, r.process_seconds, r.run_seconds,
               r.error_message.empty() ? "" : "|", r.error_message);
  }
  events_.result(std::move(r));
}

void WorkerPool::FailHead(Worker* w, AttemptStatus status, const std::string& category,
                          const std::string& message) {
  if (w->queue.empty()) return;
  InFlight f = std::move(w->queue.front());
  w->queue.pop_front();
  AttemptResult r;
  r.id = f.batch.id;
  r.attempt = f.attempt;
  r.status = status;
  r.elapsed_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - w->head_started).count();
  r.start_time = EpochSeconds() - r.elapsed_seconds;
  r.error_category = category;
  r.error_message = message;
  Finish(w, std::move(f), std::move(r));
}

void WorkerPool::GiveBackQueued(Worker* w) {
  while (!w->queue.empty()) {
    InFlight f = std::move(w->queue.front());
    w->queue.pop_front();
    events_.give_back(f.batch.id, f.attempt);
  }
}

void WorkerPool::OnExit(Worker* w, WorkerProcess::Exit exit) {
  w->exited = true;
  w->state = Worker::State::kDead;
  w->timer.cancel();
  w->report.end_time = EpochSeconds();
  w->report.exit = exit.Describe();
  // The worker is gone; a grandchild that inherited its pipes must not keep
  // us reading, so stop listening now instead of waiting for EOF.
  w->proc->CloseStreams();
  bool clean = exit.code == 0 && !exit.signaled && w->queue.empty();
  std::string how = exit.Describe();
  if (exit.signaled && exit.code == SIGKILL && !w->terminating) how += ", possibly out of memory";
  Log(fmt::format("{} exits with {}", w->name, how));
  if (!w->queue.empty()) {
    std::string stderr_tail;
    FailHead(w, AttemptStatus::kProcessDied, exit.signaled ? "Signal" : "ProcessExit",
             fmt::format("worker {} {} while running this mini-batch (stderr: {})", w->name, how,
                         w->stderr_path));
    GiveBackQueued(w);
  }
  if (!w->report.init_ok && !w->init_failed && !stopping_ && !draining_) {
    // Died before init() answered: that is an init failure too.
    w->init_failed = true;
    w->init_error = fmt::format("{} exited during start-up or init() with {} (stderr: {})",
                                w->name, how, w->stderr_path);
    init_failures_++;
    init_failures_in_a_row_++;
  }
  if (!clean && !stopping_ && !draining_) {
    if (init_failures_ < config_.max_init_failures) {
      StartWorker();
    } else {
      Log(fmt::format("not starting another worker: init() failed {} times on this node "
                      "(limit 3 × process_count_per_node = {})",
                      init_failures_, config_.max_init_failures));
    }
  }
  MaybeStopped();
}

void WorkerPool::MaybeStopped() {
  bool any_alive = false, any_ready = false;
  for (const auto& w : workers_) {
    if (!w->exited) any_alive = true;
    if (w->state == Worker::State::kReady) any_ready = true;
  }
  if (!any_alive && !stopping_ && !draining_ && !failed_reported_ &&
      init_failures_ >= config_.max_init_failures) {
    failed_reported_ = true;
    std::string last;
    for (auto it = workers_.rbegin(); it != workers_.rend(); ++it) {
      if ((*it)->init_failed) {
        last = (*it)->init_error;
        break;
      }
    }
    events_.failed(fmt::format("init() failed {} times on node {}; last: {}", init_failures_,
                               config_.node, last));
    return;
  }
  (void)any_ready;
  if (!any_alive && (stopping_ || draining_ || failed_reported_) && !stopped_reported_) {
    stopped_reported_ = true;
    if (events_.stopped) events_.stopped();
  }
}

void WorkerPool::Drain() {
  if (draining_ || stopping_) return;
  draining_ = true;
  for (const auto& w : workers_) {
    if (w->exited) continue;
    w->state = Worker::State::kShuttingDown;
    std::string frame;
    EncodeShutdown(&frame);
    w->proc->Write(std::move(frame));
  }
  MaybeStopped();
}

void WorkerPool::Stop(bool immediate) {
  if (stopping_) {
    if (immediate) {
      for (const auto& w : workers_) Terminate(w.get(), true);
    }
    return;
  }
  stopping_ = true;
  for (const auto& w : workers_) {
    if (w->exited) continue;
    if (!w->queue.empty()) {
      FailHead(w.get(), AttemptStatus::kInterrupted, "Interrupted",
               "the job was stopped while this mini-batch ran");
    }
    GiveBackQueued(w.get());
    Terminate(w.get(), immediate);
  }
  MaybeStopped();
}

std::vector<ProcessReport> WorkerPool::Reports() const {
  std::vector<ProcessReport> out;
  for (const auto& w : workers_) out.push_back(w->report);
  return out;
}

std::vector<std::string> WorkerPool::Describe() const {
  std::vector<std::string> out;
  auto now = std::chrono::steady_clock::now();
  for (const auto& w : workers_) {
    if (w->exited) continue;
    std::string what;
    if (w->state == Worker::State::kInitializing) {
      what = "in init()";
    } else if (w->queue.empty()) {
      what = "idle";
    } else {
      what = fmt::format("running mini-batch {} for {:.0f} s", w->queue.front().batch.id,
                         std::chrono::duration<double>(now - w->head_started).count());
    }
    out.push_back(fmt::format("node {} {} (pid {}): {}", config_.node, w->name, w->report.pid, what));
  }
  return out;
}

}  // namespace parallelrun
