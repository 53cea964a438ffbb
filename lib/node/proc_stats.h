// Readers of the Linux /proc files the resource monitor samples
// (node/resource_monitor.h), and the arithmetic that turns two samples into
// psutil's numbers — the original wrote its perf CSVs with psutil
// (reference §4.4). Pure: each parser takes a file's text, so that tests
// feed canned files (tests/data/proc/). Where /proc cannot give exactly what
// psutil reports, the function says so.
#ifndef PARALLELRUN_NODE_PROC_STATS_H_
#define PARALLELRUN_NODE_PROC_STATS_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace parallelrun {

// /proc/stat's "cpu" line, in clock ticks, split as psutil does: `total` is
// every field but guest and guest_nice (already counted in user and nice),
// `idle` is idle + iowait.
struct CpuTimes {
  uint64_t total = 0;
  uint64_t idle = 0;
};
std::optional<CpuTimes> ParseProcStat(const std::string& text);

// psutil.cpu_percent(): busy share of the ticks between two samples, 0–100.
double CpuPercent(const CpuTimes& before, const CpuTimes& after);

// /proc/meminfo, as psutil.virtual_memory() reads it (bytes).
struct Memory {
  uint64_t total = 0;
  uint64_t available = 0;  // MemAvailable
  uint64_t used = 0;       // total - free - buffers - cached (Cached + SReclaimable)
  double percent = 0;      // (total - available) / total × 100
};
std::optional<Memory> ParseMeminfo(const std::string& text);

// psutil.disk_io_counters(): /proc/diskstats summed over whole disks (those
// `is_disk` accepts: psutil's test is that /sys/block/<name> exists, which
// leaves partitions out). Counts since boot; bytes are sectors × 512 (the
// kernel's unit in diskstats, whatever the device's sector size).
struct DiskIo {
  uint64_t read_count = 0;
  uint64_t write_count = 0;
  uint64_t read_bytes = 0;
  uint64_t write_bytes = 0;
};
DiskIo ParseDiskstats(const std::string& text, const std::function<bool(const std::string&)>& is_disk);

// psutil.net_io_counters(): /proc/net/dev summed over every interface
// (loopback included), bytes since boot.
struct NetIo {
  uint64_t sent = 0;
  uint64_t recv = 0;
};
NetIo ParseNetDev(const std::string& text);

// /proc/net/sockstat and sockstat6: the TCP sockets (inuse + tw, v4 and v6)
// and UDP sockets (inuse, v4 and v6) of this network namespace. psutil
// counts the lines of /proc/net/tcp{,6} and udp{,6} instead: the same
// sockets, but reading those tables walks the kernel's whole hash (tens of
// ms even with no socket), too slow for a sample at a job's start and end.
struct SocketCounts {
  uint64_t tcp = 0;
  uint64_t udp = 0;
};
SocketCounts ParseSockstat(const std::string& sockstat, const std::string& sockstat6);

// /proc/<pid>/stat.
struct ProcessStat {
  pid_t pid = 0;
  pid_t ppid = 0;
  std::string name;      // comm: psutil's name(), which may be cut to 15 bytes
  char state = '?';
  uint64_t cpu_ticks = 0;    // utime + stime (not the children's, as psutil's cpu_times)
  uint64_t start_ticks = 0;  // since boot
  uint64_t threads = 0;
  uint64_t rss_pages = 0;    // psutil reads rss from statm; the same counter
};
std::optional<ProcessStat> ParsePidStat(const std::string& text);

// psutil's Process.cpu_percent(): CPU seconds over wall seconds × 100 (over
// 100 for a process busy on several cores).
double ProcessCpuPercent(uint64_t ticks_before, uint64_t ticks_after, double wall_seconds,
                         long ticks_per_second);

// /proc/filesystems: the file-system types that need a device (no "nodev").
std::set<std::string> ParseDeviceFilesystems(const std::string& text);

// psutil.disk_partitions(all=False): the mounts in /proc/self/mounts of a
// device file system (`device_types`), in order, each mount point once.
struct Mount {
  std::string device;
  std::string mount_point;
  std::string fstype;
};
std::vector<Mount> ParseMounts(const std::string& text, const std::set<std::string>& device_types);

// psutil.disk_usage() from statvfs's numbers: total = blocks × frsize,
// used = (blocks - bfree) × frsize, free = bavail × frsize, percent = used /
// (used + free) × 100 (space reserved for root counts as neither).
struct DiskUsage {
  uint64_t total = 0;
  uint64_t used = 0;
  uint64_t free = 0;
  double percent = 0;
};
DiskUsage MakeDiskUsage(uint64_t blocks, uint64_t bfree, uint64_t bavail, uint64_t frsize);

}  // namespace parallelrun

#endif  // PARALLELRUN_NODE_PROC_STATS_H_
