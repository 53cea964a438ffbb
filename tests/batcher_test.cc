#include "data/batcher.h"

#include <catch2/catch.hpp>

namespace parallelrun {
namespace {

// A source that releases items in steps, as a listing in progress does.
class StepSource : public ItemSource {
 public:
  size_t Take(size_t max, std::vector<std::string>* out) override {
    size_t n = 0;
    while (n < max && next_ < available_) out->push_back("f" + std::to_string(next_++)), n++;
    return n;
  }
  bool finished() const override { return done_ && next_ == available_; }
  void Release(size_t n) { available_ += n; }
  void End() { done_ = true; }

 private:
  size_t next_ = 0, available_ = 0;
  bool done_ = false;
};

TEST_CASE("batcher forms full mini-batches while the source streams", "[batcher]") {
  StepSource src;
  Batcher b(3);
  MiniBatch mb;
  CHECK(b.Next(src, 0, &mb) == Batcher::Outcome::kWaiting);
  src.Release(4);
  REQUIRE(b.Next(src, 0, &mb) == Batcher::Outcome::kBatch);
  CHECK(mb.id == 0);
  CHECK(mb.items == std::vector<std::string>{"f0", "f1", "f2"});
  // One item is there but the source is not finished: no partial batch yet.
  CHECK(b.Next(src, 0, &mb) == Batcher::Outcome::kWaiting);
  src.Release(1);
  CHECK(b.Next(src, 0, &mb) == Batcher::Outcome::kWaiting);
  src.End();
  REQUIRE(b.Next(src, 0, &mb) == Batcher::Outcome::kBatch);
  CHECK(mb.id == 1);
  CHECK(mb.items == std::vector<std::string>{"f3", "f4"});
  CHECK(b.Next(src, 0, &mb) == Batcher::Outcome::kExhausted);
}

TEST_CASE("batcher numbers mini-batches across inputs and never mixes them", "[batcher]") {
  StepSource a, c;
  a.Release(2);
  a.End();
  c.Release(2);
  c.End();
  Batcher b(5);
  MiniBatch mb;
  REQUIRE(b.Next(a, 0, &mb) == Batcher::Outcome::kBatch);
  CHECK(mb.id == 0);
  CHECK(mb.input == 0);
  CHECK(mb.items.size() == 2);
  CHECK(b.Next(a, 0, &mb) == Batcher::Outcome::kExhausted);
  REQUIRE(b.Next(c, 1, &mb) == Batcher::Outcome::kBatch);
  CHECK(mb.id == 1);
  CHECK(mb.input == 1);
  CHECK(b.made() == 2);
}

TEST_CASE("batcher on an empty finished source makes nothing", "[batcher]") {
  StepSource src;
  src.End();
  Batcher b(1);
  MiniBatch mb;
  CHECK(b.Next(src, 0, &mb) == Batcher::Outcome::kExhausted);
  CHECK(b.made() == 0);
}

}  // namespace
}  // namespace parallelrun
