#include "job/failover.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "base/clock.h"
#include "base/disk.h"
#include "base/job_dir.h"
#include "base/text.h"
#include "job/agent_node.h"
#include "job/job_dir_state.h"
#include "job/master_node.h"
#include "job/node_configs.h"
#include "job/node_loop.h"
#include "job/shuffle_processes.h"
#include "master/journal.h"
#include "node/standby_replica.h"

namespace parallelrun {

namespace {

constexpr std::chrono::milliseconds kPoll{100};

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  return text;
}

// The first round whose log does not exist yet: a resumed job, or one that
// failed over before, keeps the logs of its earlier rounds.
int NextMasterRound(const std::string& job_dir) {
  int n = 0;
  struct stat st;
  while (stat(MasterLogPath(job_dir, n).c_str(), &st) == 0) n++;
  return n;
}

// An IPv4 or IPv6 socket address as text, without the port ("" if neither).
std::string AddressText(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = {};
  const void* where =
      address->sa_family == AF_INET6
          ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr)
          : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(address)->sin_addr);
  return inet_ntop(address->sa_family, where, text, sizeof text) ? text : "";
}

// The local address the kernel would use toward `host`:`port` (a UDP
// "connection" sends nothing): where the other nodes, which reached the same
// master, can reach this one. "" when `host` does not resolve.
std::string LocalAddressToward(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return "";
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, freeaddrinfo);
  for (addrinfo* a = found; a; a = a->ai_next) {
    UniqueFd fd(socket(a->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd.valid() || connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0) continue;
    sockaddr_storage local{};
    socklen_t size = sizeof local;
    if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &size) != 0) continue;
    std::string text = AddressText(reinterpret_cast<const sockaddr*>(&local));
    if (!text.empty()) return text;
  }
  return "";
}

// Whether `master_host` is this machine as seen from `local` (the address
// the kernel picks toward it): the same address, or a loopback one.
bool IsLocalAddress(const std::string& local, const std::string& master_host) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(master_host.c_str(), nullptr, &hints, &found) != 0) return true;
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, freeaddrinfo);
  for (addrinfo* a = found; a; a = a->ai_next) {
    std::string address = AddressText(a->ai_addr);
    if (address.empty()) continue;
    if (address == local || address == "::1" || address.rfind("127.", 0) == 0) return true;
  }
  return false;
}

// Whether a listener could bind `host`:`port` now (as TcpListener does:
// SO_REUSEADDR, so that the lost master's connections in TIME_WAIT do not
// count).
bool PortFree(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return false;
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, freeaddrinfo);
  UniqueFd fd(socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  if (!fd.valid() || setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    return false;
  }
  return bind(fd.get(), found->ai_addr, found->ai_addrlen) == 0;
}

// A port this node could listen on as the master, held until then: a socket
// bound (SO_REUSEADDR, not listening) on the address toward the master, on
// the master's port when that is free here, else on any. TcpListener binds
// the same address and port later (also with SO_REUSEADDR, which Linux
// allows while this socket does not listen), so the standby's address that
// the agents were told stays its own.
struct Reservation {
  std::string host;
  uint16_t port = 0;
  UniqueFd fd;
};
std::optional<Reservation> ReservePort(const std::string& master_host, uint16_t master_port) {
  std::string host = LocalAddressToward(master_host, master_port);
  if (host.empty()) return std::nullopt;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;
  // Not the master's port on the master's own machine (several nodes on one
  // host, or loopback): the master may not have bound it yet, and a
  // non-listening SO_REUSEADDR socket would not keep it out.
  std::vector<uint16_t> ports = {0};
  if (!IsLocalAddress(host, master_host)) ports.insert(ports.begin(), master_port);
  for (uint16_t port : ports) {
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) continue;
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, freeaddrinfo);
    Reservation r;
    r.fd = UniqueFd(socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    if (!r.fd.valid() ||
        setsockopt(r.fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(r.fd.get(), found->ai_addr, found->ai_addrlen) != 0) {
      continue;
    }
    sockaddr_storage bound{};
    socklen_t size = sizeof bound;
    if (getsockname(r.fd.get(), reinterpret_cast<sockaddr*>(&bound), &size) != 0) continue;
    r.port = ntohs(bound.ss_family == AF_INET6
                       ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                       : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    r.host = host;
    return r;
  }
  return std::nullopt;
}

Status WriteMasterAddress(const std::string& job_dir, const MasterAddress& a) {
  std::string path = MasterAddressPath(job_dir);
  Status made =
      CreateFolders(path.substr(0, path.rfind('/')), "the job dir's .parallelrun folder");
  if (!made.ok()) return made;
  std::string tmp = fmt::format("{}.{}", path, getpid());
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << FormatMasterAddress(a) << "\n";
    f.flush();
    if (!f) return Status::Infrastructure(ErrnoMessage(tmp, errno));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return Status::Infrastructure(ErrnoMessage(path, e));
  }
  return Status::Ok();
}

// The master `a` names is the one alive now: it holds the job dir's lock.
// The lock file is read first: the question costs the lock for a moment
// (CheckFree) only when the file names that master.
bool HoldsTheLock(const std::string& job_dir, const MasterAddress& a) {
  std::string holder = ReadSmallFile(job_dir + "/lock");
  std::string holds = fmt::format("pid {} on host {} ", a.pid, a.hostname);
  if (holder.compare(0, holds.size(), holds) != 0) return false;
  return !JobDirLock::CheckFree(job_dir).ok();
}

// What a lost master's node does next.
struct Next {
  enum class Kind { kTakeOver, kReconnect, kStop } kind = Kind::kStop;
  std::optional<JobDirLock> lock;  // kTakeOver
  MasterAddress master;            // kReconnect
  Status why;                      // kStop
};

// Waits, on a loop of its own, until this node takes the job dir's lock, or
// another node's master of a round after `round` is up, or `patience` ran out.
Next Elect(const Role& role, const std::string& job_dir, uint32_t round,
           std::chrono::milliseconds patience) {
  NodeLoop loop;
  boost::asio::io_context& io = loop.io();
  boost::asio::steady_timer timer(io);
  auto now = std::chrono::steady_clock::now();
  auto deadline = now + patience;
  auto first_try = now + kStandbyStagger * (role.node_rank > 0 ? role.node_rank - 1 : 0);
  Next next;
  std::function<void()> poll = [&] {
    auto t = std::chrono::steady_clock::now();
    if (t >= first_try) {
      auto locked = JobDirLock::Acquire(job_dir);
      if (locked.ok()) {
        next.kind = Next::Kind::kTakeOver;
        next.lock = std::move(*locked);
        io.stop();
        return;
      }
      if (locked.status().code() != Status::Code::kUsage) {
        next.why = locked.status();
        io.stop();
        return;
      }
    }
    auto a = ParseMasterAddress(ReadSmallFile(MasterAddressPath(job_dir)));
    if (a && a->round > round && HoldsTheLock(job_dir, *a)) {
      next.kind = Next::Kind::kReconnect;
      next.master = *a;
      io.stop();
      return;
    }
    if (t >= deadline) {
      next.why = Status::Infrastructure(fmt::format(
          "no node took the master role within {} s (PARALLELRUN_CONNECT_TIMEOUT)",
          std::chrono::duration_cast<std::chrono::seconds>(patience).count()));
      io.stop();
      return;
    }
    timer.expires_after(kPoll);
    timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) poll();
    });
  };
  loop.WatchSignals([&](bool, const std::string& signal) {
    next.kind = Next::Kind::kStop;
    next.why = Status::Interrupted(signal);
    io.stop();
  });
  boost::asio::post(io, poll);
  loop.Run();
  return next;
}

// Where a standby without shared storage listens (it told the agents).
struct Heir {
  std::string host;
  uint16_t port = 0;
};

// This node took the lock: it runs the job's master from the journal on.
// `role`: this node as the agent of the master it lost, of round
// `lost_round`. `heir`: this node was the standby of a master whose job dir
// it does not share, and listens where the agents were told (null: the
// job dir is shared, and the address is found as the header says).
Status TakeOver(const FailoverNode& node, Role role, JobDirLock lock, int lost_nodes,
                const std::string& lost, uint32_t lost_round, const Heir* heir,
                Progress* progress, FILE* out) {
  // First: from here on a Ctrl-C is the job's interrupt, not the process's end.
  NodeLoop loop;
  const JobPlan& plan = *node.plan;
  auto earlier = ReadEarlierJob(plan.job_dir);
  if (!earlier.ok()) return earlier.status();
  if (!earlier->has_value()) {
    return Status::Infrastructure(plan.job_dir + " has no journal to take the master role from");
  }
  const EarlierJob& job = **earlier;
  if (job.ended) {
    // The master wrote the job's end and died before its agents heard it.
    progress->Say("the lost master had ended the job: " +
                  (job.end_message.empty() ? std::string("succeeded") : job.end_message));
    return job.status_code == 0 ? Status::Ok() : Status::Infrastructure(job.end_message);
  }
  auto opened = Journal::Open(JournalPath(plan.job_dir));
  if (!opened.ok()) return opened.status();
  std::unique_ptr<Journal> journal = std::move(*opened);
  JournalRunStarted run;
  run.run = static_cast<uint32_t>(job.runs + 1);
  run.start_time = WallSeconds();
  run.host = Hostname();
  run.pid = static_cast<uint32_t>(getpid());
  run.request = job.first.request;
  run.fingerprints = job.first.fingerprints;
  journal->Append(run);
  Status s = journal->Commit();
  if (!s.ok()) return s;

  // Without shared storage this job dir has no logs of the earlier rounds.
  int round = std::max(NextMasterRound(plan.job_dir), static_cast<int>(lost_round) + 1);
  std::string lost_master = fmt::format("{}:{}", role.master_host, role.master_port);
  if (heir) {
    role.master_host = heir->host;
    role.master_port = heir->port;
  } else {
    std::string host = LocalAddressToward(role.master_host, role.master_port);
    if (host.empty()) host = "0.0.0.0";
    role.master_port = PortFree(host, role.master_port) ? role.master_port : 0;
    role.master_host = host;
  }
  role.explanation = fmt::format(
      "role: node {} of {} (master, round {}) took the master role: {}; {}", role.node_rank,
      role.node_count, round, lost,
      heir ? "this node was the standby, with a copy of that master's journal (the nodes share "
             "no job dir), so it takes over"
           : "the job dir's lock was free, so that master's process had ended");

  Master::Config mc = MakeMasterConfig(plan, role);
  mc.journal = journal.get();
  mc.resume = Master::Config::Resume{JournalPath(plan.job_dir), false, false};
  // One node fewer than the launcher started: the lost masters'.
  mc.expected_nodes = static_cast<int>(role.node_count) - lost_nodes;
  WorkerPool::Config wc = node.wc;
  ShuffleProcesses shuffle(wc.python, wc.env, mc.partitions_dir, wc.start.nice);
  mc.shuffle = &shuffle;

  MasterTakeover takeover;
  takeover.round = round;
  takeover.lost_nodes = static_cast<uint32_t>(lost_nodes);
  takeover.listening = [&](const std::string& bound, uint16_t bound_port) {
    MasterAddress a;
    a.round = static_cast<uint32_t>(round);
    a.node = role.node_rank;
    a.host = bound == "0.0.0.0" || bound == "::" ? Hostname() : bound;
    a.port = bound_port;
    a.pid = static_cast<uint32_t>(getpid());
    a.hostname = Hostname();
    progress->Say(fmt::format("node {}: took the master role (round {}) from {}; listening on "
                              "{}:{}",
                              role.node_rank, round, lost_master, a.host, a.port));
    return WriteMasterAddress(plan.job_dir, a);
  };
  // The same TLS as the first master: its self-signed certificate from the
  // job dir (which the agents pinned), or the same files.
  TcpLinkOptions link;
  if (node.tls.enabled) {
    auto tls = TlsContext::ForMaster(node.tls, plan.job_dir);
    if (!tls.ok()) return tls.status();
    link.tls = std::move(tls.value());
  }
  Status outcome = RunMasterNode(loop, role, node.secret, link, mc, std::move(wc), plan,
                                 node.argv, progress, out, &takeover);
  (void)lock;  // held until here: the job's end
  return outcome;
}

}  // namespace

std::string FormatMasterAddress(const MasterAddress& a) {
  return fmt::format("round={} node={} host={} port={} pid={} hostname={}", a.round, a.node,
                     a.host, a.port, a.pid, a.hostname);
}

std::optional<MasterAddress> ParseMasterAddress(const std::string& line) {
  std::istringstream in(line);
  std::string field;
  MasterAddress a;
  int seen = 0;
  while (in >> field) {
    size_t eq = field.find('=');
    if (eq == std::string::npos) return std::nullopt;
    std::string key = field.substr(0, eq), value = field.substr(eq + 1);
    if (value.empty()) return std::nullopt;
    if (key == "host") {
      a.host = value;
    } else if (key == "hostname") {
      a.hostname = value;
    } else {
      if (value.find_first_not_of("0123456789") != std::string::npos || value.size() > 9) {
        return std::nullopt;
      }
      uint32_t n = static_cast<uint32_t>(std::stoul(value));
      if (key == "round") a.round = n;
      else if (key == "node") a.node = n;
      else if (key == "pid") a.pid = n;
      else if (key == "port" && n > 0 && n <= 65535) a.port = static_cast<uint16_t>(n);
      else return std::nullopt;
    }
    seen++;
  }
  if (seen != 6 || a.host.empty() || a.hostname.empty() || a.port == 0) return std::nullopt;
  return a;
}

Result<bool> ParseFailoverSetting(const std::string& value) {
  if (value.empty() || value == "1" || value == "on") return true;
  if (value == "0" || value == "off") return false;
  return Status::Usage(fmt::format(
      "PARALLELRUN_FAILOVER='{}' is not valid: give 1 or on (the default: another node takes "
      "the master role when the master's process dies), or 0 or off",
      value));
}

Status RunAgentNodeWithFailover(FailoverNode node, Progress* progress, FILE* out) {
  const std::string& job_dir = node.plan->job_dir;
  Role role = node.role;   // the master this node is an agent of now
  uint32_t round = 0;      // that master's round
  uint32_t master_node = 0;
  std::optional<MasterAddress> current;  // that master, after a failover
  int lost_nodes = 0;
  if (auto a = ParseMasterAddress(ReadSmallFile(MasterAddressPath(job_dir)))) {
    // Only a later round than the file's is this run's (a resumed job keeps
    // the address of its last one) — unless that master lives: this node
    // started after the launcher's master was replaced, and joins its heir.
    round = a->round;
    if (HoldsTheLock(job_dir, *a)) {
      current = a;
      master_node = a->node;
      lost_nodes = 1;
      role.explanation += fmt::format(
          "; the job's master is node {} at {}:{} (round {}, from .parallelrun/master)", a->node,
          a->host, a->port, a->round);
      role.master_host = a->host;
      role.master_port = a->port;
    }
  }
  // The zygote (start method fork) serves the first round's pool only: it
  // was prepared for it, and its watch is on that round's loop, so it must
  // end with that pool, before the loop. Later pools spawn their workers.
  WorkerPool::Config first = std::move(node.wc);
  node.wc = first;
  node.wc.zygote = nullptr;
  node.wc.cgroups = nullptr;  // made for it (its zygote is in one): later pools make their own
  // Where this node would listen if it stood by for a master whose job dir
  // it does not share (reserved now, so that the agents can be told).
  std::optional<Reservation> reserved =
      ReservePort(role.master_host, static_cast<uint16_t>(role.master_port));
  bool by_standby = false;  // the current master is a standby's: no lock to watch
  for (;;) {
    AgentFailover failover;
    if (reserved) {
      failover.standby_host = reserved->host;
      failover.standby_port = reserved->port;
    }
    failover.gone = [&job_dir, round, &current, &by_standby] {
      if (by_standby) return false;  // nothing to watch: the connect timeout decides
      // Another node holds the role now…
      auto a = ParseMasterAddress(ReadSmallFile(MasterAddressPath(job_dir)));
      if (a && a->round > round && HoldsTheLock(job_dir, *a)) return true;
      // …or the heir this node dials died before it was reached (the
      // launcher's master, round 0, may not have started yet: no such test).
      return current.has_value() && !HoldsTheLock(job_dir, *current);
    };
    Status lost;
    {
      NodeLoop loop;
      lost = RunAgentNode(loop, role, node.secret, lost_nodes == 0 ? std::move(first) : node.wc,
                          job_dir, node.argv, node.connect, progress, out, &failover);
    }
    if (!failover.master_lost) return lost;
    lost_nodes++;
    std::string what = fmt::format("lost the master (node {}, {}:{}, round {}): {}", master_node,
                                   role.master_host, role.master_port, round, lost.message());
    if (failover.shared == false) {
      // The master's job dir is not this node's: the standby takes over.
      const StandbyMsg& heir = failover.standby;
      if (heir.active && heir.node == role.node_rank && reserved) {
        progress->Say(fmt::format("node {}: {}; this node is the standby: taking the master role",
                                  role.node_rank, what));
        const auto& append_row = node.plan->append_row;
        Status promoted = StandbyReplica::Promote(job_dir, JournalPath(job_dir),
                                                  append_row ? append_row->parts_dir : "");
        auto locked = promoted.ok() ? JobDirLock::Acquire(job_dir)
                                    : Result<JobDirLock>(promoted);
        if (!locked.ok()) {
          progress->Say(fmt::format("node {}: cannot take the master role: {}", role.node_rank,
                                    locked.status().message()));
          return locked.status();
        }
        Heir at{reserved->host, reserved->port};
        return TakeOver(node, role, std::move(*locked), lost_nodes, what, round, &at, progress,
                        out);
      }
      if (heir.active) {
        progress->Say(fmt::format("node {}: {}; the standby, node {}, takes over", role.node_rank,
                                  what, heir.node));
        round++;
        by_standby = true;
        master_node = heir.node;
        current = MasterAddress{round, heir.node, heir.host, static_cast<uint16_t>(heir.port), 0,
                                ""};
        role.master_host = heir.host;
        role.master_port = heir.port;
        role.explanation = fmt::format(
            "role: node {} of {} (agent of master {}:{}, node {}, round {}: the standby) after it "
            "{}",
            role.node_rank, role.node_count, role.master_host, role.master_port, master_node,
            round, what);
        continue;
      }
      progress->Say(fmt::format("node {}: {}", role.node_rank, what));
      progress->Say("no failover: the nodes share no job dir, and no node stood by with a copy "
                    "of the master's journal");
      progress->Say(fmt::format("to continue: {} on the master's node ({}), with the agents "
                                "started again as before",
                                ResumeCommand(job_dir), node.role.master_host));
      return lost;
    }
    by_standby = false;
    struct stat st;
    if (stat(JournalPath(job_dir).c_str(), &st) != 0) {
      // No journal here: this node does not share the master's job dir.
      progress->Say(fmt::format("node {}: {}", role.node_rank, what));
      progress->Say(fmt::format(
          "no failover: the job dir {} holds no journal here (it is not on storage the master "
          "shares)",
          job_dir));
      progress->Say(fmt::format("to continue: {} on the master's node ({}), with the agents "
                                "started again as before",
                                ResumeCommand(job_dir), node.role.master_host));
      return lost;
    }
    progress->Say(fmt::format("node {}: {}; waiting for a node to take the master role",
                              role.node_rank, what));
    auto patience = std::chrono::duration_cast<std::chrono::milliseconds>(node.connect.retry_for);
    Next next = Elect(role, job_dir, round, patience);
    if (next.kind == Next::Kind::kTakeOver) {
      return TakeOver(node, role, std::move(*next.lock), lost_nodes, what, round, nullptr,
                      progress, out);
    }
    if (next.kind == Next::Kind::kStop) {
      if (next.why.code() != Status::Code::kInterrupted) {
        progress->Say(fmt::format("node {}: {}", role.node_rank, next.why.message()));
        progress->Say(fmt::format("to continue: {}, with the agents started again as before",
                                  ResumeCommand(job_dir)));
      }
      return next.why;
    }
    round = next.master.round;
    current = next.master;
    master_node = next.master.node;
    role.master_host = next.master.host;
    role.master_port = next.master.port;
    role.explanation = fmt::format(
        "role: node {} of {} (agent of master {}:{}, node {}, round {}) after it {}",
        role.node_rank, role.node_count, role.master_host, role.master_port, master_node, round,
        what);
  }
}

}  // namespace parallelrun
