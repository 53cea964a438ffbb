// ResourceMonitor on a canned /proc (tests/data/proc/ laid out as one): the
// four reports with their headers, a row per sample, the job's processes
// named by the worker they belong to.
#include "node/resource_monitor.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/job_dir.h"
#include "temp_dir.h"

namespace parallelrun {
namespace {

namespace fs = std::filesystem;

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void Put(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// A /proc (without children files: every process is read) of four processes: 100 (the job), 200 (its worker process000),
// 300 (a child of the worker), and 400 (not the job's).
void MakeProc(const std::string& root) {
  std::string data = std::string(PARALLELRUN_TEST_DATA) + "/proc/";
  fs::create_directories(root + "/net");
  fs::create_directories(root + "/self");
  fs::copy_file(data + "stat", root + "/stat");
  fs::copy_file(data + "meminfo", root + "/meminfo");
  fs::copy_file(data + "diskstats", root + "/diskstats");
  fs::copy_file(data + "net_dev", root + "/net/dev");
  fs::copy_file(data + "sockstat", root + "/net/sockstat");
  fs::copy_file(data + "sockstat6", root + "/net/sockstat6");
  fs::copy_file(data + "filesystems", root + "/filesystems");
  Put(root + "/self/mounts", "/dev/root / ext4 rw 0 0\n");
  Put(root + "/uptime", "2000.00 1000.00\n");
  auto stat = [](int pid, int ppid, const char* name) {
    return std::to_string(pid) + " (" + name + ") S " + std::to_string(ppid) +
           " 1 1 0 -1 0 0 0 0 0 100 100 0 0 20 0 2 0 1000 1000000 256 0 0 0 0\n";
  };
  Put(root + "/100/stat", stat(100, 1, "parallelrun"));
  Put(root + "/200/stat", stat(200, 100, "python3"));
  Put(root + "/300/stat", stat(300, 200, "sh"));
  Put(root + "/400/stat", stat(400, 1, "sshd"));
}

TEST_CASE("ResourceMonitor: a sample at the start and at the end, in the four reports",
          "[resource_monitor]") {
  TempDir dir("resource_monitor_test");
  const std::string job = dir.path() + "/job";
  REQUIRE(CreateNodeFolders(job, 2).ok());
  MakeProc(dir.path() + "/proc");
  {
    ResourceMonitor m({job, 2, 3600, dir.path() + "/proc", 100});
    m.Name(200, "process000");
    // The interval is an hour: Finish takes the last sample at once.
    m.Finish();
    CHECK(m.samples() == 2);
    CHECK(m.error().empty());
  }
  auto node = Lines(Read(NodeResourceUsageCsv(job, 2)));
  REQUIRE(node.size() == 3);
  CHECK(node[0] ==
        "Utc Time,Cpu Percent,Memory Total (MB),Memory Available (MB),Memory Used (MB),"
        "Memory Used Percent,Disk Io Read Count,Disk Io Write Count,Disk Io Read (MB),"
        "Disk Io Write (MB),Network Sent (MB),Network Recv (MB),# of TCP Connections,"
        "# of UDP Connections");
  // Memory 7812.50 MB in all, 4882.81 available, 3906.25 used, 37.5 %; net
  // 4 MB sent and 3 MB received; 14 TCP sockets, 3 UDP.
  CHECK(node[1].find(",7812.50,4882.81,3906.25,37.5,") != std::string::npos);
  const std::string tail = ",4.00,3.00,14,3";
  CHECK(node[1].compare(node[1].size() - tail.size(), tail.size(), tail) == 0);
  auto disks = Lines(Read(NodeDiskUsageCsv(job, 2)));
  REQUIRE(disks.size() == 3);
  CHECK(disks[0] == "Utc Time,Device,Mount Point,File System,Total (MB),Used (MB),Free (MB),Used Percent");
  CHECK(disks[1].find(",/dev/root,/,ext4,") != std::string::npos);

  auto procs = Lines(Read(ProcessesResourceUsageCsv(job, 2)));
  REQUIRE(procs.size() == 7);  // header, 3 processes × 2 samples
  CHECK(procs[0] == "Utc Time,Process,Pid,Parent Pid,Name,Status,Cpu Percent,Memory Used (MB),"
                    "Memory Percent,Threads");
  std::string all = Read(ProcessesResourceUsageCsv(job, 2));
  CHECK(all.find(",parallelrun,100,1,parallelrun,S,") != std::string::npos);
  CHECK(all.find(",process000,200,100,python3,S,") != std::string::npos);
  CHECK(all.find(",process000,300,200,sh,S,") != std::string::npos);
  CHECK(all.find("sshd") == std::string::npos);

  std::vector<std::string> hours;
  for (const auto& e : fs::directory_iterator(PerfDir(job, 2) + "/processes_cpu_memory_usage")) {
    hours.push_back(e.path().filename().string());
  }
  REQUIRE(hours.size() == 1);  // two samples a moment apart: one hour (almost always)
  auto every = Lines(Read(PerfDir(job, 2) + "/processes_cpu_memory_usage/" + hours[0]));
  CHECK(every[0] == "Utc Time,Pid,Name,Cpu Percent,Memory Used (MB),Memory Percent");
  CHECK(every.size() == 9);  // 4 processes × 2 samples
}

TEST_CASE("ResourceMonitor: with children files, the start and the end read the job's processes "
          "only", "[resource_monitor]") {
  TempDir dir("resource_monitor_test");
  const std::string job = dir.path() + "/job";
  REQUIRE(CreateNodeFolders(job, 0).ok());
  const std::string proc = dir.path() + "/proc";
  MakeProc(proc);
  Put(proc + "/100/task/100/children", "200 ");
  Put(proc + "/100/task/101/children", "");
  Put(proc + "/200/task/200/children", "300 ");
  Put(proc + "/300/task/300/children", "");
  {
    ResourceMonitor m({job, 0, 3600, proc, 100});
    m.Name(200, "process000");
    m.Finish();
  }
  std::string all = Read(ProcessesResourceUsageCsv(job, 0));
  CHECK(Lines(all).size() == 7);
  CHECK(all.find(",process000,300,200,sh,S,") != std::string::npos);
  CHECK(all.find("sshd") == std::string::npos);
  // The machine's processes are written on the periodic samples only.
  CHECK(fs::is_empty(PerfDir(job, 0) + "/processes_cpu_memory_usage"));
}

TEST_CASE("ResourceMonitor: a folder it cannot write in is its error, not a crash",
          "[resource_monitor]") {
  TempDir dir("resource_monitor_test");
  MakeProc(dir.path() + "/proc");
  ResourceMonitor m({dir.path() + "/no/such/job", 0, 3600, dir.path() + "/proc", 100});
  m.Finish();
  CHECK(m.error().find(dir.path() + "/no/such/job/logs/sys/perf/0/node_resource_usage.csv: "
                       "No such file or directory") == 0);
}

}  // namespace
}  // namespace parallelrun
