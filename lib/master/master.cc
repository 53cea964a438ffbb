#include "master/master.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "base/crc32c.h"
#include "data/table_source.h"

namespace parallelrun {

namespace {

constexpr auto kTick = std::chrono::milliseconds(200);
constexpr double kOverviewEverySeconds = 10;
// Group commit of the journal: how long records wait for company.
constexpr auto kCommitDelay = std::chrono::milliseconds(20);
// ... or until this much waits.
constexpr size_t kCommitBytes = 64 << 10;

// `batch` with its items as people read them (a table range's descriptor is
// bytes), for the report's Mini-batch Detail and job_error.txt.
MiniBatch Labelled(const MiniBatch& batch) {
  MiniBatch out;
  out.id = batch.id;
  out.input = batch.input;
  out.items.reserve(batch.items.size());
  for (size_t i = 0; i < batch.items.size(); i++) out.items.push_back(ItemLabel(batch, i));
  return out;
}

}  // namespace

Master::Master(boost::asio::io_context& io, Config config, JobLog* log, Progress* progress,
               std::function<void(Status)> done)
    : io_(io), config_(std::move(config)), log_(log), progress_(progress), done_(std::move(done)),
      queue_(config_.limits),
      watch_(*config_.clock, config_.progress_update_timeout, kOverviewEverySeconds),
      init_failures_(*config_.clock, config_.expected_nodes, config_.process_count_per_node),
      tick_(io), standby_feed_(config_.journal, nullptr), commit_timer_(io) {
  // Form enough mini-batches ahead to cover demand, but hold no more than
  // about 8k items in them: memory must not grow with the dataset, and a
  // 100k-file folder should already be past the plateau.
  uint64_t by_items = 8192 / std::max<uint64_t>(config_.mini_batch_size, 1);
  window_ = static_cast<size_t>(std::clamp<uint64_t>(by_items, 16, 1024));
  if (config_.append_row) append_row_ = std::make_unique<AppendRowOutput>(*config_.append_row);
  standby_feed_ = StandbyFeed(config_.journal, append_row_.get());
  if (config_.journal) {
    config_.journal->SetCommitted([this](uint64_t offset, std::string_view bytes) {
      if (!standby_) return;
      standby_feed_.Committed(offset, bytes);
      if (standby_feed_.backlog() > config_.standby_backlog) {
        DropStandby(fmt::format("its copy of the journal fell behind ({} MiB not yet sent)",
                                standby_feed_.backlog() >> 20));
      }
    });
  }
}

Master::~Master() {
  *alive_ = false;
  if (config_.journal) config_.journal->SetCommitted(nullptr);
  source_.reset();
}

size_t Master::AddAgent(std::unique_ptr<LinkEnd> link) {
  size_t index = agents_.size();
  agents_.push_back(AgentState{});
  agents_.back().link = std::move(link);
  agents_.back().link->SetHandler([this, index](LinkMessage&& m) { OnMessage(index, std::move(m)); });
  // First, before any lease: where the results of this agent go depends on it.
  if (!config_.job_dir_id.empty()) agents_.back().link->Send(JobDirMsg{config_.job_dir_id});
  if (standby_) TellStandby(agents_.back().link.get());
  if (finished_) {
    // Too late to help: the job is over.
    agents_.back().bye = true;
    agents_.back().link->Send(EndMsg{static_cast<uint8_t>(outcome_.code()), outcome_.message()});
  } else if (interrupted_) {
    agents_.back().link->Send(StopMsg{true, "interrupted"});
  } else if (drained_) {
    // Joined after the work ran out or the job began to stop.
    agents_.back().link->Send(DrainMsg{});
  }
  return index;
}

void Master::AgentLost(size_t index, const std::string& reason) {
  if (index >= agents_.size() || agents_[index].bye) return;
  AgentState& a = agents_[index];
  a.bye = true;
  ClearDemand(&a);
  size_t requeued = queue_.ReleaseAgent(static_cast<AgentId>(index));
  log_->Master("WARNING", fmt::format("Lost node {} ({}): {}; its {} leases are pending again.",
                                      a.node, a.host, reason, requeued));
  progress_->Say(fmt::format("lost node {} ({}): {}; {} mini-batches go to other nodes", a.node,
                             a.host, reason, requeued));
  if (standby_ == index) DropStandby("its node was lost");
  bool all_gone = std::all_of(agents_.begin(), agents_.end(),
                              [](const AgentState& s) { return s.bye; });
  if (all_gone) {
    Finish();
  } else {
    Serve();
  }
}

double Master::Elapsed() const { return watch_.Elapsed(); }

void Master::Start() {
  watch_.Start();
  init_failures_.Start();
  log_->Master("INFO", "Start scheduling.");
  log_->Overview("Start scheduling.");
  OpenInput(0);
  Tick();
}

void Master::OpenInput(size_t index) {
  input_index_ = index;
  if (index < listed_through_.size() && listed_through_[index] >= 0) {
    // Resume: every mini-batch of this input is in the journal.
    next_id_ = static_cast<MiniBatchId>(listed_through_[index]);
    log_->Master("INFO", fmt::format("Input {} ({}) was listed by an earlier run: its mini-batches "
                                     "come from the journal.",
                                     index, config_.input_names[index]));
    OpenInput(index + 1);
    return;
  }
  if (index >= config_.input_paths.size()) {
    queue_.CloseAdding();
    // The rows of a CSV or JSON Lines range are only known once a worker has
    // read them (BatchQueue): say so rather than print a count that grows.
    bool tables = std::any_of(config_.inputs.begin(), config_.inputs.end(), [](const InputPlan& p) {
      return p.kind == InputPlan::Kind::kTable;
    });
    std::string items =
        tables ? fmt::format("{} rows counted so far (CSV and JSON Lines rows are counted as "
                             "workers read them)",
                             queue_.counters().items_added)
               : fmt::format("{} items", queue_.counters().items_added);
    log_->Master("INFO", fmt::format("Scheduling finished. Scheduled {} mini batches in {:.3f} "
                                     "seconds. There are {} mini batches with {}.",
                                     queue_.counters().batches_added, Elapsed(),
                                     queue_.counters().batches_added, items));
    log_->Overview(fmt::format("Scheduling finished. There are {} mini batches with {}.",
                               queue_.counters().batches_added, items));
    CheckThresholds();
    CheckAllFinished();
    return;
  }
  log_->Master("INFO", fmt::format("Scheduling mini-batches for input {} ({}): {}", index,
                                   config_.input_names[index], config_.input_paths[index]));
  input_started_ = config_.clock->Steady();
  auto alive = alive_;
  boost::asio::io_context* io = &io_;
  InputPlan folder;  // no plan: a folder of files
  folder.name = config_.input_names[index];
  folder.path = folder.root = config_.input_paths[index];
  InputSource::Options options;
  options.mini_batch_size = config_.mini_batch_size;
  options.partition_keys = config_.partition_keys;
  options.spill_dir = fmt::format("{}/{}", config_.partitions_dir, index);
  options.shuffle = config_.shuffle;
  options.processes = config_.shuffle_processes;
  source_ = InputSource::Open(index < config_.inputs.size() ? config_.inputs[index] : folder,
                              options, [this, alive, io] {
                                boost::asio::post(*io, [this, alive] {
                                  if (!*alive) return;
                                  Feed();
                                  Serve();
                                });
                              });
}

void Master::Feed() {
  while (!queue_.adding_closed() && source_) {
    if (queue_.pending() >= window_ + total_demand_) return;
    MiniBatch batch;
    switch (source_->Next(&batch)) {
      case Batcher::Outcome::kBatch:
        batch.id = next_id_++;
        batch.input = static_cast<uint32_t>(input_index_);
        Formed(std::move(batch));
        break;
      case Batcher::Outcome::kWaiting:
        return;
      case Batcher::Outcome::kExhausted: {
        InputSource::End end = source_->Summary();
        for (const auto& line : end.info) log_->Master("INFO", line);
        // Skipped files and folders left out change what the job's results
        // cover: the person running it reads them on the terminal too.
        for (const auto& line : end.warnings) {
          log_->Master("WARNING", line);
          progress_->Say("warning: " + line);
        }
        for (const auto& e : end.errors) {
          listing_errors_.push_back(e);
          log_->Master("ERROR", "Listing: " + e);
        }
        listing_error_count_ += end.error_count;
        // Only a listing that ended cleanly is never repeated by a resume.
        if (end.errors.empty()) {
          Record(JournalInputListed{static_cast<uint32_t>(input_index_), next_id_});
        }
        source_.reset();
        OpenInput(input_index_ + 1);
        break;
      }
    }
  }
}

void Master::Serve() {
  if (drained_ || !stop_reason_.empty() || interrupted_) return;
  // Only the agents that asked for work, in the order they asked: a loop
  // over every agent per pull (and per formed mini-batch, in Feed) cost
  // O(agents) per lease, which 1,000 agents already felt (issue 12 item 11).
  while (!hungry_.empty()) {
    size_t i = hungry_.front();
    AgentState& a = agents_[i];
    while (a.demand > 0) {
      auto lease = queue_.LeaseNext(static_cast<AgentId>(i));
      if (!lease) {
        Feed();
        lease = queue_.LeaseNext(static_cast<AgentId>(i));
        if (!lease) {
          // No work left to hand out: an idle worker may take a straggler's
          // second attempt (the same rule holds for every agent).
          if (LeaseStraggler(i)) continue;
          return;
        }
      }
      a.demand--;
      total_demand_--;
      if (!first_lease_logged_) {
        first_lease_logged_ = true;
        log_->Master("INFO", fmt::format("First mini-batch handed out {:.6f} seconds after start.",
                                         Elapsed()));
      }
      a.link->Send(LeaseMsg{lease->batch, lease->attempt});
    }
    a.hungry = false;
    hungry_.pop_front();
  }
  Feed();
}

void Master::AddDemand(size_t index, uint32_t n) {
  AgentState& a = agents_[index];
  a.demand += n;
  total_demand_ += n;
  if (a.demand > 0 && !a.hungry) {
    a.hungry = true;
    hungry_.push_back(index);
  }
}

void Master::ClearDemand(AgentState* a) {
  total_demand_ -= a->demand;
  a->demand = 0;  // left in hungry_ (if there) until Serve reaches it
}

bool Master::LeaseStraggler(size_t index) {
  if (queue_.limits().straggler_factor <= 0) return false;
  queue_.set_now(Elapsed());
  auto s = queue_.LeaseStraggler(static_cast<AgentId>(index));
  if (!s) return false;
  AgentState& a = agents_[index];
  a.demand--;
  total_demand_--;
  const MiniBatch& b = *s->lease.batch;
  twins_[b.id] = Twin{IsTabular(b.kind) ? Labelled(b) : b, 0};
  uint32_t running_node = s->running_agent < agents_.size() ? agents_[s->running_agent].node : 0;
  std::string line = fmt::format(
      "Mini-batch {} (attempt {} on node {}) has run {:.1f} s, more than straggler_factor {:g} × "
      "the median {:.3f} s of {} finished attempts: attempt {} starts on node {}; the first to "
      "succeed counts, the other is stopped.",
      b.id, s->running_attempt, running_node, s->running_seconds, queue_.limits().straggler_factor,
      s->median_seconds, s->samples, s->lease.attempt, a.node);
  log_->Master("INFO", line);
  progress_->Say(fmt::format("straggler: mini-batch {} has run {:.1f} s (median {:.3f} s); "
                             "attempt {} starts on node {}",
                             b.id, s->running_seconds, s->median_seconds, s->lease.attempt,
                             a.node));
  a.link->Send(LeaseMsg{s->lease.batch, s->lease.attempt});
  return true;
}

bool Master::OnTwinResult(AttemptResult& r) {
  auto it = twins_.find(r.id);
  if (it == twins_.end() || it->second.winner == 0 || it->second.winner == r.attempt) return false;
  // The attempt that lost the race: in the report, marked, never counted.
  if (r.status == AttemptStatus::kRunDone || r.error_message.empty()) {
    r.error_message = fmt::format("not used: attempt {} of this mini-batch (a straggler's second "
                                  "attempt) succeeded first",
                                  it->second.winner);
  }
  Record(r);
  log_->Attempt(r, it->second.shown);
  if (append_row_) append_row_->Discard(r.id, r.attempt);
  log_->Master("INFO", fmt::format("Mini-batch {} attempt {} ended ({}) after attempt {} had "
                                   "succeeded; it is not counted.",
                                   r.id, r.attempt, AttemptStatusName(r.status),
                                   it->second.winner));
  twins_.erase(it);
  return true;
}

void Master::OnMessage(size_t index, LinkMessage&& m) {
  AgentState& a = agents_[index];
  queue_.set_now(Elapsed());
  if (auto* hello = std::get_if<HelloMsg>(&m)) {
    a.hello = true;
    a.node = hello->node;
    a.host = hello->host;
    log_->Master("INFO", fmt::format("Agent of node {} ({}) joined.", a.node, a.host));
  } else if (auto* pull = std::get_if<PullMsg>(&m)) {
    // A pull follows a result or a worker that finished init(): progress
    // (the original counts init progress too, reference §4.5).
    watch_.Progressed();
    AddDemand(index, pull->n);
    Serve();
  } else if (auto* result = std::get_if<ResultMsg>(&m)) {
    OnResult(index, std::move(result->result));
  } else if (auto* dir = std::get_if<NodeDirMsg>(&m)) {
    a.job_dir = dir->job_dir;
    a.shared = dir->shared;
    log_->NodeDir(a.node, a.host, dir->job_dir, dir->shared);
    log_->Master("INFO", fmt::format("Node {} ({}) has its job dir at {}{}.", a.node, a.host,
                                     dir->job_dir,
                                     dir->shared ? ", the master's"
                                                 : ", not the master's: its results and "
                                                   "append_row rows come over the link, its "
                                                   "user logs stay on that node"));
  } else if (auto* offer = std::get_if<StandbyOfferMsg>(&m)) {
    a.standby_host = offer->host;
    a.standby_port = offer->port;
    if (offer->port == 0 && standby_ == index) {
      DropStandby("it withdrew: " + offer->host);
    } else if (offer->port != 0 && !a.shared && !finished_) {
      if (!standby_) {
        ChooseStandby();
      } else if (a.node < agents_[*standby_].node) {
        // The lowest rank stands by, as the next rank takes over with a
        // shared job dir: agents join in any order, the role moves down.
        AgentState& was = agents_[*standby_];
        log_->Master("INFO", fmt::format("Node {} ranks before node {}: it stands by instead.",
                                         a.node, was.node));
        standby_feed_.Stop();
        standby_.reset();
        ChooseStandby();
      }
    }
  } else if (auto* rows = std::get_if<RowsMsg>(&m)) {
    if (!append_row_) {
      log_->Master("WARNING", fmt::format("Node {} sent append_row rows for mini-batch {}, but "
                                          "the job's output_action is not append_row; dropped.",
                                          a.node, rows->id));
      return;
    }
    // A crashed earlier run, or an agent lost mid-part whose lease was then
    // given (with its attempt number) to another, may have left a piece of
    // the same attempt's rows: the first chunk from this agent starts afresh.
    auto key = std::make_pair(rows->id, rows->attempt);
    auto [it, fresh] = rows_incoming_.emplace(key, index);
    if (fresh || it->second != index) {
      it->second = index;
      unlink((append_row_->PartPath(rows->id, rows->attempt) + ".incoming").c_str());
    }
    if (rows->last) rows_incoming_.erase(key);
    Status s = append_row_->WriteChunk(rows->id, rows->attempt, rows->data, rows->last);
    if (!s.ok()) FailInfrastructure(s);
  } else if (auto* back = std::get_if<GiveBackMsg>(&m)) {
    queue_.Return(back->id, back->attempt);
    Serve();
  } else if (auto* failed = std::get_if<NodeFailedMsg>(&m)) {
    a.failed = true;
    ClearDemand(&a);
    log_->Master("ERROR", fmt::format("Node {} cannot run workers: {}", a.node, failed->reason));
    log_->NodeFailure(a.node, failed->reason);
    bool all_failed = std::all_of(agents_.begin(), agents_.end(),
                                  [](const AgentState& s) { return s.failed || s.bye; });
    // The reason's first line is the sentence; the rest (traceback) is in
    // job_error.txt.
    if (all_failed) BeginStop(failed->reason.substr(0, failed->reason.find('\n')));
  } else if (auto* workers = std::get_if<WorkersMsg>(&m)) {
    a.workers = *workers;
  } else if (auto* init = std::get_if<InitFailedMsg>(&m)) {
    init_failures_.Failed(a.node, init->process, init->reason);
    log_->Master("WARNING", fmt::format("Node {}: {}. init() failures in the job so far: {}; a "
                                        "job that has run more than 2 minutes stops at {}.",
                                        a.node, init->reason, init_failures_.count(),
                                        init_failures_.limit()));
    CheckInitFailures();
  } else if (auto* bye = std::get_if<ByeMsg>(&m)) {
    a.bye = true;
    ClearDemand(&a);
    Record(bye->report);
    log_->Node(bye->report);
    // A standby that said Bye stays one: it waits for END, and can still
    // take over until then (the job's last records reach its copy).
    size_t requeued = queue_.ReleaseAgent(static_cast<AgentId>(index));
    if (requeued > 0) {
      log_->Master("WARNING", fmt::format("Node {} left holding {} leases; they are pending again.",
                                          a.node, requeued));
    }
    bool all_gone = std::all_of(agents_.begin(), agents_.end(),
                                [](const AgentState& s) { return s.bye; });
    if (all_gone) Finish();
  }
}

void Master::OnResult(size_t index, AttemptResult&& r) {
  const MiniBatch* batch = queue_.Find(r.id);
  if (!batch && OnTwinResult(r)) return;
  if (!batch) {
    log_->Master("WARNING", fmt::format("Ignored a result for mini-batch {} attempt {}: it is no "
                                        "longer in flight.", r.id, r.attempt));
    if (append_row_) append_row_->Discard(r.id, r.attempt);
    return;
  }
  std::optional<MiniBatch> labelled;
  if (IsTabular(batch->kind)) labelled = Labelled(*batch);
  const MiniBatch& shown = labelled ? *labelled : *batch;
  Record(r);
  log_->Attempt(r, shown);
  if (r.status == AttemptStatus::kRunDone && r.returned > r.total && !warned_capped_) {
    warned_capped_ = true;
    std::string warning = fmt::format(
        "run() returned {} items for mini-batch {}, which is more than its {} items; using the "
        "input count as succeeded count (warned once)",
        r.returned, r.id, r.total);
    log_->Master("WARNING", warning);
    progress_->Say("warning: " + warning);
  }
  if (r.status == AttemptStatus::kInterrupted) {
    // Not the mini-batch's fault: it stays unprocessed, and no try is used up.
    queue_.Return(r.id, r.attempt);
    if (append_row_) append_row_->Discard(r.id, r.attempt);
    return;
  }
  bool last_try = static_cast<int>(r.attempt) >= queue_.limits().max_tries;
  if (AttemptFailed(r.status)) log_->Failure(r, shown, last_try);
  BatchQueue::Cancel cancel;
  BatchQueue::Verdict verdict = queue_.Finish(r, &cancel);
  if (verdict == BatchQueue::Verdict::kDone) {
    auto twin = twins_.find(r.id);
    if (twin != twins_.end() && cancel.attempt == 0) twins_.erase(twin);  // the other had failed
    if (twin != twins_.end() && cancel.attempt != 0) {
      twin->second.winner = r.attempt;
      AgentState& other = agents_[cancel.agent];
      log_->Master("INFO", fmt::format("Mini-batch {}: attempt {} succeeded first; stopping "
                                       "attempt {} on node {}.",
                                       r.id, r.attempt, cancel.attempt, other.node));
      if (!other.bye) {
        other.link->Send(CancelMsg{
            r.id, cancel.attempt,
            fmt::format("not needed: attempt {} of this mini-batch (a straggler's second attempt) "
                        "succeeded first",
                        r.attempt)});
      }
    }
  }
  if (append_row_) {
    // Only the attempt the queue recorded as the mini-batch's success
    // contributes rows; any other (failed, retried, stale) is dropped.
    if (verdict == BatchQueue::Verdict::kDone) {
      if (append_row_->Accept(r.id, r.attempt)) {
        // The standby gets the rows before the record that accepts them.
        if (standby_) {
          Status copied = standby_feed_.Part(r.id, r.attempt);
          if (!copied.ok()) DropStandby("its copy of the rows failed: " + copied.message());
        }
        Record(JournalAccepted{r.id, r.attempt, append_row_->PartBytes(r.id, r.attempt)});
      }
    } else {
      append_row_->Discard(r.id, r.attempt);
    }
  }
  if (verdict == BatchQueue::Verdict::kStale) return;
  if (verdict == BatchQueue::Verdict::kOtherRunning) {
    log_->Master("INFO", fmt::format("Mini-batch {} attempt {} failed while its other attempt "
                                     "runs on; that one decides.",
                                     r.id, r.attempt));
  } else if (verdict != BatchQueue::Verdict::kRetry) {
    log_->Finished(r);
  }
  watch_.Progressed();
  if (verdict == BatchQueue::Verdict::kFailed) {
    log_->Master("WARNING", fmt::format("Mini-batch {} failed after {} tries: {}", r.id, r.attempt,
                                        r.error_message));
  }
  CheckThresholds();
  Serve();
  CheckAllFinished();
}

void Master::CheckThresholds() {
  if (!stop_reason_.empty() || interrupted_) return;
  if (auto exceeded = queue_.ExceededThreshold()) BeginStop(*exceeded);
}

void Master::CheckInitFailures() {
  // A late agent's report after the end changes nothing.
  if (finished_ || !stop_reason_.empty() || interrupted_ || drained_) return;
  auto stop = init_failures_.Exceeded();
  if (!stop) return;
  BeginStop(stop->reason,
            "; the tracebacks are in logs/user/error/<node>/; last failure: " + stop->last_failure);
  // Workers still in init() would only add failures, and could take
  // init_timeout to answer a drain: stop them.
  StopWorkers(false, fmt::format("the job was stopped: init() failed {} times over all nodes",
                                 init_failures_.count()));
}

void Master::BeginStop(const std::string& reason, const std::string& detail) {
  if (!stop_reason_.empty()) return;
  stop_reason_ = reason;
  stop_detail_ = detail;
  log_->Master("ERROR", "Stopping: " + reason + detail);
  log_->Overview("Progress update stopped for reasons: [" + reason + "]");
  progress_->Say("stopping: " + reason + detail);
  for (auto& a : agents_) {
    ClearDemand(&a);
    if (!a.bye) a.link->Send(DrainMsg{});
  }
  drained_ = true;
}

void Master::StopWorkers(bool immediate, const std::string& reason) {
  for (auto& a : agents_) {
    ClearDemand(&a);
    if (!a.bye) a.link->Send(StopMsg{immediate, reason});
  }
}

void Master::CheckAllFinished() {
  if (drained_ || !queue_.AllFinished()) return;
  drained_ = true;
  log_->Master("INFO", fmt::format("All {} mini batches have been processed.",
                                   queue_.counters().batches_added));
  log_->Overview(fmt::format("All {} mini batches have been processed.",
                             queue_.counters().batches_added));
  for (auto& a : agents_) {
    ClearDemand(&a);
    if (!a.bye) a.link->Send(DrainMsg{});
  }
}

void Master::Interrupt(bool immediate, const std::string& signal) {
  if (finished_) return;
  if (!interrupted_) {
    interrupt_signal_ = signal;
    log_->Master("WARNING", fmt::format("Got stop signal ({}).", signal));
    log_->Overview(fmt::format("Got stop signal ({}).", signal));
    progress_->Say(fmt::format("interrupted ({}): stopping workers; press Ctrl-C again to kill "
                               "them at once",
                               signal));
  } else if (immediate) {
    log_->Master("WARNING", fmt::format("Got another stop signal ({}): killing workers now.", signal));
    progress_->Say("interrupted again: killing workers now");
  }
  interrupted_ = true;
  drained_ = true;
  // A shuffle before the first mini-batch is killed at once, not waited for.
  if (config_.shuffle) config_.shuffle->Stop();
  StopWorkers(immediate, fmt::format("the job was interrupted ({}) while this mini-batch ran",
                                     interrupt_signal_));
}

Progress::Snapshot Master::Snap() const {
  const auto& c = queue_.counters();
  Progress::Snapshot s;
  s.elapsed_seconds = Elapsed();
  s.batches_processed = c.batches_done + c.batches_failed;
  s.batches_known = c.batches_added;
  s.total_final = queue_.adding_closed();
  s.items_processed = c.items_succeeded;
  s.items_known = c.items_added;
  if (count_workers_) s.workers = count_workers_();
  for (const AgentState& a : agents_) {
    if (!a.workers || a.bye) continue;
    s.workers.starting += static_cast<int>(a.workers->starting);
    s.workers.init += static_cast<int>(a.workers->init);
    s.workers.busy += static_cast<int>(a.workers->busy);
    s.workers.idle += static_cast<int>(a.workers->idle);
    s.workers.stopping += static_cast<int>(a.workers->stopping);
  }
  s.items_failed = c.items_failed;
  s.batches_failed = c.batches_failed;
  return s;
}

void Master::Tick() {
  if (finished_) return;
  queue_.set_now(Elapsed());
  // An attempt becomes a straggler as time passes, with no event to say so:
  // idle workers near the end are offered one on each tick.
  if (queue_.limits().straggler_factor > 0 && queue_.adding_closed() && queue_.pending() == 0 &&
      std::any_of(agents_.begin(), agents_.end(), [](const AgentState& a) { return a.demand > 0; })) {
    Serve();
  }
  Progress::Snapshot s = Snap();
  progress_->Update(s);
  if (watch_.OverviewDue(s.elapsed_seconds)) {
    log_->Overview(s.batches_processed == 0 ? "No task has been processed yet."
                                            : Progress::Describe(s));
  }
  // A shuffle before the first mini-batch is progress too.
  if (source_ && source_->working()) watch_.Progressed();
  // The failures may have come before the two minutes were over.
  CheckInitFailures();
  std::optional<double> stalled = watch_.Stalled();
  if (stalled && stop_reason_.empty() && !interrupted_ && !drained_) {
    double idle = *stalled;
    std::string doing;
    if (describe_workers_) {
      for (const auto& line : describe_workers_()) doing += "\n  " + line;
    }
    if (doing.empty()) doing = "\n  (no worker process is running)";
    std::string what = fmt::format(
        "no progress update in {:.0f} seconds (progress_update_timeout {:g} s): no mini-batch "
        "finished and no worker became ready",
        idle, config_.progress_update_timeout);
    log_->Master("ERROR", fmt::format("No progress update in {:.0f} seconds. Workers:{}", idle, doing));
    BeginStop(what, "; the workers were:" + doing);
    // Workers that are stuck would never drain: stop them.
    StopWorkers(false, fmt::format("the job was stopped: no progress update in {:.0f} seconds",
                                   idle));
  }
  // The original bounds the wait for the first mini-batch (reference §5):
  // a data source that takes that long to give one is stopped rather than
  // waited for. A shuffle counts as progress above, so only this rule ends
  // one that never finishes. Resumed or empty inputs have nothing to wait for.
  if (queue_.counters().batches_added == 0 && !queue_.adding_closed() && stop_reason_.empty() &&
      !interrupted_ && !drained_) {
    if (auto waited = watch_.OlderThan(config_.first_task_creation_timeout)) {
      std::string what = fmt::format(
          "First task creation is taking longer than {:g} seconds "
          "(first_task_creation_timeout): no mini-batch was formed from input {} ({}) in {:.1f} "
          "seconds. This is usually caused by slow data source initialization; give a larger "
          "--first_task_creation_timeout if the input needs more time",
          config_.first_task_creation_timeout, input_index_,
          input_index_ < config_.input_names.size() ? config_.input_names[input_index_] : "?",
          *waited);
      BeginStop(what);
      // The listing or shuffle that holds the first mini-batch is not waited for.
      if (config_.shuffle) config_.shuffle->Stop();
      StopWorkers(false, "the job was stopped: " + what.substr(0, what.find(':')));
    }
  }
  tick_.expires_after(kTick);
  tick_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Tick();
  });
}

JobLog::Totals Master::Totals() const {
  const auto& c = queue_.counters();
  JobLog::Totals t;
  t.batches = c.batches_added;
  t.batches_done = c.batches_done;
  t.batches_failed = c.batches_failed;
  t.items = c.items_added;
  t.items_succeeded = c.items_succeeded;
  t.items_failed = c.items_failed;
  t.attempts = c.attempts;
  t.retries = c.retries;
  t.batches_retried = c.batches_retried;
  t.items_retried = c.items_retried;
  return t;
}

std::string Master::Summary() const {
  JobLog::Totals t = Totals();
  return fmt::format(
      "There are {} mini-batches with {} items. Processed {} mini-batches: {} succeeded, {} failed "
      "after all tries ({} attempts; {} mini-batches retried, {} retries). {} items succeeded, {} "
      "failed. Elapsed {}.",
      t.batches, t.items, t.batches_done + t.batches_failed, t.batches_done, t.batches_failed,
      t.attempts, t.batches_retried, t.retries, t.items_succeeded, t.items_failed,
      Progress::Duration(Elapsed()));
}

void Master::WriteAppendRowOutput(Status* outcome) {
  const std::string final_path = append_row_->final_path();
  if (!outcome->ok()) {
    // A failed job's rows are incomplete: keep them out of the output, where
    // a reader could not tell.
    log_->Master("WARNING", fmt::format("The append_row output {} was not written because the job "
                                        "did not succeed; the rows of its successful mini-batches "
                                        "are in {}.",
                                        final_path, append_row_->options().parts_dir));
    return;
  }
  // Blocking I/O on the loop, but nothing else is left to do on it.
  auto written = append_row_->Finish([this](const std::string& line) { log_->Master("INFO", line); });
  if (!written.ok()) {
    *outcome = Status::JobFailed("could not write the append_row output " + final_path + ": " +
                                 written.status().message());
    return;
  }
  progress_->Say(fmt::format("rows of {} mini-batches written to {}", written->mini_batches,
                             final_path));
}

void Master::Finish() {
  if (finished_) return;
  finished_ = true;
  tick_.cancel();
  progress_->Update(Snap());
  progress_->Clear();
  JobLog::Totals t = Totals();
  uint64_t unprocessed = t.batches - t.batches_done - t.batches_failed;
  std::string known = queue_.adding_closed() ? "" : " (the input was still being listed)";
  Status outcome;
  if (!fatal_.ok()) {
    outcome = fatal_;
  } else if (interrupted_) {
    outcome = Status::Interrupted(fmt::format(
        "interrupted by {}; {} of {} mini-batches were processed, {} were not{}", interrupt_signal_,
        t.batches_done + t.batches_failed, t.batches, unprocessed, known));
  } else if (!stop_reason_.empty()) {
    // "<reason>; N mini-batches were not processed<detail>".
    std::string left =
        unprocessed > 0 || !queue_.adding_closed()
            ? fmt::format("; the job stopped dispatching, {} of {} mini-batches were not "
                          "processed{}",
                          unprocessed, t.batches, known)
            : "";
    outcome = Status::JobFailed(stop_reason_ + left + stop_detail_);
  } else if (listing_error_count_ > 0) {
    outcome = Status::JobFailed(fmt::format(
        "{} entries of the input could not be listed (first: {}); their files were not processed",
        listing_error_count_, listing_errors_.empty() ? "" : listing_errors_.front()));
  } else if (!queue_.adding_closed() || unprocessed > 0) {
    outcome = Status::JobFailed(fmt::format("{} mini-batches were left unprocessed", unprocessed));
  } else if (auto exceeded = queue_.ExceededThreshold()) {
    outcome = Status::JobFailed(*exceeded);
  }
  // What the append_row output is made of must be on disk before it is.
  if (config_.journal && append_row_) {
    Status s = config_.journal->Sync();
    if (!s.ok() && outcome.ok()) outcome = s;
  }
  if (append_row_) WriteAppendRowOutput(&outcome);
  // Partitioning's spill files (for partitions by columns, a copy of the
  // data) are of no use once every partition was processed.
  std::error_code ec;
  if (outcome.ok() && !config_.partitions_dir.empty() &&
      std::filesystem::exists(config_.partitions_dir, ec)) {
    std::filesystem::remove_all(config_.partitions_dir, ec);
    log_->Master(ec ? "WARNING" : "INFO",
                 ec ? fmt::format("Could not remove the partitions' spill files in {}: {}",
                                  config_.partitions_dir, ec.message())
                    : fmt::format("Removed the partitions' spill files in {}.",
                                  config_.partitions_dir));
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  log_->Master("INFO", fmt::format("Peak memory (RSS) of the parallelrun process: {:.1f} MB.",
                                   static_cast<double>(ru.ru_maxrss) / 1024.0));
  std::string summary = Summary();
  if (outcome.ok() && (t.batches_failed > 0 || t.items_failed > 0)) {
    const BatchQueue::Limits& l = queue_.limits();
    summary += fmt::format(
        "\nThe failures are within the thresholds: error_threshold {}, allowed_failed_count {}, "
        "allowed_failed_percent {:g}.",
        l.error_threshold, l.allowed_failed_count, l.allowed_failed_percent);
  }
  log_->Master(outcome.ok() ? "INFO" : "ERROR",
               outcome.ok() ? "The job succeeded. " + summary
                            : "The job failed: " + outcome.message() + " " + summary);
  log_->Overview(outcome.ok() ? "Job succeeded." : "Job failed: " + outcome.message());
  size_t joined = std::count_if(agents_.begin(), agents_.end(),
                                [](const AgentState& a) { return a.hello; });
  if (static_cast<int>(joined) < config_.expected_nodes) {
    log_->Master("WARNING", fmt::format("{} of {} nodes joined the job.", joined,
                                        config_.expected_nodes));
    summary += fmt::format(" Only {} of {} nodes joined.", joined, config_.expected_nodes);
  }
  if (config_.journal) {
    commit_timer_.cancel();
    commit_now_ = false;
    config_.journal->Append(JournalRunEnded{static_cast<uint8_t>(outcome.code()), outcome.message()});
    // Written, not synced: the reports that follow are not synced either
    // (they survive the process, not the machine), and a "run ended" lost
    // with the machine only makes a resume find nothing left to do. The
    // fdatasync was the slowest step of a small job's end (5-20 ms here).
    Status s = config_.journal->Commit();
    if (!s.ok() && outcome.ok()) outcome = s;
  }
  Status closed = log_->Close(outcome, t, summary + "\n");
  if (!closed.ok() && outcome.ok()) outcome = closed;
  outcome_ = outcome;
  // Every node exits with the job's outcome (remote agents wait for this).
  for (auto& a : agents_) {
    a.link->Send(EndMsg{static_cast<uint8_t>(outcome.code()), outcome.message()});
  }
  done_(outcome);
}

void Master::Record(const JournalRecord& record) {
  if (!config_.journal) return;
  config_.journal->Append(record);
  CommitSoon();
}

void Master::Record(const MiniBatch& batch) {
  if (!config_.journal) return;
  config_.journal->Append(batch);
  CommitSoon();
}

void Master::Record(const AttemptResult& result) {
  if (!config_.journal) return;
  config_.journal->Append(result);
  CommitSoon();
}

void Master::CommitSoon() {
  // A large group goes at once, from the loop (posted, once this turn's
  // records are in): the buffer's pages are then reused rather than first
  // touched, a page fault each (~1 ms per 200 KB here). The timer is left as
  // it is: rearming it was a timerfd_settime each time, a VM exit on a
  // virtual machine (2% of the loop at mini-batch 10), and when it fires it
  // writes what came since (or nothing).
  if (config_.journal->buffered_bytes() >= kCommitBytes && !commit_now_) {
    commit_now_ = true;
    boost::asio::post(io_, [this, alive = alive_] {
      if (!*alive || !commit_now_) return;  // gone, or Finish wrote it
      commit_now_ = false;
      CommitJournal();
    });
  }
  if (commit_scheduled_) return;
  // Group commit: the records of the next few milliseconds go in one write.
  // A crash loses at most those; their mini-batches run again on resume.
  commit_scheduled_ = true;
  commit_timer_.expires_after(kCommitDelay);
  commit_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    commit_scheduled_ = false;
    CommitJournal();
  });
}

void Master::CommitJournal() {
  if (!config_.journal) return;
  Status s = config_.journal->Commit();
  if (s.ok()) s = log_->Flush();
  if (!s.ok()) FailInfrastructure(s);
}

void Master::TellStandby(LinkEnd* link) {
  if (!standby_) {
    link->Send(StandbyMsg{});
    return;
  }
  const AgentState& s = agents_[*standby_];
  link->Send(StandbyMsg{true, s.node, s.standby_host, s.standby_port});
}

void Master::ChooseStandby() {
  if (standby_ || !config_.journal || finished_) return;
  std::optional<size_t> pick;
  for (size_t i = 0; i < agents_.size(); i++) {
    const AgentState& a = agents_[i];
    if (a.bye || a.shared || a.standby_port == 0) continue;
    if (!pick || a.node < agents_[*pick].node) pick = i;
  }
  if (!pick) return;
  AgentState& a = agents_[*pick];
  // Every agent hears who stands by first (the standby starts an empty copy
  // then); the copy follows: everything committed so far, then each commit.
  standby_ = *pick;
  for (AgentState& other : agents_) {
    if (!other.bye) TellStandby(other.link.get());
  }
  CommitJournal();
  Status started = standby_feed_.Start(a.link.get(), next_id_, config_.standby_backlog);
  if (!started.ok()) {
    DropStandby("its copy cannot start: " + started.message());
    return;
  }
  log_->Master("INFO", fmt::format(
      "Node {} ({}) is the standby: it keeps a copy of the journal{} in its own job dir and "
      "takes the master role, listening on {}:{}, if this master's process dies ({} bytes "
      "copied to start).",
      a.node, a.host, append_row_ ? " and of the accepted append_row rows" : "", a.standby_host,
      a.standby_port, standby_feed_.sent_bytes()));
}

void Master::DropStandby(const std::string& why) {
  if (!standby_) return;
  AgentState& a = agents_[*standby_];
  standby_feed_.Stop();
  standby_.reset();
  a.standby_port = 0;
  log_->Master("WARNING", fmt::format("Node {} ({}) is no longer the standby: {}.", a.node, a.host,
                                      why));
  for (AgentState& other : agents_) {
    if (!other.bye) TellStandby(other.link.get());
  }
  ChooseStandby();
  if (!standby_) {
    log_->Master("WARNING", "No node stands by: if this master's process dies, the job stops "
                            "(nodes without shared storage need a standby to fail over).");
  }
}

void Master::FailInfrastructure(const Status& error) {
  if (!fatal_.ok()) return;
  fatal_ = error;
  log_->Master("ERROR", error.message());
  BeginStop(error.message());
  StopWorkers(false, "the job stopped: " + error.message());
}

void Master::Formed(MiniBatch&& batch) {
  if (batch.id < journaled_batches_) {
    // Resume: the journal has this mini-batch (finished, or queued by the
    // replay). The input must still give the same one.
    uint32_t crc = Crc32c(EncodeJournalRecord(batch));
    if (crc != journaled_crc_[batch.id] && !config_.resume->force && stop_reason_.empty()) {
      std::string first = batch.items.empty() ? "" : " (first item now: " + ItemLabel(batch, 0) + ")";
      BeginStop(fmt::format("input {} changed since the job's first run: mini-batch {} is not the "
                            "one the journal holds{}; resume with --force to go on anyway, or run "
                            "the job anew in a new job dir",
                            config_.input_names[batch.input], batch.id, first));
      fatal_ = Status::Usage(stop_reason_);
    }
    return;
  }
  Record(batch);
  queue_.Add(std::move(batch));
}

Status Master::Replay() {
  if (!config_.resume) return Status::Ok();
  std::vector<std::tuple<MiniBatch, uint32_t, uint64_t>> revive;
  std::vector<std::tuple<MiniBatchId, uint32_t, uint64_t>> accepted;
  uint64_t attempts = 0;
  auto read = ReadJournal(config_.resume->journal_path, [&](JournalRecord&& record) -> Status {
    if (auto* b = std::get_if<MiniBatch>(&record)) {
      if (b->id != journaled_batches_) {
        return Status::Infrastructure(fmt::format(
            "{}: mini-batch {} follows mini-batch {}: the journal is not this job's",
            config_.resume->journal_path, b->id, journaled_batches_ ? journaled_batches_ - 1 : 0));
      }
      journaled_crc_.push_back(Crc32c(EncodeJournalRecord(*b)));
      journaled_batches_++;
      queue_.Add(std::move(*b));
    } else if (auto* r = std::get_if<AttemptResult>(&record)) {
      const MiniBatch* batch = queue_.Find(r->id);
      if (!batch) return Status::Ok();  // a late result of a finished mini-batch
      attempts++;
      MiniBatch shown = IsTabular(batch->kind) ? Labelled(*batch) : *batch;
      log_->Attempt(*r, shown);
      if (r->status == AttemptStatus::kInterrupted) return Status::Ok();
      std::optional<MiniBatch> copy;
      if (AttemptFailed(r->status) && config_.resume->rerun_failed) copy = *batch;
      BatchQueue::Verdict verdict = queue_.Replay(*r);
      if (AttemptFailed(r->status)) log_->Failure(*r, shown, verdict == BatchQueue::Verdict::kFailed);
      // A mini-batch run again (--rerun-failed) counts when it finishes again.
      if (verdict == BatchQueue::Verdict::kDone ||
          (verdict == BatchQueue::Verdict::kFailed && !copy)) {
        log_->Finished(*r);
      }
      if (verdict == BatchQueue::Verdict::kFailed && copy) {
        revive.emplace_back(std::move(*copy), r->attempt, r->total);
      }
    } else if (auto* a = std::get_if<JournalAccepted>(&record)) {
      if (append_row_ && append_row_->Accept(a->id, a->attempt)) {
        accepted.emplace_back(a->id, a->attempt, a->bytes);
      }
    } else if (auto* l = std::get_if<JournalInputListed>(&record)) {
      if (l->input >= listed_through_.size()) listed_through_.resize(l->input + 1, -1);
      listed_through_[l->input] = static_cast<int64_t>(l->batches);
    } else if (auto* n = std::get_if<NodeReport>(&record)) {
      log_->Node(*n);
    } else if (std::get_if<JournalRunStarted>(&record)) {
      replayed_runs_++;
    }
    return Status::Ok();
  });
  if (!read.ok()) return read.status();
  if (!read->torn_tail.empty()) {
    log_->Master("WARNING", "The journal ended in a torn record, from a run that was killed: " +
                                read->torn_tail + "; it was cut there.");
  }
  for (auto& [batch, prior, total] : revive) queue_.Revive(std::move(batch), prior, total);
  if (append_row_) {
    // A run that succeeded wrote the output and removed the parts.
    std::sort(accepted.begin(), accepted.end());
    Status restored = append_row_->RestoreParts(accepted);
    if (!restored.ok()) return restored;
  }
  const auto& c = queue_.counters();
  uint64_t finished = c.batches_done + c.batches_failed;
  std::string line = fmt::format(
      "resuming: {} mini-batches from {} earlier run(s): {} succeeded, {} failed{}, {} to run "
      "again; {} attempts replayed",
      // The last run record is this run's own.
      journaled_batches_, replayed_runs_ - 1, c.batches_done, c.batches_failed + revive.size(),
      revive.empty() ? "" : fmt::format(" ({} to run again: --rerun-failed)", revive.size()),
      journaled_batches_ - finished, attempts);
  log_->Master("INFO", line);
  progress_->Say(line);
  return Status::Ok();
}

}  // namespace parallelrun
