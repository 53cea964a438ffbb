// WorkerTimeline: when each phase of one worker began, read from an injected
// Clock, and the deadlines and elapsed times that follow from WorkerPool's
// timeouts. A worker's phase is init() (the process started: importing the
// entry script included), run() of the mini-batch at the head of its queue
// (it began when the one before it answered: the deadline follows the head),
// shutdown() (asked after the last RESULT), or idle, which has no deadline.
// The pool says what happened and asks; the steady_timer that waits for a
// deadline stays in the pool, and an expiry is decided here, so that tests
// move time by hand instead of sleeping.
#ifndef PARALLELRUN_NODE_WORKER_TIMELINE_H_
#define PARALLELRUN_NODE_WORKER_TIMELINE_H_

#include <chrono>
#include <optional>

#include "base/clock.h"

namespace parallelrun {

class WorkerTimeline {
 public:
  enum class Phase { kInit, kRun, kShutdown, kIdle };

  struct Timeouts {
    std::chrono::milliseconds init{0};
    std::chrono::milliseconds run{0};
    std::chrono::milliseconds shutdown{0};
  };

  // The phase of a worker: until init() answered it is in init() whatever
  // else it was asked; then a queued mini-batch is running; then shutdown().
  static Phase PhaseOf(bool init_answered, bool busy, bool shutting_down);

  // `clock` must outlive the timeline. The process starts now.
  WorkerTimeline(const Clock& clock, Timeouts timeouts)
      : clock_(&clock), timeouts_(timeouts), started_(clock.Steady()) {}

  // A mini-batch became the head of the queue now (it was sent to an idle
  // worker).
  void HeadStarted();
  // The head answered now: the next mini-batch, if any, begins to run, and
  // shutdown()'s time counts from here too.
  void Answered();
  // shutdown() was asked now.
  void ShutdownAsked();

  // When `phase` must be over; none when idle.
  std::optional<Clock::TimePoint> Deadline(Phase phase) const;
  // Whether `phase`'s deadline has passed. A timer armed for an earlier
  // deadline may fire after the deadline moved later (the head answered).
  bool Expired(Phase phase) const;
  // How long the worker has been in `phase` (0 when idle).
  double SecondsIn(Phase phase) const;
  // From now to `t` (negative once it passed): what a timer waits.
  Clock::Duration Until(Clock::TimePoint t) const { return t - clock_->Steady(); }

 private:
  std::optional<Clock::TimePoint> PhaseStart(Phase phase) const;

  const Clock* clock_;
  Timeouts timeouts_;
  Clock::TimePoint started_;
  Clock::TimePoint head_started_{};   // when the head of the queue began to run
  Clock::TimePoint last_activity_{};  // last RESULT, or shutdown() asked
};

}  // namespace parallelrun

#endif  // PARALLELRUN_NODE_WORKER_TIMELINE_H_
