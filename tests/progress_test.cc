// The live line: it never reaches the terminal's last column whatever the
// width, and drops the bar, the workers and the rate before what matters.
#include "report/progress.h"

#include <catch2/catch.hpp>

#include <string>

namespace parallelrun {
namespace {

Progress::Snapshot Busy() {
  Progress::Snapshot s;
  s.elapsed_seconds = 65;
  s.batches_processed = 120;
  s.batches_known = 480;
  s.total_final = true;
  s.items_processed = 2300;
  s.items_known = 9600;
  s.batches_failed = 3;
  s.items_failed = 60;
  s.workers.busy = 6;
  s.workers.idle = 1;
  s.workers.init = 1;
  return s;
}

TEST_CASE("progress: the live line is shorter than the terminal at every width", "[progress]") {
  for (int width = 1; width <= 240; width++) {
    std::string line = Progress::Line(Busy(), width);
    INFO(width << ": " << line);
    CHECK(line.size() <= static_cast<size_t>(std::max(width, 2) - 1));
  }
}

TEST_CASE("progress: a wide terminal shows everything", "[progress]") {
  std::string line = Progress::Line(Busy(), 200);
  CHECK(line == "[######..................] 0:01:05 120/480 mini-batches, 3 failed (60 items), "
                "2300/9600 items ok, ETA 0:03:15, 35.4 items/s, workers: 6 busy, 1 idle, "
                "1 in init()");
}

TEST_CASE("progress: a narrow terminal keeps the counts and failures", "[progress]") {
  std::string line = Progress::Line(Busy(), 60);
  CHECK(line == "0:01:05 120/480 mini-batches, 3 failed (60 items)");
  line = Progress::Line(Busy(), 80);
  CHECK(line == "0:01:05 120/480 mini-batches, 3 failed (60 items), 2300/9600 items ok");
}

TEST_CASE("progress: Describe says it all, for logs", "[progress]") {
  Progress::Snapshot s = Busy();
  s.total_final = false;
  CHECK(Progress::Describe(s) == "120/480+ (listing) mini-batches, 2300/9600+ items ok, "
                                 "3 failed (60 items), 35.4 items/s, workers: 6 busy, 1 idle, "
                                 "1 in init()");
}

}  // namespace
}  // namespace parallelrun
