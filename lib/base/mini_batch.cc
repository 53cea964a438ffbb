#include "base/mini_batch.h"

namespace parallelrun {

const char* AttemptStatusName(AttemptStatus s) {
  switch (s) {
    case AttemptStatus::kRunDone: return "RUN_DONE";
    case AttemptStatus::kRunException: return "RUN_EXCEPTION";
    case AttemptStatus::kRunTimeout: return "RUN_TIMEOUT";
    case AttemptStatus::kInvalidReturn: return "RUN_INVALID_RETURN";
    case AttemptStatus::kProcessDied: return "PROCESS_DIED";
    case AttemptStatus::kInterrupted: return "INTERRUPTED";
    case AttemptStatus::kLeaseLost: return "LEASE_LOST";
  }
  return "UNKNOWN";
}

}  // namespace parallelrun
