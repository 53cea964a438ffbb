// CountMiniBatches: the counts the Python API's Job.counts gives, from
// processed_mini-batches.csv streamed.
#include "report/job_reports.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "temp_dir.h"

namespace parallelrun {
namespace {

constexpr const char* kHeader =
    "Mini-batch Id,Picked Count,Process,Node,Start Time,Total,Succeeded,Elapsed Seconds,"
    "Status,Error Category,Error Message\n";

std::string Row(uint64_t id, int attempt, int total, int succeeded, const char* status) {
  return std::to_string(id) + "," + std::to_string(attempt) +
         ",process000,0,2026-12-01T10:00:10.500000," + std::to_string(total) + "," +
         std::to_string(succeeded) + ",0.25," + status + ",,\n";
}

TEST_CASE("CountMiniBatches counts each mini-batch by its last attempt", "[job_reports]") {
  TempDir dir("job_reports_test");
  std::string csv = dir.path() + "/processed_mini-batches.csv";
  {
    std::ofstream f(csv);
    f << kHeader;
    f << Row(0, 1, 10, 0, "RUN_EXCEPTION");  // failed, then succeeded
    f << Row(1, 1, 10, 10, "RUN_DONE");
    f << Row(2, 1, 10, 0, "RUN_EXCEPTION");  // failed twice
    f << Row(0, 2, 10, 10, "RUN_DONE");
    f << Row(2, 2, 10, 3, "TIMEOUT");
    f << Row(5, 1, 4, 4, "RUN_DONE");  // ids need not be dense
    // An id far beyond the rows seen (a CSV edited by hand) is counted,
    // without a vector grown to it.
    f << Row(1000000000000ull, 1, 7, 7, "RUN_DONE");
  }
  auto c = CountMiniBatches(csv);
  REQUIRE(c.ok());
  CHECK(c->attempts == 7);
  CHECK(c->mini_batches == 5);
  CHECK(c->succeeded == 4);
  CHECK(c->failed == 1);
  CHECK(c->items == 41);
  CHECK(c->items_succeeded == 34);
  CHECK(c->items_failed == 7);
}

TEST_CASE("CountMiniBatches of a missing or broken CSV is an error", "[job_reports]") {
  TempDir dir("job_reports_test");
  CHECK_FALSE(CountMiniBatches(dir.path() + "/none.csv").ok());
  std::string csv = dir.path() + "/processed_mini-batches.csv";
  {
    std::ofstream f(csv);
    f << kHeader << Row(0, 1, 1, 1, "RUN_DONE") << "x,1,process000,0,,1,1,0.1,RUN_DONE,,\n";
  }
  auto c = CountMiniBatches(csv);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().find("Mini-batch Id is not a number") != std::string::npos);
}

}  // namespace
}  // namespace parallelrun
