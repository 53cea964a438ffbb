// The /proc readers of the resource monitor on canned files
// (tests/data/proc/), with the numbers psutil gives for the same files.
#include "node/proc_stats.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace parallelrun {
namespace {

std::string Canned(const std::string& name) {
  std::ifstream in(std::string(PARALLELRUN_TEST_DATA) + "/proc/" + name, std::ios::binary);
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

constexpr uint64_t kKB = 1024;

TEST_CASE("ProcStat: psutil's total (guest left out) and idle (iowait in)", "[proc_stats]") {
  auto a = ParseProcStat(Canned("stat"));
  REQUIRE(a);
  CHECK(a->total == 9585);  // 9625 - guest 40
  CHECK(a->idle == 8200);   // idle 8000 + iowait 200
  auto b = ParseProcStat(Canned("stat.later"));
  REQUIRE(b);
  // 900 ticks, 500 of them idle.
  CHECK(CpuPercent(*a, *b) == Approx(400.0 / 900 * 100));
  CHECK(CpuPercent(*b, *a) == 0);  // the clock never runs back; no negative percent
  CHECK_FALSE(ParseProcStat("intr 1\n"));
  CHECK_FALSE(ParseProcStat("cpu  1 x 3 4\n"));
}

TEST_CASE("Meminfo: psutil.virtual_memory's total, available, used, percent", "[proc_stats]") {
  auto m = ParseMeminfo(Canned("meminfo"));
  REQUIRE(m);
  CHECK(m->total == 8000000 * kKB);
  CHECK(m->available == 5000000 * kKB);
  // total - free - buffers - (Cached + SReclaimable)
  CHECK(m->used == (8000000 - 1000000 - 200000 - 2800000) * kKB);
  CHECK(m->percent == Approx(37.5));  // (total - available) / total
  CHECK_FALSE(ParseMeminfo("Cached: 1 kB\n"));
}

TEST_CASE("Diskstats: whole disks only, sectors of 512 bytes", "[proc_stats]") {
  std::set<std::string> disks = {"loop0", "sda", "nvme0n1"};
  DiskIo io = ParseDiskstats(Canned("diskstats"), [&](const std::string& d) { return disks.count(d) > 0; });
  CHECK(io.read_count == 1510);
  CHECK(io.write_count == 2100);
  CHECK(io.read_bytes == 60080ull * 512);
  CHECK(io.write_bytes == 82000ull * 512);
}

TEST_CASE("NetDev: every interface, loopback included", "[proc_stats]") {
  NetIo io = ParseNetDev(Canned("net_dev"));
  CHECK(io.recv == 3145728);
  CHECK(io.sent == 4194304);
}

TEST_CASE("Sockstat: TCP in use and in TIME_WAIT, UDP in use, v4 and v6", "[proc_stats]") {
  SocketCounts c = ParseSockstat(Canned("sockstat"), Canned("sockstat6"));
  CHECK(c.tcp == 7 + 3 + 4);
  CHECK(c.udp == 2 + 1);  // UDPLITE is not UDP
  c = ParseSockstat("", "");
  CHECK(c.tcp == 0);
  CHECK(c.udp == 0);
}

TEST_CASE("PidStat: a name with spaces and parentheses, the fields after it", "[proc_stats]") {
  auto s = ParsePidStat(Canned("pid_stat"));
  REQUIRE(s);
  CHECK(s->pid == 1234);
  CHECK(s->name == "python3 my (weird) name");
  CHECK(s->state == 'S');
  CHECK(s->ppid == 1000);
  CHECK(s->cpu_ticks == 200);  // utime 150 + stime 50
  CHECK(s->threads == 3);
  CHECK(s->start_ticks == 98765);
  CHECK(s->rss_pages == 2500);
  CHECK_FALSE(ParsePidStat("1234 (cut"));
  CHECK_FALSE(ParsePidStat("1234 (x) S 1 2 3"));
}

TEST_CASE("ProcessCpuPercent: CPU over wall time, above 100 on several cores", "[proc_stats]") {
  CHECK(ProcessCpuPercent(100, 150, 1.0, 100) == Approx(50));
  CHECK(ProcessCpuPercent(0, 400, 2.0, 100) == Approx(200));
  CHECK(ProcessCpuPercent(150, 100, 1.0, 100) == 0);
  CHECK(ProcessCpuPercent(0, 100, 0, 100) == 0);
}

TEST_CASE("Mounts: device file systems only, each mount point once, escapes undone",
          "[proc_stats]") {
  std::set<std::string> types = ParseDeviceFilesystems(Canned("filesystems"));
  CHECK(types == std::set<std::string>{"ext4", "xfs", "zfs"});
  std::vector<Mount> mounts = ParseMounts(Canned("mounts"), types);
  REQUIRE(mounts.size() == 2);
  CHECK(mounts[0].device == "/dev/sda1");
  CHECK(mounts[0].mount_point == "/");
  CHECK(mounts[0].fstype == "ext4");
  CHECK(mounts[1].mount_point == "/mnt/my data");
  CHECK(mounts[1].fstype == "xfs");
}

TEST_CASE("DiskUsage: psutil's percent leaves root's reserve out", "[proc_stats]") {
  DiskUsage u = MakeDiskUsage(1000, 300, 250, 4096);
  CHECK(u.total == 4096000);
  CHECK(u.used == 700 * 4096);
  CHECK(u.free == 250 * 4096);
  CHECK(u.percent == Approx(700.0 / 950 * 100));
  CHECK(MakeDiskUsage(0, 0, 0, 4096).percent == 0);
}

}  // namespace
}  // namespace parallelrun
