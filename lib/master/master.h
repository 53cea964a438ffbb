// Master: the role that lists the data, forms mini-batches, hands them out,
// enforces the thresholds and writes the job report — exactly one per job
// (DESIGN.md §2). It turns link messages, listing progress and timer ticks
// into BatchQueue calls and BatchQueue answers into messages and report rows.
// Runs on the loop thread; listing and splitting run on the InputSource's
// helper threads.
#ifndef PARALLELRUN_MASTER_MASTER_H_
#define PARALLELRUN_MASTER_MASTER_H_

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <map>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "base/clock.h"
#include "data/input_source.h"
#include "link/link.h"
#include "master/append_row_output.h"
#include "master/batch_queue.h"
#include "master/job_init_failures.h"
#include "master/progress_watch.h"
#include "master/standby_feed.h"
#include "master/journal.h"
#include "report/job_log.h"
#include "report/progress.h"

namespace parallelrun {

class Master {
 public:
  struct Config {
    std::vector<std::string> input_names;  // input_data, in order
    std::vector<std::string> input_paths;  // absolute, same order
    // How each input becomes mini-batches, same order; empty: every input
    // is a folder of files.
    std::vector<InputPlan> inputs;
    uint64_t mini_batch_size = 10;         // files, or bytes of a table
    std::vector<std::string> partition_keys;
    std::string partitions_dir;            // spill files of partitioning: <job dir>/partitions
    // A shuffle for partitions by table columns runs shuffle_processes
    // processes at once through `shuffle` (not owned; outlives the master).
    ShuffleRunner* shuffle = nullptr;
    int shuffle_processes = 1;
    // output_action append_row: where the rows go (parts_dir must exist).
    std::optional<AppendRowTarget> append_row;
    BatchQueue::Limits limits;
    double progress_update_timeout = 270;  // seconds without a finished attempt
    // Seconds from the start until the first mini-batch must exist (the
    // original's first_task_creation_timeout; 0: no limit). A shuffle or a
    // listing that takes longer stops the job, naming the setting.
    double first_task_creation_timeout = 600;
    int expected_nodes = 1;                // node_count: for the log of who never joined
    // With expected_nodes, the job-wide init() rule's limit
    // (master/job_init_failures.h: 2 × node_count × process_count_per_node).
    int process_count_per_node = 1;
    // Elapsed times and the no-progress rule read this (not owned); tests
    // pass a ManualClock.
    const Clock* clock = &SystemClock();
    // The job's journal (master/journal.h; not owned, outlives the master;
    // null: nothing is journaled). Every state change is appended to it.
    Journal* journal = nullptr;
    // Resume (DESIGN.md §3): before scheduling, the records of an earlier
    // run are replayed from `journal_path` — the reports are rebuilt, finished
    // mini-batches stay finished, unfinished ones run again (failed ones too
    // with `rerun_failed`), and only inputs whose listing had not ended are
    // listed again. `force`: a re-formed mini-batch that differs from the
    // journal's (the input changed) does not stop the job.
    struct Resume {
      std::string journal_path;
      bool rerun_failed = false;
      bool force = false;
    };
    std::optional<Resume> resume;
    // The random id the master's node wrote at JobDirIdPath(job dir) (empty:
    // none was written). Each agent is told it first and answers whether it
    // sees it in its own job dir; one that does not (its node has its own
    // disk) sends its append_row rows over the link (link.h, Rows).
    std::string job_dir_id;
    // Failover without shared storage (job/failover.h): an agent with a job
    // dir of its own may offer to stand by; the master keeps the first
    // one's copy of the journal and its parts (StandbyFeed) and tells every
    // agent where that node would listen. A standby whose link holds more
    // than this many unsent bytes is dropped (it fell behind).
    size_t standby_backlog = 64u << 20;
  };

  // `done` runs once, after every agent has said Bye and the reports are
  // written, with the job's outcome.
  Master(boost::asio::io_context& io, Config config, JobLog* log, Progress* progress,
         std::function<void(Status)> done);
  ~Master();

  // Adds an agent's link end (before Start for the in-process agent).
  // Returns the agent's index, which AgentLost names.
  size_t AddAgent(std::unique_ptr<LinkEnd> link);
  // The agent's connection ended without a Bye (it crashed, was killed, or
  // stopped answering heartbeats): its leases are pending again — not counted
  // as attempts — and the job goes on with the other nodes.
  void AgentLost(size_t index, const std::string& reason);
  void Start();
  // Resume: replays the journal of the earlier runs (Config::resume). Call
  // once, before Start. Errors: the journal cannot be read, or does not
  // belong to this job.
  Status Replay();
  // Ctrl-C / SIGTERM (`signal` names it): stop dispatching, stop workers (at
  // once if `immediate`, the second time), then report what finished; the
  // job's outcome is Interrupted.
  void Interrupt(bool immediate, const std::string& signal = "SIGINT");
  // What every worker is doing, for the no-progress message (in-process agents).
  // What the progress line says the workers are doing (the master's node's).
  void SetCountWorkers(std::function<Progress::Workers()> count) { count_workers_ = std::move(count); }
  void SetDescribeWorkers(std::function<std::vector<std::string>()> describe) {
    describe_workers_ = std::move(describe);
  }

  // The totals so far (final once `done` ran).
  JobLog::Totals Totals() const;
  // One paragraph: what ran, what failed, how long it took.
  std::string Summary() const;
  // Seconds since Start().
  double Elapsed() const;
  const BatchQueue::Limits& limits() const { return queue_.limits(); }

 private:
  struct AgentState {
    std::unique_ptr<LinkEnd> link;
    uint32_t node = 0;
    std::string host;
    uint32_t demand = 0;  // pulled, not yet leased
    bool hungry = false;  // in hungry_
    std::string job_dir;  // on the agent's node (NodeDir)
    bool shared = true;   // that job dir is the master's
    bool hello = false;
    bool failed = false;
    bool bye = false;
    // What a remote node's workers are doing (Workers messages); the
    // master's own node is counted by SetCountWorkers.
    std::optional<WorkersMsg> workers;
    // Its offer to take the master role (StandbyOffer; port 0: none).
    std::string standby_host;
    uint32_t standby_port = 0;
  };

  void OnMessage(size_t agent, LinkMessage&& m);
  void AddDemand(size_t agent, uint32_t n);
  void ClearDemand(AgentState* a);
  void OnResult(size_t agent, AttemptResult&& r);
  // Failover without shared storage: picks the lowest-ranked agent that
  // offered to stand by (none when `standby_` is set), starts its copy and
  // tells every agent; DropStandby stops it (`why`: one sentence) and picks
  // another.
  void ChooseStandby();
  void DropStandby(const std::string& why);
  void TellStandby(LinkEnd* link);
  // Appends to the journal, with a commit soon after (group commit). The
  // two records of every mini-batch are encoded from the object itself.
  void Record(const JournalRecord& record);
  void Record(const MiniBatch& batch);
  void Record(const AttemptResult& result);
  void CommitSoon();
  void CommitJournal();
  // A new mini-batch formed from the input: journaled and queued, or — on
  // resume, for one the journal already holds — checked against it.
  void Formed(MiniBatch&& batch);
  // The job cannot go on for a reason outside it (a journal or report that
  // cannot be written): stop, and end with exit code 3.
  void FailInfrastructure(const Status& error);
  void Feed();
  void Serve();
  // Near the end: a second attempt of a straggler for agent `index`, if the
  // queue finds one (BatchQueue::LeaseStraggler). True when one was sent.
  bool LeaseStraggler(size_t index);
  // A result for a mini-batch that is no longer live: the other attempt of a
  // straggler that lost, or a late one. Returns true when it was a twin's.
  bool OnTwinResult(AttemptResult& r);
  void OpenInput(size_t index);
  void CheckThresholds();
  // The job-wide init() rule: stops the job when it says so.
  void CheckInitFailures();
  void CheckAllFinished();
  // Stops dispatching and drains the agents. `reason` is one sentence (it
  // names the threshold with its numbers); `detail` follows it in messages.
  void BeginStop(const std::string& reason, const std::string& detail = "");
  void StopWorkers(bool immediate, const std::string& reason);
  void Tick();
  void Finish();
  // append_row: concatenates the accepted rows into the output when
  // `outcome` is a success; a failure to write makes it a failure.
  void WriteAppendRowOutput(Status* outcome);
  Progress::Snapshot Snap() const;

  boost::asio::io_context& io_;
  Config config_;
  JobLog* log_;
  Progress* progress_;
  std::function<void(Status)> done_;
  std::function<std::vector<std::string>()> describe_workers_;
  std::function<Progress::Workers()> count_workers_;

  BatchQueue queue_;
  MiniBatchId next_id_ = 0;
  std::vector<AgentState> agents_;
  size_t input_index_ = 0;
  std::unique_ptr<InputSource> source_;  // the input being batched
  std::unique_ptr<AppendRowOutput> append_row_;
  // Mini-batches with a straggler's second attempt, until the attempt that
  // lost has reported (its row goes in the report, marked as not used).
  struct Twin {
    MiniBatch shown;           // as the report shows it
    uint32_t winner = 0;       // the attempt that succeeded first, once one has
  };
  std::map<MiniBatchId, Twin> twins_;
  // Attempts whose rows are arriving over the link (Rows), until the last
  // chunk: (id, attempt) → the agent sending them.
  std::map<std::pair<MiniBatchId, uint32_t>, size_t> rows_incoming_;
  std::chrono::steady_clock::time_point input_started_;
  std::vector<std::string> listing_errors_;
  uint64_t listing_error_count_ = 0;
  size_t window_ = 64;  // mini-batches formed ahead of demand
  // Agents with demand > 0, in the order they asked (some may have dropped
  // to 0 since: Serve skips them); the sum of every agent's demand.
  std::deque<size_t> hungry_;
  size_t total_demand_ = 0;

  ProgressWatch watch_;  // elapsed time, no-progress rule, overview cadence
  JobInitFailures init_failures_;  // init() failures reported by every node
  boost::asio::steady_timer tick_;
  bool first_lease_logged_ = false;
  bool drained_ = false;
  bool interrupted_ = false;
  std::string interrupt_signal_;
  bool warned_capped_ = false;
  std::string stop_reason_;
  std::string stop_detail_;
  bool finished_ = false;
  Status outcome_;  // once finished_
  Status fatal_;  // overrides the outcome: a journal or report that failed, a changed input
  StandbyFeed standby_feed_;
  std::optional<size_t> standby_;  // the agent standing by
  boost::asio::steady_timer commit_timer_;
  bool commit_scheduled_ = false;
  bool commit_now_ = false;  // a commit posted (Record: a large group)
  // Resume: what the journal of earlier runs holds.
  uint64_t journaled_batches_ = 0;            // ids below this are in the journal
  std::vector<uint32_t> journaled_crc_;       // by id: CRC-32C of its record
  std::vector<int64_t> listed_through_;       // by input: batches formed when its listing ended, -1
  uint64_t replayed_runs_ = 0;
  // Set in the destructor: lister notifications posted to the loop after
  // this object is gone must do nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace parallelrun

#endif  // PARALLELRUN_MASTER_MASTER_H_
