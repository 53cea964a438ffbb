#include "job/agent_node.h"

#include <functional>
#include <memory>

#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "base/clock.h"
#include "base/disk.h"
#include "base/job_dir.h"
#include "base/text.h"
#include "job/job_dir_state.h"
#include "link/tls.h"
#include "node/agent.h"

namespace parallelrun {

Status RunAgentNode(NodeLoop& loop, const Role& role, const JobSecret& secret,
                    WorkerPool::Config wc, const std::string& job_dir, const std::string& argv,
                    TcpConnector::Options connect, Progress* progress, FILE* out,
                    AgentFailover* failover) {
  boost::asio::io_context& io = loop.io();
  Status made = CreateNodeFolders(job_dir, role.node_rank);
  if (!made.ok()) return made;
  std::string main_log = NodeLogPath(job_dir, role.node_rank);
  auto note = [&main_log](const std::string& line) {
    if (FILE* f = fopen(main_log.c_str(), "ae")) {
      fmt::print(f, "{}|{}\n", IsoTime(WallSeconds()), line);
      fclose(f);
    }
  };
  // The first line says who this process is and why (DESIGN.md §6).
  note(role.explanation);
  note(secret.Describe());
  note(connect.link.tls ? connect.link.tls->description()
                        : "the link to the master is plain TCP (no --tls)");
  note("entry script arguments:" + argv);

  Status outcome = Status::Infrastructure(
      fmt::format("lost the master at {}:{}", role.master_host, role.master_port));
  bool ended = false, interrupted = false, lost = false, lost_for_good = false;
  std::unique_ptr<Agent> agent;
  std::string host = Hostname();
  uint32_t slots = static_cast<uint32_t>(wc.slots);
  TcpConnector::Events events;
  events.done = [&](Result<std::unique_ptr<TcpLinkEnd>> link) {
    if (!link.ok()) {
      outcome = link.status();
      io.stop();
      return;
    }
    note(fmt::format("connected to the master at {}:{}", role.master_host, role.master_port));
    agent = std::make_unique<Agent>(io, std::move(link.value()), std::move(wc), host, [&] {
      // Our workers have exited and Bye is sent: wait for END, unless the
      // master is gone or we were interrupted.
      if (interrupted) io.stop();
    });
    if (failover) {
      Agent::StandbyEvents standby;
      standby.job_dir = [failover](bool shared) { failover->shared = shared; };
      standby.told = [failover](const StandbyMsg& m) { failover->standby = m; };
      agent->OfferStandby(failover->standby_host, failover->standby_port, std::move(standby));
    }
    agent->SetEnded([&](Status s) {
      ended = true;
      outcome = s;
      io.stop();
    });
    agent->Start();
    agent->ReportWorkers(std::chrono::milliseconds(500));
  };
  events.lost = [&](const std::string& reason, bool by_tls) {
    if (ended) return;
    lost = true;
    lost_for_good = by_tls;
    outcome = Status::Infrastructure(fmt::format("lost the master at {}:{}: {}", role.master_host,
                                                 role.master_port, reason));
    note(outcome.message());
    if (agent) agent->MasterLost(reason);
    // Give the workers the kill grace, then stop whatever is left.
    io.stop();
  };
  events.log = note;
  TcpConnector connector(io, role.master_host, static_cast<uint16_t>(role.master_port), secret.key,
                         TcpConnector::Identity{static_cast<uint32_t>(role.node_rank), slots, host},
                         connect, std::move(events));
  loop.WatchSignals([&](bool again, const std::string& signal) {
    interrupted = true;
    outcome = Status::Interrupted(signal);
    if (agent) agent->Interrupt(again);
    else io.stop();
  });
  // A master that dies before this node reaches it is never lost by it:
  // the job dir tells (failover.h).
  boost::asio::steady_timer gone_poll(io);
  std::function<void()> poll_gone = [&] {
    gone_poll.expires_after(kGonePoll);
    gone_poll.async_wait([&](const boost::system::error_code& ec) {
      if (ec || agent || ended || interrupted) return;
      if (!failover->gone()) return poll_gone();
      lost = true;
      outcome = Status::Infrastructure(fmt::format(
          "the master at {}:{} was gone before this node reached it", role.master_host,
          role.master_port));
      note(outcome.message());
      io.stop();
    });
  };
  if (failover && failover->gone) poll_gone();
  progress->Say(fmt::format("node {}: connecting to the master at {}:{}", role.node_rank,
                            role.master_host, role.master_port));
  connector.Start();
  loop.Run();
  if (failover && lost && !ended && !interrupted) {
    // A link that TLS ended did not lose a master: it lives and holds the
    // job dir, so no node could take over, and this one would wait for
    // nothing. It ends, as without failover.
    failover->master_lost = !lost_for_good;
    return outcome;
  }
  progress->Say(outcome.ok() ? "job succeeded (reported by the master)"
                             : "job ended: " + outcome.message());
  if (agent && !ended && !interrupted && !outcome.ok()) {
    // The master crashed or was killed: its journal has what finished. The
    // job is continued from the master's node (every node, as at the start).
    progress->Say(fmt::format("to continue: {} on the master's node ({}), with the agents "
                              "started again as before",
                              ResumeCommand(job_dir), role.master_host));
  }
  (void)out;
  return outcome;
}

}  // namespace parallelrun
