#include "job/stop_signals.h"

namespace parallelrun {

int StopSignals::Add(Clock::time_point now) {
  // Measured from the last signal that counted, not the last one received:
  // a stream of signals still makes a second request after the window.
  if (count_ > 0 && now - last_counted_ < kRepeatWindow) return 0;
  last_counted_ = now;
  return ++count_;
}

}  // namespace parallelrun
