// Waiter: a test's side of a source that calls back from a helper thread
// (TablePathLister, TableSource): counts the calls and drains the source with a
// deadline.
#ifndef PARALLELRUN_TESTS_SOURCE_WAITER_H_
#define PARALLELRUN_TESTS_SOURCE_WAITER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include <catch2/catch.hpp>

namespace parallelrun {

// Waits, with a deadline, for a source to finish; returns its ranges.
class Waiter {
 public:
  std::function<void()> Callback() {
    return [this] {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        count_++;
      }
      cv_.notify_all();
    };
  }
  template <typename Source, typename Item>
  void Drain(Source& source, std::vector<Item>* out) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      uint64_t seen;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        seen = count_;
      }
      while (source.Take(1000, out) > 0) {
      }
      if (source.finished()) return;
      std::unique_lock<std::mutex> lock(mutex_);
      REQUIRE(cv_.wait_until(lock, deadline, [&] { return count_ != seen; }));
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  uint64_t count_ = 0;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_TESTS_SOURCE_WAITER_H_
