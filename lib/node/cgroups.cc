#include "node/cgroups.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "base/disk.h"

namespace parallelrun {

namespace {

// Where the cgroup2 hierarchy is mounted ("" if nowhere): /proc/self/mountinfo
// lines end "… - cgroup2 <source> <options>"; the mount point is field 5.
std::string Cgroup2Mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    size_t dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream fields(line.substr(0, dash));
    std::string id, parent, dev, root, mount;
    if (fields >> id >> parent >> dev >> root >> mount) return mount;
  }
  return "";
}

// This process's cgroup in the v2 hierarchy ("0::/path"), "/" when it has
// none there (a v1 machine with a v2 mount beside it).
std::string OwnCgroup() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return "/";
}

bool WriteText(const std::string& path, const std::string& text) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  return fd.valid() && WriteAll(fd.get(), text.data(), text.size());
}

// Removes the empty cgroups that parallelrun processes which were killed
// (SIGKILL, OOM) left under `parent`: their workers died with them.
void RemoveStale(const std::string& parent) {
  DIR* dir = opendir(parent.c_str());
  if (!dir) return;
  std::vector<std::string> stale;
  while (dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name.rfind("parallelrun-", 0) != 0) continue;
    long pid = std::strtol(name.c_str() + 12, nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      stale.push_back(parent + "/" + name);
    }
  }
  closedir(dir);
  for (const auto& path : stale) {
    if (DIR* d = opendir(path.c_str())) {
      std::vector<std::string> kids;
      while (dirent* e = readdir(d)) {
        if (e->d_type == DT_DIR && e->d_name[0] != '.') kids.push_back(path + "/" + e->d_name);
      }
      closedir(d);
      for (const auto& kid : kids) rmdir(kid.c_str());  // only empty ones go
    }
    rmdir(path.c_str());
  }
}

}  // namespace

std::unique_ptr<WorkerCgroups> WorkerCgroups::Create(std::string* why) {
  std::string mount = Cgroup2Mount();
  if (mount.empty()) {
    *why = "no cgroup2 hierarchy is mounted";
    return nullptr;
  }
  std::string own = OwnCgroup();
  std::string parent = mount + (own == "/" ? "" : own);
  RemoveStale(parent);
  std::string root = parent + "/parallelrun-" + std::to_string(getpid());
  if (mkdir(root.c_str(), 0755) != 0 && errno != EEXIST) {
    *why = ErrnoMessage(root, errno);
    return nullptr;
  }
  return std::unique_ptr<WorkerCgroups>(new WorkerCgroups(root, parent));
}

WorkerCgroups::~WorkerCgroups() {
  for (auto& t : warmers_) t.join();
  DIR* dir = opendir(root_.c_str());
  if (dir) {
    std::vector<std::string> names;
    while (dirent* e = readdir(dir)) {
      if (e->d_type == DT_DIR && e->d_name[0] != '.') names.push_back(e->d_name);
    }
    closedir(dir);
    for (const auto& name : names) Kill(name);
    // A killed process leaves its cgroup as it exits: give them a moment.
    for (const auto& name : names) {
      std::string path = root_ + "/" + name;
      for (int i = 0; i < 50 && rmdir(path.c_str()) != 0 && errno == EBUSY; i++) usleep(2000);
    }
  }
  rmdir(root_.c_str());
}

bool WorkerCgroups::Add(const std::string& name, pid_t pid) {
  std::string path = root_ + "/" + name;
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return false;
  return WriteText(path + "/cgroup.procs", std::to_string(pid));
}

int WorkerCgroups::OpenForBirth(const std::string& name) {
  std::string path = root_ + "/" + name;
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return -1;
  return ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

void WorkerCgroups::Warm() {
  // A move to the cgroup it is in changes nothing, but takes the lock.
  WriteText(own_ + "/cgroup.procs", std::to_string(getpid()));
}

void WorkerCgroups::WarmAsync() {
  std::lock_guard<std::mutex> lock(warmers_mu_);
  warmers_.emplace_back([this] { Warm(); });
}

void WorkerCgroups::Kill(const std::string& name) {
  std::string path = root_ + "/" + name;
  if (!WriteText(path + "/cgroup.kill", "1")) {
    // Kernels before 5.14: each process by hand (a fork racing this is
    // caught by the next call, at the pool's end).
    std::ifstream procs(path + "/cgroup.procs");
    long pid = 0;
    while (procs >> pid) ::kill(static_cast<pid_t>(pid), SIGKILL);
  }
  rmdir(path.c_str());  // EBUSY while its processes exit: the destructor retries
}

}  // namespace parallelrun
