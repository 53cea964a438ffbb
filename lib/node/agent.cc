#include "node/agent.h"

#include <fmt/format.h>

#include "base/clock.h"
#include "base/job_dir.h"
#include "base/text.h"

namespace parallelrun {

Agent::Agent(boost::asio::io_context& io, std::unique_ptr<LinkEnd> link, WorkerPool::Config config,
             std::string host, std::function<void()> done)
    : io_(io), link_(std::move(link)), node_(config.node), host_(std::move(host)),
      done_(std::move(done)), monitor_interval_(config.resource_monitor_interval),
      job_dir_(config.job_dir) {
  log_.reset(fopen(NodeLogPath(config.job_dir, node_).c_str(), "ae"));
  WorkerPool::Events events;
  events.result = [this](AttemptResult&& r) { link_->Send(ResultMsg{std::move(r)}); };
  events.give_back = [this](MiniBatchId id, uint32_t attempt) {
    link_->Send(GiveBackMsg{id, attempt});
  };
  events.capacity = [this] { PullMore(); };
  events.failed = [this](const std::string& why) {
    Log("this node cannot run workers: " + why);
    link_->Send(NodeFailedMsg{why});
    pool_->Stop(false, "init() keeps failing on this node");
  };
  events.stopped = [this] {
    if (bye_sent_) return;
    bye_sent_ = true;
    NodeReport report;
    report.node = node_;
    report.host = host_;
    report.processes = pool_->Reports();
    Log("all workers have exited");
    StopMonitor();
    if (workers_timer_) workers_timer_->cancel();
    link_->Send(ByeMsg{std::move(report)});
    if (done_) done_();
  };
  events.log = [this](const std::string& line) { Log(line); };
  events.started = [this](pid_t pid, const std::string& name) {
    if (monitor_) monitor_->Name(pid, name);
  };
  events.init_failed = [this](const std::string& process, const std::string& why) {
    link_->Send(InitFailedMsg{process, why});
  };
  pool_ = std::make_unique<WorkerPool>(io_, std::move(config), std::move(events));
}

Agent::~Agent() {
  StopMonitor();
  if (monitor_) {
    // The job is over: waiting for the last sample holds up nothing.
    monitor_->Finish();
    if (!monitor_->error().empty()) Log("resource monitor: cannot write: " + monitor_->error());
  }
}

void Agent::StopMonitor() {
  if (!monitor_) return;
  // The last sample is taken on the monitor's thread; only the destructor
  // waits for it.
  monitor_->Stop();
  if (!monitor_stopped_) {
    monitor_stopped_ = true;
    Log(fmt::format("resource monitor: last sample asked for; {} sample{} taken before it",
                    monitor_->samples(), monitor_->samples() == 1 ? "" : "s"));
  }
}

void Agent::Log(const std::string& line) {
  if (!log_) return;
  // fputs, not fmt::print, which throws on a short write (a full disk).
  fputs(fmt::format("{}|{}\n", IsoTime(WallSeconds()), line).c_str(), log_.get());
  fflush(log_.get());
}

void Agent::Start() {
  link_->SetHandler([this](LinkMessage&& m) { OnMessage(std::move(m)); });
  Log(fmt::format("agent of node {} on {} starting", node_, host_));
  link_->Send(HelloMsg{node_, 0, host_});
  if (monitor_interval_ > 0) {
    monitor_ = std::make_unique<ResourceMonitor>(
        ResourceMonitor::Config{job_dir_, node_, monitor_interval_, "/proc", 0});
    Log(fmt::format("resource monitor: a sample now, every {:g} s and at the end, in {}",
                    monitor_interval_, PerfDir("", node_) + "/"));
  } else {
    Log("resource monitor: off (resource_monitor_interval 0)");
  }
  pool_->Start();
}

void Agent::ReportWorkers(std::chrono::milliseconds every) {
  workers_every_ = every;
  workers_timer_ = std::make_unique<boost::asio::steady_timer>(io_);
  SendWorkers();
}

void Agent::SendWorkers() {
  if (bye_sent_) return;
  Progress::Workers c = pool_->Count();
  WorkersMsg m;
  m.starting = static_cast<uint32_t>(c.starting);
  m.init = static_cast<uint32_t>(c.init);
  m.busy = static_cast<uint32_t>(c.busy);
  m.idle = static_cast<uint32_t>(c.idle);
  m.stopping = static_cast<uint32_t>(c.stopping);
  if (!workers_sent_ || workers_sent_->starting != m.starting || workers_sent_->init != m.init ||
      workers_sent_->busy != m.busy || workers_sent_->idle != m.idle ||
      workers_sent_->stopping != m.stopping) {
    workers_sent_ = m;
    link_->Send(m);
  }
  workers_timer_->expires_after(workers_every_);
  workers_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) SendWorkers();
  });
}

void Agent::PullMore() {
  if (finishing_) return;
  size_t capacity = pool_->Capacity();
  if (capacity <= requested_) return;
  size_t want = capacity - requested_;
  requested_ += want;
  link_->Send(PullMsg{static_cast<uint32_t>(want)});
}

void Agent::OnMessage(LinkMessage&& m) {
  if (auto* lease = std::get_if<LeaseMsg>(&m)) {
    if (requested_ > 0) requested_--;
    if (finishing_) {
      link_->Send(GiveBackMsg{lease->batch.id, lease->attempt});
      return;
    }
    pool_->Submit(lease->batch, lease->attempt);
  } else if (std::get_if<DrainMsg>(&m)) {
    Log("master: no more work; shutting workers down");
    finishing_ = true;
    pool_->Drain();
  } else if (auto* stop = std::get_if<StopMsg>(&m)) {
    Log("master: stop: " + stop->reason);
    finishing_ = true;
    pool_->Stop(stop->immediate, stop->reason);
  } else if (auto* end = std::get_if<EndMsg>(&m)) {
    Log("master: the job is over: " + (end->message.empty() ? "succeeded" : end->message));
    if (!ended_) return;  // the in-process agent shares the master's outcome
    Status s;
    switch (static_cast<Status::Code>(end->status_code)) {
      case Status::Code::kOk: s = Status::Ok(); break;
      case Status::Code::kUsage: s = Status::Usage(end->message); break;
      case Status::Code::kJobFailed: s = Status::JobFailed(end->message); break;
      case Status::Code::kInterrupted: s = Status::Interrupted(end->message); break;
      default: s = Status::Infrastructure(end->message); break;
    }
    ended_(s);
  }
}

void Agent::MasterLost(const std::string& reason) {
  Log("lost the master: " + reason + "; stopping workers");
  finishing_ = true;
  pool_->Stop(true, "the connection to the master was lost while this mini-batch ran");
}

void Agent::Interrupt(bool immediate) {
  Log(immediate ? "interrupted again: stopping workers at once" : "interrupted: stopping workers");
  finishing_ = true;
  pool_->Stop(immediate, "the job was interrupted while this mini-batch ran");
}

}  // namespace parallelrun
