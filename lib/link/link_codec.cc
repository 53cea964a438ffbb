#include "link/link_codec.h"

#include <fmt/format.h>

#include "base/hmac.h"
#include "base/mini_batch_codec.h"

namespace parallelrun {

namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// Smallest encodings, to refuse a count the remaining bytes cannot hold
// before looping over it.
constexpr size_t kMinProcessBytes = 4 + 4 + 8 + 8 + 1 + 8 + 4;  // ProcessReport

void PutMessage(const LinkMessage& message, uint8_t* type, WireWriter* w) {
  std::visit(
      Overloaded{
          [&](const HelloMsg& m) {
            *type = kLinkHello;
            w->U32(m.node);
            w->U32(m.slots);
            w->Bytes(m.host);
          },
          [&](const PullMsg& m) {
            *type = kLinkPull;
            w->U32(m.n);
          },
          [&](const LeaseMsg& m) {
            *type = kLinkLease;
            EncodeMiniBatch(*m.batch, m.attempt, w);
          },
          [&](const ResultMsg& m) {
            *type = kLinkResult;
            EncodeAttemptResult(m.result, w);
          },
          [&](const GiveBackMsg& m) {
            *type = kLinkGiveBack;
            w->U64(m.id);
            w->U32(m.attempt);
          },
          [&](const DrainMsg&) { *type = kLinkDrain; },
          [&](const StopMsg& m) {
            *type = kLinkStop;
            w->U8(m.immediate ? 1 : 0);
            w->Bytes(m.reason);
          },
          [&](const NodeFailedMsg& m) {
            *type = kLinkNodeFailed;
            w->Bytes(m.reason);
          },
          [&](const ByeMsg& m) {
            *type = kLinkBye;
            w->U32(m.report.node);
            w->Bytes(m.report.host);
            w->U32(static_cast<uint32_t>(m.report.processes.size()));
            for (const ProcessReport& p : m.report.processes) {
              w->Bytes(p.process);
              w->U32(p.pid);
              w->F64(p.start_time);
              w->F64(p.end_time);
              w->U8(p.init_ok ? 1 : 0);
              w->F64(p.init_seconds);
              w->Bytes(p.exit);
            }
          },
          [&](const EndMsg& m) {
            *type = kLinkEnd;
            w->U8(m.status_code);
            w->Bytes(m.message);
          },
          [&](const WorkersMsg& m) {
            *type = kLinkWorkers;
            w->U32(m.starting);
            w->U32(m.init);
            w->U32(m.busy);
            w->U32(m.idle);
            w->U32(m.stopping);
          },
          [&](const InitFailedMsg& m) {
            *type = kLinkInitFailed;
            w->Bytes(m.process);
            w->Bytes(m.reason);
          },
          [&](const JobDirMsg& m) {
            *type = kLinkJobDir;
            w->Bytes(m.id);
          },
          [&](const NodeDirMsg& m) {
            *type = kLinkNodeDir;
            w->Bytes(m.job_dir);
            w->U8(m.shared ? 1 : 0);
          },
          [&](const RowsMsg& m) {
            *type = kLinkRows;
            w->U64(m.id);
            w->U32(m.attempt);
            w->U8(m.last ? 1 : 0);
            w->Bytes(m.data);
          },
          [&](const CancelMsg& m) {
            *type = kLinkCancel;
            w->U64(m.id);
            w->U32(m.attempt);
            w->Bytes(m.reason);
          },
          [&](const StandbyOfferMsg& m) {
            *type = kLinkStandbyOffer;
            w->Bytes(m.host);
            w->U32(m.port);
          },
          [&](const StandbyMsg& m) {
            *type = kLinkStandby;
            w->U8(m.active ? 1 : 0);
            w->U32(m.node);
            w->Bytes(m.host);
            w->U32(m.port);
          },
          [&](const JournalCopyMsg& m) {
            *type = kLinkJournalCopy;
            w->U64(m.offset);
            w->Bytes(m.data);
          },
          [&](const PartCopyMsg& m) {
            *type = kLinkPartCopy;
            w->U64(m.id);
            w->U32(m.attempt);
            w->U8(m.last ? 1 : 0);
            w->Bytes(m.data);
          },
      },
      message);
}

// The magic that opens both HELLOs.
void ReadMagic(WireFields* f) {
  size_t at = f->offset();
  std::string magic = f->Bytes("magic");
  if (f->ok() && magic != kLinkMagic) f->Fail("magic", at, "not a parallelrun link peer");
}

// A bytes field that must be exactly `size` bytes long (a nonce, a proof).
std::string ReadSized(WireFields* f, const char* field, size_t size) {
  size_t at = f->offset();
  std::string s = f->Bytes(field);
  if (f->ok() && s.size() != size) {
    f->Fail(field, at, fmt::format("{} bytes, not {}", s.size(), size));
  }
  return s;
}

// A TCP port: a u32 that must fit 16 bits.
uint32_t ReadPort(WireFields* f) {
  size_t at = f->offset();
  uint32_t port = f->U32("port");
  if (f->ok() && port > 65535) f->Fail("port", at, fmt::format("{} is not a TCP port", port));
  return port;
}

// A bulk-data field of at most kMaxCopyChunk bytes.
std::string ReadChunk(WireFields* f) {
  size_t at = f->offset();
  std::string data = f->Bytes("data");
  if (f->ok() && data.size() > kMaxCopyChunk) {
    f->Fail("data", at, fmt::format("{} bytes, more than {}", data.size(), kMaxCopyChunk));
  }
  return data;
}

bool DecodeMessage(const Frame& frame, LinkMessage* out, std::string* why) {
  WireFields f(frame.payload);
  switch (frame.type) {
    case kLinkHello: {
      HelloMsg m;
      m.node = f.U32("node");
      m.slots = f.U32("slots");
      m.host = f.Bytes("host");
      *out = std::move(m);
      break;
    }
    case kLinkPull:
      *out = PullMsg{f.U32("n")};
      break;
    case kLinkLease: {
      MiniBatch batch;
      uint32_t attempt = 0;
      std::string reason;
      if (!DecodeMiniBatch(frame.payload, &batch, &attempt, &reason)) {
        *why = "LEASE: " + reason;
        return false;
      }
      *out = LeaseMsg{std::move(batch), attempt};
      return true;
    }
    case kLinkResult: {
      AttemptResult r;
      ReadAttemptResult(&f, &r);
      *out = ResultMsg{std::move(r)};
      break;
    }
    case kLinkGiveBack: {
      GiveBackMsg m;
      m.id = f.U64("mini_batch_id");
      m.attempt = f.U32("attempt");
      *out = m;
      break;
    }
    case kLinkDrain:
      *out = DrainMsg{};
      break;
    case kLinkStop: {
      StopMsg m;
      m.immediate = f.Bool("immediate");
      m.reason = f.Bytes("reason");
      *out = std::move(m);
      break;
    }
    case kLinkNodeFailed:
      *out = NodeFailedMsg{f.Bytes("reason")};
      break;
    case kLinkBye: {
      ByeMsg m;
      m.report.node = f.U32("node");
      m.report.host = f.Bytes("host");
      uint32_t n = f.Count("processes", kMinProcessBytes);
      for (uint32_t i = 0; i < n && f.ok(); i++) {
        ProcessReport p;
        p.process = f.Bytes("process");
        p.pid = f.U32("pid");
        p.start_time = f.F64("start_time");
        p.end_time = f.F64("end_time");
        p.init_ok = f.Bool("init_ok");
        p.init_seconds = f.F64("init_seconds");
        p.exit = f.Bytes("exit");
        m.report.processes.push_back(std::move(p));
      }
      *out = std::move(m);
      break;
    }
    case kLinkEnd: {
      EndMsg m;
      m.status_code = f.U8("status_code");
      m.message = f.Bytes("message");
      *out = std::move(m);
      break;
    }
    case kLinkWorkers: {
      WorkersMsg m;
      m.starting = f.U32("starting");
      m.init = f.U32("init");
      m.busy = f.U32("busy");
      m.idle = f.U32("idle");
      m.stopping = f.U32("stopping");
      *out = m;
      break;
    }
    case kLinkInitFailed: {
      InitFailedMsg m;
      m.process = f.Bytes("process");
      m.reason = f.Bytes("reason");
      *out = std::move(m);
      break;
    }
    case kLinkJobDir:
      *out = JobDirMsg{f.Bytes("id")};
      break;
    case kLinkNodeDir: {
      NodeDirMsg m;
      m.job_dir = f.Bytes("job_dir");
      m.shared = f.Bool("shared");
      *out = std::move(m);
      break;
    }
    case kLinkRows: {
      RowsMsg m;
      m.id = f.U64("mini_batch_id");
      m.attempt = f.U32("attempt");
      m.last = f.Bool("last");
      size_t at = f.offset();
      m.data = f.Bytes("data");
      if (f.ok() && m.data.size() > kMaxRowsChunk) {
        f.Fail("data", at, fmt::format("{} bytes, more than {}", m.data.size(), kMaxRowsChunk));
      }
      *out = std::move(m);
      break;
    }
    case kLinkCancel: {
      CancelMsg m;
      m.id = f.U64("mini_batch_id");
      m.attempt = f.U32("attempt");
      m.reason = f.Bytes("reason");
      *out = std::move(m);
      break;
    }
    case kLinkStandbyOffer: {
      StandbyOfferMsg m;
      m.host = f.Bytes("host");
      m.port = ReadPort(&f);
      *out = std::move(m);
      break;
    }
    case kLinkStandby: {
      StandbyMsg m;
      m.active = f.Bool("active");
      m.node = f.U32("node");
      m.host = f.Bytes("host");
      m.port = ReadPort(&f);
      *out = std::move(m);
      break;
    }
    case kLinkJournalCopy: {
      JournalCopyMsg m;
      m.offset = f.U64("offset");
      m.data = ReadChunk(&f);
      *out = std::move(m);
      break;
    }
    case kLinkPartCopy: {
      PartCopyMsg m;
      m.id = f.U64("mini_batch_id");
      m.attempt = f.U32("attempt");
      m.last = f.Bool("last");
      m.data = ReadChunk(&f);
      *out = std::move(m);
      break;
    }
    default:
      *why = fmt::format("unknown frame type {}", LinkFrameName(frame.type));
      return false;
  }
  return f.Done(LinkFrameName(frame.type), why);
}

}  // namespace

std::string LinkFrameName(uint8_t type) {
  switch (type) {
    case kLinkMasterHello: return "MASTER_HELLO";
    case kLinkAgentHello: return "AGENT_HELLO";
    case kLinkWelcome: return "WELCOME";
    case kLinkHeartbeat: return "HEARTBEAT";
    case kLinkGoodbye: return "GOODBYE";
    case kLinkHello: return "HELLO";
    case kLinkPull: return "PULL";
    case kLinkLease: return "LEASE";
    case kLinkResult: return "RESULT";
    case kLinkGiveBack: return "GIVE_BACK";
    case kLinkDrain: return "DRAIN";
    case kLinkStop: return "STOP";
    case kLinkNodeFailed: return "NODE_FAILED";
    case kLinkBye: return "BYE";
    case kLinkEnd: return "END";
    case kLinkInitFailed: return "INIT_FAILED";
    case kLinkWorkers: return "WORKERS";
    case kLinkJobDir: return "JOB_DIR";
    case kLinkNodeDir: return "NODE_DIR";
    case kLinkRows: return "ROWS";
    case kLinkCancel: return "CANCEL";
    case kLinkStandbyOffer: return "STANDBY_OFFER";
    case kLinkStandby: return "STANDBY";
    case kLinkJournalCopy: return "JOURNAL_COPY";
    case kLinkPartCopy: return "PART_COPY";
    case kLinkError: return "ERROR";
    default: return fmt::format("0x{:02x}", type);
  }
}

void EncodeLinkMessage(const LinkMessage& message, std::string* out) {
  WireWriter w;
  uint8_t type = 0;
  PutMessage(message, &type, &w);
  AppendFrame(type, w.data(), out);
}

void EncodeLinkFrame(const LinkFrame& frame, std::string* out) {
  WireWriter w;
  uint8_t type = 0;
  std::visit(Overloaded{
                 [&](const MasterHelloFrame& f) {
                   type = kLinkMasterHello;
                   w.Bytes(kLinkMagic);
                   w.U32(f.version);
                   w.U64(f.capabilities);
                   w.Bytes(f.nonce);
                 },
                 [&](const AgentHelloFrame& f) {
                   type = kLinkAgentHello;
                   w.Bytes(kLinkMagic);
                   w.U32(f.version);
                   w.U64(f.capabilities);
                   w.U32(f.node);
                   w.U32(f.slots);
                   w.Bytes(f.host);
                   w.Bytes(f.nonce);
                   w.Bytes(f.proof);
                 },
                 [&](const WelcomeFrame& f) {
                   type = kLinkWelcome;
                   w.U64(f.capabilities);
                   w.U32(f.heartbeat_ms);
                   w.U32(f.heartbeat_timeout_ms);
                   w.Bytes(f.proof);
                 },
                 [&](const HeartbeatFrame&) { type = kLinkHeartbeat; },
                 [&](const GoodbyeFrame&) { type = kLinkGoodbye; },
                 [&](const ErrorFrame& f) {
                   type = kLinkError;
                   w.Bytes(f.reason);
                 },
                 [&](const LinkMessage& m) { PutMessage(m, &type, &w); },
             },
             frame);
  AppendFrame(type, w.data(), out);
}

bool DecodeLinkFrame(const Frame& frame, LinkFrame* out, std::string* why) {
  WireFields f(frame.payload);
  switch (frame.type) {
    case kLinkMasterHello: {
      MasterHelloFrame h;
      ReadMagic(&f);
      h.version = f.U32("version");
      if (f.ok() && h.version != kLinkProtocolVersion) {
        // Another version: its layout after the version is unknown.
        *out = h;
        return true;
      }
      h.capabilities = f.U64("capabilities");
      h.nonce = ReadSized(&f, "nonce", kLinkNonceSize);
      *out = std::move(h);
      break;
    }
    case kLinkAgentHello: {
      AgentHelloFrame h;
      ReadMagic(&f);
      h.version = f.U32("version");
      if (f.ok() && h.version != kLinkProtocolVersion) {
        *out = h;
        return true;
      }
      h.capabilities = f.U64("capabilities");
      h.node = f.U32("node");
      h.slots = f.U32("slots");
      h.host = f.Bytes("host");
      h.nonce = ReadSized(&f, "nonce", kLinkNonceSize);
      h.proof = ReadSized(&f, "proof", kSha256Size);
      *out = std::move(h);
      break;
    }
    case kLinkWelcome: {
      WelcomeFrame w;
      w.capabilities = f.U64("capabilities");
      size_t heartbeat_at = f.offset();
      w.heartbeat_ms = f.U32("heartbeat_ms");
      w.heartbeat_timeout_ms = f.U32("heartbeat_timeout_ms");
      w.proof = ReadSized(&f, "proof", kSha256Size);
      if (f.ok() && (w.heartbeat_ms == 0 || w.heartbeat_timeout_ms < w.heartbeat_ms)) {
        f.Fail("heartbeat_ms", heartbeat_at,
               fmt::format("heartbeat every {} ms with a timeout of {} ms", w.heartbeat_ms,
                           w.heartbeat_timeout_ms));
      }
      *out = std::move(w);
      break;
    }
    case kLinkHeartbeat:
      *out = HeartbeatFrame{};
      break;
    case kLinkGoodbye:
      *out = GoodbyeFrame{};
      break;
    case kLinkError:
      *out = ErrorFrame{f.Bytes("reason")};
      break;
    default: {
      LinkMessage m;
      if (!DecodeMessage(frame, &m, why)) return false;
      *out = std::move(m);
      return true;
    }
  }
  return f.Done(LinkFrameName(frame.type), why);
}

LinkDecoder::Outcome LinkDecoder::Next(LinkFrame* out, std::string* why) {
  if (broken_) {
    *why = broken_reason_;
    return Outcome::kMalformed;
  }
  Frame frame;
  std::string error;
  auto fail = [&](std::string reason) {
    broken_ = true;
    broken_reason_ = std::move(reason);
    *why = broken_reason_;
    return Outcome::kMalformed;
  };
  switch (frames_.Next(&frame, &error)) {
    case FrameDecoder::Outcome::kNeedMore:
      // 5 = the frame header; more than a whole frame's worth waiting means
      // the frame being received is over the limit.
      if (frames_.buffered() > static_cast<size_t>(limit_) + 4) {
        return fail(fmt::format("frame larger than the limit of {} bytes", limit_));
      }
      return Outcome::kNeedMore;
    case FrameDecoder::Outcome::kMalformed:
      return fail(error);
    case FrameDecoder::Outcome::kFrame:
      break;
  }
  if (frame.payload.size() + 1 > limit_) {
    return fail(fmt::format("frame of {} bytes exceeds the limit of {}", frame.payload.size() + 1,
                            limit_));
  }
  if (!DecodeLinkFrame(frame, out, &error)) return fail(error);
  return Outcome::kFrame;
}

std::string AgentProof(std::string_view secret, std::string_view master_nonce, uint32_t node) {
  std::string message(master_nonce);
  for (int i = 0; i < 4; i++) message.push_back(static_cast<char>((node >> (8 * i)) & 0xff));
  return HmacSha256(secret, message);
}

std::string MasterProof(std::string_view secret, std::string_view agent_nonce,
                        std::string_view master_nonce) {
  std::string message(agent_nonce);
  message.append(master_nonce);
  return HmacSha256(secret, message);
}

}  // namespace parallelrun
