// The master ⇄ agent protocol on the wire: how the messages of link.h, and
// the handshake and housekeeping frames around them, become bytes on the TCP
// connection between the master and the agent of another node (tcp_link.h
// moves the bytes; this file only encodes and decodes, purely).
//
// Transport: one TCP connection per agent, opened by the agent to the
// master's address. Frames as in wire.h:
//   | u32 length (little-endian) | u8 type | payload (length − 1 bytes) |
// Byte order: little-endian for every integer; field encodings as in wire.h
// (u8, u32, u64, f64 = IEEE-754 binary64, bytes = u32 length + raw bytes).
// `bytes` carry file names and text exactly: no encoding is assumed, so a
// name that is not UTF-8 arrives as it left.
//
// Maximum frame: kMaxLinkFrame (64 MiB). A larger length is malformed and
// closes the connection before any of the body is buffered. Until the
// handshake is done the limit is kMaxGreetingFrame (64 KiB), so that a
// stranger cannot make the master hold 64 MiB: the connection is closed as
// soon as more than that is waiting (LinkDecoder::set_limit).
//
// Handshake. Nothing else may be sent before it completes.
//   master → agent  MASTER_HELLO 0x01   bytes magic ("parallelrun-link"),
//                                       u32 version, u64 capabilities,
//                                       bytes nonce (32 random bytes, fresh
//                                       for every connection)
//   agent → master  AGENT_HELLO 0x02    bytes magic, u32 version,
//                                       u64 capabilities, u32 node (rank),
//                                       u32 slots, bytes host, bytes nonce
//                                       (32 random bytes),
//                                       bytes proof (32) =
//                                         HMAC-SHA256(secret, master nonce ‖ u32 node)
//   master → agent  WELCOME 0x03        u64 capabilities (the ones both sides
//                                       have), u32 heartbeat_ms,
//                                       u32 heartbeat_timeout_ms,
//                                       bytes proof (32) =
//                                         HMAC-SHA256(secret, agent nonce ‖ master nonce)
// The agent proves it knows the job secret (secret.h) without sending it; the
// master's WELCOME proves the same back, so an agent never works for an
// impostor. The two proofs hash inputs of different lengths (36 and 64
// bytes), so one can never be replayed as the other. A wrong proof is
// answered with ERROR "authentication failed" and the connection is closed.
//
// Versions: magic and version are the first two fields of both HELLOs in
// every version of this protocol, so any version can read them. A side
// speaks only kLinkProtocolVersion; on a HELLO of another version it reads no
// further and answers ERROR "protocol version N is not supported (this side
// speaks 2)". Version 2 added STANDBY_OFFER, STANDBY, JOURNAL_COPY and
// PART_COPY (failover without shared storage), which version 1 reads as
// malformed: nodes of the two versions refuse each other at the handshake.
//
// Capabilities: a bitmask for optional features added within a version;
// a feature is used only when both sides set its bit (WELCOME carries the
// intersection); unknown bits are ignored. Versions 1 and 2 define none.
//
// Heartbeats: the master chooses the interval and the timeout and announces
// them in WELCOME. Each side sends HEARTBEAT whenever it has sent nothing for
// heartbeat_ms; a side that has received nothing for heartbeat_timeout_ms
// considers the peer lost (the master then requeues that agent's leases).
//
// Housekeeping, either direction, after the handshake (ERROR also before):
//   HEARTBEAT 0x04    (empty)
//   GOODBYE 0x05      (empty) — the sender has sent everything and closes; the
//                     end of the connection is orderly, not a loss
//   ERROR 0x7f        bytes reason — the sender refuses or gives up and closes
//                     the connection right after; the receiver logs the reason
//
// Messages (link.h), after the handshake; payload fields in order:
//   HELLO 0x10        agent → master  u32 node, u32 slots, bytes host
//   PULL 0x11         agent → master  u32 n
//   LEASE 0x12        master → agent  the mini-batch and its attempt, encoded as
//                                     base/mini_batch_codec.h says (u64 mini_batch_id,
//                                     u32 attempt, u32 input_index, u8 kind, partition,
//                                     u64 known_rows, items)
//   RESULT 0x13       agent → master  u64 mini_batch_id, u32 attempt,
//                                     u8 status (AttemptStatus 0–6), u64 total,
//                                     u64 succeeded, u64 returned,
//                                     f64 start_time, f64 elapsed_seconds,
//                                     f64 process_seconds, f64 run_seconds,
//                                     u32 node, bytes process,
//                                     bytes error_category, bytes error_message,
//                                     bytes traceback
//   GIVE_BACK 0x14    agent → master  u64 mini_batch_id, u32 attempt
//   DRAIN 0x15        master → agent  (empty)
//   STOP 0x16         master → agent  u8 immediate (0|1), bytes reason
//   NODE_FAILED 0x17  agent → master  bytes reason
//   BYE 0x18          agent → master  u32 node, bytes host, u32 n, n × process:
//                                     bytes process, u32 pid, f64 start_time,
//                                     f64 end_time, u8 init_ok (0|1),
//                                     f64 init_seconds, bytes exit
//   END 0x19          master → agent  u8 status_code, bytes message — the job's
//                                     outcome (Status::Code); the agent exits with its code
//   INIT_FAILED 0x1a  agent → master  bytes process, bytes reason
//   WORKERS 0x20      agent → master  u32 starting, u32 init, u32 busy, u32 idle,
//                                     u32 stopping
//   JOB_DIR 0x1b      master → agent  bytes id — the random id the master wrote in its
//                                     job dir; sent first, before any LEASE
//   NODE_DIR 0x1c     agent → master  bytes job_dir, u8 shared (0|1)
//   ROWS 0x1d         agent → master  u64 mini_batch_id, u32 attempt, u8 last (0|1),
//                                     bytes data (≤ kMaxRowsChunk) — append_row rows of a
//                                     successful attempt, before its RESULT
//   CANCEL 0x1e       master → agent  u64 mini_batch_id, u32 attempt, bytes reason
//   STANDBY_OFFER 0x1f agent → master bytes host, u32 port (≤ 65535; 0 = withdrawn)
//   STANDBY 0x21      master → agent  u8 active (0|1), u32 node, bytes host,
//                                     u32 port (≤ 65535)
//   JOURNAL_COPY 0x22 master → agent  u64 offset, bytes data (≤ kMaxCopyChunk)
//   PART_COPY 0x23    master → agent  u64 mini_batch_id, u32 attempt, u8 last (0|1),
//                                     bytes data (≤ kMaxCopyChunk)
//
// Decoding is strict: an unknown type, a payload shorter or longer than its
// fields, a bool other than 0 or 1, a status out of range, a count larger than
// the bytes that follow could hold, a wrong magic or nonce/proof size is
// malformed, and malformed closes the connection (only that one). The fields
// are read with wire.h's WireFields, so the reason names the message, the
// field and its offset ("RESULT: status at byte 12: 9 is not an attempt
// status").
#ifndef PARALLELRUN_LINK_LINK_CODEC_H_
#define PARALLELRUN_LINK_LINK_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "base/wire.h"
#include "link/link.h"

namespace parallelrun {

constexpr uint32_t kLinkProtocolVersion = 2;
constexpr uint64_t kLinkCapabilities = 0;  // versions 1 and 2 define no optional features
constexpr uint32_t kMaxLinkFrame = 64u << 20;
constexpr uint32_t kMaxGreetingFrame = 64u << 10;
constexpr size_t kLinkNonceSize = 32;
constexpr std::string_view kLinkMagic = "parallelrun-link";

enum LinkFrameType : uint8_t {
  kLinkMasterHello = 0x01,
  kLinkAgentHello = 0x02,
  kLinkWelcome = 0x03,
  kLinkHeartbeat = 0x04,
  kLinkGoodbye = 0x05,
  kLinkHello = 0x10,
  kLinkPull = 0x11,
  kLinkLease = 0x12,
  kLinkResult = 0x13,
  kLinkGiveBack = 0x14,
  kLinkDrain = 0x15,
  kLinkStop = 0x16,
  kLinkNodeFailed = 0x17,
  kLinkBye = 0x18,
  kLinkEnd = 0x19,
  kLinkInitFailed = 0x1a,
  kLinkJobDir = 0x1b,
  kLinkNodeDir = 0x1c,
  kLinkRows = 0x1d,
  kLinkCancel = 0x1e,
  kLinkStandbyOffer = 0x1f,
  kLinkWorkers = 0x20,
  kLinkStandby = 0x21,
  kLinkJournalCopy = 0x22,
  kLinkPartCopy = 0x23,
  kLinkError = 0x7f,
};

// "MASTER_HELLO", "LEASE", …; "0x42" for a type this version does not know.
std::string LinkFrameName(uint8_t type);

// A HELLO of another version carries only `version` (and the magic, checked
// by the decoder); the rest is left empty because its layout is unknown.
struct MasterHelloFrame {
  uint32_t version = kLinkProtocolVersion;
  uint64_t capabilities = kLinkCapabilities;
  std::string nonce;
};
struct AgentHelloFrame {
  uint32_t version = kLinkProtocolVersion;
  uint64_t capabilities = kLinkCapabilities;
  uint32_t node = 0;
  uint32_t slots = 0;
  std::string host;
  std::string nonce;
  std::string proof;
};
struct WelcomeFrame {
  uint64_t capabilities = 0;
  uint32_t heartbeat_ms = 0;
  uint32_t heartbeat_timeout_ms = 0;
  std::string proof;
};
struct HeartbeatFrame {};
struct GoodbyeFrame {};
struct ErrorFrame {
  std::string reason;
};

// Everything that can arrive on a link connection.
using LinkFrame = std::variant<MasterHelloFrame, AgentHelloFrame, WelcomeFrame, HeartbeatFrame,
                               GoodbyeFrame, ErrorFrame, LinkMessage>;

// Appends one whole frame to `out`.
void EncodeLinkFrame(const LinkFrame& frame, std::string* out);
void EncodeLinkMessage(const LinkMessage& message, std::string* out);

// One frame's type and payload → *out. False, with *why saying what is wrong
// ("PULL: 3 bytes left over after the last field (at byte 4)"), when it is
// malformed.
bool DecodeLinkFrame(const Frame& frame, LinkFrame* out, std::string* why);

// Bytes → frames → LinkFrames. Feed what arrives; Next yields in order.
// After kMalformed every later call returns kMalformed with the same reason.
class LinkDecoder {
 public:
  enum class Outcome { kFrame, kNeedMore, kMalformed };

  explicit LinkDecoder(uint32_t limit = kMaxLinkFrame) : frames_(kMaxLinkFrame), limit_(limit) {}

  void Feed(const char* data, size_t n) { frames_.Feed(data, n); }
  Outcome Next(LinkFrame* out, std::string* why);
  // Bytes received and not yet returned as part of a frame.
  size_t buffered() const { return frames_.buffered(); }
  // The largest frame accepted from now on (≤ kMaxLinkFrame): a frame, or
  // bytes waiting to become one, beyond it are malformed. The link raises it
  // from kMaxGreetingFrame to kMaxLinkFrame once the peer has authenticated.
  void set_limit(uint32_t limit) { limit_ = limit; }

 private:
  FrameDecoder frames_;
  uint32_t limit_;
  bool broken_ = false;
  std::string broken_reason_;
};

// The handshake's proofs (see above). Both return 32 raw bytes.
std::string AgentProof(std::string_view secret, std::string_view master_nonce, uint32_t node);
std::string MasterProof(std::string_view secret, std::string_view agent_nonce,
                        std::string_view master_nonce);

}  // namespace parallelrun

#endif  // PARALLELRUN_LINK_LINK_CODEC_H_
