// Time, in the two kinds the job needs: wall-clock seconds since the Unix
// epoch (report rows, log lines) and a steady clock for deadlines. Timing
// logic takes a Clock so that tests move time by hand instead of sleeping
// (STYLE.md); production code uses SystemClock().
#ifndef PARALLELRUN_BASE_CLOCK_H_
#define PARALLELRUN_BASE_CLOCK_H_

#include <chrono>

namespace parallelrun {

class Clock {
 public:
  using Duration = std::chrono::steady_clock::duration;
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  // Seconds since the Unix epoch (may jump with the system clock).
  virtual double WallSeconds() const = 0;
  // Never goes back; for elapsed times and deadlines.
  virtual TimePoint Steady() const = 0;
};

// The real clocks. The object lives for the whole process.
const Clock& SystemClock();

// A clock that only moves when told to: for tests. Starts at an arbitrary
// wall time with the steady clock at its epoch.
class ManualClock : public Clock {
 public:
  explicit ManualClock(double wall_seconds = 1.7e9) : wall_(wall_seconds) {}
  double WallSeconds() const override { return wall_; }
  TimePoint Steady() const override { return steady_; }
  void Advance(Duration d) {
    steady_ += d;
    wall_ += std::chrono::duration<double>(d).count();
  }

 private:
  double wall_;
  TimePoint steady_{};
};

// Shorthand for SystemClock().WallSeconds().
double WallSeconds();

// Seconds from `since` to now on the steady clock.
double SecondsSince(std::chrono::steady_clock::time_point since);

}  // namespace parallelrun

#endif  // PARALLELRUN_BASE_CLOCK_H_
