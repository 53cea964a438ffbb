// Master: the job-wide init() rule end to end inside one process — two
// agents on in-process links report init() failures, a ManualClock stands in
// for the job's two minutes, and the master must stop the job (drain, stop
// the workers, fail with the rule's sentence) only when both the count and
// the time say so.
#include "master/master.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <vector>

#include "temp_dir.h"

namespace parallelrun {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

// Runs `io` until `done` or a deadline (a bound, not a timing assertion).
bool RunUntil(boost::asio::io_context& io, const std::function<bool()>& done,
              milliseconds limit = milliseconds(10000)) {
  auto deadline = steady_clock::now() + limit;
  while (!done()) {
    if (steady_clock::now() >= deadline) return false;
    io.restart();
    io.run_one_for(milliseconds(5));
  }
  return true;
}

// One agent's end of its link: what the master sent it.
struct FakeAgent {
  std::unique_ptr<LinkEnd> end;
  std::vector<LinkMessage> received;
  template <class T>
  const T* Last() const {
    for (auto it = received.rbegin(); it != received.rend(); ++it) {
      if (auto* m = std::get_if<T>(&*it)) return m;
    }
    return nullptr;
  }
};

TEST_CASE("Master: init() failures over all nodes stop the job only after 2 minutes", "[master]") {
  TempDir tmp("master_test");
  for (int i = 0; i < 4; i++) tmp.Write("data/f" + std::to_string(i) + ".txt", "x");
  const std::string job_dir = tmp.path() + "/job";
  auto log = JobLog::Open(job_dir, 2, {"data"});
  REQUIRE(log.ok());
  std::unique_ptr<FILE, int (*)(FILE*)> out(tmpfile(), fclose);
  Progress progress(Progress::Mode::kNone, out.get());

  boost::asio::io_context io;
  ManualClock clock;
  Master::Config config;
  config.input_names = {"data"};
  config.input_paths = {tmp.path() + "/data"};
  config.mini_batch_size = 1;
  config.partitions_dir = job_dir + "/partitions";
  config.expected_nodes = 2;
  config.process_count_per_node = 1;  // the limit: 2 × 2 × 1 = 4
  config.clock = &clock;
  // Only the init() rule may stop this job, not the clock's other rules.
  config.progress_update_timeout = 0;
  config.first_task_creation_timeout = 0;
  std::optional<Status> outcome;
  Master master(io, config, log->get(), &progress, [&](Status s) { outcome = s; });

  std::vector<FakeAgent> agents(2);
  for (auto& a : agents) {
    auto [to_agent, to_master] = MakeInProcessLink(io);
    master.AddAgent(std::move(to_agent));
    a.end = std::move(to_master);
    FakeAgent* self = &a;
    a.end->SetHandler([self](LinkMessage&& m) { self->received.push_back(std::move(m)); });
  }
  master.Start();
  for (uint32_t node = 0; node < 2; node++) agents[node].end->Send(HelloMsg{node, 1, "host"});
  auto fail = [&](uint32_t node, int process) {
    std::string name = "process00" + std::to_string(process);
    agents[node].end->Send(InitFailedMsg{name, name + ": init() raised OSError: no GPU"});
  };
  auto stopped = [&] {
    return agents[0].Last<StopMsg>() != nullptr && agents[1].Last<StopMsg>() != nullptr;
  };

  // Three failures: below the limit, however long the job runs.
  fail(0, 0);
  fail(1, 0);
  fail(0, 1);
  clock.Advance(seconds(600));
  // A few of the master's ticks pass (each asks the rule).
  CHECK_FALSE(RunUntil(io, stopped, milliseconds(700)));
  CHECK(agents[0].Last<DrainMsg>() == nullptr);

  // The fourth reaches the limit, after the two minutes: the job stops.
  fail(1, 1);
  REQUIRE(RunUntil(io, stopped));
  for (auto& a : agents) {
    CHECK(a.Last<DrainMsg>() != nullptr);
    CHECK(a.Last<StopMsg>()->reason == "the job was stopped: init() failed 4 times over all nodes");
    CHECK_FALSE(a.Last<StopMsg>()->immediate);
  }
  for (uint32_t node = 0; node < 2; node++) {
    NodeReport report;
    report.node = node;
    agents[node].end->Send(ByeMsg{report});
  }
  REQUIRE(RunUntil(io, [&] { return outcome.has_value(); }));
  CHECK(outcome->code() == Status::Code::kJobFailed);
  CHECK(outcome->message() ==
        "init() in the entry script failed 4 times over all nodes (node 0: 2, node 1: 2); a job "
        "that has run more than 2 minutes stops at 2 × node_count × process_count_per_node = 2 × "
        "2 × 1 = 4 init() failures; the job stopped dispatching, 4 of 4 mini-batches were not "
        "processed; the tracebacks are in logs/user/error/<node>/; last failure: node 1: "
        "process001: init() raised OSError: no GPU");
}

TEST_CASE("Master: init() failures before 2 minutes stop the job when the 2 minutes pass",
          "[master]") {
  TempDir tmp("master_test");
  tmp.Write("data/a.txt", "x");
  const std::string job_dir = tmp.path() + "/job";
  auto log = JobLog::Open(job_dir, 1, {"data"});
  REQUIRE(log.ok());
  std::unique_ptr<FILE, int (*)(FILE*)> out(tmpfile(), fclose);
  Progress progress(Progress::Mode::kNone, out.get());

  boost::asio::io_context io;
  ManualClock clock;
  Master::Config config;
  config.input_names = {"data"};
  config.input_paths = {tmp.path() + "/data"};
  config.partitions_dir = job_dir + "/partitions";
  config.expected_nodes = 1;
  config.process_count_per_node = 2;  // the limit: 2 × 1 × 2 = 4
  config.clock = &clock;
  config.progress_update_timeout = 0;
  config.first_task_creation_timeout = 0;
  Master master(io, config, log->get(), &progress, [](Status) {});
  FakeAgent agent;
  auto [to_agent, to_master] = MakeInProcessLink(io);
  master.AddAgent(std::move(to_agent));
  agent.end = std::move(to_master);
  agent.end->SetHandler([&agent](LinkMessage&& m) { agent.received.push_back(std::move(m)); });
  master.Start();
  agent.end->Send(HelloMsg{0, 2, "host"});
  for (int i = 0; i < 5; i++) agent.end->Send(InitFailedMsg{"process000", "p: init() failed"});
  auto stopped = [&] { return agent.Last<StopMsg>() != nullptr; };
  clock.Advance(seconds(120));  // exactly 2 minutes is not more than 2 minutes
  CHECK_FALSE(RunUntil(io, stopped, milliseconds(700)));
  // No new failure arrives: a tick notices that the time has come.
  clock.Advance(milliseconds(1));
  CHECK(RunUntil(io, stopped));
}

}  // namespace
}  // namespace parallelrun
