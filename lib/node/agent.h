// Agent: the role on each node that runs and supervises the worker processes
// (DESIGN.md §2). It pulls leases from the master for its free worker slots,
// hands them to its WorkerPool and sends every attempt result back. It knows
// nothing about the dataset or thresholds; it does what the master says.
#ifndef PARALLELRUN_NODE_AGENT_H_
#define PARALLELRUN_NODE_AGENT_H_

#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "link/link.h"
#include "node/resource_monitor.h"
#include "node/standby_replica.h"
#include "node/worker_pool.h"

namespace parallelrun {

class Agent {
 public:
  // `link` is this agent's end; `done` runs once the agent has said Bye.
  Agent(boost::asio::io_context& io, std::unique_ptr<LinkEnd> link, WorkerPool::Config config,
        std::string host, std::function<void()> done);
  ~Agent();

  void Start();
  // Interrupt from this node's signal handler: stop workers (grace unless
  // `immediate`), give leases back, say Bye.
  void Interrupt(bool immediate);
  // The master said the job is over (End); `status` is the job's outcome.
  // Only remote agents get this; set before Start.
  void SetEnded(std::function<void(Status)> ended) { ended_ = std::move(ended); }
  // The link to the master broke: stop the workers at once and say why in the log.
  void MasterLost(const std::string& reason);
  // Writes one line to the node log (logs/sys/node/<node>/_main.txt).
  void Note(const std::string& line) { Log(line); }
  std::vector<std::string> Describe() const { return pool_->Describe(); }
  Progress::Workers CountWorkers() const { return pool_->Count(); }
  // Failover without shared storage (job/failover.h): when the master's
  // JobDir shows that this node's job dir is its own, the agent offers to
  // stand by, listening at `host`:`port` (reserved by the caller) if the
  // master dies; while the master names it the standby it keeps the copy
  // the master sends (StandbyReplica). Set before Start.
  struct StandbyEvents {
    std::function<void(bool shared)> job_dir;    // the answer to JobDir
    std::function<void(const StandbyMsg&)> told;  // every Standby message
  };
  void OfferStandby(std::string host, uint32_t port, StandbyEvents events);
  // Tells the master what this node's workers are doing whenever it changed,
  // at most every `every` (a remote agent: the master's live line shows
  // every node). Call after Start.
  void ReportWorkers(std::chrono::milliseconds every);

 private:
  void OnMessage(LinkMessage&& m);
  // The master's JobDir: answers where this node's job dir is and whether
  // it is the master's; if not, append_row rows go over the link.
  void OnJobDir(const std::string& id);
  void OnResult(AttemptResult&& r);
  void OnStandby(const StandbyMsg& m);
  // A copy that could not be kept: this node withdraws as standby.
  void KeepCopy(const Status& written);
  // Sends the outbox in order: a successful attempt's rows (its local part,
  // in chunks, then deleted) before its Result. Waits on a timer while the
  // link holds more than kRowsBacklog unsent bytes, so that memory does not
  // grow with the rows when the network is slower than the workers.
  void PumpOutbox();
  void SendBye();
  void PullMore();
  void Log(const std::string& line);
  void StopMonitor();
  void SendWorkers();

  boost::asio::io_context& io_;
  std::unique_ptr<LinkEnd> link_;
  uint32_t node_;
  std::string host_;
  std::function<void()> done_;
  std::function<void(Status)> ended_;
  std::unique_ptr<WorkerPool> pool_;
  // The node's resource reports (resource_monitor_interval > 0): from
  // Start until every worker has exited.
  double monitor_interval_ = 0;
  std::string job_dir_;
  std::unique_ptr<ResourceMonitor> monitor_;
  bool monitor_stopped_ = false;
  std::unique_ptr<FILE, int (*)(FILE*)> log_{nullptr, fclose};
  size_t requested_ = 0;  // pulled but not yet leased
  size_t held_ = 0;       // leased and not yet given to the pool
  bool finishing_ = false;
  bool bye_sent_ = false;
  // ReportWorkers: the period, its timer and the counts last sent.
  std::chrono::milliseconds workers_every_{0};
  std::unique_ptr<boost::asio::steady_timer> workers_timer_;
  std::optional<WorkersMsg> workers_sent_;
  bool bye_waiting_ = false;   // the workers have exited; Bye follows the outbox
  std::string parts_dir_;      // append_row parts on this node ("" = not append_row)
  bool rows_over_link_ = false;
  struct Outgoing {
    AttemptResult result;
    std::string part;          // its rows to send first ("" = none)
    std::unique_ptr<FILE, int (*)(FILE*)> file{nullptr, fclose};
  };
  std::deque<Outgoing> outbox_;
  boost::asio::steady_timer outbox_timer_;
  bool outbox_waiting_ = false;
  // OfferStandby; replica_ while the master names this node its standby.
  std::string offer_host_;
  uint32_t offer_port_ = 0;
  StandbyEvents standby_events_;
  std::unique_ptr<StandbyReplica> replica_;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_NODE_AGENT_H_
