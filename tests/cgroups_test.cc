// WorkerCgroups (node/cgroups.h) where this machine lets parallelrun make
// cgroups: Warm() moves nothing, and Add() puts a process in its own cgroup.
#include "node/cgroups.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace parallelrun {
namespace {

std::string CgroupOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return "";
}

TEST_CASE("cgroups: Warm moves nothing; Add puts the worker in a cgroup of its own", "[cgroups]") {
  std::string why;
  auto cgroups = WorkerCgroups::Create(&why);
  if (!cgroups) {
    WARN("SKIPPED: no writable cgroup2 here: " << why);
    return;
  }
  std::string before = CgroupOf(getpid());
  cgroups->Warm();
  cgroups->Warm();
  CHECK(CgroupOf(getpid()) == before);
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  REQUIRE(child > 0);
  CHECK(cgroups->Add("process000", child));
  std::string in = CgroupOf(child);
  CHECK(in.size() > 11);
  CHECK(in.compare(in.size() - 11, 11, "/process000") == 0);
  CHECK(CgroupOf(getpid()) == before);
  cgroups->Kill("process000");
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
}

}  // namespace
}  // namespace parallelrun
