// NewProcessGroup: the Boost.Process v2 launcher initializer that every child
// of parallelrun is started with (WorkerProcess, SupervisedProcess). Included
// only by node/*.cc files that include Boost.Process.
#ifndef PARALLELRUN_NODE_PROCESS_GROUP_H_
#define PARALLELRUN_NODE_PROCESS_GROUP_H_

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <boost/process/v2/posix/default_launcher.hpp>

namespace parallelrun {

// Makes the child the leader of a new process group, between fork and exec,
// so that it can be stopped with what it started (kill(-pid)).
struct NewProcessGroup {
  boost::process::v2::error_code on_exec_setup(boost::process::v2::posix::default_launcher&,
                                               const boost::process::v2::filesystem::path&,
                                               const char* const*) {
    if (::setpgid(0, 0) != 0) {
      return boost::process::v2::error_code(errno, boost::process::v2::system_category());
    }
    // If parallelrun itself dies (SIGKILL, OOM), its children must not run on
    // unsupervised. The signal is tied to the forking thread: the event loop's
    // for workers, which lives as long as the process; the caller's of
    // SupervisedProcess::Run, which returns only once the child was reaped.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    return {};
  }
};

}  // namespace parallelrun

#endif  // PARALLELRUN_NODE_PROCESS_GROUP_H_
