// The job-wide init() rule (reference §3.6: 2 × node_count ×
// process_count_per_node failures over all nodes stop a job that has run
// more than 2 minutes), with a ManualClock: time moves by hand.
#include "master/job_init_failures.h"

#include <catch2/catch.hpp>

#include <chrono>

namespace parallelrun {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("JobInitFailures: the limit is 2 × node_count × process_count_per_node",
          "[job_init_failures]") {
  ManualClock clock;
  CHECK(JobInitFailures(clock, 3, 2).limit() == 12);
  CHECK(JobInitFailures(clock, 1, 1).limit() == 2);
  CHECK(JobInitFailures(clock, 0, 4).limit() == 0);  // no rule
}

TEST_CASE("JobInitFailures: enough failures stop the job only after 2 minutes",
          "[job_init_failures]") {
  ManualClock clock;
  JobInitFailures rule(clock, 3, 1);  // limit 6
  rule.Start();
  for (uint32_t node = 0; node < 3; node++) {
    rule.Failed(node, "process000", "process000: init() raised RuntimeError: no model");
    rule.Failed(node, "process001", "process001: init() raised RuntimeError: no model");
  }
  REQUIRE(rule.count() == 6);
  CHECK_FALSE(rule.Exceeded());  // 6 of 6, but the job has just started
  clock.Advance(seconds(120));
  CHECK_FALSE(rule.Exceeded());  // "more than" 2 minutes: exactly 120 s is not yet
  clock.Advance(milliseconds(1));
  auto stop = rule.Exceeded();
  REQUIRE(stop);
  CHECK(stop->reason ==
        "init() in the entry script failed 6 times over all nodes (node 0: 2, node 1: 2, node 2: "
        "2); a job that has run more than 2 minutes stops at 2 × node_count × "
        "process_count_per_node = 2 × 3 × 1 = 6 init() failures");
  CHECK(stop->last_failure == "node 2: process001: init() raised RuntimeError: no model");
}

TEST_CASE("JobInitFailures: after 2 minutes, the failure that reaches the limit stops the job",
          "[job_init_failures]") {
  ManualClock clock;
  JobInitFailures rule(clock, 2, 2);  // limit 8
  rule.Start();
  clock.Advance(seconds(600));
  for (int i = 0; i < 7; i++) rule.Failed(i % 2, "process000", "x");
  CHECK_FALSE(rule.Exceeded());  // 7 of 8, however long the job has run
  rule.Failed(1, "process003", "");
  auto stop = rule.Exceeded();
  REQUIRE(stop);
  CHECK(stop->reason.find("failed 8 times over all nodes (node 0: 4, node 1: 4); ") !=
        std::string::npos);
  // A peer that gave no reason is still named.
  CHECK(stop->last_failure == "node 1: process003: init() failed");
}

TEST_CASE("JobInitFailures: the job's time counts from Start", "[job_init_failures]") {
  ManualClock clock;
  clock.Advance(seconds(1000));  // before the job started: not the job's time
  JobInitFailures rule(clock, 1, 1);
  rule.Start();
  rule.Failed(0, "process000", "a");
  rule.Failed(0, "process001", "b");
  CHECK_FALSE(rule.Exceeded());
  clock.Advance(seconds(121));
  CHECK(rule.Exceeded());
}

TEST_CASE("JobInitFailures: no limit, no stop", "[job_init_failures]") {
  ManualClock clock;
  JobInitFailures rule(clock, 0, 0);
  rule.Start();
  clock.Advance(seconds(1000));
  for (int i = 0; i < 100; i++) rule.Failed(0, "process000", "x");
  CHECK_FALSE(rule.Exceeded());
}

}  // namespace
}  // namespace parallelrun
