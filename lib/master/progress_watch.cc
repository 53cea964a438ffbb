#include "master/progress_watch.h"

#include <chrono>

namespace parallelrun {

void ProgressWatch::Start() { started_ = last_progress_ = clock_.Steady(); }

void ProgressWatch::Progressed() { last_progress_ = clock_.Steady(); }

double ProgressWatch::Since(Clock::TimePoint t) const {
  return std::chrono::duration<double>(clock_.Steady() - t).count();
}

double ProgressWatch::Elapsed() const { return Since(started_); }

std::optional<double> ProgressWatch::Stalled() const {
  double idle = Since(last_progress_);
  if (timeout_ > 0 && idle > timeout_) return idle;
  return std::nullopt;
}

std::optional<double> ProgressWatch::OlderThan(double timeout_seconds) const {
  double elapsed = Elapsed();
  if (timeout_seconds > 0 && elapsed > timeout_seconds) return elapsed;
  return std::nullopt;
}

bool ProgressWatch::OverviewDue(double elapsed_seconds) {
  if (last_overview_ >= 0 && elapsed_seconds - last_overview_ < overview_every_) return false;
  last_overview_ = elapsed_seconds;
  return true;
}

}  // namespace parallelrun
