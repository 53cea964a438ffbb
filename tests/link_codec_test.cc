// LinkCodec: every frame and message round-trips byte-exact (file names that
// are not UTF-8 included), the byte layout is the one link_codec.h documents,
// and every kind of malformed input is refused with a reason.
#include "link/link_codec.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "base/hmac.h"

namespace parallelrun {
namespace {

using namespace std::string_literals;

std::string B(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// ---- equality of decoded values ----------------------------------------------

bool Equal(const AttemptResult& a, const AttemptResult& b) {
  return a.id == b.id && a.attempt == b.attempt && a.status == b.status && a.total == b.total &&
         a.succeeded == b.succeeded && a.returned == b.returned &&
         SameBits(a.start_time, b.start_time) && SameBits(a.elapsed_seconds, b.elapsed_seconds) &&
         SameBits(a.process_seconds, b.process_seconds) && SameBits(a.run_seconds, b.run_seconds) &&
         a.node == b.node && a.process == b.process && a.error_category == b.error_category &&
         a.error_message == b.error_message && a.traceback == b.traceback;
}

bool Equal(const LinkMessage& a, const LinkMessage& b) {
  if (a.index() != b.index()) return false;
  if (auto* x = std::get_if<HelloMsg>(&a)) {
    auto& y = std::get<HelloMsg>(b);
    return x->node == y.node && x->slots == y.slots && x->host == y.host;
  }
  if (auto* x = std::get_if<PullMsg>(&a)) return x->n == std::get<PullMsg>(b).n;
  if (auto* x = std::get_if<LeaseMsg>(&a)) {
    auto& y = std::get<LeaseMsg>(b);
    return x->batch->id == y.batch->id && x->batch->input == y.batch->input &&
           x->batch->kind == y.batch->kind && x->batch->partition == y.batch->partition &&
           x->batch->known_rows == y.batch->known_rows && x->batch->items == y.batch->items &&
           x->attempt == y.attempt;
  }
  if (auto* x = std::get_if<ResultMsg>(&a)) return Equal(x->result, std::get<ResultMsg>(b).result);
  if (auto* x = std::get_if<GiveBackMsg>(&a)) {
    auto& y = std::get<GiveBackMsg>(b);
    return x->id == y.id && x->attempt == y.attempt;
  }
  if (std::get_if<DrainMsg>(&a)) return true;
  if (auto* x = std::get_if<StopMsg>(&a)) {
    auto& y = std::get<StopMsg>(b);
    return x->immediate == y.immediate && x->reason == y.reason;
  }
  if (auto* x = std::get_if<NodeFailedMsg>(&a)) return x->reason == std::get<NodeFailedMsg>(b).reason;
  if (auto* x = std::get_if<ByeMsg>(&a)) {
    auto& y = std::get<ByeMsg>(b);
    if (x->report.node != y.report.node || x->report.host != y.report.host ||
        x->report.processes.size() != y.report.processes.size()) {
      return false;
    }
    for (size_t i = 0; i < x->report.processes.size(); i++) {
      const ProcessReport& p = x->report.processes[i];
      const ProcessReport& q = y.report.processes[i];
      if (p.process != q.process || p.pid != q.pid || !SameBits(p.start_time, q.start_time) ||
          !SameBits(p.end_time, q.end_time) || p.init_ok != q.init_ok ||
          !SameBits(p.init_seconds, q.init_seconds) || p.exit != q.exit) {
        return false;
      }
    }
    return true;
  }
  if (auto* x = std::get_if<EndMsg>(&a)) {
    auto& y = std::get<EndMsg>(b);
    return x->status_code == y.status_code && x->message == y.message;
  }
  if (auto* x = std::get_if<InitFailedMsg>(&a)) {
    auto& y = std::get<InitFailedMsg>(b);
    return x->process == y.process && x->reason == y.reason;
  }
  if (auto* x = std::get_if<WorkersMsg>(&a)) {
    auto& y = std::get<WorkersMsg>(b);
    return x->starting == y.starting && x->init == y.init && x->busy == y.busy &&
           x->idle == y.idle && x->stopping == y.stopping;
  }
  if (auto* x = std::get_if<JobDirMsg>(&a)) return x->id == std::get<JobDirMsg>(b).id;
  if (auto* x = std::get_if<NodeDirMsg>(&a)) {
    auto& y = std::get<NodeDirMsg>(b);
    return x->job_dir == y.job_dir && x->shared == y.shared;
  }
  if (auto* x = std::get_if<RowsMsg>(&a)) {
    auto& y = std::get<RowsMsg>(b);
    return x->id == y.id && x->attempt == y.attempt && x->data == y.data && x->last == y.last;
  }
  if (auto* x = std::get_if<CancelMsg>(&a)) {
    auto& y = std::get<CancelMsg>(b);
    return x->id == y.id && x->attempt == y.attempt && x->reason == y.reason;
  }
  if (auto* x = std::get_if<StandbyOfferMsg>(&a)) {
    auto& y = std::get<StandbyOfferMsg>(b);
    return x->host == y.host && x->port == y.port;
  }
  if (auto* x = std::get_if<StandbyMsg>(&a)) {
    auto& y = std::get<StandbyMsg>(b);
    return x->active == y.active && x->node == y.node && x->host == y.host && x->port == y.port;
  }
  if (auto* x = std::get_if<JournalCopyMsg>(&a)) {
    auto& y = std::get<JournalCopyMsg>(b);
    return x->offset == y.offset && x->data == y.data;
  }
  if (auto* x = std::get_if<PartCopyMsg>(&a)) {
    auto& y = std::get<PartCopyMsg>(b);
    return x->id == y.id && x->attempt == y.attempt && x->data == y.data && x->last == y.last;
  }
  return false;
}

bool Equal(const LinkFrame& a, const LinkFrame& b) {
  if (a.index() != b.index()) return false;
  if (auto* x = std::get_if<MasterHelloFrame>(&a)) {
    auto& y = std::get<MasterHelloFrame>(b);
    return x->version == y.version && x->capabilities == y.capabilities && x->nonce == y.nonce;
  }
  if (auto* x = std::get_if<AgentHelloFrame>(&a)) {
    auto& y = std::get<AgentHelloFrame>(b);
    return x->version == y.version && x->capabilities == y.capabilities && x->node == y.node &&
           x->slots == y.slots && x->host == y.host && x->nonce == y.nonce && x->proof == y.proof;
  }
  if (auto* x = std::get_if<WelcomeFrame>(&a)) {
    auto& y = std::get<WelcomeFrame>(b);
    return x->capabilities == y.capabilities && x->heartbeat_ms == y.heartbeat_ms &&
           x->heartbeat_timeout_ms == y.heartbeat_timeout_ms && x->proof == y.proof;
  }
  if (std::get_if<HeartbeatFrame>(&a) || std::get_if<GoodbyeFrame>(&a)) return true;
  if (auto* x = std::get_if<ErrorFrame>(&a)) return x->reason == std::get<ErrorFrame>(b).reason;
  return Equal(std::get<LinkMessage>(a), std::get<LinkMessage>(b));
}

// ---- samples ---------------------------------------------------------------------

const std::string kNasty = "caf\xe9 \xff\xfe\0name\nwith newline and \xc3("s;

AttemptResult SampleResult() {
  AttemptResult r;
  r.id = 0xfedcba9876543210ull;
  r.attempt = 3;
  r.status = AttemptStatus::kRunTimeout;
  r.total = 1000;
  r.succeeded = 999;
  r.returned = std::numeric_limits<uint64_t>::max();
  r.start_time = 1712345678.123456;
  r.elapsed_seconds = std::numeric_limits<double>::denorm_min();
  r.process_seconds = -0.0;
  r.run_seconds = std::numeric_limits<double>::infinity();
  r.node = 7;
  r.process = "process003";
  r.error_category = "Timeout";
  r.error_message = kNasty;
  r.traceback = std::string(100000, 'T') + kNasty;
  return r;
}

std::vector<LinkMessage> SampleMessages() {
  MiniBatch files;
  files.id = 42;
  files.input = 2;
  files.items = {"a.png", "", kNasty, "/data/\x80\x81.bin"s, std::string(70000, 'x')};
  LeaseMsg lease{files, 2};
  MiniBatch part;
  part.id = 7;
  part.kind = MiniBatchKind::kTablePartition;
  part.partition = {{"country", kNasty}, {"", ""}, {"state", "\xff\0"s}};
  part.known_rows = 0x0102030405060708ull;
  part.items = {"\x01" "descriptor\0bytes"s};
  LeaseMsg partition{part, 1};
  ByeMsg bye;
  bye.report.node = 3;
  bye.report.host = "node-3";
  for (int i = 0; i < 3; i++) {
    ProcessReport p;
    p.process = "process00" + std::to_string(i);
    p.pid = 1000 + i;
    p.start_time = 1.5 * i;
    p.end_time = 2.25 * i;
    p.init_ok = i != 1;
    p.init_seconds = 0.125;
    p.exit = i == 2 ? "killed by SIGKILL" : "exit code 0";
    bye.report.processes.push_back(p);
  }
  ResultMsg ok_result{SampleResult()};
  ok_result.result.status = AttemptStatus::kRunDone;
  return {HelloMsg{3, 8, "node-3.example"},
          HelloMsg{0, 0, ""},
          PullMsg{0},
          PullMsg{std::numeric_limits<uint32_t>::max()},
          lease,
          partition,
          LeaseMsg{},
          ResultMsg{SampleResult()},
          ok_result,
          ResultMsg{AttemptResult{}},
          GiveBackMsg{std::numeric_limits<uint64_t>::max(), 9},
          DrainMsg{},
          StopMsg{true, "error_threshold exceeded: " + kNasty},
          StopMsg{false, ""},
          NodeFailedMsg{"init() failed 3 times: ImportError"},
          bye,
          ByeMsg{},
          EndMsg{1, "error_threshold exceeded: " + kNasty},
          EndMsg{0, ""},
          InitFailedMsg{"process002", "process002: init() raised " + kNasty},
          InitFailedMsg{},
          WorkersMsg{1, 2, 3, 4, 5},
          WorkersMsg{0, 0, 0, 0, 0xffffffffu},
          JobDirMsg{"0123456789abcdef0123456789abcdef"},
          JobDirMsg{""},
          NodeDirMsg{"/mnt/local/job-" + kNasty, false},
          NodeDirMsg{"", true},
          RowsMsg{7, 2, std::string(kMaxRowsChunk, 'r'), false},
          RowsMsg{std::numeric_limits<uint64_t>::max(), 1, kNasty, true},
          RowsMsg{0, 0, "", true},
          CancelMsg{5, 1, "straggler: attempt 2 finished first"},
          CancelMsg{},
          StandbyOfferMsg{"10.0.0.5", 29500},
          StandbyOfferMsg{"", 0},
          StandbyMsg{true, 2, "fe80::1", 65535},
          StandbyMsg{},
          JournalCopyMsg{0, std::string("PRJNL001") + kNasty},
          JournalCopyMsg{std::numeric_limits<uint64_t>::max(), std::string(kMaxCopyChunk, 'j')},
          PartCopyMsg{7, 2, std::string(kMaxCopyChunk, 'p'), false},
          PartCopyMsg{0, 0, "", true}};
}

std::vector<LinkFrame> SampleFrames() {
  std::vector<LinkFrame> frames = {
      MasterHelloFrame{kLinkProtocolVersion, 0x8000000000000001ull, std::string(32, 'n')},
      AgentHelloFrame{kLinkProtocolVersion, 5, 2, 4, "host\xff", std::string(32, '\0'),
                      std::string(32, '\x7f')},
      WelcomeFrame{1, 5000, 30000, std::string(32, 'p')},
      HeartbeatFrame{},
      GoodbyeFrame{},
      ErrorFrame{"authentication failed"},
      ErrorFrame{""},
  };
  for (auto& m : SampleMessages()) frames.push_back(m);
  return frames;
}

Frame OneFrame(const std::string& bytes) {
  FrameDecoder d(kMaxLinkFrame);
  d.Feed(bytes.data(), bytes.size());
  Frame f;
  std::string error;
  REQUIRE(d.Next(&f, &error) == FrameDecoder::Outcome::kFrame);
  return f;
}

// Decodes one frame given as type + payload; returns the reason or "" if it
// decoded.
std::string Refusal(uint8_t type, const std::string& payload) {
  Frame f{type, payload};
  LinkFrame out;
  std::string why;
  return DecodeLinkFrame(f, &out, &why) ? "" : why;
}

// ---- tests -------------------------------------------------------------------

TEST_CASE("LinkCodec: every frame and message round-trips", "[link_codec]") {
  for (const LinkFrame& frame : SampleFrames()) {
    std::string bytes;
    EncodeLinkFrame(frame, &bytes);
    Frame f = OneFrame(bytes);
    LinkFrame back;
    std::string why;
    INFO("type " << LinkFrameName(f.type));
    REQUIRE(DecodeLinkFrame(f, &back, &why));
    CHECK(why.empty());
    CHECK(Equal(frame, back));
  }
  // EncodeLinkMessage writes what EncodeLinkFrame writes for a message.
  for (const LinkMessage& m : SampleMessages()) {
    std::string a, b;
    EncodeLinkMessage(m, &a);
    EncodeLinkFrame(LinkFrame(m), &b);
    CHECK(a == b);
  }
}

TEST_CASE("LinkCodec: ROWS carries at most kMaxRowsChunk bytes", "[link_codec]") {
  std::string bytes;
  EncodeLinkMessage(RowsMsg{3, 1, std::string(kMaxRowsChunk + 1, 'r'), true}, &bytes);
  Frame f = OneFrame(bytes);
  CHECK(f.type == kLinkRows);
  CHECK(Refusal(f.type, f.payload) ==
        "ROWS: data at byte 13: 1048577 bytes, more than 1048576");
  // A bool other than 0 or 1 in `last`, and NODE_DIR's `shared`.
  std::string rows;
  EncodeLinkMessage(RowsMsg{3, 1, "x", true}, &rows);
  Frame r = OneFrame(rows);
  r.payload[12] = 2;
  CHECK(Refusal(r.type, r.payload).find("ROWS: last at byte 12") == 0);
  std::string dir;
  EncodeLinkMessage(NodeDirMsg{"/j", true}, &dir);
  Frame d = OneFrame(dir);
  d.payload.back() = 7;
  CHECK(Refusal(d.type, d.payload).find("NODE_DIR: shared at byte 6") == 0);
  CHECK(LinkFrameName(kLinkJobDir) == "JOB_DIR");
  CHECK(LinkFrameName(kLinkCancel) == "CANCEL");
}

TEST_CASE("LinkCodec: failover frames refuse oversized data and ports", "[link_codec]") {
  std::string bytes;
  EncodeLinkMessage(JournalCopyMsg{0, std::string(kMaxCopyChunk + 1, 'j')}, &bytes);
  Frame f = OneFrame(bytes);
  CHECK(Refusal(f.type, f.payload) ==
        "JOURNAL_COPY: data at byte 8: 1048577 bytes, more than 1048576");
  bytes.clear();
  EncodeLinkMessage(PartCopyMsg{1, 1, std::string(kMaxCopyChunk + 1, 'p'), true}, &bytes);
  f = OneFrame(bytes);
  CHECK(Refusal(f.type, f.payload) ==
        "PART_COPY: data at byte 13: 1048577 bytes, more than 1048576");
  bytes.clear();
  EncodeLinkMessage(StandbyOfferMsg{"h", 65536}, &bytes);
  f = OneFrame(bytes);
  CHECK(Refusal(f.type, f.payload) == "STANDBY_OFFER: port at byte 5: 65536 is not a TCP port");
  bytes.clear();
  EncodeLinkMessage(StandbyMsg{true, 1, "h", 70000}, &bytes);
  f = OneFrame(bytes);
  CHECK(Refusal(f.type, f.payload) == "STANDBY: port at byte 10: 70000 is not a TCP port");
  bytes.clear();
  EncodeLinkMessage(StandbyMsg{true, 1, "h", 1}, &bytes);
  f = OneFrame(bytes);
  f.payload[0] = 2;
  CHECK(Refusal(f.type, f.payload).find("STANDBY: active at byte 0") == 0);
  CHECK(LinkFrameName(kLinkStandbyOffer) == "STANDBY_OFFER");
  CHECK(LinkFrameName(kLinkPartCopy) == "PART_COPY");
}

TEST_CASE("LinkCodec: the byte layout is the documented one", "[link_codec]") {
  std::string bytes;
  EncodeLinkMessage(PullMsg{7}, &bytes);
  CHECK(bytes == B({5, 0, 0, 0, 0x11, 7, 0, 0, 0}));

  bytes.clear();
  EncodeLinkMessage(GiveBackMsg{0x0102030405060708ull, 9}, &bytes);
  CHECK(bytes == B({13, 0, 0, 0, 0x14, 8, 7, 6, 5, 4, 3, 2, 1, 9, 0, 0, 0}));

  bytes.clear();
  MiniBatch batch;
  batch.id = 1;
  batch.input = 2;
  batch.items = {"\xff"s};
  EncodeLinkMessage(LeaseMsg{batch, 3}, &bytes);
  CHECK(bytes == B({39, 0, 0, 0, 0x12, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0,
                    0,                        // kind: files
                    0, 0, 0, 0,               // no partition
                    0, 0, 0, 0, 0, 0, 0, 0,   // known_rows
                    1, 0, 0, 0, 1, 0, 0, 0, 0xff}));

  bytes.clear();
  EncodeLinkFrame(StopMsg{true, "x"}, &bytes);
  CHECK(bytes == B({7, 0, 0, 0, 0x16, 1, 1, 0, 0, 0, 'x'}));

  bytes.clear();
  EncodeLinkMessage(InitFailedMsg{"p1", "x"}, &bytes);
  CHECK(bytes == B({12, 0, 0, 0, 0x1a, 2, 0, 0, 0, 'p', '1', 1, 0, 0, 0, 'x'}));
  CHECK(LinkFrameName(kLinkInitFailed) == "INIT_FAILED");

  bytes.clear();
  EncodeLinkMessage(WorkersMsg{1, 2, 3, 4, 5}, &bytes);
  CHECK(bytes == B({21, 0, 0, 0, 0x20, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0}));
  CHECK(LinkFrameName(kLinkWorkers) == "WORKERS");

  bytes.clear();
  EncodeLinkFrame(ErrorFrame{"no"}, &bytes);
  CHECK(bytes == B({7, 0, 0, 0, 0x7f, 2, 0, 0, 0, 'n', 'o'}));

  bytes.clear();
  EncodeLinkFrame(MasterHelloFrame{2, 2, std::string(32, 'z')}, &bytes);
  std::string expected = B({4 + 16 + 4 + 8 + 4 + 32 + 1, 0, 0, 0, 0x01, 16, 0, 0, 0}) +
                         "parallelrun-link" + B({2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0, 0}) +
                         std::string(32, 'z');
  CHECK(bytes == expected);
}

TEST_CASE("LinkCodec: a stream split anywhere decodes to the same frames", "[link_codec]") {
  std::vector<LinkFrame> frames = SampleFrames();
  std::string stream;
  for (const LinkFrame& f : frames) EncodeLinkFrame(f, &stream);
  for (size_t step : {1, 2, 3, 7, 4096, 1 << 20}) {
    LinkDecoder d;
    std::vector<LinkFrame> got;
    for (size_t pos = 0; pos < stream.size(); pos += step) {
      d.Feed(stream.data() + pos, std::min(step, stream.size() - pos));
      for (;;) {
        LinkFrame f;
        std::string why;
        auto o = d.Next(&f, &why);
        if (o == LinkDecoder::Outcome::kNeedMore) break;
        INFO(why);
        REQUIRE(o == LinkDecoder::Outcome::kFrame);
        got.push_back(std::move(f));
      }
    }
    INFO("step " << step);
    REQUIRE(got.size() == frames.size());
    for (size_t i = 0; i < frames.size(); i++) CHECK(Equal(frames[i], got[i]));
    CHECK(d.buffered() == 0);
  }
}

TEST_CASE("LinkCodec: malformed payloads are refused with a reason", "[link_codec]") {
  std::string pull;
  EncodeLinkMessage(PullMsg{1}, &pull);
  const std::string pull_payload = pull.substr(5);

  CHECK(Refusal(0x42, "") == "unknown frame type 0x42");
  CHECK(Refusal(0x00, "") == "unknown frame type 0x00");
  CHECK(Refusal(kLinkPull, pull_payload + "x") == "PULL: 1 bytes left over after the last field (at byte 4)");
  CHECK(Refusal(kLinkPull, pull_payload.substr(0, 3)) ==
        "PULL: n at byte 0: payload ends after 3 of its 4 bytes");
  CHECK(Refusal(kLinkDrain, "x") == "DRAIN: 1 bytes left over after the last field (at byte 0)");
  CHECK(Refusal(kLinkHeartbeat, "x") == "HEARTBEAT: 1 bytes left over after the last field (at byte 0)");
  CHECK(Refusal(kLinkStop, B({2, 0, 0, 0, 0})) == "STOP: immediate at byte 0: 2 is not 0 or 1");
  CHECK(Refusal(kLinkInitFailed, B({2, 0, 0, 0, 'p', '1'})) ==
        "INIT_FAILED: reason at byte 6: payload ends after 0 of the 4 bytes of its length");
  CHECK(Refusal(kLinkInitFailed, B({0, 0, 0, 0, 0, 0, 0, 0, 'x'})) ==
        "INIT_FAILED: 1 bytes left over after the last field (at byte 8)");
  CHECK(Refusal(kLinkWorkers, B({1, 0, 0, 0, 2, 0, 0, 0})) ==
        "WORKERS: busy at byte 8: payload ends after 0 of its 4 bytes");
  CHECK(Refusal(kLinkError, B({5, 0, 0, 0, 'a'})) ==
        "ERROR: reason at byte 0: length 5, but 1 bytes follow");

  // An item count the payload cannot hold is refused before any loop.
  WireWriter lease;
  lease.U64(1);
  lease.U32(1);
  lease.U32(0);
  lease.U8(0);
  lease.U32(0);
  lease.U64(0);
  lease.U32(0xffffffff);
  CHECK(Refusal(kLinkLease, lease.data()) ==
        "LEASE: items at byte 29: 4294967295 cannot fit in the 0 bytes that follow");
  WireWriter keys;
  keys.U64(1);
  keys.U32(1);
  keys.U32(0);
  keys.U8(2);
  keys.U32(2);
  keys.Bytes("k");
  CHECK(Refusal(kLinkLease, keys.data()) ==
        "LEASE: partition keys at byte 17: 2 cannot fit in the 5 bytes that follow");
  WireWriter kind;
  kind.U64(1);
  kind.U32(1);
  kind.U32(0);
  kind.U8(4);
  kind.U32(0);
  kind.U64(0);
  kind.U32(0);
  CHECK(Refusal(kLinkLease, kind.data()) == "LEASE: kind at byte 16: 4 is not a mini-batch kind");
  WireWriter bye;
  bye.U32(1);
  bye.Bytes("h");
  bye.U32(2);
  bye.Bytes("p");
  CHECK(Refusal(kLinkBye, bye.data()) ==
        "BYE: processes at byte 9: 2 cannot fit in the 5 bytes that follow");

  // A result whose status is not an AttemptStatus.
  std::string result;
  EncodeLinkMessage(ResultMsg{SampleResult()}, &result);
  std::string payload = result.substr(5);
  payload[12] = 7;
  CHECK(Refusal(kLinkResult, payload) == "RESULT: status at byte 12: 7 is not an attempt status");

  // A process report whose init_ok is not a bool.
  ByeMsg b;
  b.report.processes.push_back(ProcessReport{});
  std::string bye_bytes;
  EncodeLinkMessage(b, &bye_bytes);
  std::string bye_payload = bye_bytes.substr(5);
  bye_payload[4 + 4 + 4 + 4 + 4 + 8 + 8] = 9;
  CHECK(Refusal(kLinkBye, bye_payload) == "BYE: init_ok at byte 36: 9 is not 0 or 1");
}

TEST_CASE("LinkCodec: greetings check magic, sizes and heartbeats", "[link_codec]") {
  auto hello_payload = [](const LinkFrame& f) {
    std::string bytes;
    EncodeLinkFrame(f, &bytes);
    return bytes.substr(5);
  };
  // Wrong magic.
  WireWriter w;
  w.Bytes("GET / HTTP/1.1");
  w.U32(1);
  CHECK(Refusal(kLinkMasterHello, w.data()) ==
        "MASTER_HELLO: magic at byte 0: not a parallelrun link peer");
  CHECK(Refusal(kLinkAgentHello, w.data()) ==
        "AGENT_HELLO: magic at byte 0: not a parallelrun link peer");
  // Nonce and proof sizes.
  CHECK(Refusal(kLinkMasterHello, hello_payload(MasterHelloFrame{kLinkProtocolVersion, 0, "short"})) ==
        "MASTER_HELLO: nonce at byte 32: 5 bytes, not 32");
  CHECK(Refusal(kLinkAgentHello, hello_payload(AgentHelloFrame{kLinkProtocolVersion, 0, 1, 1, "h",
                                                               std::string(32, 'n'), "p"})) ==
        "AGENT_HELLO: proof at byte 81: 1 bytes, not 32");
  // Heartbeat settings that cannot work.
  CHECK(Refusal(kLinkWelcome, hello_payload(WelcomeFrame{0, 0, 100, std::string(32, 'p')})) ==
        "WELCOME: heartbeat_ms at byte 8: heartbeat every 0 ms with a timeout of 100 ms");
  CHECK(Refusal(kLinkWelcome, hello_payload(WelcomeFrame{0, 100, 50, std::string(32, 'p')})) ==
        "WELCOME: heartbeat_ms at byte 8: heartbeat every 100 ms with a timeout of 50 ms");

  // Another version: only the version is read, whatever follows.
  WireWriter v2;
  v2.Bytes(kLinkMagic);
  v2.U32(1);
  v2.Bytes("a layout this version does not know");
  for (uint8_t type : {kLinkMasterHello, kLinkAgentHello}) {
    Frame f{type, v2.data()};
    LinkFrame out;
    std::string why;
    REQUIRE(DecodeLinkFrame(f, &out, &why));
    if (type == kLinkMasterHello) {
      CHECK(std::get<MasterHelloFrame>(out).version == 1);
      CHECK(std::get<MasterHelloFrame>(out).nonce.empty());
    } else {
      CHECK(std::get<AgentHelloFrame>(out).version == 1);
      CHECK(std::get<AgentHelloFrame>(out).proof.empty());
    }
  }
}

TEST_CASE("LinkCodec: LinkDecoder refuses bad frames and stays refused", "[link_codec]") {
  SECTION("length 0") {
    LinkDecoder d;
    d.Feed("\0\0\0\0", 4);
    LinkFrame f;
    std::string why;
    CHECK(d.Next(&f, &why) == LinkDecoder::Outcome::kMalformed);
    CHECK(why == "frame of length 0 (no type byte)");
  }
  SECTION("oversized length") {
    LinkDecoder d;
    std::string header = B({0xff, 0xff, 0xff, 0xff, 0x10});
    d.Feed(header.data(), header.size());
    LinkFrame f;
    std::string why;
    CHECK(d.Next(&f, &why) == LinkDecoder::Outcome::kMalformed);
    CHECK(why == "frame of 4294967295 bytes exceeds the maximum of 67108864");
    // Good bytes after do not revive it.
    std::string good;
    EncodeLinkMessage(DrainMsg{}, &good);
    d.Feed(good.data(), good.size());
    std::string again;
    CHECK(d.Next(&f, &again) == LinkDecoder::Outcome::kMalformed);
    CHECK(again == why);
  }
  SECTION("garbage that looks like HTTP") {
    LinkDecoder d;
    std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    d.Feed(http.data(), http.size());
    LinkFrame f;
    std::string why;
    CHECK(d.Next(&f, &why) == LinkDecoder::Outcome::kMalformed);
    CHECK(why == "frame of 542393671 bytes exceeds the maximum of 67108864");
  }
  SECTION("the greeting limit") {
    LinkDecoder d(kMaxGreetingFrame);
    std::string header = B({0, 0, 2, 0, 0x02});  // 128 KiB announced
    d.Feed(header.data(), header.size());
    LinkFrame f;
    std::string why;
    CHECK(d.Next(&f, &why) == LinkDecoder::Outcome::kNeedMore);
    std::string body(kMaxGreetingFrame, 'x');
    d.Feed(body.data(), body.size());
    CHECK(d.Next(&f, &why) == LinkDecoder::Outcome::kMalformed);
    CHECK(why == "frame larger than the limit of 65536 bytes");
  }
  SECTION("a complete frame over the limit") {
    LinkDecoder d(16);
    std::string bytes;
    EncodeLinkMessage(NodeFailedMsg{std::string(40, 'r')}, &bytes);
    d.Feed(bytes.data(), bytes.size());
    LinkFrame f;
    std::string why;
    CHECK(d.Next(&f, &why) == LinkDecoder::Outcome::kMalformed);
    CHECK(why == "frame of 45 bytes exceeds the limit of 16");
  }
  SECTION("raising the limit after the handshake") {
    LinkDecoder d(kMaxGreetingFrame);
    d.set_limit(kMaxLinkFrame);
    std::string bytes;
    MiniBatch batch;
    batch.items = {std::string(100000, 'i')};
    EncodeLinkMessage(LeaseMsg{batch, 1}, &bytes);
    d.Feed(bytes.data(), bytes.size());
    LinkFrame f;
    std::string why;
    CHECK(d.Next(&f, &why) == LinkDecoder::Outcome::kFrame);
  }
  SECTION("a malformed payload") {
    LinkDecoder d;
    std::string bytes = B({2, 0, 0, 0, 0x11, 0});  // PULL with 1 byte
    d.Feed(bytes.data(), bytes.size());
    LinkFrame f;
    std::string why;
    CHECK(d.Next(&f, &why) == LinkDecoder::Outcome::kMalformed);
    CHECK(why == "PULL: n at byte 0: payload ends after 1 of its 4 bytes");
  }
}

TEST_CASE("LinkCodec: proofs bind the secret, the nonce and the node", "[link_codec]") {
  std::string nonce(32, 'n'), other(32, 'o');
  std::string p = AgentProof("secret", nonce, 1);
  CHECK(p.size() == 32);
  CHECK(p == AgentProof("secret", nonce, 1));
  CHECK(p != AgentProof("secret", nonce, 2));
  CHECK(p != AgentProof("secret", other, 1));
  CHECK(p != AgentProof("Secret", nonce, 1));
  CHECK(p == HmacSha256("secret", nonce + B({1, 0, 0, 0})));
  std::string m = MasterProof("secret", nonce, other);
  CHECK(m == HmacSha256("secret", nonce + other));
  CHECK(m != MasterProof("secret", other, nonce));
}

}  // namespace
}  // namespace parallelrun
