// WorkerCgroups (node/cgroups.h) where this machine lets parallelrun make
// cgroups: Warm() moves nothing, Add() puts a process in its own cgroup, and
// a zygote is born in one (Zygote::Start with a birthplace).
#include "node/cgroups.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "node/zygote.h"

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

TEST_CASE("cgroups: a zygote is born in the cgroup given, or forked where the kernel refuses it",
          "[cgroups]") {
  std::string why;
  auto cgroups = WorkerCgroups::Create(&why);
  if (!cgroups) {
    WARN("SKIPPED: no writable cgroup2 here: " << why);
    return;
  }
  std::string own = CgroupOf(getpid());
  int birthplace = cgroups->OpenForBirth("process000");
  REQUIRE(birthplace >= 0);
  auto born = Zygote::Start("/bin/sleep", {"30"}, {}, "", birthplace, "process000");
  close(birthplace);
  REQUIRE(born.ok());
  if ((*born)->placement().empty()) {
    WARN("SKIPPED: this kernel refuses clone3's CLONE_INTO_CGROUP (before Linux 5.7, or a "
         "seccomp filter): the zygote is moved after its fork instead");
  } else {
    CHECK((*born)->placement() == "process000");
    CHECK((*born)->AwaitPlacement());
    std::string in = CgroupOf((*born)->pid());
    CHECK(in.size() > 11);
    CHECK(in.compare(in.size() - 11, 11, "/process000") == 0);
  }
  // A descriptor that is no cgroup's: a plain fork, where this process is,
  // and nothing placed (the caller then moves it).
  int not_a_cgroup = open("/dev/null", O_RDONLY | O_CLOEXEC);
  auto plain = Zygote::Start("/bin/sleep", {"30"}, {}, "", not_a_cgroup, "process001");
  close(not_a_cgroup);
  REQUIRE(plain.ok());
  CHECK((*plain)->placement().empty());
  CHECK(CgroupOf((*plain)->pid()) == own);
}

}  // namespace
}  // namespace parallelrun
