#include "job/master_node.h"

#include <chrono>
#include <map>
#include <memory>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "base/clock.h"
#include "base/disk.h"
#include "base/hmac.h"
#include "base/job_dir.h"
#include "base/text.h"
#include "job/job_dir_state.h"
#include "link/link.h"
#include "link/tcp_link.h"
#include "link/tls.h"
#include "node/agent.h"
#include "report/job_log.h"
#include "report/summary_table.h"
#include "report/user_output.h"

namespace parallelrun {

Status RunMasterNode(NodeLoop& loop, const Role& role, const JobSecret& secret,
                     const TcpLinkOptions& link, const Master::Config& mc,
                     WorkerPool::Config wc, const JobPlan& plan, const std::string& argv,
                     Progress* progress, FILE* out, const MasterTakeover* takeover,
                     std::unique_ptr<JobLog> log) {
  boost::asio::io_context& io = loop.io();
  if (!log) {
    auto log_or = JobLog::Open(plan.job_dir, 1, plan.input_names, takeover ? takeover->round : 0);
    if (!log_or.ok()) return log_or.status();
    log = std::move(log_or.value());
  }
  // The first line says who this process is and why (DESIGN.md §6).
  log->Master("INFO", role.explanation);
  if (role.multi_node()) log->Master(secret.weak ? "WARNING" : "INFO", secret.Describe());
  if (role.multi_node()) {
    log->Master("INFO", link.tls ? link.tls->description()
                                 : "the link between nodes is plain TCP (no --tls): paths and "
                                   "rows travel in the clear");
  }
  log->Master("INFO", fmt::format("Entry script {} with arguments:{}", plan.spec.entry_script, argv));

  // Agents tell whether they share this job dir by reading this id in their
  // own (link.h, JobDir): written before any agent can connect, fresh each run.
  Master::Config config = mc;
  if (role.multi_node()) {
    config.job_dir_id = HexEncode(RandomBytes(16));
    std::string path = JobDirIdPath(plan.job_dir);
    Status made = CreateFolders(path.substr(0, path.rfind('/')), "job dir state folder");
    if (made.ok()) made = WriteFileAtomically(path, config.job_dir_id + "\n");
    if (!made.ok()) return made;
  }

  Status outcome = Status::Infrastructure("the job ended without a result");
  std::unique_ptr<TcpListener> listener;
  boost::asio::steady_timer linger(io);
  auto remote_joined = std::make_shared<size_t>(0);
  auto [master_end, agent_end] = MakeInProcessLink(io);
  Master master(io, config, log.get(), progress, [&](Status s) {
    outcome = s;
    loop.StopWatchingSignals();
    // Posted: this may run inside one of the listener's own callbacks.
    boost::asio::post(io, [&] {
      if (!listener) {
        io.stop();
        return;
      }
      // Let the END messages reach the other nodes before the loop stops. A
      // node that has not joined yet may still be starting: keep listening a
      // little longer so that it hears the job's outcome instead of retrying
      // until its connect timeout.
      size_t gone = takeover ? takeover->lost_nodes : 0;
      bool all_joined = *remote_joined + 1 + gone >= static_cast<size_t>(role.node_count);
      linger.expires_after(std::chrono::milliseconds(all_joined ? 500 : 5000));
      linger.async_wait([&](const boost::system::error_code&) {
        listener.reset();
        io.stop();
      });
    });
  });
  // The node log's first line says who this process is and why, as on the
  // other nodes (DESIGN.md §6); the Agent appends to the same file.
  if (FILE* f = fopen(NodeLogPath(wc.job_dir, role.node_rank).c_str(), "ae")) {
    fmt::print(f, "{}|{}\n", IsoTime(WallSeconds()), role.explanation);
    fclose(f);
  }
  Agent agent(io, std::move(agent_end), std::move(wc), Hostname(), nullptr);
  master.AddAgent(std::move(master_end));
  master.SetDescribeWorkers([&agent] { return agent.Describe(); });
  master.SetCountWorkers([&agent] { return agent.CountWorkers(); });

  if (role.multi_node()) {
    TcpListener::Events events;
    auto peers = std::make_shared<std::map<uint64_t, size_t>>();
    events.accepted = [&master, peers, &log, remote_joined](std::unique_ptr<TcpLinkEnd> end) {
      ++*remote_joined;
      uint64_t id = end->peer().id;
      log->Master("INFO", fmt::format("Node {} connected from {} ({} slots).", end->peer().node,
                                      end->peer().address, end->peer().slots));
      (*peers)[id] = master.AddAgent(std::move(end));
    };
    events.lost = [&master, peers](const PeerInfo& peer, const std::string& reason) {
      auto it = peers->find(peer.id);
      if (it != peers->end()) master.AgentLost(it->second, reason);
    };
    events.log = [&log](const std::string& line) { log->Master("INFO", line); };
    auto l = TcpListener::Listen(io, role.master_host, static_cast<uint16_t>(role.master_port),
                                 secret.key, link, std::move(events));
    if (!l.ok()) return l.status();
    listener = std::move(l.value());
    log->Master("INFO", fmt::format("Listening for {} other nodes on {}:{}.",
                                    role.node_count - 1 - (takeover ? takeover->lost_nodes : 0),
                                    listener->address(), listener->port()));
    if (takeover && takeover->listening) {
      Status said = takeover->listening(listener->address(), listener->port());
      if (!said.ok()) return said;
    }
  }
  loop.WatchSignals([&master](bool again, const std::string& signal) {
    master.Interrupt(again, signal);
  });

  if (mc.resume) {
    Status replayed = master.Replay();
    if (!replayed.ok()) return replayed;
  }
  agent.Start();
  master.Start();
  loop.Run();

  progress->Clear();
  JobLog::Totals t = master.Totals();
  // Failures grouped by kind and message, one traceback each; job_error.txt
  // has every failing mini-batch. Without failed attempts (a node that
  // could not start its workers), the error report is the explanation.
  std::string groups = log->FailureGroups();
  std::string errors = log->ErrorReport(t);
  if (!groups.empty()) {
    PutText(out, fmt::format("\n{}Each failing mini-batch: {}\n\n", groups,
                             JobErrorPath(plan.job_dir)));
  } else if (!errors.empty()) {
    PutText(out, fmt::format("\n{}\n", errors));
  }
  for (const auto& line : SummaryTable(t, master.Elapsed())) progress->Say(line);
  if (t.batches == 0 && outcome.ok()) {
    progress->Say("the input has no files: 0 mini-batches, nothing to do");
  }
  for (const auto& note : UserOutputNotes(LogsDir(plan.job_dir))) progress->Say(note);
  // Nodes with a job dir of their own kept their user logs: say where.
  std::string elsewhere = log->UserLogsNote();
  for (size_t at = 0; at < elsewhere.size();) {
    size_t end = elsewhere.find('\n', at);
    progress->Say(elsewhere.substr(at, end - at));
    at = end == std::string::npos ? elsewhere.size() : end + 1;
  }
  if (!outcome.ok()) {
    progress->Say("job failed; see " + JobResultPath(plan.job_dir));
  } else if (t.batches_failed > 0 || t.items_failed > 0) {
    // Never a bare "succeeded" over failed items: say how many, and why
    // that is still a success.
    const BatchQueue::Limits& l = master.limits();
    progress->Say(fmt::format(
        "job succeeded with {} failed items ({} mini-batches failed after all tries; within "
        "error_threshold {}, allowed_failed_count {}, allowed_failed_percent {:g}); job dir {}",
        t.items_failed, t.batches_failed, l.error_threshold, l.allowed_failed_count,
        l.allowed_failed_percent, plan.job_dir));
  } else {
    progress->Say("job succeeded; job dir " + plan.job_dir);
  }
  // Every stop that leaves work undone says how to continue it.
  uint64_t unprocessed = t.batches - t.batches_done - t.batches_failed;
  if (!outcome.ok() && outcome.code() != Status::Code::kUsage) {
    if (plan.append_row && t.batches_done > 0) {
      progress->Say(fmt::format("the finished rows wait in {}; the output {}/{} is written when "
                                "the job completes",
                                plan.append_row->parts_dir, plan.append_row->output_dir,
                                plan.append_row->file_name));
    }
    if (unprocessed > 0 || outcome.code() == Status::Code::kInterrupted ||
        outcome.code() == Status::Code::kInfrastructure) {
      progress->Say("to continue: " + ResumeCommand(plan.job_dir));
    } else if (t.batches_failed > 0) {
      progress->Say("to run the failed mini-batches again: " + ResumeCommand(plan.job_dir) +
                    " --rerun-failed");
    }
  }
  return outcome;
}

}  // namespace parallelrun
