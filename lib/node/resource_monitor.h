// ResourceMonitor: the node's resource reports under logs/sys/perf/<node>/
// (reference §4.1, §4.4), sampled from /proc on a thread of its own — never
// the node's loop — at the start, every resource_monitor_interval seconds,
// and once more at the end:
//
//   node_resource_usage.csv       one row per sample: Utc Time, Cpu Percent,
//       Memory Total (MB), Memory Available (MB), Memory Used (MB), Memory
//       Used Percent, Disk Io Read Count, Disk Io Write Count, Disk Io Read
//       (MB), Disk Io Write (MB), Network Sent (MB), Network Recv (MB),
//       # of TCP Connections, # of UDP Connections (the original's columns)
//   node_disk_usage.csv           one row per mounted disk per sample: Utc
//       Time, Device, Mount Point, File System, Total (MB), Used (MB),
//       Free (MB), Used Percent
//   processes_resource_usage.csv  one row per process of the job (this
//       parallelrun, its workers and what they started) per sample: Utc
//       Time, Process (processNNN, or parallelrun), Pid, Parent Pid, Name,
//       Status, Cpu Percent, Memory Used (MB), Memory Percent, Threads
//   processes_cpu_memory_usage/<yyyymmddhh>.csv  every process of the
//       machine, one row each per periodic sample (not the start's and the
//       end's, which read only the job's processes: they are on the job's
//       time), a file per UTC hour: Utc Time, Pid, Name, Cpu Percent,
//       Memory Used (MB), Memory Percent
//
// The values are psutil's (node/proc_stats.h says how each is read): the
// disk and network counters count since boot, as psutil's do; the socket
// counts come from /proc/net/sockstat (see ParseSockstat); CPU percent
// is over the time since the previous sample. Where psutil's first call says
// 0.0 (it has no previous sample), the first sample here gives the average
// since boot (the node) or since the process started. The original's column
// names are known for node_resource_usage.csv only (reference §4.4); the
// others' are parallelrun's, in the same style.
//
// Threads: every method may be called from any thread; none blocks on a
// sample except the destructor, which waits for the last one.
#ifndef PARALLELRUN_NODE_RESOURCE_MONITOR_H_
#define PARALLELRUN_NODE_RESOURCE_MONITOR_H_

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace parallelrun {

class ResourceMonitor {
 public:
  struct Config {
    std::string job_dir;
    uint32_t node = 0;
    double interval_seconds = 600;  // > 0; between samples
    std::string proc_root = "/proc";
    pid_t self = 0;  // the job's own process (its descendants are the job's); 0 = getpid()
  };

  // Starts the thread, which takes the first sample at once.
  // REQUIRES: config.interval_seconds > 0.
  explicit ResourceMonitor(Config config);
  // Stop(), then waits for the last sample.
  ~ResourceMonitor();
  ResourceMonitor(const ResourceMonitor&) = delete;
  ResourceMonitor& operator=(const ResourceMonitor&) = delete;

  // Process `pid` is worker `name` ("process003"): its rows, and those of
  // what it starts, say so.
  void Name(pid_t pid, const std::string& name);
  // Takes the last sample (on the monitor's thread) and ends; returns at once.
  void Stop();
  // Stop(), then waits for the last sample (blocks for one sample's time).
  void Finish();
  // The first error met writing the files ("" if none); complete after Finish.
  std::string error() const;
  // Samples taken so far.
  uint64_t samples() const;

 private:
  struct State;
  void Run();

  Config config_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;                  // guarded by mutex_
  std::map<pid_t, std::string> names_;  // guarded by mutex_
  std::string error_;                   // guarded by mutex_
  uint64_t samples_ = 0;                // guarded by mutex_
  std::thread thread_;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_NODE_RESOURCE_MONITOR_H_
