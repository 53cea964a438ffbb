// Link: the messages between the master and an agent, and the in-process
// link that carries them when both live in one process (DESIGN.md §3: one
// node is not a special case of the code, only of the link). A TCP link
// carries the same messages between nodes.
//
// The conversation:
//   agent → master  Hello{node, slots}          once, first
//   agent → master  Pull{n}                     "I can take n more mini-batches"
//   master → agent  Lease{batch, attempt}       one per pulled slot, as work exists
//   agent → master  Result{attempt result}      one per lease that was tried
//   agent → master  GiveBack{id, attempt}       a lease that was never tried
//   master → agent  Drain{}                     no more work: finish, shut workers down
//   master → agent  Stop{immediate, reason}     stop now (threshold, interrupt)
//   agent → master  NodeFailed{reason}          this node cannot run workers (init fails)
//   agent → master  Bye{report}                 the agent's workers have exited
//   master → agent  End{status_code, message}   the job is over: every node exits with
//                                               the job's exit code (remote agents only)
//   agent → master  InitFailed{process, reason} one worker's init() failed (raised, timed
//                                               out, or the worker died in it): the master
//                                               counts them job-wide (reference §3.6)
//   agent → master  Workers{counts}             what a remote node's workers are doing
//                                               (starting, in init(), busy, idle,
//                                               stopping), when it changes, at most
//                                               every half second: for the live line
//   master → agent  JobDir{id}                  first: the random id in the master's job
//                                               dir (JobDirIdPath); an agent that reads the
//                                               same id in its own job dir shares it
//   agent → master  NodeDir{job_dir, shared}    the agent's answer: where its job dir is on
//                                               its node, and whether it is the master's
//   agent → master  Rows{id, attempt, data, last}  append_row rows of a successful attempt
//                                               when the job dirs are not shared, in chunks,
//                                               before that attempt's Result
//   master → agent  Cancel{id, attempt, reason} stop that attempt (a straggler another
//                                               attempt finished first); its result, if
//                                               any, arrives and is ignored
// Failover without shared storage (job/failover.h):
//   agent → master  StandbyOffer{host, port}    this node (its job dir is not the master's)
//                                               can take the master role from a copy of
//                                               the journal and would listen at host:port
//                                               (port 0: it withdraws its offer)
//   master → agent  Standby{active, node, host, port}  to every agent: if the master dies,
//                                               node `node` takes over at host:port
//                                               (active false: no node can)
//   master → agent  JournalCopy{offset, data}   to the standby: the journal's bytes from
//                                               `offset` (0: from the start, anew), in order
//   master → agent  PartCopy{id, attempt, data, last}  to the standby: an accepted
//                                               append_row part, before the journal bytes
//                                               that record its acceptance
#ifndef PARALLELRUN_LINK_LINK_H_
#define PARALLELRUN_LINK_LINK_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "base/mini_batch.h"

namespace boost::asio {
class io_context;
}

namespace parallelrun {

// What the agent knows at the end about one of its worker processes.
struct ProcessReport {
  std::string process;        // "process003"
  uint32_t pid = 0;
  double start_time = 0;      // epoch seconds
  double end_time = 0;
  bool init_ok = false;
  double init_seconds = 0;
  std::string exit;           // "exit code 0", "killed by SIGKILL"
};

// The exit of a worker stopped while still in init() because the job had
// no work left for it (WorkerPool::Drain) starts so: not an init() failure.
constexpr const char kStoppedInInit[] = "stopped in init(), no work left: ";
inline bool StoppedInInit(const ProcessReport& p) { return p.exit.rfind(kStoppedInInit, 0) == 0; }

struct NodeReport {
  uint32_t node = 0;
  std::string host;
  std::vector<ProcessReport> processes;
};

struct HelloMsg { uint32_t node = 0; uint32_t slots = 0; std::string host; };
struct PullMsg { uint32_t n = 0; };
// The mini-batch is shared, not copied: the master's queue keeps it for a
// retry and its report row, and a lease to the agent in the same process
// then costs no copy of the items (never null).
struct LeaseMsg {
  LeaseMsg() = default;
  LeaseMsg(MiniBatch b, uint32_t a) : batch(std::make_shared<const MiniBatch>(std::move(b))), attempt(a) {}
  LeaseMsg(std::shared_ptr<const MiniBatch> b, uint32_t a) : batch(std::move(b)), attempt(a) {}
  std::shared_ptr<const MiniBatch> batch = std::make_shared<const MiniBatch>();
  uint32_t attempt = 0;
};
struct ResultMsg { AttemptResult result; };
struct GiveBackMsg { MiniBatchId id = 0; uint32_t attempt = 0; };
struct DrainMsg {};
struct StopMsg { bool immediate = false; std::string reason; };
struct NodeFailedMsg { std::string reason; };
struct ByeMsg { NodeReport report; };
// `status_code` is the job outcome's Status::Code (0 = succeeded).
struct EndMsg { uint8_t status_code = 0; std::string message; };
// `reason` is one line ("process002: init() raised RuntimeError: …").
struct InitFailedMsg { std::string process; std::string reason; };
struct WorkersMsg { uint32_t starting = 0, init = 0, busy = 0, idle = 0, stopping = 0; };

struct JobDirMsg { std::string id; };
struct NodeDirMsg { std::string job_dir; bool shared = false; };
// At most kMaxRowsChunk bytes of `data` per message (the sender's promise;
// the frame limit is the receiver's).
struct RowsMsg { MiniBatchId id = 0; uint32_t attempt = 0; std::string data; bool last = false; };
struct CancelMsg { MiniBatchId id = 0; uint32_t attempt = 0; std::string reason; };
struct StandbyOfferMsg { std::string host; uint32_t port = 0; };
struct StandbyMsg { bool active = false; uint32_t node = 0; std::string host; uint32_t port = 0; };
// At most kMaxCopyChunk bytes of `data` per message, as for rows.
struct JournalCopyMsg { uint64_t offset = 0; std::string data; };
struct PartCopyMsg { MiniBatchId id = 0; uint32_t attempt = 0; std::string data; bool last = false; };

constexpr size_t kMaxRowsChunk = 1u << 20;
constexpr size_t kMaxCopyChunk = kMaxRowsChunk;

// New messages go at the end: a message's index is not its wire type, but
// keeping the order keeps the codec's table readable.
using LinkMessage = std::variant<HelloMsg, PullMsg, LeaseMsg, ResultMsg, GiveBackMsg, DrainMsg,
                                 StopMsg, NodeFailedMsg, ByeMsg, EndMsg, InitFailedMsg,
                                 WorkersMsg, JobDirMsg, NodeDirMsg, RowsMsg, CancelMsg,
                                 StandbyOfferMsg, StandbyMsg, JournalCopyMsg, PartCopyMsg>;

// One end of a link. Send never calls the peer's handler synchronously: the
// message is delivered later on the receiving side's loop, so a handler can
// send without re-entering itself.
class LinkEnd {
 public:
  using Handler = std::function<void(LinkMessage&&)>;
  virtual ~LinkEnd() = default;
  virtual void Send(LinkMessage message) = 0;
  // REQUIRES: called once, before messages arrive.
  virtual void SetHandler(Handler handler) = 0;
  // Bytes sent and not yet handed to the network: a sender of bulk data
  // (rows) waits while this is above its bound. The in-process link hands
  // messages over at once: 0.
  virtual size_t queued_bytes() const { return 0; }
};

// Two connected ends in one process, delivering through `io`'s queue.
// REQUIRES: both ends are used on `io`'s thread and outlive the queued
// deliveries (the job keeps them until its loop has stopped).
std::pair<std::unique_ptr<LinkEnd>, std::unique_ptr<LinkEnd>> MakeInProcessLink(
    boost::asio::io_context& io);

}  // namespace parallelrun

#endif  // PARALLELRUN_LINK_LINK_H_
