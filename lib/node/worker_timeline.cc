#include "node/worker_timeline.h"

namespace parallelrun {

WorkerTimeline::Phase WorkerTimeline::PhaseOf(bool init_answered, bool busy, bool shutting_down) {
  if (!init_answered) return Phase::kInit;
  if (busy) return Phase::kRun;
  if (shutting_down) return Phase::kShutdown;
  return Phase::kIdle;
}

void WorkerTimeline::HeadStarted() { head_started_ = clock_->Steady(); }

void WorkerTimeline::Answered() { head_started_ = last_activity_ = clock_->Steady(); }

void WorkerTimeline::ShutdownAsked() { last_activity_ = clock_->Steady(); }

std::optional<Clock::TimePoint> WorkerTimeline::PhaseStart(Phase phase) const {
  switch (phase) {
    case Phase::kInit:
      return started_;
    case Phase::kRun:
      return head_started_;
    case Phase::kShutdown:
      return last_activity_;
    case Phase::kIdle:
      break;
  }
  return std::nullopt;
}

std::optional<Clock::TimePoint> WorkerTimeline::Deadline(Phase phase) const {
  std::optional<Clock::TimePoint> start = PhaseStart(phase);
  if (!start) return std::nullopt;
  switch (phase) {
    case Phase::kInit:
      return *start + timeouts_.init;
    case Phase::kRun:
      return *start + timeouts_.run;
    case Phase::kShutdown:
      return *start + timeouts_.shutdown;
    case Phase::kIdle:
      break;
  }
  return std::nullopt;
}

bool WorkerTimeline::Expired(Phase phase) const {
  std::optional<Clock::TimePoint> deadline = Deadline(phase);
  return deadline && clock_->Steady() >= *deadline;
}

double WorkerTimeline::SecondsIn(Phase phase) const {
  std::optional<Clock::TimePoint> start = PhaseStart(phase);
  if (!start) return 0;
  return std::chrono::duration<double>(clock_->Steady() - *start).count();
}

}  // namespace parallelrun
