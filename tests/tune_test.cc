// The tuning guide's rules on made-up measurements: each rule advises what
// the guide says, with the numbers, and stays quiet when the job is within
// its aims. Measure() on a few hand-made rows.
#include "report/tune.h"

#include <catch2/catch.hpp>

#include <string>

namespace parallelrun {
namespace {

// A job within every aim: 12-s mini-batches, 60 % busy, 4 processes on
// 8 cores, a timeout well above the longest run(), no skew, no slowdown.
Measurements Healthy() {
  Measurements m;
  m.attempts = m.mini_batches = 8;
  m.items = 80;
  m.items_per_mini_batch = 10;
  m.wall_seconds = 300;
  m.median_elapsed = 12;
  m.median_run = 11.9;
  m.median_overhead = 0.1;
  m.max_run = 15;
  m.busy_ratio = 0.6;
  m.min_process_busy = 0.55;
  m.max_process_busy = 0.65;
  m.processes = 4;
  m.nodes = 1;
  m.mini_batch_size = 10;
  m.process_count_per_node = 4;
  m.run_invocation_timeout = 60;
  m.cores = 8;
  return m;
}

bool Has(const std::vector<Advice>& advice, const std::string& setting, const std::string& change) {
  for (const auto& a : advice) {
    if (a.setting == setting && a.change == change) return true;
  }
  return false;
}

TEST_CASE("tune: a healthy job gets no change but 'keep'", "[tune]") {
  auto advice = Advise(Healthy());
  for (const auto& a : advice) {
    INFO(a.setting << ": " << a.change << " — " << a.reason);
    CHECK(a.change.rfind("keep", 0) == 0);
  }
  CHECK(Has(advice, "process_count_per_node", "keep 4"));
}

TEST_CASE("tune: short mini-batches grow to the guide's 10 s", "[tune]") {
  Measurements m = Healthy();
  m.median_elapsed = 0.5;
  m.median_run = 0.3;
  m.median_overhead = 0.2;
  m.items = 100000;
  auto advice = AdviseMiniBatchSize(m);
  REQUIRE(advice.size() == 1);
  // 10 items × 10 s / 0.5 s.
  CHECK(advice[0].change == "10 → 200");
  CHECK(advice[0].reason.find("0.50 s (median), of which 0.20 s is outside run() (40 %)") !=
        std::string::npos);
}

TEST_CASE("tune: larger mini-batches still leave work for every process", "[tune]") {
  Measurements m = Healthy();
  m.median_elapsed = 0.5;
  m.items = 400;  // 400 items / (2 × 4 processes) = 50
  auto advice = AdviseMiniBatchSize(m);
  REQUIRE(advice.size() == 1);
  CHECK(advice[0].change == "10 → 50");
  CHECK(advice[0].reason.find("capped at 50") != std::string::npos);
}

TEST_CASE("tune: long enough mini-batches are left alone", "[tune]") {
  CHECK(AdviseMiniBatchSize(Healthy()).empty());
}

TEST_CASE("tune: CPU-bound processes beyond the cores are cut", "[tune]") {
  Measurements m = Healthy();
  m.busy_ratio = 0.98;
  m.process_count_per_node = 16;
  m.cores = 8;
  auto advice = AdviseProcessCount(m);
  // floor(8 × 0.7 / 0.98) = 5.
  REQUIRE(Has(advice, "process_count_per_node", "16 → 5"));
  CHECK(advice[0].reason.find("98 %") != std::string::npos);
}

TEST_CASE("tune: waiting processes are raised toward 70 % busy", "[tune]") {
  Measurements m = Healthy();
  m.busy_ratio = 0.1;
  // ceil(4 × 0.7 / 0.1) = 28, capped at 4 × 8 cores = 32: 28.
  CHECK(Has(AdviseProcessCount(m), "process_count_per_node", "4 → 28"));
  m.cores = 2;  // capped at 8
  CHECK(Has(AdviseProcessCount(m), "process_count_per_node", "4 → 8"));
}

TEST_CASE("tune: one process per GPU", "[tune]") {
  Measurements m = Healthy();
  m.gpus = 2;
  CHECK(Has(AdviseProcessCount(m), "process_count_per_node", "4 → 2"));
  m.process_count_per_node = 2;
  CHECK(AdviseProcessCount(m).empty());
}

TEST_CASE("tune: skew across processes and nodes is named", "[tune]") {
  Measurements m = Healthy();
  m.process_skew = 3;
  m.nodes = 2;
  m.node_skew = 2.5;
  m.slowest_node = 1;
  m.fastest_node = 0;
  auto advice = AdviseSkew(m);
  REQUIRE(advice.size() == 2);
  CHECK(advice[0].reason.find("3.0×") != std::string::npos);
  CHECK(advice[1].change == "node 1");
  CHECK(advice[1].reason.find("node 1 took 2.5× as long per item as node 0") != std::string::npos);
  CHECK(AdviseSkew(Healthy()).empty());
}

TEST_CASE("tune: a timeout close to the longest run() is raised", "[tune]") {
  Measurements m = Healthy();
  m.max_run = 55;  // > 0.8 × 60
  CHECK(Has(AdviseTimeouts(m), "run_invocation_timeout", "60 → 120"));
  m.max_run = 20;
  m.timeouts = 3;  // attempts timed out: raise whatever the longest run()
  auto advice = AdviseTimeouts(m);
  REQUIRE(Has(advice, "run_invocation_timeout", "60 → 120"));
  CHECK(advice[0].reason.find("3 attempts timed out") != std::string::npos);
  CHECK(AdviseTimeouts(Healthy()).empty());
}

TEST_CASE("tune: a timeout far above every run() may come down", "[tune]") {
  Measurements m = Healthy();
  m.run_invocation_timeout = 3600;
  m.max_run = 2;
  CHECK(Has(AdviseTimeouts(m), "run_invocation_timeout", "3600 → 60 (optional)"));
}

TEST_CASE("tune: run() slowing down over the job is reported", "[tune]") {
  Measurements m = Healthy();
  m.slowdown = 2;
  m.peak_memory_percent = 91;
  auto advice = AdviseSlowdown(m);
  REQUIRE(advice.size() == 1);
  CHECK(advice[0].reason.find("2.0× as long per item") != std::string::npos);
  CHECK(advice[0].reason.find("memory peaked at 91 %") != std::string::npos);
  CHECK(AdviseSlowdown(Healthy()).empty());
}

TEST_CASE("tune: node_count from the guide's formula", "[tune]") {
  Measurements m = Healthy();
  m.mini_batches = 100;
  // 100 mini-batches / (2 × 4 processes) = 13 nodes useful; 400/s × 12 s
  // feeds 4800 processes, 1200 nodes: 13.
  auto advice = AdviseNodeCount(m);
  REQUIRE(advice.size() == 1);
  CHECK(advice[0].change == "1 → up to 13");
  // Tiny mini-batches: one scheduler cannot feed many processes.
  m.median_elapsed = 0.005;  // 400 × 0.005 = 2 processes: not even 1 node of 4
  m.nodes = 3;
  advice = AdviseNodeCount(m);
  REQUIRE(advice.size() == 1);
  CHECK(advice[0].change == "3 → 1");
  m.nodes = 1;
  advice = AdviseNodeCount(m);
  REQUIRE(advice.size() == 1);
  CHECK(advice[0].change == "keep 1");
  CHECK(advice[0].reason.find("make them longer before adding nodes") != std::string::npos);
}

AttemptRow Row(uint64_t id, uint32_t attempt, const char* process, uint32_t node, double start,
               double elapsed, double run, double cpu, const char* status, uint64_t total = 10) {
  AttemptRow r;
  r.id = id;
  r.attempt = attempt;
  r.process = process;
  r.node = node;
  r.start = start;
  r.elapsed = elapsed;
  r.run = run;
  r.cpu = cpu;
  r.status = status;
  r.total = total;
  r.succeeded = std::string(status) == "RUN_DONE" ? total : 0;
  return r;
}

TEST_CASE("tune: Measure reads the rows", "[tune]") {
  JobReports r;
  r.settings = {{"mini_batch_size", "10"}, {"process_count_per_node", "2"},
                {"run_invocation_timeout", "60"}};
  // Two processes; mini-batch 2 timed out once, then succeeded.
  r.attempts = {Row(0, 1, "process000", 0, 100, 1, 0.8, 0.5, "RUN_DONE"),
                Row(1, 1, "process001", 0, 100, 3, 2.8, 1.5, "RUN_DONE"),
                Row(2, 1, "process000", 0, 101, 60, 0, 0, "RUN_TIMEOUT"),
                Row(2, 2, "process001", 0, 161, 2, 1.8, 1, "RUN_DONE")};
  Measurements m = Measure(r, 8, 0);
  CHECK(m.attempts == 4);
  CHECK(m.mini_batches == 3);
  CHECK(m.items == 30);
  CHECK(m.failed_attempts == 1);
  CHECK(m.timeouts == 1);
  CHECK(m.median_elapsed == Approx(2));  // of the successes: 1, 2, 3
  CHECK(m.max_run == Approx(60));        // the timed-out attempt ran its whole elapsed
  CHECK(m.wall_seconds == Approx(63));
  CHECK(m.busy_ratio == Approx(3.0 / 66));
  CHECK(m.processes == 2);
  CHECK(m.process_skew == Approx(61.0 / 5));
  CHECK(m.mini_batch_size == 10);
  CHECK(m.run_invocation_timeout == 60);
  CHECK(Has(Advise(m), "run_invocation_timeout", "60 → 120"));
}

}  // namespace
}  // namespace parallelrun
