// The exit codes of the parallelrun command (DESIGN.md §8). Only app/ turns a
// Status into one of these.
#ifndef PARALLELRUN_EXIT_CODES_H_
#define PARALLELRUN_EXIT_CODES_H_

#include "parallelrun/status.h"

namespace parallelrun {

// Every mini-batch processed within the thresholds.
constexpr int kExitSucceeded = 0;
// The job ran and failed: a threshold was exceeded, mini-batches were left
// unprocessed, or init() failed everywhere.
constexpr int kExitJobFailed = 1;
// Usage or spec error; nothing ran.
constexpr int kExitUsage = 2;
// Infrastructure failure: no Python, lost master, internal error.
constexpr int kExitInfrastructure = 3;
// Interrupted by SIGINT/SIGTERM.
constexpr int kExitInterrupted = 130;

inline int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk: return kExitSucceeded;
    case Status::Code::kUsage: return kExitUsage;
    case Status::Code::kJobFailed: return kExitJobFailed;
    case Status::Code::kInfrastructure: return kExitInfrastructure;
    case Status::Code::kInterrupted: return kExitInterrupted;
  }
  return kExitInfrastructure;
}

}  // namespace parallelrun

#endif  // PARALLELRUN_EXIT_CODES_H_
