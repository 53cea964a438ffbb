#include "node/proc_stats.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <sstream>

namespace parallelrun {

namespace {

std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

bool ToU64(const std::string& s, uint64_t* out) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;
  char* end = nullptr;
  unsigned long long v = strtoull(s.c_str(), &end, 10);
  if (*end != '\0') return false;
  *out = v;
  return true;
}

// Calls `f` with each line of `text`.
template <typename F>
void ForEachLine(const std::string& text, F f) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    f(text.substr(start, end - start));
    start = end + 1;
  }
}

// /proc/mounts writes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size() &&
        std::all_of(s.begin() + i + 1, s.begin() + i + 4, [](char c) { return c >= '0' && c <= '7'; })) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::optional<CpuTimes> ParseProcStat(const std::string& text) {
  std::optional<CpuTimes> out;
  ForEachLine(text, [&](const std::string& line) {
    if (out || line.compare(0, 4, "cpu ") != 0) return;
    std::vector<std::string> w = Words(line);
    // cpu user nice system idle iowait irq softirq steal guest guest_nice
    std::vector<uint64_t> v;
    for (size_t i = 1; i < w.size(); i++) {
      uint64_t x;
      if (!ToU64(w[i], &x)) return;
      v.push_back(x);
    }
    if (v.size() < 4) return;
    CpuTimes t;
    for (uint64_t x : v) t.total += x;
    for (size_t i = 8; i < v.size() && i < 10; i++) t.total -= v[i];
    t.idle = v[3] + (v.size() > 4 ? v[4] : 0);
    out = t;
  });
  return out;
}

double CpuPercent(const CpuTimes& before, const CpuTimes& after) {
  if (after.total <= before.total) return 0;
  double all = static_cast<double>(after.total - before.total);
  double idle = after.idle >= before.idle ? static_cast<double>(after.idle - before.idle) : 0;
  return std::clamp((all - idle) / all * 100, 0.0, 100.0);
}

std::optional<Memory> ParseMeminfo(const std::string& text) {
  std::map<std::string, uint64_t> kb;
  ForEachLine(text, [&](const std::string& line) {
    std::vector<std::string> w = Words(line);
    uint64_t v;
    if (w.size() >= 2 && w[0].back() == ':' && ToU64(w[1], &v)) {
      kb[w[0].substr(0, w[0].size() - 1)] = v;
    }
  });
  if (!kb.count("MemTotal") || !kb.count("MemFree")) return std::nullopt;
  Memory m;
  m.total = kb["MemTotal"] * 1024;
  uint64_t free = kb["MemFree"] * 1024;
  uint64_t cached = (kb["Cached"] + kb["SReclaimable"]) * 1024;
  uint64_t buffers = kb["Buffers"] * 1024;
  // Kernels before 3.14 have no MemAvailable; psutil then estimates it; here
  // free + buffers + cached stands in.
  m.available = kb.count("MemAvailable") ? kb["MemAvailable"] * 1024 : free + buffers + cached;
  m.used = m.total > free + buffers + cached ? m.total - free - buffers - cached
           : m.total > free                  ? m.total - free
                                             : 0;
  m.percent = m.total ? static_cast<double>(m.total - std::min(m.available, m.total)) /
                            static_cast<double>(m.total) * 100
                      : 0;
  return m;
}

DiskIo ParseDiskstats(const std::string& text,
                      const std::function<bool(const std::string&)>& is_disk) {
  DiskIo io;
  ForEachLine(text, [&](const std::string& line) {
    // major minor name reads merged sectors ms writes merged sectors ms …
    std::vector<std::string> w = Words(line);
    if (w.size() < 10 || !is_disk(w[2])) return;
    uint64_t reads, rsect, writes, wsect;
    if (!ToU64(w[3], &reads) || !ToU64(w[5], &rsect) || !ToU64(w[7], &writes) ||
        !ToU64(w[9], &wsect)) {
      return;
    }
    io.read_count += reads;
    io.read_bytes += rsect * 512;
    io.write_count += writes;
    io.write_bytes += wsect * 512;
  });
  return io;
}

NetIo ParseNetDev(const std::string& text) {
  NetIo io;
  ForEachLine(text, [&](const std::string& line) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) return;  // the two header lines
    // iface: rx_bytes packets errs drop fifo frame compressed multicast tx_bytes …
    std::vector<std::string> w = Words(line.substr(colon + 1));
    uint64_t rx, tx;
    if (w.size() < 9 || !ToU64(w[0], &rx) || !ToU64(w[8], &tx)) return;
    io.recv += rx;
    io.sent += tx;
  });
  return io;
}

SocketCounts ParseSockstat(const std::string& sockstat, const std::string& sockstat6) {
  SocketCounts c;
  auto read = [&c](const std::string& text) {
    ForEachLine(text, [&c](const std::string& line) {
      std::vector<std::string> w = Words(line);
      if (w.empty()) return;
      bool tcp = w[0] == "TCP:" || w[0] == "TCP6:";
      bool udp = w[0] == "UDP:" || w[0] == "UDP6:";
      if (!tcp && !udp) return;
      for (size_t i = 1; i + 1 < w.size(); i += 2) {
        uint64_t v;
        if (!ToU64(w[i + 1], &v)) continue;
        if (w[i] == "inuse") (tcp ? c.tcp : c.udp) += v;
        if (tcp && w[i] == "tw") c.tcp += v;
      }
    });
  };
  read(sockstat);
  read(sockstat6);
  return c;
}

std::optional<ProcessStat> ParsePidStat(const std::string& text) {
  // pid (comm) state ppid …: comm may hold spaces and parentheses, so it
  // ends at the last ')'.
  size_t open = text.find('('), close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  ProcessStat s;
  uint64_t pid;
  std::string head = text.substr(0, open);
  while (!head.empty() && head.back() == ' ') head.pop_back();
  if (!ToU64(head, &pid)) return std::nullopt;
  s.pid = static_cast<pid_t>(pid);
  s.name = text.substr(open + 1, close - open - 1);
  std::vector<std::string> w = Words(text.substr(close + 1));
  // w[0] is field 3 (state); field n is w[n - 3].
  if (w.size() < 22) return std::nullopt;
  s.state = w[0].empty() ? '?' : w[0][0];
  uint64_t ppid, utime, stime, threads, start, rss;
  if (!ToU64(w[1], &ppid) || !ToU64(w[11], &utime) || !ToU64(w[12], &stime) ||
      !ToU64(w[17], &threads) || !ToU64(w[19], &start)) {
    return std::nullopt;
  }
  // rss (field 24) is signed in the kernel's format; a negative value never
  // appears in practice but must not wrap.
  s.rss_pages = ToU64(w[21], &rss) ? rss : 0;
  s.ppid = static_cast<pid_t>(ppid);
  s.cpu_ticks = utime + stime;
  s.threads = threads;
  s.start_ticks = start;
  return s;
}

double ProcessCpuPercent(uint64_t ticks_before, uint64_t ticks_after, double wall_seconds,
                         long ticks_per_second) {
  if (wall_seconds <= 0 || ticks_per_second <= 0 || ticks_after < ticks_before) return 0;
  double cpu = static_cast<double>(ticks_after - ticks_before) / static_cast<double>(ticks_per_second);
  return cpu / wall_seconds * 100;
}

std::set<std::string> ParseDeviceFilesystems(const std::string& text) {
  std::set<std::string> out;
  ForEachLine(text, [&](const std::string& line) {
    std::vector<std::string> w = Words(line);
    if (w.size() == 1) out.insert(w[0]);
  });
  // psutil adds zfs, which lists itself as nodev.
  out.insert("zfs");
  return out;
}

std::vector<Mount> ParseMounts(const std::string& text, const std::set<std::string>& device_types) {
  std::vector<Mount> out;
  ForEachLine(text, [&](const std::string& line) {
    std::vector<std::string> w = Words(line);
    if (w.size() < 3 || w[0] == "none" || !device_types.count(w[2])) return;
    Mount m{Unescape(w[0]), Unescape(w[1]), w[2]};
    for (const Mount& seen : out) {
      if (seen.mount_point == m.mount_point) return;
    }
    out.push_back(std::move(m));
  });
  return out;
}

DiskUsage MakeDiskUsage(uint64_t blocks, uint64_t bfree, uint64_t bavail, uint64_t frsize) {
  DiskUsage u;
  u.total = blocks * frsize;
  u.used = (blocks >= bfree ? blocks - bfree : 0) * frsize;
  u.free = bavail * frsize;
  u.percent = u.used + u.free ? static_cast<double>(u.used) / static_cast<double>(u.used + u.free) * 100
                              : 0;
  return u;
}

}  // namespace parallelrun
