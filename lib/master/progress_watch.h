// ProgressWatch: what the master decides from the clock on each tick — how
// long the job has run, whether progress_update_timeout has passed since
// the last progress (a finished attempt, a worker that became ready, a
// shuffle at work), whether first_task_creation_timeout has passed since the
// start, and whether the overview log's next line is due. It
// reads an injected Clock and is told the events, so that tests move time by
// hand; the steady_timer that ticks stays in the Master.
#ifndef PARALLELRUN_MASTER_PROGRESS_WATCH_H_
#define PARALLELRUN_MASTER_PROGRESS_WATCH_H_

#include <optional>

#include "base/clock.h"

namespace parallelrun {

class ProgressWatch {
 public:
  // `timeout_seconds` is progress_update_timeout (0 or less: never stalled);
  // an overview line is due every `overview_every_seconds`. `clock` must
  // outlive the watch.
  ProgressWatch(const Clock& clock, double timeout_seconds, double overview_every_seconds)
      : clock_(clock), timeout_(timeout_seconds), overview_every_(overview_every_seconds) {}

  // The job starts now; that counts as progress.
  void Start();
  // Progress happened now.
  void Progressed();
  // Seconds since Start.
  double Elapsed() const;
  // Seconds since the last progress, when they exceed the timeout.
  std::optional<double> Stalled() const;
  // Seconds since Start, when they exceed `timeout_seconds`
  // (first_task_creation_timeout; 0 or less: never).
  std::optional<double> OlderThan(double timeout_seconds) const;
  // Whether an overview line is due at `elapsed_seconds` (Elapsed(), as
  // shown with the line): the first always is, then one every
  // overview_every_seconds. When it says yes, the line counts as written.
  bool OverviewDue(double elapsed_seconds);

 private:
  double Since(Clock::TimePoint t) const;

  const Clock& clock_;
  const double timeout_;
  const double overview_every_;
  Clock::TimePoint started_{};
  Clock::TimePoint last_progress_{};
  double last_overview_ = -1;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_MASTER_PROGRESS_WATCH_H_
