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

#include <signal.h>

#include <chrono>
#include <string>

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

// SIGINT, SIGTERM and SIGHUP while a job starts, before its loop watches
// them (NodeLoop): recorded instead of fatal, so that the start-up can undo
// what it made (a job dir made while Python starts) and say so. The first
// one counts; fd() becomes readable then, whichever thread took it. One at a
// time; the destructor puts the previous actions back.
class StartupSignals {
 public:
  StartupSignals();
  ~StartupSignals();
  StartupSignals(const StartupSignals&) = delete;
  StartupSignals& operator=(const StartupSignals&) = delete;
  // Readable once a signal came (poll it with what start-up waits for).
  int fd() const { return read_fd_; }
  // The first signal that came, or 0.
  int received() const;

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;
  struct sigaction old_[3];
};

// "SIGINT", "SIGTERM", "SIGHUP", else "signal N".
std::string StopSignalName(int signo);

}  // namespace parallelrun

#endif  // PARALLELRUN_JOB_STOP_SIGNALS_H_
