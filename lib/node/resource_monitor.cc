#include "node/resource_monitor.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/job_dir.h"
#include "base/text.h"
#include "node/proc_stats.h"

namespace parallelrun {

namespace {

constexpr double kMB = 1024.0 * 1024.0;

// The whole of a /proc file ("" when it cannot be read: a process that just
// exited, a file this kernel lacks).
std::string ReadProcFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return text;
}

std::string UtcHour(double now) {
  time_t secs = static_cast<time_t>(now);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char hour[16];
  strftime(hour, sizeof hour, "%Y%m%d%H", &tm);
  return hour;
}

std::string Mb(uint64_t bytes) { return fmt::format("{:.2f}", static_cast<double>(bytes) / kMB); }
std::string Pct(double p) { return fmt::format("{:.1f}", p); }

// The stat of `self` and of its descendants, found by reading each one's
// /proc/<pid>/task/<tid>/children. False when the kernel has no children
// files (CONFIG_PROC_CHILDREN): then only a scan of every process finds them.
bool JobProcesses(const std::string& proc, pid_t self, std::vector<ProcessStat>* out) {
  std::vector<pid_t> todo = {self};
  bool have_children_files = false;
  for (size_t i = 0; i < todo.size() && i < 100000; i++) {
    std::string dir = proc + "/" + std::to_string(todo[i]);
    auto s = ParsePidStat(ReadProcFile(dir + "/stat"));
    if (!s) continue;
    out->push_back(std::move(*s));
    DIR* tasks = opendir((dir + "/task").c_str());
    if (!tasks) continue;
    while (dirent* e = readdir(tasks)) {
      if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
      std::string path = dir + "/task/" + e->d_name + "/children";
      if (access(path.c_str(), F_OK) == 0) have_children_files = true;
      std::istringstream children(ReadProcFile(path));
      for (long pid; children >> pid;) todo.push_back(static_cast<pid_t>(pid));
    }
    closedir(tasks);
  }
  return have_children_files;
}

}  // namespace

// What the thread keeps from one sample to the next.
struct ResourceMonitor::State {
  std::optional<CpuTimes> cpu;
  // pid → (start ticks, cpu ticks): a pid reused by another process is told
  // apart by its start time.
  std::unordered_map<pid_t, std::pair<uint64_t, uint64_t>> ticks;
  double wall = 0;  // steady seconds of the previous sample
  std::set<std::string> device_types;
};

ResourceMonitor::ResourceMonitor(Config config) : config_(std::move(config)) {
  if (config_.self == 0) config_.self = getpid();
  thread_ = std::thread([this] { Run(); });
}

ResourceMonitor::~ResourceMonitor() { Finish(); }

void ResourceMonitor::Finish() {
  Stop();
  if (thread_.joinable()) thread_.join();
}

void ResourceMonitor::Name(pid_t pid, const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  names_[pid] = name;
}

void ResourceMonitor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
}

std::string ResourceMonitor::error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_;
}

uint64_t ResourceMonitor::samples() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return samples_;
}

void ResourceMonitor::Run() {
  State state;
  const std::string& proc = config_.proc_root;
  state.device_types = ParseDeviceFilesystems(ReadProcFile(proc + "/filesystems"));
  const long hz = sysconf(_SC_CLK_TCK);
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  // Any interval up to a year is waited for exactly; a longer one (the
  // setting has no top) is a year, so that the clock's arithmetic cannot wrap.
  auto interval = std::chrono::duration<double>(std::min(config_.interval_seconds, 365 * 86400.0));

  auto fail = [this](const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (error_.empty()) error_ = what;
  };
  // Appends `rows` to the CSV at `path`, with `header` first in a new file.
  auto append = [&fail](const std::string& path, const char* header, const std::string& rows) {
    FILE* f = fopen(path.c_str(), "ae");
    if (!f) return fail(path + ": " + strerror(errno));
    fseek(f, 0, SEEK_END);
    bool ok = true;
    if (ftell(f) == 0) ok = fputs(header, f) >= 0;
    ok = ok && fwrite(rows.data(), 1, rows.size(), f) == rows.size();
    ok = (fclose(f) == 0) && ok;
    if (!ok) fail(path + ": " + strerror(errno));
  };

  for (bool last = false;;) {
    double now = WallSeconds();
    double wall = std::chrono::duration<double>(
                      std::chrono::steady_clock::now().time_since_epoch()).count();
    std::string time = IsoTime(now);
    std::map<pid_t, std::string> names;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      names = names_;
    }

    // ---- the node ----
    auto cpu = ParseProcStat(ReadProcFile(proc + "/stat"));
    double cpu_percent = 0;
    if (cpu) {
      cpu_percent = CpuPercent(state.cpu.value_or(CpuTimes{}), *cpu);
      state.cpu = cpu;
    }
    Memory mem = ParseMeminfo(ReadProcFile(proc + "/meminfo")).value_or(Memory{});
    DiskIo disk = ParseDiskstats(ReadProcFile(proc + "/diskstats"), [](const std::string& d) {
      std::string name = "/sys/block/" + d;
      for (size_t i = 11; i < name.size(); i++) name[i] = name[i] == '/' ? '!' : name[i];
      return access(name.c_str(), F_OK) == 0;
    });
    NetIo net = ParseNetDev(ReadProcFile(proc + "/net/dev"));
    SocketCounts sockets = ParseSockstat(ReadProcFile(proc + "/net/sockstat"),
                                         ReadProcFile(proc + "/net/sockstat6"));
    append(NodeResourceUsageCsv(config_.job_dir, config_.node),
           "Utc Time,Cpu Percent,Memory Total (MB),Memory Available (MB),Memory Used (MB),"
           "Memory Used Percent,Disk Io Read Count,Disk Io Write Count,Disk Io Read (MB),"
           "Disk Io Write (MB),Network Sent (MB),Network Recv (MB),# of TCP Connections,"
           "# of UDP Connections\n",
           fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", time, Pct(cpu_percent),
                       Mb(mem.total), Mb(mem.available), Mb(mem.used), Pct(mem.percent),
                       disk.read_count, disk.write_count, Mb(disk.read_bytes),
                       Mb(disk.write_bytes), Mb(net.sent), Mb(net.recv), sockets.tcp,
                       sockets.udp));

    // ---- its disks ----
    std::string disks;
    for (const Mount& m : ParseMounts(ReadProcFile(proc + "/self/mounts"), state.device_types)) {
      struct statvfs st;
      if (statvfs(m.mount_point.c_str(), &st) != 0) continue;
      DiskUsage u = MakeDiskUsage(st.f_blocks, st.f_bfree, st.f_bavail, st.f_frsize);
      disks += fmt::format("{},{},{},{},{},{},{},{}\n", time, CsvField(m.device),
                           CsvField(m.mount_point), CsvField(m.fstype), Mb(u.total), Mb(u.used),
                           Mb(u.free), Pct(u.percent));
    }
    append(NodeDiskUsageCsv(config_.job_dir, config_.node),
           "Utc Time,Device,Mount Point,File System,Total (MB),Used (MB),Free (MB),Used Percent\n",
           disks);

    // ---- its processes ----
    double uptime = strtod(ReadProcFile(proc + "/uptime").c_str(), nullptr);
    // Every process of the machine on the periodic samples; at the start
    // and the end only the job's, found down the children files: reading
    // every /proc/<pid>/stat takes tens of ms on a busy machine, and those
    // two samples are on the job's own time.
    bool machine_wide = samples() > 0 && !last;
    std::vector<ProcessStat> all;
    auto add = [&](const std::string& pid) {
      auto s = ParsePidStat(ReadProcFile(proc + "/" + pid + "/stat"));
      if (s) all.push_back(std::move(*s));
    };
    bool found = !machine_wide && JobProcesses(proc, config_.self, &all);
    if (!found) {
      all.clear();
      machine_wide = true;  // read anyway: written too
      if (DIR* dir = opendir(proc.c_str())) {
        while (dirent* e = readdir(dir)) {
          if (e->d_name[0] >= '1' && e->d_name[0] <= '9') add(e->d_name);
        }
        closedir(dir);
      }
    }
    std::unordered_map<pid_t, pid_t> parent;
    for (const auto& s : all) parent[s.pid] = s.ppid;
    // The job's label of `pid`: the nearest named worker at or above it
    // under this process, "parallelrun" for this process and what else it
    // started, "" for a process not the job's.
    auto label = [&](pid_t pid) -> std::string {
      std::string worker;
      for (int depth = 0; pid > 0 && depth < 64; depth++) {
        if (pid == config_.self) return worker.empty() ? "parallelrun" : worker;
        auto n = names.find(pid);
        if (worker.empty() && n != names.end()) worker = n->second;
        auto p = parent.find(pid);
        if (p == parent.end()) return "";
        pid = p->second;
      }
      return "";
    };
    std::string job_rows, all_rows;
    decltype(state.ticks) ticks;
    for (const auto& s : all) {
      double pct = 0;
      auto before = state.ticks.find(s.pid);
      if (before != state.ticks.end() && before->second.first == s.start_ticks && state.wall > 0) {
        pct = ProcessCpuPercent(before->second.second, s.cpu_ticks, wall - state.wall, hz);
      } else if (hz > 0) {
        pct = ProcessCpuPercent(0, s.cpu_ticks, uptime - static_cast<double>(s.start_ticks) / hz, hz);
      }
      ticks[s.pid] = {s.start_ticks, s.cpu_ticks};
      uint64_t rss = s.rss_pages * page;
      double mem_pct = mem.total ? static_cast<double>(rss) / static_cast<double>(mem.total) * 100 : 0;
      std::string common = fmt::format("{},{},{},{}", CsvField(s.name), Pct(pct), Mb(rss), Pct(mem_pct));
      if (machine_wide) all_rows += fmt::format("{},{},{}\n", time, s.pid, common);
      std::string who = label(s.pid);
      if (!who.empty()) {
        job_rows += fmt::format("{},{},{},{},{},{},{},{},{},{}\n", time, who, s.pid, s.ppid,
                                CsvField(s.name), s.state, Pct(pct), Mb(rss), Pct(mem_pct),
                                s.threads);
      }
    }
    state.ticks = std::move(ticks);
    state.wall = wall;
    append(ProcessesResourceUsageCsv(config_.job_dir, config_.node),
           "Utc Time,Process,Pid,Parent Pid,Name,Status,Cpu Percent,Memory Used (MB),"
           "Memory Percent,Threads\n",
           job_rows);
    if (machine_wide) {
      append(ProcessesCpuMemoryCsv(config_.job_dir, config_.node, UtcHour(now)),
             "Utc Time,Pid,Name,Cpu Percent,Memory Used (MB),Memory Percent\n", all_rows);
    }

    std::unique_lock<std::mutex> lock(mutex_);
    samples_++;
    if (last) return;
    // The last sample is taken once Stop() is called, however early.
    last = wake_.wait_for(lock, interval, [this] { return stop_; });
  }
}

}  // namespace parallelrun
