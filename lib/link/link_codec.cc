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
            EncodeMiniBatch(m.batch, m.attempt, w);
          },
          [&](const ResultMsg& m) {
            *type = kLinkResult;
            const AttemptResult& r = m.result;
            w->U64(r.id);
            w->U32(r.attempt);
            w->U8(static_cast<uint8_t>(r.status));
            w->U64(r.total);
            w->U64(r.succeeded);
            w->U64(r.returned);
            w->F64(r.start_time);
            w->F64(r.elapsed_seconds);
            w->F64(r.process_seconds);
            w->F64(r.run_seconds);
            w->U32(r.node);
            w->Bytes(r.process);
            w->Bytes(r.error_category);
            w->Bytes(r.error_message);
            w->Bytes(r.traceback);
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
      },
      message);
}

// Reads fields of one payload and collects the first reason it is malformed.
class Fields {
 public:
  Fields(const Frame& frame) : r_(frame.payload), name_(LinkFrameName(frame.type)) {}

  uint8_t U8() { return r_.U8(); }
  uint32_t U32() { return r_.U32(); }
  uint64_t U64() { return r_.U64(); }
  double F64() { return r_.F64(); }
  std::string Bytes() { return r_.Bytes(); }
  bool Bool(const char* field) {
    uint8_t v = r_.U8();
    if (r_.ok() && v > 1) Fail(fmt::format("{} is {}, not 0 or 1", field, v));
    return v == 1;
  }
  // A count of elements, each at least `min_bytes` long, that must fit in
  // what is left.
  uint32_t Count(const char* what, size_t min_bytes) {
    uint32_t n = r_.U32();
    if (r_.ok() && static_cast<uint64_t>(n) * min_bytes > r_.remaining()) {
      Fail(fmt::format("{} {} cannot fit in the {} bytes that follow", n, what, r_.remaining()));
      return 0;
    }
    return n;
  }
  void Magic() {
    std::string magic = r_.Bytes();
    if (r_.ok() && magic != kLinkMagic) Fail("not a parallelrun link peer (wrong magic)");
  }
  std::string Sized(const char* field, size_t size) {
    std::string s = r_.Bytes();
    if (r_.ok() && s.size() != size) Fail(fmt::format("{} has {} bytes, not {}", field, s.size(), size));
    return s;
  }
  void Fail(const std::string& why) {
    if (why_.empty()) why_ = why;
  }
  // True when the payload was read whole and nothing failed.
  bool Done(std::string* why) {
    if (why_.empty() && !r_.ok()) why_ = "payload ends inside a field";
    if (why_.empty() && !r_.at_end()) why_ = fmt::format("{} bytes left over", r_.remaining());
    if (why_.empty()) return true;
    *why = name_ + ": " + why_;
    return false;
  }
  bool ok() const { return r_.ok() && why_.empty(); }

 private:
  // WireReader with the count of unread bytes, which it does not expose.
  class Reader : public WireReader {
   public:
    explicit Reader(std::string_view data) : WireReader(data), size_(data.size()) {}
    uint8_t U8() { return Track(WireReader::U8(), 1); }
    uint32_t U32() { return Track(WireReader::U32(), 4); }
    uint64_t U64() { return Track(WireReader::U64(), 8); }
    double F64() { return Track(WireReader::F64(), 8); }
    std::string Bytes() {
      std::string s = WireReader::Bytes();
      if (ok()) used_ += 4 + s.size();
      return s;
    }
    size_t remaining() const { return ok() ? size_ - used_ : 0; }

   private:
    template <typename T>
    T Track(T v, size_t n) {
      if (ok()) used_ += n;
      return v;
    }
    size_t size_;
    size_t used_ = 0;
  };
  Reader r_;
  std::string name_;
  std::string why_;
};

bool DecodeMessage(const Frame& frame, LinkMessage* out, std::string* why) {
  Fields f(frame);
  switch (frame.type) {
    case kLinkHello: {
      HelloMsg m;
      m.node = f.U32();
      m.slots = f.U32();
      m.host = f.Bytes();
      *out = std::move(m);
      break;
    }
    case kLinkPull:
      *out = PullMsg{f.U32()};
      break;
    case kLinkLease: {
      LeaseMsg m;
      std::string reason;
      if (!DecodeMiniBatch(frame.payload, &m.batch, &m.attempt, &reason)) {
        *why = "LEASE: " + reason;
        return false;
      }
      *out = std::move(m);
      return true;
    }
    case kLinkResult: {
      AttemptResult r;
      r.id = f.U64();
      r.attempt = f.U32();
      uint8_t status = f.U8();
      if (f.ok() && status > static_cast<uint8_t>(AttemptStatus::kLeaseLost)) {
        f.Fail(fmt::format("status {} is not an attempt status", status));
      }
      r.status = static_cast<AttemptStatus>(status);
      r.total = f.U64();
      r.succeeded = f.U64();
      r.returned = f.U64();
      r.start_time = f.F64();
      r.elapsed_seconds = f.F64();
      r.process_seconds = f.F64();
      r.run_seconds = f.F64();
      r.node = f.U32();
      r.process = f.Bytes();
      r.error_category = f.Bytes();
      r.error_message = f.Bytes();
      r.traceback = f.Bytes();
      *out = ResultMsg{std::move(r)};
      break;
    }
    case kLinkGiveBack: {
      GiveBackMsg m;
      m.id = f.U64();
      m.attempt = f.U32();
      *out = m;
      break;
    }
    case kLinkDrain:
      *out = DrainMsg{};
      break;
    case kLinkStop: {
      StopMsg m;
      m.immediate = f.Bool("immediate");
      m.reason = f.Bytes();
      *out = std::move(m);
      break;
    }
    case kLinkNodeFailed:
      *out = NodeFailedMsg{f.Bytes()};
      break;
    case kLinkBye: {
      ByeMsg m;
      m.report.node = f.U32();
      m.report.host = f.Bytes();
      uint32_t n = f.Count("processes", kMinProcessBytes);
      for (uint32_t i = 0; i < n && f.ok(); i++) {
        ProcessReport p;
        p.process = f.Bytes();
        p.pid = f.U32();
        p.start_time = f.F64();
        p.end_time = f.F64();
        p.init_ok = f.Bool("init_ok");
        p.init_seconds = f.F64();
        p.exit = f.Bytes();
        m.report.processes.push_back(std::move(p));
      }
      *out = std::move(m);
      break;
    }
    case kLinkEnd: {
      EndMsg m;
      m.status_code = f.U8();
      m.message = f.Bytes();
      *out = std::move(m);
      break;
    }
    default:
      *why = fmt::format("unknown frame type {}", LinkFrameName(frame.type));
      return false;
  }
  return f.Done(why);
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
  Fields f(frame);
  switch (frame.type) {
    case kLinkMasterHello: {
      MasterHelloFrame h;
      f.Magic();
      h.version = f.U32();
      if (f.ok() && h.version != kLinkProtocolVersion) {
        // Another version: its layout after the version is unknown.
        *out = h;
        return true;
      }
      h.capabilities = f.U64();
      h.nonce = f.Sized("nonce", kLinkNonceSize);
      *out = std::move(h);
      break;
    }
    case kLinkAgentHello: {
      AgentHelloFrame h;
      f.Magic();
      h.version = f.U32();
      if (f.ok() && h.version != kLinkProtocolVersion) {
        *out = h;
        return true;
      }
      h.capabilities = f.U64();
      h.node = f.U32();
      h.slots = f.U32();
      h.host = f.Bytes();
      h.nonce = f.Sized("nonce", kLinkNonceSize);
      h.proof = f.Sized("proof", kSha256Size);
      *out = std::move(h);
      break;
    }
    case kLinkWelcome: {
      WelcomeFrame w;
      w.capabilities = f.U64();
      w.heartbeat_ms = f.U32();
      w.heartbeat_timeout_ms = f.U32();
      w.proof = f.Sized("proof", kSha256Size);
      if (f.ok() && (w.heartbeat_ms == 0 || w.heartbeat_timeout_ms < w.heartbeat_ms)) {
        f.Fail(fmt::format("heartbeat every {} ms with a timeout of {} ms", w.heartbeat_ms,
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
      *out = ErrorFrame{f.Bytes()};
      break;
    default: {
      LinkMessage m;
      if (!DecodeMessage(frame, &m, why)) return false;
      *out = std::move(m);
      return true;
    }
  }
  return f.Done(why);
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
