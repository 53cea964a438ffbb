#include "node/process_tree.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <unordered_map>

namespace parallelrun {

namespace {

struct ProcStat {
  pid_t pid = 0;
  char state = '?';
  pid_t ppid = 0;
  pid_t pgid = 0;
  pid_t sid = 0;
};

// /proc/<pid>/stat's fields after the command name, which may hold spaces
// and parentheses: parsing starts after the last ')'.
bool ReadStat(pid_t pid, ProcStat* st) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  FILE* f = fopen(path, "re");
  if (!f) return false;
  char buf[1024];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char* close = strrchr(buf, ')');
  if (!close) return false;
  int ppid = 0, pgid = 0, sid = 0;
  char state = '?';
  if (sscanf(close + 1, " %c %d %d %d", &state, &ppid, &pgid, &sid) != 4) return false;
  st->pid = pid;
  st->state = state;
  st->ppid = ppid;
  st->pgid = pgid;
  st->sid = sid;
  return true;
}

std::vector<ProcStat> AllProcesses() {
  std::vector<ProcStat> out;
  DIR* dir = opendir("/proc");
  if (!dir) return out;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    long pid = strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    ProcStat st;
    if (ReadStat(static_cast<pid_t>(pid), &st)) out.push_back(st);
  }
  closedir(dir);
  return out;
}

bool Alive(const ProcStat& st) { return st.state != 'Z' && st.state != 'X'; }

// The children of `pid` from /proc/<pid>/task/<tid>/children (one file per
// thread: a handful of reads instead of one per process on the machine).
// False when the kernel has no such files (CONFIG_PROC_CHILDREN off).
bool ChildrenOf(pid_t pid, std::vector<pid_t>* out) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", static_cast<int>(pid));
  DIR* dir = opendir(path);
  if (!dir) return false;
  bool any_file = false;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::string file =
        std::string(path) + "/" + e->d_name + "/children";  // path: /proc/<pid>/task
    FILE* f = fopen(file.c_str(), "re");
    if (!f) continue;
    any_file = true;
    long child = 0;
    while (fscanf(f, "%ld", &child) == 1) out->push_back(static_cast<pid_t>(child));
    fclose(f);
  }
  closedir(dir);
  return any_file;
}

// Our direct children with their stat: from the children files, or a scan
// of every process when the kernel has none.
std::vector<ProcStat> ChildrenStats(pid_t parent) {
  std::vector<pid_t> pids;
  std::vector<ProcStat> out;
  if (!ChildrenOf(parent, &pids)) {
    for (const ProcStat& st : AllProcesses()) {
      if (st.ppid == parent) out.push_back(st);
    }
    return out;
  }
  for (pid_t pid : pids) {
    ProcStat st;
    if (ReadStat(pid, &st) && st.ppid == parent) out.push_back(st);
  }
  return out;
}

}  // namespace

bool BecomeSubreaper() { return prctl(PR_SET_CHILD_SUBREAPER, 1) == 0; }

std::vector<pid_t> Descendants(pid_t root) {
  std::vector<pid_t> probe;
  if (ChildrenOf(root, &probe) || kill(root, 0) != 0) {
    // Down the tree through the children files.
    std::vector<pid_t> out;
    std::vector<pid_t> todo = {root};
    while (!todo.empty()) {
      pid_t parent = todo.back();
      todo.pop_back();
      std::vector<ProcStat> kids = ChildrenStats(parent);
      for (const ProcStat& st : kids) {
        if (std::find(out.begin(), out.end(), st.pid) != out.end()) continue;
        if (Alive(st)) out.push_back(st.pid);
        todo.push_back(st.pid);
      }
    }
    return out;
  }
  std::vector<ProcStat> all = AllProcesses();
  std::unordered_multimap<pid_t, const ProcStat*> children;
  for (const ProcStat& st : all) children.emplace(st.ppid, &st);
  std::vector<pid_t> out;
  std::vector<pid_t> todo = {root};
  while (!todo.empty()) {
    pid_t parent = todo.back();
    todo.pop_back();
    auto range = children.equal_range(parent);
    for (auto it = range.first; it != range.second; ++it) {
      const ProcStat& st = *it->second;
      if (std::find(out.begin(), out.end(), st.pid) != out.end()) continue;
      if (Alive(st)) out.push_back(st.pid);
      todo.push_back(st.pid);
    }
  }
  return out;
}

void SignalEscapedDescendants(pid_t root, int sig) {
  if (root <= 0) return;
  for (pid_t pid : Descendants(root)) {
    if (getpgid(pid) != root) kill(pid, sig);
  }
}

int KillOrphans() {
  const pid_t self = getpid();
  const pid_t session = getsid(0);
  int killed = 0;
  for (const ProcStat& st : ChildrenStats(self)) {
    bool started_by_us = st.pgid == st.pid && st.sid == session;
    if (started_by_us) continue;
    if (Alive(st)) {
      kill(st.pid, SIGKILL);
      killed++;
    }
    // Reap it (a zombie orphan is reaped at once). SIGKILL is not delayed
    // by the process, so the wait is short; a process stuck in the kernel
    // (uninterruptible I/O) is left for the next call.
    for (int i = 0; i < 100; i++) {
      pid_t r = waitpid(st.pid, nullptr, WNOHANG);
      if (r != 0) break;  // reaped, or not ours to wait for
      struct timespec ms = {0, 1000000};
      nanosleep(&ms, nullptr);
    }
  }
  return killed;
}

}  // namespace parallelrun
