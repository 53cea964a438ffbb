#include "node/agent.h"

#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/disk.h"
#include "base/job_dir.h"
#include "base/text.h"
#include "master/append_row_output.h"

namespace parallelrun {

namespace {

// Unsent bytes on the link above which the rows wait: a few chunks in
// flight keep the network busy without holding a part in memory.
constexpr size_t kRowsBacklog = 4 * kMaxRowsChunk;
constexpr auto kRowsRetry = std::chrono::milliseconds(5);

}  // namespace

Agent::Agent(boost::asio::io_context& io, std::unique_ptr<LinkEnd> link, WorkerPool::Config config,
             std::string host, std::function<void()> done)
    : io_(io), link_(std::move(link)), node_(config.node), host_(std::move(host)),
      done_(std::move(done)), monitor_interval_(config.resource_monitor_interval),
      job_dir_(config.job_dir), parts_dir_(config.start.append_row_dir.value_or("")),
      outbox_timer_(io) {
  log_.reset(fopen(NodeLogPath(config.job_dir, node_).c_str(), "ae"));
  WorkerPool::Events events;
  events.result = [this](AttemptResult&& r) { OnResult(std::move(r)); };
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
    if (bye_sent_ || bye_waiting_) return;
    bye_waiting_ = true;
    Log("all workers have exited");
    StopMonitor();
    if (workers_timer_) workers_timer_->cancel();
    if (outbox_.empty()) SendBye();
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

void Agent::SendBye() {
  if (bye_sent_) return;
  bye_sent_ = true;
  NodeReport report;
  report.node = node_;
  report.host = host_;
  report.processes = pool_->Reports();
  link_->Send(ByeMsg{std::move(report)});
  if (done_) done_();
}

void Agent::OnJobDir(const std::string& id) {
  std::string mine;
  {
    std::ifstream in(JobDirIdPath(job_dir_));
    std::getline(in, mine);
  }
  bool shared = !id.empty() && mine == id;
  std::error_code ec;
  std::string where = std::filesystem::absolute(job_dir_, ec).lexically_normal().string();
  if (ec) where = job_dir_;
  rows_over_link_ = !shared && !parts_dir_.empty();
  Log(shared ? "this node shares the master's job dir"
             : fmt::format("this node has its own job dir ({}): results{} go to the master over "
                           "the link; user logs stay here",
                           where, rows_over_link_ ? " and append_row rows" : ""));
  link_->Send(NodeDirMsg{where, shared});
  if (!shared && offer_port_ != 0) link_->Send(StandbyOfferMsg{offer_host_, offer_port_});
  if (standby_events_.job_dir) standby_events_.job_dir(shared);
}

void Agent::OfferStandby(std::string host, uint32_t port, StandbyEvents events) {
  offer_host_ = std::move(host);
  offer_port_ = port;
  standby_events_ = std::move(events);
}

void Agent::OnStandby(const StandbyMsg& m) {
  bool mine = m.active && m.node == node_ && offer_port_ != 0;
  if (mine && !replica_) {
    replica_ = std::make_unique<StandbyReplica>(job_dir_);
    Status reset = replica_->Reset();
    if (!reset.ok()) return KeepCopy(reset);
    Log(fmt::format("this node is the standby: it keeps a copy of the master's journal in {} "
                    "and takes the master role on {}:{} if the master's process dies",
                    StandbyDir(job_dir_), m.host, m.port));
  } else if (!mine && replica_) {
    replica_->Remove();
    replica_.reset();
    Log("this node is no longer the standby; its copy of the journal is removed");
  }
  if (!mine && m.active) {
    Log(fmt::format("the standby is node {}: if the master's process dies, it takes over on {}:{}",
                    m.node, m.host, m.port));
  }
  if (standby_events_.told) standby_events_.told(m);
}

void Agent::KeepCopy(const Status& written) {
  if (written.ok() || !replica_) return;
  Log("cannot keep the copy of the master's journal: " + written.message() +
      "; this node withdraws as standby");
  replica_->Remove();
  replica_.reset();
  offer_port_ = 0;
  link_->Send(StandbyOfferMsg{written.message(), 0});
  if (standby_events_.told) standby_events_.told(StandbyMsg{});
}

void Agent::OnResult(AttemptResult&& r) {
  Outgoing out;
  if (rows_over_link_ && r.status == AttemptStatus::kRunDone) {
    out.part = AppendRowOutput::PartPath(parts_dir_, r.id, r.attempt);
  }
  out.result = std::move(r);
  outbox_.push_back(std::move(out));
  PumpOutbox();
}

void Agent::PumpOutbox() {
  if (outbox_waiting_) return;
  while (!outbox_.empty()) {
    Outgoing& o = outbox_.front();
    while (!o.part.empty()) {
      if (link_->queued_bytes() > kRowsBacklog) {
        outbox_waiting_ = true;
        outbox_timer_.expires_after(kRowsRetry);
        outbox_timer_.async_wait([this](const boost::system::error_code& ec) {
          if (ec) return;  // cancelled: the agent may be gone
          outbox_waiting_ = false;
          PumpOutbox();
        });
        return;
      }
      if (!o.file) {
        o.file.reset(fopen(o.part.c_str(), "rbe"));
        if (!o.file) {
          // The worker said the attempt succeeded but its rows are not
          // there: without them the attempt did not succeed.
          std::string why = ErrnoMessage(o.part, errno);
          Log("cannot send the rows of mini-batch " + std::to_string(o.result.id) + ": " + why);
          o.result.status = AttemptStatus::kProcessDied;
          o.result.error_category = "ROWS_MISSING";
          o.result.error_message = "its append_row rows could not be read on node " +
                                   std::to_string(node_) + ": " + why;
          o.part.clear();
          break;
        }
      }
      // Blocking reads of a local file, a chunk each; the backlog check
      // above returns to the loop after a few, so that the link can write.
      std::string chunk(kMaxRowsChunk, '\0');
      size_t n = fread(chunk.data(), 1, chunk.size(), o.file.get());
      if (n < chunk.size() && ferror(o.file.get())) {
        std::string why = ErrnoMessage(o.part, errno);
        Log("cannot read the rows of mini-batch " + std::to_string(o.result.id) + ": " + why);
        // What was sent stays an .incoming at the master, never renamed
        // into a part; the attempt's failure sends the mini-batch to a retry.
        o.result.status = AttemptStatus::kProcessDied;
        o.result.error_category = "ROWS_MISSING";
        o.result.error_message = "its append_row rows could not be read on node " +
                                 std::to_string(node_) + ": " + why;
        o.file.reset();
        o.part.clear();
        break;
      }
      chunk.resize(n);
      bool last = n < kMaxRowsChunk && feof(o.file.get());
      link_->Send(RowsMsg{o.result.id, o.result.attempt, std::move(chunk), last});
      if (last) {
        o.file.reset();
        unlink(o.part.c_str());
        o.part.clear();
      }
    }
    link_->Send(ResultMsg{std::move(o.result)});
    outbox_.pop_front();
  }
  if (bye_waiting_) SendBye();
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
  if (auto* dir = std::get_if<JobDirMsg>(&m)) {
    OnJobDir(dir->id);
  } else if (auto* lease = std::get_if<LeaseMsg>(&m)) {
    if (requested_ > 0) requested_--;
    if (finishing_) {
      link_->Send(GiveBackMsg{lease->batch->id, lease->attempt});
      return;
    }
    pool_->Submit(std::move(lease->batch), lease->attempt);
  } else if (auto* standby = std::get_if<StandbyMsg>(&m)) {
    OnStandby(*standby);
  } else if (auto* copy = std::get_if<JournalCopyMsg>(&m)) {
    if (replica_) KeepCopy(replica_->AppendJournal(copy->offset, copy->data));
  } else if (auto* part = std::get_if<PartCopyMsg>(&m)) {
    if (replica_) KeepCopy(replica_->WritePart(part->id, part->attempt, part->data, part->last));
  } else if (auto* cancel = std::get_if<CancelMsg>(&m)) {
    Log(fmt::format("master: cancel mini-batch {} attempt {}: {}", cancel->id, cancel->attempt,
                    cancel->reason));
    pool_->Cancel(cancel->id, cancel->attempt, cancel->reason);
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
    if (replica_) {
      replica_->Remove();
      replica_.reset();
    }
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
