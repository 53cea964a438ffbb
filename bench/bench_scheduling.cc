// bench_scheduling: how fast one Master hands out leases over TCP, and
// whether it keeps many agent worker slots busy (issue 5: above 50,000
// leases/s; at least 100 slots busy with 10 ms mini-batches).
//
// The real master side — Master (listing, batching, BatchQueue, JobLog with
// its CSV row per attempt) behind a TcpListener — runs on this process's main
// thread, as in `parallelrun run`. The agents are synthetic: TcpConnector
// links on a second thread that speak the protocol of link_codec.h (HELLO,
// PULL for slots + prefetch, RESULT, BYE) but run no Python: each lease
// "runs" for --work-ms on a timer (0: answered at once with RUN_DONE).
//
//   bench_scheduling --files DIR [--agents 4] [--slots 8] [--prefetch 8]
//                    [--work-ms 0] [--mini-batch-size 1] [--job-dir D]
//                    [--agents-process] [--join-first]
//
// --agents-process runs the synthetic agents in a child process instead of
// a thread: each process then needs one descriptor per agent, so 10,000
// agents fit under a 20,000-descriptor limit, and master_rss_mb is the
// master's own peak memory.
//
// --join-first starts the master's scheduling only once every agent has
// joined (join_seconds: the first agent's link opened → the last one's), so
// that every agent takes leases: with all agents on one thread of this
// machine, 10,000 handshakes answered by a loop that also carries the first
// thousands' leases take longer than a short job (a real agent answers from a
// machine of its own).
//
// DIR is a folder of files (the input; bench/scheduling.py makes it). Prints
// one JSON object on stdout:
//   leases, seconds (first lease received → the master's outcome),
//   leases_per_second, leasing_seconds and leasing_leases_per_second (first
//   lease → the first DRAIN, sent once the master has every result: the
//   scheduling alone), end_seconds (the rest: the reports, trace.json, END),
//   master_cpu_seconds (main thread: master + its TCP),
//   master_cpu_us_per_lease, agents_cpu_us_per_lease (the synthetic agents'
//   loop, joining included: the other half of the two cores' work),
//   leasing_master_cpu_us_per_lease and leasing_agents_cpu_us_per_lease (the
//   same, counting only the CPU spent from the first lease to the first
//   DRAIN: the lease path without the start and the job's end), joined (agents
//   whose link opened before the first DRAIN), leased_agents (agents that
//   received at least one lease),
//   last_joined_seconds (first lease → the last agent's link opened; the
//   join storm overlaps the leases), utilisation (busy slot time ÷ (slots × span from
//   the first lease started to the last one finished); only with --work-ms),
//   of_ideal_rate (leases × work-ms ÷ (slots × that span): the share of the
//   rate the slots could reach if the master never kept one waiting), outcome.
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "link/link.h"
#include "link/tcp_link.h"
#include "master/master.h"
#include "report/job_log.h"
#include "report/progress.h"

namespace asio = boost::asio;
using parallelrun::AttemptResult;
using parallelrun::AttemptStatus;
using parallelrun::LinkMessage;
using Clock = std::chrono::steady_clock;

namespace {

constexpr char kSecret[] = "bench-scheduling-secret";

struct Options {
  std::string files;
  std::string job_dir;
  int agents = 4;
  int slots = 8;
  int prefetch = 8;
  double work_ms = 0;
  uint64_t mini_batch_size = 1;
  bool agents_process = false;
  bool join_first = false;
};

double EpochNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

// What the agents saw, on the agents' thread (read after it has joined).
struct AgentStats {
  uint64_t leases = 0;
  bool any_lease = false;
  Clock::time_point first_lease;
  Clock::time_point first_start, last_end;
  double busy_seconds = 0;
  Clock::time_point last_joined;  // the last agent's link opened
  bool any_drain = false;
  Clock::time_point first_drain;  // every result recorded: the master drains
  double cpu_seconds = 0;         // the agents' loop
  double leasing_cpu_seconds = 0; // the agents' loop, first lease → first DRAIN
  int joined = 0;                 // agents whose link opened before the first DRAIN
  int leased = 0;                 // agents that received at least one lease
  int retries = 0;                // connection attempts that failed and were tried again
  int ended = 0;
  int failed = 0;
};

// A synthetic agent: pulls slots + prefetch leases, runs each for work_ms on a
// timer (or answers at once), pulls one more per result, says Bye when drained.
class FakeAgent {
 public:
  FakeAgent(asio::io_context& io, uint16_t port, uint32_t node, const Options& o,
            AgentStats* stats, std::function<void()> ended)
      : io_(io), port_(port), node_(node), slots_(static_cast<uint32_t>(o.slots)),
        prefetch_(static_cast<uint32_t>(o.prefetch)),
        work_(std::chrono::microseconds(static_cast<int64_t>(o.work_ms * 1000))),
        stats_(stats), ended_(std::move(ended)) {
    for (uint32_t i = 0; i < slots_; i++) free_slots_.push_back(slots_ - 1 - i);
  }

  void Start() {
    parallelrun::TcpConnector::Events events;
    events.done = [this](parallelrun::Result<std::unique_ptr<parallelrun::TcpLinkEnd>> link) {
      if (!link.ok()) {
        fmt::print(stderr, "agent {}: {}\n", node_, link.status().message());
        stats_->failed++;
        Ended();
        return;
      }
      OnLink(std::move(link.value()));
    };
    events.lost = [this](const std::string& reason, bool) {
      if (!done_) fmt::print(stderr, "agent {}: lost the master: {}\n", node_, reason);
      Ended();
    };
    events.log = [this](const std::string& line) {
      if (line.find("not reachable yet") != std::string::npos) {
        stats_->retries++;
        if (stats_->retries <= 5) fmt::print(stderr, "agent {}: {}\n", node_, line);
      }
    };
    parallelrun::TcpConnector::Options options;
    options.retry_for = std::chrono::seconds(120);  // 10,000 agents join in a storm
    connector_ = std::make_unique<parallelrun::TcpConnector>(
        io_, "127.0.0.1", port_, kSecret,
        parallelrun::TcpConnector::Identity{node_, slots_, "synthetic"}, options,
        std::move(events));
    connector_->Start();
  }

 private:
  void OnLink(std::unique_ptr<parallelrun::TcpLinkEnd> link) {
    stats_->last_joined = Clock::now();
    if (!stats_->any_drain) stats_->joined++;
    link_ = std::move(link);
    link_->SetHandler([this](LinkMessage&& m) { OnMessage(std::move(m)); });
    link_->Send(parallelrun::HelloMsg{node_, slots_, "synthetic"});
    link_->Send(parallelrun::PullMsg{slots_ + prefetch_});
  }

  void OnMessage(LinkMessage&& m) {
    if (auto* lease = std::get_if<parallelrun::LeaseMsg>(&m)) {
      stats_->leases++;
      if (!leased_) {
        leased_ = true;
        stats_->leased++;
      }
      if (!stats_->any_lease) {
        stats_->any_lease = true;
        stats_->first_lease = Clock::now();
      }
      if (finishing_) {
        link_->Send(parallelrun::GiveBackMsg{lease->batch->id, lease->attempt});
        return;
      }
      if (work_.count() == 0) {
        double now = EpochNow();
        Complete(*lease, 0, now, 0);
        link_->Send(parallelrun::PullMsg{1});
        return;
      }
      queue_.push_back(std::move(*lease));
      RunQueued();
    } else if (std::holds_alternative<parallelrun::DrainMsg>(m) ||
               std::holds_alternative<parallelrun::StopMsg>(m)) {
      if (!stats_->any_drain) {
        stats_->any_drain = true;
        stats_->first_drain = Clock::now();
      }
      finishing_ = true;
      MaybeBye();
    } else if (std::holds_alternative<parallelrun::EndMsg>(m)) {
      done_ = true;
      Ended();
    }
  }

  void RunQueued() {
    while (!free_slots_.empty() && !queue_.empty()) {
      uint32_t slot = free_slots_.back();
      free_slots_.pop_back();
      auto lease = std::make_shared<parallelrun::LeaseMsg>(std::move(queue_.front()));
      queue_.pop_front();
      auto timer = std::make_shared<asio::steady_timer>(io_, work_);
      Clock::time_point t0 = Clock::now();
      double start = EpochNow();
      if (stats_->first_start == Clock::time_point{} || t0 < stats_->first_start) {
        stats_->first_start = t0;
      }
      timer->async_wait([this, timer, lease, slot, t0, start](const boost::system::error_code&) {
        Clock::time_point t1 = Clock::now();
        double elapsed = std::chrono::duration<double>(t1 - t0).count();
        stats_->busy_seconds += elapsed;
        if (t1 > stats_->last_end) stats_->last_end = t1;
        free_slots_.push_back(slot);
        Complete(*lease, slot, start, elapsed);
        if (!finishing_) link_->Send(parallelrun::PullMsg{1});
        RunQueued();
        MaybeBye();
      });
    }
  }

  void Complete(const parallelrun::LeaseMsg& lease, uint32_t slot, double start, double elapsed) {
    AttemptResult r;
    r.id = lease.batch->id;
    r.attempt = lease.attempt;
    r.status = AttemptStatus::kRunDone;
    r.total = r.succeeded = r.returned = lease.batch->items.size();
    r.start_time = start;
    r.elapsed_seconds = r.process_seconds = r.run_seconds = elapsed;
    r.node = node_;
    r.process = fmt::format("process{:03d}", slot);
    link_->Send(parallelrun::ResultMsg{std::move(r)});
  }

  void MaybeBye() {
    if (!finishing_ || bye_sent_ || free_slots_.size() < slots_) return;
    for (const auto& lease : queue_) {
      link_->Send(parallelrun::GiveBackMsg{lease.batch->id, lease.attempt});
    }
    queue_.clear();
    bye_sent_ = true;
    parallelrun::NodeReport report;
    report.node = node_;
    report.host = "synthetic";
    for (uint32_t i = 0; i < slots_; i++) {
      parallelrun::ProcessReport p;
      p.process = fmt::format("process{:03d}", i);
      p.start_time = p.end_time = EpochNow();
      p.init_ok = true;
      p.exit = "exit code 0";
      report.processes.push_back(std::move(p));
    }
    link_->Send(parallelrun::ByeMsg{std::move(report)});
  }

  void Ended() {
    if (ended_called_) return;
    ended_called_ = true;
    stats_->ended++;
    ended_();
  }

  asio::io_context& io_;
  uint16_t port_;
  uint32_t node_;
  uint32_t slots_;
  uint32_t prefetch_;
  std::chrono::microseconds work_;
  AgentStats* stats_;
  std::function<void()> ended_;
  std::unique_ptr<parallelrun::TcpConnector> connector_;
  std::unique_ptr<parallelrun::TcpLinkEnd> link_;
  std::deque<parallelrun::LeaseMsg> queue_;
  std::vector<uint32_t> free_slots_;
  bool finishing_ = false;
  bool bye_sent_ = false;
  bool done_ = false;
  bool ended_called_ = false;
  bool leased_ = false;
};

// The CPU time of one loop's thread over time: a sample every 10 ms, so that
// the CPU spent between two moments (first lease, first DRAIN) can be told
// apart from joining and the job's end.
class CpuSampler {
 public:
  explicit CpuSampler(asio::io_context& io) : timer_(io) {}
  void Start() {
    samples_.emplace_back(Clock::now(), ThreadCpuSeconds());
    timer_.expires_after(std::chrono::milliseconds(10));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) Start();
    });
  }
  void Stop() {
    timer_.cancel();
    samples_.emplace_back(Clock::now(), ThreadCpuSeconds());
  }
  // CPU seconds of the thread between `from` and `to` (the samples nearest
  // inside them).
  double Between(Clock::time_point from, Clock::time_point to) const {
    auto at = [this](Clock::time_point t) {
      for (const auto& [when, cpu] : samples_) {
        if (when >= t) return cpu;
      }
      return samples_.empty() ? 0.0 : samples_.back().second;
    };
    return at(to) - at(from);
  }

 private:
  asio::steady_timer timer_;
  std::vector<std::pair<Clock::time_point, double>> samples_;
};

[[noreturn]] void Usage(const std::string& why) {
  fmt::print(stderr,
             "bench_scheduling: {}\nusage: bench_scheduling --files DIR [--agents N] [--slots S] "
             "[--prefetch P] [--work-ms W] [--mini-batch-size M] [--job-dir D] [--agents-process] "
             "[--join-first]\n",
             why);
  std::exit(2);
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--agents-process") {
      o.agents_process = true;
      continue;
    }
    if (a == "--join-first") {
      o.join_first = true;
      continue;
    }
    if (i + 1 >= argc) Usage("missing value after " + a);
    std::string v = argv[++i];
    if (a == "--files") o.files = v;
    else if (a == "--job-dir") o.job_dir = v;
    else if (a == "--agents") o.agents = std::atoi(v.c_str());
    else if (a == "--slots") o.slots = std::atoi(v.c_str());
    else if (a == "--prefetch") o.prefetch = std::atoi(v.c_str());
    else if (a == "--work-ms") o.work_ms = std::atof(v.c_str());
    else if (a == "--mini-batch-size") o.mini_batch_size = std::strtoull(v.c_str(), nullptr, 10);
    else Usage("unknown option " + a);
  }
  if (o.files.empty()) Usage("--files is required");
  if (o.agents < 1 || o.slots < 1 || o.prefetch < 0 || o.work_ms < 0 || o.mini_batch_size < 1) {
    Usage("--agents, --slots and --mini-batch-size must be positive");
  }
  if (o.job_dir.empty()) {
    char tmpl[] = "/tmp/bench-scheduling-XXXXXX";
    if (!mkdtemp(tmpl)) Usage("cannot make a temporary job dir");
    o.job_dir = tmpl;
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = ParseArgs(argc, argv);

  asio::io_context master_io;
  auto log_or = parallelrun::JobLog::Open(o.job_dir, o.agents + 1, {"data"});
  if (!log_or.ok()) Usage(log_or.status().message());
  std::unique_ptr<parallelrun::JobLog> log = std::move(log_or.value());
  parallelrun::Progress progress(parallelrun::Progress::Mode::kNone, stderr);

  parallelrun::Master::Config mc;
  mc.input_names = {"data"};
  mc.input_paths = {o.files};
  mc.mini_batch_size = o.mini_batch_size;
  mc.progress_update_timeout = 0;
  mc.partitions_dir = o.job_dir + "/partitions";
  mc.expected_nodes = o.agents;

  parallelrun::Status outcome;
  std::atomic<bool> master_done{false};
  Clock::time_point done_at;
  parallelrun::Master master(master_io, mc, log.get(), &progress, [&](parallelrun::Status s) {
    outcome = s;
    done_at = Clock::now();
    master_done = true;
  });

  std::map<uint64_t, size_t> peers;
  parallelrun::TcpListener::Events events;
  int accepted = 0;
  Clock::time_point first_accepted, last_accepted;
  bool started = false;
  events.accepted = [&](std::unique_ptr<parallelrun::TcpLinkEnd> end) {
    uint64_t id = end->peer().id;
    peers[id] = master.AddAgent(std::move(end));
    last_accepted = Clock::now();
    if (accepted++ == 0) first_accepted = last_accepted;
    if (o.join_first && accepted == o.agents && !started) {
      started = true;
      master.Start();
    }
  };
  events.lost = [&](const parallelrun::PeerInfo& peer, const std::string& reason) {
    auto it = peers.find(peer.id);
    if (it != peers.end()) master.AgentLost(it->second, reason);
  };
  // As in `parallelrun run`: joins, refusals and evictions go to the master's log.
  events.log = [&log](const std::string& line) { log->Master("INFO", line); };
  auto listener_or = parallelrun::TcpListener::Listen(master_io, "127.0.0.1", 0, kSecret,
                                                      parallelrun::TcpLinkOptions{},
                                                      std::move(events));
  if (!listener_or.ok()) Usage(listener_or.status().message());
  std::unique_ptr<parallelrun::TcpListener> listener = std::move(listener_or.value());
  uint16_t port = listener->port();

  // A guard: a benchmark that hangs says so instead of running forever.
  asio::steady_timer guard(master_io, std::chrono::minutes(10));
  guard.async_wait([&](const boost::system::error_code& ec) {
    if (!ec) {
      fmt::print(stderr, "bench_scheduling: no outcome after 10 minutes\n");
      std::exit(3);
    }
  });

  // The synthetic agents, all on one loop: on a thread of this process, or
  // in a child process (--agents-process), until each has its END.
  auto run_agents = [&o, port](AgentStats* stats, const std::function<void()>& all_ended) {
    asio::io_context agents_io;
    std::vector<std::unique_ptr<FakeAgent>> agents;
    for (int i = 0; i < o.agents; i++) {
      agents.push_back(std::make_unique<FakeAgent>(
          agents_io, port, static_cast<uint32_t>(i + 1), o, stats, [&, stats] {
            if (stats->ended == o.agents) {
              agents_io.stop();
              all_ended();
            }
          }));
    }
    auto work = asio::make_work_guard(agents_io);
    CpuSampler sampler(agents_io);
    double cpu0 = ThreadCpuSeconds();
    sampler.Start();
    for (auto& a : agents) a->Start();
    agents_io.run();
    sampler.Stop();
    stats->cpu_seconds = ThreadCpuSeconds() - cpu0;
    if (stats->any_lease && stats->any_drain) {
      stats->leasing_cpu_seconds = sampler.Between(stats->first_lease, stats->first_drain);
    }
  };
  CpuSampler master_sampler(master_io);
  auto stop_master = [&] {
    // Every agent has its END: the master's loop can stop too.
    asio::post(master_io, [&] {
      guard.cancel();
      master_sampler.Stop();
      listener.reset();
      master_io.stop();
    });
  };
  AgentStats stats;
  std::thread agents_thread;
  if (!o.agents_process) {
    agents_thread = std::thread([&] { run_agents(&stats, stop_master); });
  } else {
    int fds[2];
    if (pipe(fds) != 0) Usage("pipe failed");
    pid_t child = fork();
    if (child < 0) Usage("fork failed");
    if (child == 0) {
      close(fds[0]);
      AgentStats mine;
      run_agents(&mine, [] {});
      // steady_clock is CLOCK_MONOTONIC: its time points mean the same in
      // both processes.
      ssize_t n = write(fds[1], &mine, sizeof mine);
      _exit(n == static_cast<ssize_t>(sizeof mine) ? 0 : 1);
    }
    close(fds[1]);
    agents_thread = std::thread([&, fds, child] {
      size_t got = 0;
      char* into = reinterpret_cast<char*>(&stats);
      while (got < sizeof stats) {
        ssize_t n = read(fds[0], into + got, sizeof stats - got);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
      close(fds[0]);
      int status = 0;
      waitpid(child, &status, 0);
      if (got != sizeof stats) stats.failed = o.agents;
      stop_master();
    });
  }

  double cpu0 = ThreadCpuSeconds();
  master_sampler.Start();
  if (!o.join_first) {
    started = true;
    master.Start();
  }
  master_io.run();
  double cpu = ThreadCpuSeconds() - cpu0;
  agents_thread.join();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double rss_mb = static_cast<double>(ru.ru_maxrss) / 1024.0;

  if (!master_done || !stats.any_lease) {
    fmt::print(stderr, "bench_scheduling: the job did not finish (agents failed: {})\n",
               stats.failed);
    return 3;
  }
  double seconds = std::chrono::duration<double>(done_at - stats.first_lease).count();
  double joined = std::chrono::duration<double>(stats.last_joined - stats.first_lease).count();
  // The leasing alone: first lease → the master has every result (it sends
  // DRAIN); the rest is the job's end (reports, trace.json, END to every agent).
  double leasing = stats.any_drain
                       ? std::chrono::duration<double>(stats.first_drain - stats.first_lease).count()
                       : seconds;
  double master_leasing_cpu = stats.any_drain
                                  ? master_sampler.Between(stats.first_lease, stats.first_drain)
                                  : cpu;
  double agents_leasing_cpu = stats.any_drain ? stats.leasing_cpu_seconds : stats.cpu_seconds;
  double utilisation = 0, of_ideal = 0;
  if (o.work_ms > 0 && stats.last_end > stats.first_start) {
    double span = std::chrono::duration<double>(stats.last_end - stats.first_start).count();
    utilisation = stats.busy_seconds / (span * o.agents * o.slots);
    // Stricter: leases finished ÷ what the slots could finish in that span
    // (a timer that fires late counts as busy above, but not here).
    of_ideal = static_cast<double>(stats.leases) * o.work_ms / 1000 / (span * o.agents * o.slots);
  }
  fmt::print(
      "{{\"agents\": {}, \"slots\": {}, \"prefetch\": {}, \"work_ms\": {}, "
      "\"mini_batch_size\": {}, \"leases\": {}, \"seconds\": {:.4f}, "
      "\"leases_per_second\": {:.0f}, \"leasing_seconds\": {:.4f}, "
      "\"leasing_leases_per_second\": {:.0f}, \"end_seconds\": {:.4f}, "
      "\"master_cpu_seconds\": {:.4f}, "
      "\"master_cpu_us_per_lease\": {:.2f}, \"agents_cpu_us_per_lease\": {:.2f}, "
      "\"leasing_master_cpu_us_per_lease\": {:.2f}, "
      "\"leasing_agents_cpu_us_per_lease\": {:.2f}, \"joined\": {}, \"leased_agents\": {}, \"agent_retries\": {}, \"join_seconds\": {:.3f}, "
      "\"last_joined_seconds\": {:.3f}, \"utilisation\": {:.4f}, "
      "\"of_ideal_rate\": {:.4f}, \"outcome\": \"{}\", "
      "\"agents_process\": {}, \"rss_mb\": {:.1f}, \"agents_failed\": {}, "
      "\"job_dir\": \"{}\"}}\n",
      o.agents, o.slots, o.prefetch, o.work_ms, o.mini_batch_size, stats.leases, seconds,
      stats.leases / seconds, leasing, stats.leases / leasing, seconds - leasing, cpu, cpu * 1e6 / static_cast<double>(stats.leases),
      stats.cpu_seconds * 1e6 / static_cast<double>(stats.leases),
      master_leasing_cpu * 1e6 / static_cast<double>(stats.leases),
      agents_leasing_cpu * 1e6 / static_cast<double>(stats.leases), stats.joined, stats.leased, stats.retries,
      std::chrono::duration<double>(last_accepted - first_accepted).count(),
      joined, utilisation,
      of_ideal,
      outcome.ok() ? "succeeded" : outcome.message(), o.agents_process, rss_mb, stats.failed,
      o.job_dir);
  return outcome.ok() ? 0 : 1;
}
