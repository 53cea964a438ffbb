// ProcessTree: what a worker started that left its process group. Every
// child of parallelrun leads its own group, and killing the group stops what
// stayed in it; a process that called setsid() (or setpgid()) escaped it, and
// one whose parent died (a double fork) is re-parented. parallelrun makes
// itself a child subreaper, so that such orphans are re-parented to it rather
// than to init: then they can be found (/proc: their parent is us) and
// killed and reaped. While a worker lives, its descendants are found by
// walking /proc's parent links from it.
//
// Where a writable cgroup v2 exists, node/cgroups.h puts each worker in a
// cgroup of its own as well; this is what works everywhere. The limits are in the
// README's failure section.
#ifndef PARALLELRUN_NODE_PROCESS_TREE_H_
#define PARALLELRUN_NODE_PROCESS_TREE_H_

#include <sys/types.h>

#include <vector>

namespace parallelrun {

// Makes this process the child subreaper of its descendants
// (PR_SET_CHILD_SUBREAPER). Idempotent; false when the kernel refuses.
bool BecomeSubreaper();

// The live descendants of `root` (not `root` itself), by /proc's parent
// links, as they are now.
std::vector<pid_t> Descendants(pid_t root);

// Sends `sig` to every live descendant of `root` that is not in the process
// group `root` leads (those get the signal with the group).
void SignalEscapedDescendants(pid_t root, int sig);

// Kills (SIGKILL) and reaps the processes re-parented to this one: its
// children that it did not start. Those it started (WorkerProcess,
// SupervisedProcess) lead a process group in this process's session; an
// orphan does not (it stayed in a worker's group, or has its own session).
// Returns how many were killed. Waits for each to die, which SIGKILL makes
// prompt (at most ~100 ms each, then it is left as a zombie for the next
// call to reap).
int KillOrphans();

}  // namespace parallelrun

#endif  // PARALLELRUN_NODE_PROCESS_TREE_H_
