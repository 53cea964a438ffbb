// WorkerCgroups: one cgroup v2 per worker process, where this machine has a
// cgroup2 hierarchy that parallelrun may write. Everything a worker starts
// stays in its cgroup however it detaches (setsid, double fork, a new
// session), so killing the cgroup (cgroup.kill, or SIGKILL to each of its
// cgroup.procs on kernels before 5.14) ends exactly that worker's processes —
// where the child subreaper (process_tree.h), which is kept as well, can only
// kill every orphan at once. Made under the hierarchy's own cgroup of this
// process, as `parallelrun-<pid>/<worker name>`, and removed at the end.
// Loop thread only, except Add (see there).
#ifndef PARALLELRUN_NODE_CGROUPS_H_
#define PARALLELRUN_NODE_CGROUPS_H_

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace parallelrun {

class WorkerCgroups {
 public:
  // The job's cgroup, or nullptr (with `why` set) when no writable cgroup2
  // is mounted here.
  static std::unique_ptr<WorkerCgroups> Create(std::string* why);
  ~WorkerCgroups();

  // Moves `pid` into a new cgroup `name`. False when the kernel refuses.
  // Blocks for an RCU grace period (~10 ms, WorkerPool::MoveToCgroup); safe
  // on any thread while this object lives: it touches only `name`'s files.
  bool Add(const std::string& name, pid_t pid);
  // Makes cgroup `name` and opens it (O_DIRECTORY, close-on-exec), for a
  // process to be born there (clone3's CLONE_INTO_CGROUP: no move, so no
  // grace period). -1 when the kernel refuses. The caller closes it.
  int OpenForBirth(const std::string& name);
  // Takes the kernel's lock on cgroup moves without moving anything: this
  // process's pid written to its own cgroup. A move waits for an RCU grace
  // period only when no other move took that lock in the last ~10 ms
  // (8-20 ms cold, 0.3 ms warm on this project's VMs), so a Warm() just
  // before the workers start makes their moves cheap. Does nothing where
  // this process may not write its own cgroup. Blocks like Add; safe on any
  // thread while this object lives.
  void Warm();
  // Warm on a thread of its own, at once; the destructor waits for it.
  void WarmAsync();
  // SIGKILLs every process in `name`'s cgroup; removes it once it is empty
  // (here, or in the destructor).
  void Kill(const std::string& name);

  const std::string& path() const { return root_; }

 private:
  WorkerCgroups(std::string root, std::string own)
      : root_(std::move(root)), own_(std::move(own)) {}
  std::string root_;  // <cgroup2 mount><own cgroup>/parallelrun-<pid>
  std::string own_;   // <cgroup2 mount><own cgroup>: this process's
  std::mutex warmers_mu_;
  std::vector<std::thread> warmers_;  // WarmAsync's, joined by the destructor
};

}  // namespace parallelrun

#endif  // PARALLELRUN_NODE_CGROUPS_H_
