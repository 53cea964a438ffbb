// The standby's copy (master/standby_feed.h → link → node/standby_replica.h)
// inside one process: a master with a journal and append_row runs a job
// whose mini-batches an in-process "agent" finishes; another agent stands by
// and writes what it is sent into a StandbyReplica. The copy must be the
// journal byte for byte at the end, must never hold a record accepting a
// part it lacks, and must move into place whole.
#include "master/standby_feed.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <vector>

#include "base/job_dir.h"
#include "master/master.h"
#include "node/standby_replica.h"
#include "temp_dir.h"

namespace parallelrun {
namespace {

using std::chrono::milliseconds;

bool RunUntil(boost::asio::io_context& io, const std::function<bool()>& done,
              milliseconds limit = milliseconds(10000)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.restart();
    io.run_one_for(milliseconds(5));
  }
  return true;
}

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Exists(const std::string& path) { return std::filesystem::exists(path); }

// A master with a journal and append_row over `files` one-file mini-batches.
struct Job {
  TempDir tmp{"standby_feed_test"};
  std::string job_dir = tmp.path() + "/job";
  std::unique_ptr<JobLog> log;
  std::unique_ptr<Journal> journal;
  std::unique_ptr<FILE, int (*)(FILE*)> out{tmpfile(), fclose};
  Progress progress{Progress::Mode::kNone, out.get()};
  boost::asio::io_context io;
  std::optional<Status> outcome;
  std::unique_ptr<Master> master;
  std::string parts_dir = job_dir + "/append_row";

  explicit Job(int files) {
    for (int i = 0; i < files; i++) tmp.Write("data/f" + std::to_string(i), "x");
    auto opened = JobLog::Open(job_dir, 3, {"data"});
    REQUIRE(opened.ok());
    log = std::move(*opened);
    auto j = Journal::Open(job_dir + "/journal");
    REQUIRE(j.ok());
    journal = std::move(*j);
    std::filesystem::create_directories(parts_dir);
    std::filesystem::create_directories(tmp.path() + "/out");
    Master::Config config;
    config.input_names = {"data"};
    config.input_paths = {tmp.path() + "/data"};
    config.mini_batch_size = 1;
    config.partitions_dir = job_dir + "/partitions";
    config.expected_nodes = 3;
    config.journal = journal.get();
    AppendRowTarget target;
    target.output_dir = tmp.path() + "/out";
    target.file_name = "rows.txt";
    target.parts_dir = parts_dir;
    config.append_row = target;
    master = std::make_unique<Master>(io, config, log.get(), &progress,
                                      [this](Status s) { outcome = s; });
  }
};

// An agent of its own node: what the master sent it, and — once named the
// standby — the copy it keeps in `job_dir`.
struct Agent {
  uint32_t node = 0;
  std::unique_ptr<LinkEnd> end;
  std::vector<LinkMessage> received;
  std::string job_dir;
  std::unique_ptr<StandbyReplica> replica;
  std::vector<std::string> broken;  // invariant violations seen as the copy grew

  template <class T>
  const T* Last() const {
    for (auto it = received.rbegin(); it != received.rend(); ++it) {
      if (auto* m = std::get_if<T>(&*it)) return m;
    }
    return nullptr;
  }

  void Receive(LinkMessage&& m) {
    if (auto* s = std::get_if<StandbyMsg>(&m)) {
      bool mine = s->active && s->node == node;
      if (mine && !replica) {
        replica = std::make_unique<StandbyReplica>(job_dir);
        REQUIRE(replica->Reset().ok());
      } else if (!mine && replica) {
        replica->Remove();
        replica.reset();
      }
    } else if (auto* c = std::get_if<JournalCopyMsg>(&m)) {
      REQUIRE(replica);
      REQUIRE(replica->AppendJournal(c->offset, c->data).ok());
      CheckAcceptedPartsArePresent();
    } else if (auto* p = std::get_if<PartCopyMsg>(&m)) {
      REQUIRE(replica);
      REQUIRE(replica->WritePart(p->id, p->attempt, p->data, p->last).ok());
    }
    received.push_back(std::move(m));
  }

  // Every acceptance the copy records names a part the copy has.
  void CheckAcceptedPartsArePresent() {
    auto read = ReadJournal(StandbyJournalPath(job_dir), [&](JournalRecord&& r) {
      if (auto* a = std::get_if<JournalAccepted>(&r)) {
        std::string part = AppendRowOutput::PartPath(StandbyPartsDir(job_dir), a->id, a->attempt);
        if (!Exists(part)) broken.push_back(part);
      }
      return Status::Ok();
    });
    REQUIRE(read.ok());
  }
};

void Connect(Job& job, Agent& a, uint32_t node, const std::string& job_dir) {
  a.node = node;
  a.job_dir = job_dir;
  auto [to_agent, to_master] = MakeInProcessLink(job.io);
  job.master->AddAgent(std::move(to_agent));
  a.end = std::move(to_master);
  Agent* self = &a;
  a.end->SetHandler([self](LinkMessage&& m) { self->Receive(std::move(m)); });
  a.end->Send(HelloMsg{node, 1, "n" + std::to_string(node)});
  a.end->Send(NodeDirMsg{job_dir, false});
}

// The rows of mini-batch `id`: mini-batch 5's cross in several chunks
// (more than kMaxCopyChunk), exactly one chunk for mini-batch 6.
std::string Rows(MiniBatchId id) {
  std::string rows = "row of " + std::to_string(id) + "\n";
  if (id == 5) rows += std::string(2 * kMaxCopyChunk + 123, 'x');
  if (id == 6) rows += std::string(kMaxCopyChunk - rows.size(), 'y');
  return rows;
}

// Runs every lease the worker agent gets: writes its part as a worker
// would, then reports success.
void Work(Job& job, Agent& worker, size_t* served) {
  for (; *served < worker.received.size(); ++*served) {
    auto* lease = std::get_if<LeaseMsg>(&worker.received[*served]);
    if (!lease) continue;
    MiniBatchId id = lease->batch->id;
    std::ofstream(AppendRowOutput::PartPath(job.parts_dir, id, lease->attempt)) << Rows(id);
    AttemptResult r;
    r.id = id;
    r.attempt = lease->attempt;
    r.status = AttemptStatus::kRunDone;
    r.total = r.succeeded = r.returned = 1;
    r.node = worker.node;
    r.process = "process000";
    worker.end->Send(ResultMsg{r});
    worker.end->Send(PullMsg{1});
  }
}

TEST_CASE("StandbyFeed: the standby's copy is the journal, byte for byte, parts first",
          "[standby]") {
  Job job(12);
  Agent standby, worker;
  Connect(job, standby, 1, job.tmp.path() + "/standby_job");
  Connect(job, worker, 2, job.tmp.path() + "/worker_job");
  standby.end->Send(StandbyOfferMsg{"127.0.0.1", 4242});
  job.master->Start();
  worker.end->Send(PullMsg{1});
  size_t served = 0;
  REQUIRE(RunUntil(job.io, [&] {
    Work(job, worker, &served);
    return worker.Last<DrainMsg>() != nullptr;
  }));
  // Both agents were told who stands by, and where.
  for (Agent* a : {&standby, &worker}) {
    const StandbyMsg* s = a->Last<StandbyMsg>();
    REQUIRE(s);
    CHECK(s->active);
    CHECK(s->node == 1);
    CHECK(s->host == "127.0.0.1");
    CHECK(s->port == 4242);
  }
  CHECK(worker.Last<JournalCopyMsg>() == nullptr);
  for (Agent* a : {&standby, &worker}) a->end->Send(ByeMsg{NodeReport{a->node, "h", {}}});
  REQUIRE(RunUntil(job.io, [&] { return job.outcome.has_value(); }));
  CHECK(job.outcome->ok());
  // Deliver what is still queued (the run's end record).
  RunUntil(job.io, [] { return false; }, milliseconds(50));

  CHECK(standby.broken.empty());
  CHECK(ReadWhole(StandbyJournalPath(standby.job_dir)) == ReadWhole(job.job_dir + "/journal"));
  CHECK(standby.replica->journal_bytes() == job.journal->size());
  int parts = 0;
  for (const auto& e : std::filesystem::directory_iterator(StandbyPartsDir(standby.job_dir))) {
    MiniBatchId id = std::stoull(e.path().filename().string());
    CHECK(ReadWhole(e.path()) == Rows(id));
    parts++;
  }
  CHECK(parts == 12);

  // Promote moves the copy into place, whole.
  std::string heir_parts = standby.job_dir + "/append_row";
  REQUIRE(StandbyReplica::Promote(standby.job_dir, standby.job_dir + "/journal", heir_parts).ok());
  CHECK(ReadWhole(standby.job_dir + "/journal") == ReadWhole(job.job_dir + "/journal"));
  CHECK_FALSE(Exists(StandbyDir(standby.job_dir)));
  CHECK(ReadWhole(AppendRowOutput::PartPath(heir_parts, 7, 1)) == "row of 7\n");
}

TEST_CASE("StandbyFeed: the lowest rank stands by; one that withdraws or is lost is replaced",
          "[standby]") {
  Job job(6);
  Agent first, second, worker;
  Connect(job, first, 1, job.tmp.path() + "/first_job");
  Connect(job, second, 2, job.tmp.path() + "/second_job");
  Connect(job, worker, 3, job.tmp.path() + "/worker_job");
  second.end->Send(StandbyOfferMsg{"10.0.0.2", 5000});
  job.master->Start();
  worker.end->Send(PullMsg{1});
  size_t served = 0;
  REQUIRE(RunUntil(job.io, [&] {
    Work(job, worker, &served);
    return worker.Last<StandbyMsg>() && second.Last<JournalCopyMsg>() && served >= 2;
  }));
  CHECK(worker.Last<StandbyMsg>()->node == 2);
  CHECK(second.replica);

  // Node 1 offers later: it ranks first, so it stands by instead, and node
  // 2 drops its copy.
  first.end->Send(StandbyOfferMsg{"10.0.0.1", 5001});
  REQUIRE(RunUntil(job.io, [&] {
    Work(job, worker, &served);
    return worker.Last<StandbyMsg>()->node == 1 && first.Last<JournalCopyMsg>();
  }));
  CHECK_FALSE(second.replica);
  CHECK_FALSE(Exists(StandbyDir(second.job_dir)));
  CHECK(worker.Last<StandbyMsg>()->host == "10.0.0.1");
  std::string log = ReadWhole(MasterLogPath(job.job_dir, 0));
  CHECK(log.find("Node 1 ranks before node 2: it stands by instead.") != std::string::npos);

  // Node 1's disk fills: it withdraws. Node 2's offer still stands: it
  // stands by again, with a copy from byte 0.
  size_t before = second.received.size();
  first.end->Send(StandbyOfferMsg{"no space left on device", 0});
  // The first copy message after the withdrawal (an index: the vector grows).
  std::optional<size_t> start_at;
  REQUIRE(RunUntil(job.io, [&] {
    Work(job, worker, &served);
    for (size_t i = before; i < second.received.size() && !start_at; i++) {
      if (std::holds_alternative<JournalCopyMsg>(second.received[i])) start_at = i;
    }
    return worker.Last<StandbyMsg>()->node == 2 && start_at;
  }));
  CHECK_FALSE(first.replica);
  const auto* start = std::get_if<JournalCopyMsg>(&second.received[*start_at]);
  CHECK(start->offset == 0);
  CHECK(start->data.rfind(kJournalMagic, 0) == 0);
  log = ReadWhole(MasterLogPath(job.job_dir, 0));
  CHECK(log.find("Node 1 (n1) is no longer the standby: it withdrew: no space left on device.") !=
        std::string::npos);

  // Node 2 is lost: nobody is left to stand by, and every agent hears it.
  job.master->AgentLost(1, "connection reset");
  REQUIRE(RunUntil(job.io, [&] { return !worker.Last<StandbyMsg>()->active; }));
  log = ReadWhole(MasterLogPath(job.job_dir, 0));
  CHECK(log.find("Node 2 (n2) is no longer the standby: its node was lost.") != std::string::npos);
  CHECK(log.find("No node stands by") != std::string::npos);
  job.master->Interrupt(true);
}

TEST_CASE("StandbyReplica: refuses a gap, a part before its start, and a missing copy",
          "[standby]") {
  TempDir tmp("standby_replica_test");
  std::string job_dir = tmp.path() + "/job";
  StandbyReplica replica(job_dir);
  Status early = replica.WritePart(1, 1, "x", true);
  CHECK(early.message() == StandbyDir(job_dir) + ": a part arrived before the copy was started");
  REQUIRE(replica.Reset().ok());
  REQUIRE(replica.AppendJournal(0, "PRJNL001").ok());
  Status gap = replica.AppendJournal(9, "x");
  CHECK(gap.message() == StandbyJournalPath(job_dir) +
                             ": a chunk of the journal at byte 9 does not follow the copy's 8 "
                             "bytes");
  // A part still arriving is not promoted.
  REQUIRE(replica.WritePart(4, 2, "half", false).ok());
  REQUIRE(replica.WritePart(5, 1, "whole", true).ok());
  REQUIRE(StandbyReplica::Promote(job_dir, job_dir + "/journal", job_dir + "/parts").ok());
  CHECK(ReadWhole(job_dir + "/journal") == "PRJNL001");
  CHECK(Exists(AppendRowOutput::PartPath(job_dir + "/parts", 5, 1)));
  CHECK_FALSE(Exists(AppendRowOutput::PartPath(job_dir + "/parts", 4, 2)));
  CHECK_FALSE(Exists(AppendRowOutput::PartPath(job_dir + "/parts", 4, 2) + ".incoming"));
  Status none = StandbyReplica::Promote(job_dir, job_dir + "/journal", "");
  CHECK(none.message().find(StandbyJournalPath(job_dir)) == 0);
  CHECK(none.message().find("(no copy of the journal)") != std::string::npos);
}

}  // namespace
}  // namespace parallelrun
