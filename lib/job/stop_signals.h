// StopSignals: how many times the user asked a job to stop. The first stop
// signal (SIGINT, SIGTERM) stops gracefully, a later one kills the workers at
// once (DESIGN.md §4) — but one request often arrives as two signals:
// `timeout -s INT 4 parallelrun run …` and `kill -INT -- -PGID` signal the
// process and then its whole process group, so the job sees the signal twice
// within microseconds. Signals within kRepeatWindow of the last one that
// counted are that same request and count once. Pure: the caller passes the
// time, so tests need no clock.
#ifndef PARALLELRUN_JOB_STOP_SIGNALS_H_
#define PARALLELRUN_JOB_STOP_SIGNALS_H_

#include <chrono>

namespace parallelrun {

class StopSignals {
 public:
  using Clock = std::chrono::steady_clock;
  // Long enough for a signal sent to a process group to reach every member
  // on a loaded machine; short against a person pressing Ctrl-C again.
  static constexpr std::chrono::milliseconds kRepeatWindow{500};

  // Records a stop signal received at `now`. Returns 0 when it repeats the
  // last counted one (within kRepeatWindow; ignore it), else the number of
  // stop requests so far: 1 for the first, 2 or more for "again".
  int Add(Clock::time_point now);

 private:
  int count_ = 0;
  Clock::time_point last_counted_;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_JOB_STOP_SIGNALS_H_
