// TcpLink over real sockets on 127.0.0.1: every message crosses; rude peers
// (wrong token, wrong version, truncated, oversized, garbage, disconnects)
// are refused and logged while a good agent on the same listener keeps
// working; silence is detected by heartbeats; agents retry with back-off and
// refuse an impostor master. No fixed sleeps: the loop runs until a
// condition holds or a deadline passes.
#include "link/tcp_link.h"

#include <sys/resource.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "base/hmac.h"
#include "link/link_codec.h"

namespace parallelrun {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

const std::string kSecret = "the job's secret";

// Runs `io` until `done()` holds or `limit` has passed; returns done().
bool RunUntil(asio::io_context& io, const std::function<bool()>& done, milliseconds limit = 5s) {
  auto deadline = steady_clock::now() + limit;
  while (!done()) {
    if (steady_clock::now() >= deadline) return false;
    io.restart();
    io.run_one_for(5ms);
  }
  return true;
}

// Connections in the kernel's accept queue of the listener on 127.0.0.1:`port`
// (its rx_queue in /proc/net/tcp), or -1 when it is not found.
int AcceptQueue(uint16_t port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::string local = fmt::format("0100007F:{:04X}", port);
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string sl, local_address, remote, state, queues;
    fields >> sl >> local_address >> remote >> state >> queues;
    if (local_address != local || state != "0A") continue;  // 0A: LISTEN
    return static_cast<int>(std::stoul(queues.substr(queues.find(':') + 1), nullptr, 16));
  }
  return -1;
}

// Runs `io` for `period` (to show that something does NOT happen).
void RunFor(asio::io_context& io, milliseconds period) {
  RunUntil(io, [] { return false; }, period);
}

std::string FrameBytes(const LinkFrame& frame) {
  std::string out;
  EncodeLinkFrame(frame, &out);
  return out;
}

std::string Bytes(const LinkMessage& message) {
  std::string out;
  EncodeLinkMessage(message, &out);
  return out;
}

std::string B(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

bool Contains(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// ---- the master side: a listener and the ends it accepted --------------------

struct MasterSide {
  MasterSide(asio::io_context& io, TcpLinkOptions options = {}) {
    TcpListener::Events events;
    events.accepted = [this](std::unique_ptr<TcpLinkEnd> end) {
      size_t index = ends.size();
      if (handle_messages) {
        end->SetHandler([this, index](LinkMessage&& m) { received.emplace_back(index, std::move(m)); });
      }
      ends.push_back(std::move(end));
    };
    events.lost = [this](const PeerInfo& peer, const std::string& reason) {
      lost.emplace_back(peer, reason);
    };
    events.log = [this](const std::string& line) { log.push_back(line); };
    auto l = TcpListener::Listen(io, "127.0.0.1", 0, kSecret, options, std::move(events));
    INFO((l.ok() ? "" : l.status().message()));
    REQUIRE(l.ok());
    listener = std::move(l.value());
  }

  // Messages received from end `index`.
  std::vector<LinkMessage> From(size_t index) const {
    std::vector<LinkMessage> out;
    for (const auto& [i, m] : received) {
      if (i == index) out.push_back(m);
    }
    return out;
  }

  bool handle_messages = true;
  std::vector<std::unique_ptr<TcpLinkEnd>> ends;
  std::vector<std::pair<size_t, LinkMessage>> received;
  std::vector<std::pair<PeerInfo, std::string>> lost;
  std::vector<std::string> log;
  std::unique_ptr<TcpListener> listener;
};

// ---- the agent side: a connector and the end it produced ---------------------

struct AgentSide {
  void Connect(asio::io_context& io, uint16_t port, const std::string& secret = kSecret,
               uint32_t node = 1, TcpConnector::Options options = QuickOptions()) {
    TcpConnector::Events events;
    events.done = [this](Result<std::unique_ptr<TcpLinkEnd>> r) {
      if (!r.ok()) {
        failed = r.status();
        return;
      }
      end = std::move(r.value());
      end->SetHandler([this](LinkMessage&& m) { received.push_back(std::move(m)); });
    };
    events.lost = [this](const std::string& reason, bool by_tls) {
      lost.push_back(reason);
      lost_by_tls.push_back(by_tls);
    };
    events.log = [this](const std::string& line) { log.push_back(line); };
    connector = std::make_unique<TcpConnector>(io, "127.0.0.1", port, secret,
                                               TcpConnector::Identity{node, 4, "agent-host"},
                                               options, std::move(events));
    connector->Start();
  }

  static TcpConnector::Options QuickOptions() {
    TcpConnector::Options o;
    o.retry_for = 3s;
    o.initial_backoff = 20ms;
    o.max_backoff = 200ms;
    return o;
  }

  bool settled() const { return end != nullptr || failed.has_value(); }

  std::unique_ptr<TcpConnector> connector;
  std::unique_ptr<TcpLinkEnd> end;
  std::optional<Status> failed;
  std::vector<LinkMessage> received;
  std::vector<std::string> lost;
  std::vector<bool> lost_by_tls;
  std::vector<std::string> log;
};

// ---- a rude peer: raw bytes on a socket -----------------------------------------

class RawPeer {
 public:
  RawPeer(asio::io_context& io, uint16_t port) : socket_(io) {
    boost::system::error_code ec;
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    REQUIRE(!ec);
    address_ = fmt::format("127.0.0.1:{}", socket_.local_endpoint(ec).port());
    Read();
  }

  const std::string& address() const { return address_; }

  void Write(const std::string& bytes) {
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(bytes), ec);
    REQUIRE(!ec);
  }
  void ShutdownSend() {
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
  }
  // Closes with a reset rather than a FIN.
  void Reset() {
    boost::system::error_code ec;
    socket_.set_option(asio::socket_base::linger(true, 0), ec);
    socket_.close(ec);
  }

  // What the master sent, decoded; stops at the first malformed frame.
  std::vector<LinkFrame> Frames() const {
    LinkDecoder d;
    d.Feed(received_.data(), received_.size());
    std::vector<LinkFrame> out;
    for (;;) {
      LinkFrame f;
      std::string why;
      if (d.Next(&f, &why) != LinkDecoder::Outcome::kFrame) break;
      out.push_back(std::move(f));
    }
    return out;
  }
  // The reason of the ERROR frame received, or "".
  std::string Error() const {
    for (const auto& f : Frames()) {
      if (auto* e = std::get_if<ErrorFrame>(&f)) return e->reason;
    }
    return "";
  }
  bool eof() const { return eof_; }

  // Reads MASTER_HELLO and answers with an AGENT_HELLO made with `secret`.
  void Greet(asio::io_context& io, const std::string& secret, uint32_t node,
             uint32_t version = kLinkProtocolVersion) {
    REQUIRE(RunUntil(io, [&] { return !Frames().empty(); }));
    std::vector<LinkFrame> frames = Frames();
    auto* hello = std::get_if<MasterHelloFrame>(&frames[0]);
    REQUIRE(hello);
    REQUIRE(hello->nonce.size() == kLinkNonceSize);
    Write(FrameBytes(AgentHelloFrame{version, 0, node, 1, "rude-host", std::string(32, 'a'),
                                AgentProof(secret, hello->nonce, node)}));
  }
  // Greets with the right secret and waits for WELCOME.
  void Authenticate(asio::io_context& io, uint32_t node) {
    Greet(io, kSecret, node);
    REQUIRE(RunUntil(io, [&] { return Frames().size() >= 2; }));
    REQUIRE(std::holds_alternative<WelcomeFrame>(Frames()[1]));
  }

 private:
  void Read() {
    socket_.async_read_some(asio::buffer(buf_), [this](const boost::system::error_code& ec, size_t n) {
      if (ec) {
        eof_ = true;
        return;
      }
      received_.append(buf_, n);
      Read();
    });
  }

  tcp::socket socket_;
  std::string address_;
  char buf_[65536];
  std::string received_;
  bool eof_ = false;
};

// The good agent still talks both ways: a PULL reaches the master and a
// LEASE comes back.
void CheckStillWorks(asio::io_context& io, MasterSide& master, size_t index, AgentSide& agent) {
  static uint32_t n = 1000;
  n++;
  agent.end->Send(PullMsg{n});
  REQUIRE(RunUntil(io, [&] {
    for (const auto& m : master.From(index)) {
      if (auto* p = std::get_if<PullMsg>(&m); p && p->n == n) return true;
    }
    return false;
  }));
  MiniBatch batch;
  batch.id = n;
  master.ends[index]->Send(LeaseMsg{batch, 1});
  REQUIRE(RunUntil(io, [&] {
    for (const auto& m : agent.received) {
      if (auto* l = std::get_if<LeaseMsg>(&m); l && l->batch->id == n) return true;
    }
    return false;
  }));
  CHECK(agent.lost.empty());
  CHECK(agent.end->open());
}

// ---- tests ---------------------------------------------------------------------

TEST_CASE("TcpLink: every message crosses in its direction, byte-exact", "[tcp_link]") {
  asio::io_context io;
  MasterSide master(io);
  AgentSide agent;
  agent.Connect(io, master.listener->port(), kSecret, 3);
  REQUIRE(RunUntil(io, [&] { return agent.settled() && master.ends.size() == 1; }));
  REQUIRE(agent.end);

  const PeerInfo& peer = master.ends[0]->peer();
  CHECK(peer.node == 3);
  CHECK(peer.slots == 4);
  CHECK(peer.host == "agent-host");
  CHECK(peer.id == 1);
  CHECK(peer.address.rfind("127.0.0.1:", 0) == 0);
  CHECK(Contains(master.log, "agent of node 3 on agent-host joined from " + peer.address +
                                 " with 4 slots"));
  CHECK(Contains(master.log, fmt::format("listening on 127.0.0.1:{} for agents",
                                         master.listener->port())));

  const std::string nasty = std::string("caf\xe9 \xff\0\n", 8);
  AttemptResult r;
  r.id = 77;
  r.attempt = 2;
  r.status = AttemptStatus::kRunException;
  r.total = 5;
  r.returned = 9;
  r.start_time = 1.25;
  r.elapsed_seconds = 2.5;
  r.process_seconds = 0.75;
  r.run_seconds = 0.5;
  r.node = 3;
  r.process = "process001";
  r.error_category = "ValueError";
  r.error_message = nasty;
  r.traceback = std::string(200000, 't');
  ByeMsg bye;
  bye.report.node = 3;
  bye.report.host = "agent-host";
  bye.report.processes.push_back(ProcessReport{"process000", 42, 1, 2, true, 0.5, "exit code 0"});
  const std::vector<LinkMessage> up = {HelloMsg{3, 4, "agent-host"}, PullMsg{4},
                                       ResultMsg{r}, GiveBackMsg{78, 1},
                                       NodeFailedMsg{"init() failed: " + nasty},
                                       InitFailedMsg{"process001", nasty}, bye,
                                       StandbyOfferMsg{"127.0.0.1", 29500}};
  MiniBatch batch;
  batch.id = 9;
  batch.input = 1;
  batch.items = {"a", nasty, "/x/\x80\x81", ""};
  const std::vector<LinkMessage> down = {LeaseMsg{batch, 2}, DrainMsg{}, StopMsg{true, nasty},
                                         StandbyMsg{true, 1, "127.0.0.1", 29501},
                                         JournalCopyMsg{8, nasty},
                                         PartCopyMsg{9, 2, nasty, true}};

  for (const auto& m : up) agent.end->Send(m);
  for (const auto& m : down) master.ends[0]->Send(m);
  REQUIRE(RunUntil(io, [&] {
    return master.received.size() == up.size() && agent.received.size() == down.size();
  }));
  for (size_t i = 0; i < up.size(); i++) CHECK(Bytes(master.received[i].second) == Bytes(up[i]));
  for (size_t i = 0; i < down.size(); i++) CHECK(Bytes(agent.received[i]) == Bytes(down[i]));
  CHECK(master.lost.empty());
  CHECK(agent.lost.empty());
}

TEST_CASE("TcpLink: many messages in one turn arrive in order, large ones whole", "[tcp_link]") {
  asio::io_context io;
  MasterSide master(io);
  AgentSide agent;
  agent.Connect(io, master.listener->port());
  REQUIRE(RunUntil(io, [&] { return agent.end && master.ends.size() == 1; }));

  constexpr uint32_t kCount = 20000;
  for (uint32_t i = 0; i < kCount; i++) agent.end->Send(PullMsg{i});
  MiniBatch big;
  big.id = 1;
  for (int i = 0; i < 50000; i++) big.items.push_back(fmt::format("/data/\xff{}\x80.bin", i));
  master.ends[0]->Send(LeaseMsg{big, 1});
  REQUIRE(RunUntil(io, [&] { return master.received.size() == kCount && !agent.received.empty(); },
                   20s));
  for (uint32_t i = 0; i < kCount; i++) {
    auto* p = std::get_if<PullMsg>(&master.received[i].second);
    REQUIRE(p);
    REQUIRE(p->n == i);
  }
  CHECK(Bytes(agent.received[0]) == Bytes(LeaseMsg{big, 1}));
}

TEST_CASE("TcpLink: rude peers are refused and logged while a good agent keeps working",
          "[tcp_link]") {
  asio::io_context io;
  MasterSide master(io);
  AgentSide agent;
  agent.Connect(io, master.listener->port(), kSecret, 1);
  REQUIRE(RunUntil(io, [&] { return agent.end && master.ends.size() == 1; }));
  CheckStillWorks(io, master, 0, agent);
  const uint16_t port = master.listener->port();

  // Refused during the handshake: the peer gets ERROR `to_peer` (if any)
  // then EOF; the master logs `line`; no link is handed out.
  auto refused = [&](RawPeer& raw, const std::string& to_peer, const std::string& line) {
    INFO(Join(master.log));
    REQUIRE(RunUntil(io, [&] { return raw.eof() && Contains(master.log, line); }));
    CHECK(raw.Error() == to_peer);
    CHECK(master.ends.size() == 1);
    CHECK(master.lost.empty());
    CheckStillWorks(io, master, 0, agent);
  };

  SECTION("wrong token") {
    RawPeer raw(io, port);
    raw.Greet(io, "not the secret", 5);
    refused(raw, "authentication failed",
            "refused " + raw.address() + ": authentication failed (claims node 5)");
  }
  SECTION("right token, proof made for another node") {
    RawPeer raw(io, port);
    REQUIRE(RunUntil(io, [&] { return !raw.Frames().empty(); }));
    auto nonce = std::get<MasterHelloFrame>(raw.Frames()[0]).nonce;
    raw.Write(FrameBytes(AgentHelloFrame{kLinkProtocolVersion, 0, 2, 1, "h", std::string(32, 'a'),
                                    AgentProof(kSecret, nonce, 1)}));
    refused(raw, "authentication failed",
            "refused " + raw.address() + ": authentication failed (claims node 2)");
  }
  SECTION("wrong version") {
    RawPeer raw(io, port);
    raw.Greet(io, kSecret, 5, 99);
    refused(raw, "protocol version 99 is not supported (this side speaks 2)",
            "refused " + raw.address() +
                ": protocol version 99 is not supported (this side speaks 2)");
  }
  SECTION("truncated greeting, then close") {
    RawPeer raw(io, port);
    REQUIRE(RunUntil(io, [&] { return !raw.Frames().empty(); }));
    raw.Write(FrameBytes(AgentHelloFrame{kLinkProtocolVersion, 0, 5, 1, "h", std::string(32, 'a'), std::string(32, 'p')})
                  .substr(0, 10));
    raw.ShutdownSend();
    refused(raw, "",
            "refused " + raw.address() +
                ": the agent closed the connection inside a frame (10 bytes of it received) "
                "during the handshake");
  }
  SECTION("oversized length") {
    RawPeer raw(io, port);
    raw.Write(B({0xff, 0xff, 0xff, 0xff, 0x02}));
    refused(raw, "malformed frame: frame of 4294967295 bytes exceeds the maximum of 67108864",
            "refused " + raw.address() +
                ": malformed frame: frame of 4294967295 bytes exceeds the maximum of 67108864");
  }
  SECTION("a greeting larger than a stranger may send") {
    RawPeer raw(io, port);
    raw.Write(B({0, 0, 0x10, 0, 0x02}) + std::string(70000, 'x'));  // 1 MiB announced
    refused(raw, "malformed frame: frame larger than the limit of 65536 bytes",
            "refused " + raw.address() +
                ": malformed frame: frame larger than the limit of 65536 bytes");
  }
  SECTION("garbage: an HTTP request") {
    RawPeer raw(io, port);
    raw.Write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    refused(raw, "malformed frame: frame of 542393671 bytes exceeds the maximum of 67108864",
            "refused " + raw.address() +
                ": malformed frame: frame of 542393671 bytes exceeds the maximum of 67108864");
  }
  SECTION("garbage: an unknown frame type") {
    RawPeer raw(io, port);
    raw.Write(B({3, 0, 0, 0, 0x42, 1, 2}));
    refused(raw, "malformed frame: unknown frame type 0x42",
            "refused " + raw.address() + ": malformed frame: unknown frame type 0x42");
  }
  SECTION("garbage: a greeting with the wrong magic") {
    RawPeer raw(io, port);
    WireWriter w;
    w.Bytes("SSH-2.0-OpenSSH");
    w.U32(1);
    std::string frame;
    AppendFrame(kLinkAgentHello, w.data(), &frame);
    raw.Write(frame);
    refused(raw, "malformed frame: AGENT_HELLO: magic at byte 0: not a parallelrun link peer",
            "refused " + raw.address() +
                ": malformed frame: AGENT_HELLO: magic at byte 0: not a parallelrun link peer");
  }
  SECTION("a message before the handshake") {
    RawPeer raw(io, port);
    raw.Write(Bytes(PullMsg{1}));
    refused(raw, "expected AGENT_HELLO first, got PULL",
            "refused " + raw.address() + ": expected AGENT_HELLO first, got PULL");
  }
  SECTION("connect and close at once") {
    RawPeer raw(io, port);
    raw.ShutdownSend();
    refused(raw, "", "refused " + raw.address() +
                         ": the agent closed the connection during the handshake");
  }

  // Authenticated peers that misbehave later: `lost` reports them.
  auto lost = [&](RawPeer& raw, const std::string& to_peer, const std::string& reason) {
    INFO(Join(master.log));
    REQUIRE(RunUntil(io, [&] { return master.lost.size() == 1; }));
    CHECK(master.lost[0].second == reason);
    CHECK(master.lost[0].first.node == 6);
    CHECK(master.lost[0].first.address == raw.address());
    CHECK(Contains(master.log, "lost the agent of node 6 (" + raw.address() + "): " + reason));
    REQUIRE(RunUntil(io, [&] { return raw.eof(); }));
    CHECK(raw.Error() == to_peer);
    CHECK_FALSE(master.ends[1]->open());
    CheckStillWorks(io, master, 0, agent);
  };

  SECTION("disconnect mid-stream") {
    RawPeer raw(io, port);
    raw.Authenticate(io, 6);
    REQUIRE(RunUntil(io, [&] { return master.ends.size() == 2; }));
    raw.Write(Bytes(HelloMsg{6, 1, "rude-host"}) + Bytes(PullMsg{3}).substr(0, 5));
    raw.ShutdownSend();
    lost(raw, "", "the agent closed the connection inside a frame (5 bytes of it received)");
    // What arrived whole before the break was delivered.
    REQUIRE(master.From(1).size() == 1);
    CHECK(Bytes(master.From(1)[0]) == Bytes(HelloMsg{6, 1, "rude-host"}));
  }
  SECTION("connection reset") {
    RawPeer raw(io, port);
    raw.Authenticate(io, 6);
    REQUIRE(RunUntil(io, [&] { return master.ends.size() == 2; }));
    raw.Reset();
    INFO(Join(master.log));
    REQUIRE(RunUntil(io, [&] { return master.lost.size() == 1; }));
    CHECK(master.lost[0].second == "connection error: Connection reset by peer");
    CheckStillWorks(io, master, 0, agent);
  }
  SECTION("oversized frame after the handshake") {
    RawPeer raw(io, port);
    raw.Authenticate(io, 6);
    REQUIRE(RunUntil(io, [&] { return master.ends.size() == 2; }));
    raw.Write(B({0, 0, 0, 0x05, 0x13}));  // 80 MiB
    lost(raw, "malformed frame: frame of 83886080 bytes exceeds the maximum of 67108864",
         "malformed frame: frame of 83886080 bytes exceeds the maximum of 67108864");
  }
  SECTION("a malformed message") {
    RawPeer raw(io, port);
    raw.Authenticate(io, 6);
    REQUIRE(RunUntil(io, [&] { return master.ends.size() == 2; }));
    raw.Write(B({7, 0, 0, 0, 0x11, 1, 0, 0, 0, 0, 0}));  // PULL with 2 bytes too many
    lost(raw, "malformed frame: PULL: 2 bytes left over after the last field (at byte 4)",
         "malformed frame: PULL: 2 bytes left over after the last field (at byte 4)");
  }
  SECTION("a message in the wrong direction") {
    RawPeer raw(io, port);
    raw.Authenticate(io, 6);
    REQUIRE(RunUntil(io, [&] { return master.ends.size() == 2; }));
    raw.Write(Bytes(LeaseMsg{}));
    lost(raw, "unexpected LEASE from the agent", "unexpected LEASE from the agent");
  }
  SECTION("a second greeting") {
    RawPeer raw(io, port);
    raw.Authenticate(io, 6);
    REQUIRE(RunUntil(io, [&] { return master.ends.size() == 2; }));
    raw.Write(FrameBytes(AgentHelloFrame{kLinkProtocolVersion, 0, 6, 1, "h", std::string(32, 'a'), std::string(32, 'p')}));
    lost(raw, "unexpected AGENT_HELLO after the handshake",
         "unexpected AGENT_HELLO after the handshake");
  }
  SECTION("an ERROR from the agent") {
    RawPeer raw(io, port);
    raw.Authenticate(io, 6);
    REQUIRE(RunUntil(io, [&] { return master.ends.size() == 2; }));
    raw.Write(FrameBytes(ErrorFrame{"out of memory"}));
    raw.ShutdownSend();
    lost(raw, "", "the agent reported an error: out of memory");
  }
}

TEST_CASE("TcpLink: a peer that never greets is refused after the handshake timeout",
          "[tcp_link]") {
  asio::io_context io;
  TcpLinkOptions options;
  options.handshake_timeout = 100ms;
  MasterSide master(io, options);
  RawPeer raw(io, master.listener->port());
  auto start = steady_clock::now();
  std::string line = "refused " + raw.address() + ": no handshake within 100 ms";
  REQUIRE(RunUntil(io, [&] { return raw.eof() && Contains(master.log, line); }));
  CHECK(steady_clock::now() - start >= 100ms);
  CHECK(raw.Error() == "handshake timeout");
}

TEST_CASE("TcpLink: when max_handshaking are young, new connections wait instead of evicting "
          "them; the oldest makes room after evict_after",
          "[tcp_link]") {
  asio::io_context io;
  TcpLinkOptions options;
  options.max_handshaking = 2;
  options.evict_after = 300ms;
  MasterSide master(io, options);
  uint16_t port = master.listener->port();
  auto start = steady_clock::now();
  RawPeer first(io, port), second(io, port);
  REQUIRE(RunUntil(io, [&] { return !first.Frames().empty() && !second.Frames().empty(); }));
  // A third waits in the backlog: nobody is closed for it (10,000 agents
  // joining at once evicted each other for seconds), and it gets no greeting.
  RawPeer third(io, port);
  RunFor(io, 150ms);
  CHECK(!first.eof());
  CHECK(third.Frames().empty());
  // A handshake that finishes makes room at once.
  second.Authenticate(io, 2);
  REQUIRE(RunUntil(io, [&] { return !third.Frames().empty(); }));
  CHECK(!first.eof());
  // Full again: the next one waits until the oldest has had evict_after.
  RawPeer fourth(io, port);
  REQUIRE(RunUntil(io, [&] { return first.eof() && !fourth.Frames().empty(); }));
  CHECK(steady_clock::now() - start >= 300ms);
  CHECK(!third.eof());
  CHECK(Contains(master.log, "closed " + first.address() +
                                 ": more than 2 connections without a finished handshake; the "
                                 "oldest makes room"));
  fourth.Authenticate(io, 4);
  CHECK(master.ends.size() == 2);
}

TEST_CASE("TcpLink: when agents' handshakes take long, the oldest keeps its place for twice "
          "as long before it is evicted",
          "[tcp_link]") {
  asio::io_context io;
  TcpLinkOptions options;
  options.max_handshaking = 1;
  options.evict_after = 50ms;
  MasterSide master(io, options);
  uint16_t port = master.listener->port();
  // An agent that answers its greeting after 400 ms: a busy loop, not a
  // stranger, since it proves the secret.
  RawPeer slow(io, port);
  REQUIRE(RunUntil(io, [&] { return !slow.Frames().empty(); }));
  RunFor(io, 400ms);
  slow.Authenticate(io, 1);
  REQUIRE(RunUntil(io, [&] { return master.ends.size() == 1; }));
  // The next one is not evicted after 50 ms for a newcomer, but after
  // twice the 400 ms the agents' handshakes took.
  RawPeer next(io, port);
  REQUIRE(RunUntil(io, [&] { return !next.Frames().empty(); }));
  auto greeted = steady_clock::now();
  RawPeer newcomer(io, port);
  RunFor(io, 300ms);
  CHECK(!next.eof());
  CHECK(newcomer.Frames().empty());
  REQUIRE(RunUntil(io, [&] { return next.eof() && !newcomer.Frames().empty(); }));
  CHECK(steady_clock::now() - greeted >= 800ms);
}

TEST_CASE("TcpLink: the listener empties the kernel's accept queue up to max_waiting and "
          "greets the waiting connections in the order they came",
          "[tcp_link]") {
  asio::io_context io;
  TcpLinkOptions options;
  options.max_handshaking = 2;
  options.max_waiting = 5;
  options.evict_after = std::chrono::hours(1);  // nobody is evicted here
  MasterSide master(io, options);
  uint16_t port = master.listener->port();
  REQUIRE(AcceptQueue(port) == 0);
  std::vector<std::unique_ptr<RawPeer>> peers;
  for (int i = 0; i < 20; i++) peers.push_back(std::make_unique<RawPeer>(io, port));
  auto greeted = [&] {
    std::vector<size_t> out;
    for (size_t i = 0; i < peers.size(); i++) {
      if (!peers[i]->Frames().empty()) out.push_back(i);
    }
    return out;
  };
  // 2 in their handshake, 5 accepted and waiting, 13 left to the kernel
  // (taking one connection per turn of the loop left the kernel's queue to
  // overflow when 10,000 agents joined at once).
  REQUIRE(RunUntil(io, [&] { return AcceptQueue(port) == 13 && greeted().size() == 2; }));
  RunFor(io, 100ms);
  CHECK(AcceptQueue(port) == 13);
  CHECK(greeted() == std::vector<size_t>{0, 1});
  // Each finished handshake greets the next waiting one, and one more
  // connection leaves the kernel's queue for the waiting list.
  peers[0]->Authenticate(io, 1);
  peers[1]->Authenticate(io, 2);
  REQUIRE(RunUntil(io, [&] { return AcceptQueue(port) == 11 && greeted().size() == 4; }));
  CHECK(greeted() == std::vector<size_t>{0, 1, 2, 3});
  CHECK(master.ends.size() == 2);
  for (uint32_t i = 2; i < 20; i++) {
    REQUIRE(RunUntil(io, [&] { return !peers[i]->Frames().empty(); }));
    peers[i]->Authenticate(io, i + 1);
  }
  REQUIRE(RunUntil(io, [&] { return master.ends.size() == 20; }));
  CHECK(AcceptQueue(port) == 0);
}

TEST_CASE("TcpLink: strangers' waiting connections take at most a quarter of the descriptor "
          "limit",
          "[tcp_link]") {
  // The limit as the listener is made: 400 descriptors, so 100 may wait.
  struct rlimit before;
  REQUIRE(getrlimit(RLIMIT_NOFILE, &before) == 0);
  if (before.rlim_max != RLIM_INFINITY && before.rlim_max < 400) {
    WARN("SKIPPED: the hard descriptor limit here is below 400");
    return;
  }
  asio::io_context io;
  TcpLinkOptions options;
  options.max_handshaking = 2;
  options.evict_after = std::chrono::hours(1);  // nobody is evicted here
  REQUIRE(options.max_waiting > 100);
  struct rlimit low = before;
  low.rlim_cur = 400;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
  MasterSide master(io, options);
  REQUIRE(setrlimit(RLIMIT_NOFILE, &before) == 0);
  uint16_t port = master.listener->port();
  std::vector<std::unique_ptr<RawPeer>> strangers;
  for (int i = 0; i < 150; i++) strangers.push_back(std::make_unique<RawPeer>(io, port));
  // 2 in their handshake and 100 accepted; the other 48 stay in the
  // kernel's queue, holding none of this process's descriptors.
  REQUIRE(RunUntil(io, [&] { return AcceptQueue(port) == 48; }));
  RunFor(io, 100ms);
  CHECK(AcceptQueue(port) == 48);
}

TEST_CASE("TcpLink: a silent agent is lost after the heartbeat timeout, a live one is not",
          "[tcp_link]") {
  asio::io_context io;
  TcpLinkOptions options;
  options.heartbeat_interval = 20ms;
  options.heartbeat_timeout = 200ms;
  MasterSide master(io, options);
  AgentSide agent;
  agent.Connect(io, master.listener->port());
  REQUIRE(RunUntil(io, [&] { return agent.end && master.ends.size() == 1; }));

  RawPeer raw(io, master.listener->port());
  raw.Authenticate(io, 6);  // and then says nothing, not even HEARTBEAT
  auto silent_since = steady_clock::now();
  // The WELCOME told the peer the interval and the timeout.
  WelcomeFrame welcome = std::get<WelcomeFrame>(raw.Frames()[1]);
  CHECK(welcome.heartbeat_ms == 20);
  CHECK(welcome.heartbeat_timeout_ms == 200);

  REQUIRE(RunUntil(io, [&] { return master.lost.size() == 1; }));
  CHECK(steady_clock::now() - silent_since >= 150ms);
  CHECK(master.lost[0].first.node == 6);
  CHECK(master.lost[0].second == "nothing received from the agent for 200 ms (heartbeat timeout)");
  REQUIRE(RunUntil(io, [&] { return raw.eof(); }));
  CHECK(raw.Error() == "heartbeat timeout");
  // The master sent heartbeats to the silent peer meanwhile.
  size_t heartbeats = 0;
  for (const auto& f : raw.Frames()) heartbeats += std::holds_alternative<HeartbeatFrame>(f);
  CHECK(heartbeats >= 3);

  // Three timeouts later the good agent, which heartbeats, is still there.
  RunFor(io, 600ms);
  CHECK(master.lost.size() == 1);
  CHECK(agent.lost.empty());
  CheckStillWorks(io, master, 0, agent);
}

// ---- a fake master, to test the agent side against ----------------------------

class FakeMaster {
 public:
  explicit FakeMaster(asio::io_context& io) : acceptor_(io), socket_(io) {
    tcp::endpoint e(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(e.protocol());
    acceptor_.bind(e);
    acceptor_.listen();
    acceptor_.async_accept(socket_, [this](const boost::system::error_code& ec) {
      if (ec) return;
      accepted_ = true;
      Read();
    });
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  // Greets (with `version`), reads AGENT_HELLO, answers WELCOME with a proof
  // made with `secret`.
  void Handshake(asio::io_context& io, const std::string& secret, uint32_t version = kLinkProtocolVersion) {
    REQUIRE(RunUntil(io, [&] { return accepted_; }));
    std::string nonce(32, 'm');
    Write(FrameBytes(MasterHelloFrame{version, 0, nonce}));
    if (version != kLinkProtocolVersion) return;
    REQUIRE(RunUntil(io, [&] { return !Frames().empty(); }));
    std::vector<LinkFrame> frames = Frames();
    auto* hello = std::get_if<AgentHelloFrame>(&frames[0]);
    REQUIRE(hello);
    CHECK(ConstantTimeEqual(hello->proof, AgentProof(kSecret, nonce, hello->node)));
    Write(FrameBytes(WelcomeFrame{0, 20, 200, MasterProof(secret, hello->nonce, nonce)}));
  }
  void Write(const std::string& bytes) {
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(bytes), ec);
  }
  std::vector<LinkFrame> Frames() const {
    LinkDecoder d;
    d.Feed(received_.data(), received_.size());
    std::vector<LinkFrame> out;
    LinkFrame f;
    std::string why;
    while (d.Next(&f, &why) == LinkDecoder::Outcome::kFrame) out.push_back(f);
    return out;
  }
  std::string Error() const {
    for (const auto& f : Frames()) {
      if (auto* e = std::get_if<ErrorFrame>(&f)) return e->reason;
    }
    return "";
  }

 private:
  void Read() {
    socket_.async_read_some(asio::buffer(buf_), [this](const boost::system::error_code& ec, size_t n) {
      if (ec) return;
      received_.append(buf_, n);
      Read();
    });
  }
  tcp::acceptor acceptor_;
  tcp::socket socket_;
  bool accepted_ = false;
  char buf_[65536];
  std::string received_;
};

TEST_CASE("TcpLink: an agent notices a silent master", "[tcp_link]") {
  asio::io_context io;
  FakeMaster master(io);
  AgentSide agent;
  agent.Connect(io, master.port());
  master.Handshake(io, kSecret);  // WELCOME: heartbeat 20 ms, timeout 200 ms; then silence
  REQUIRE(RunUntil(io, [&] { return agent.settled(); }));
  REQUIRE(agent.end);
  auto since = steady_clock::now();
  REQUIRE(RunUntil(io, [&] { return !agent.lost.empty(); }));
  CHECK(steady_clock::now() - since >= 150ms);
  CHECK(agent.lost[0] == "nothing received from the master for 200 ms (heartbeat timeout)");
  CHECK_FALSE(agent.lost_by_tls[0]);  // a master that went silent may be gone: failover
  CHECK(Contains(agent.log, fmt::format("lost the master at 127.0.0.1:{}: nothing received from "
                                        "the master for 200 ms (heartbeat timeout)",
                                        master.port())));
  CHECK_FALSE(agent.end->open());
  // The agent used the master's interval: it sent heartbeats meanwhile.
  size_t heartbeats = 0;
  for (const auto& f : master.Frames()) heartbeats += std::holds_alternative<HeartbeatFrame>(f);
  CHECK(heartbeats >= 3);
}

TEST_CASE("TcpLink: an agent refuses a master that cannot prove the secret", "[tcp_link]") {
  asio::io_context io;
  FakeMaster master(io);
  AgentSide agent;
  agent.Connect(io, master.port());
  master.Handshake(io, "another job's secret");
  REQUIRE(RunUntil(io, [&] { return agent.settled(); }));
  REQUIRE(agent.failed);
  CHECK(agent.failed->code() == Status::Code::kUsage);
  CHECK(agent.failed->message() ==
        fmt::format("the master at 127.0.0.1:{} did not prove it knows the job secret (is it "
                    "another job's master?)", master.port()));
  REQUIRE(RunUntil(io, [&] { return !master.Error().empty(); }));
  CHECK(master.Error() == "authentication failed");
}

TEST_CASE("TcpLink: an agent refuses a master of another protocol version", "[tcp_link]") {
  asio::io_context io;
  FakeMaster master(io);
  AgentSide agent;
  agent.Connect(io, master.port());
  master.Handshake(io, kSecret, 7);
  REQUIRE(RunUntil(io, [&] { return agent.settled(); }));
  REQUIRE(agent.failed);
  CHECK(agent.failed->message() ==
        fmt::format("the master at 127.0.0.1:{} speaks protocol version 7; this agent speaks 2",
                    master.port()));
  REQUIRE(RunUntil(io, [&] { return !master.Error().empty(); }));
  CHECK(master.Error() == "protocol version 7 is not supported (this side speaks 2)");
}

TEST_CASE("TcpLink: an agent with the wrong secret is told so and does not retry",
          "[tcp_link]") {
  asio::io_context io;
  MasterSide master(io);
  AgentSide agent;
  agent.Connect(io, master.listener->port(), "wrong", 2);
  REQUIRE(RunUntil(io, [&] { return agent.settled(); }));
  REQUIRE(agent.failed);
  CHECK(agent.failed->code() == Status::Code::kUsage);
  CHECK(agent.failed->message() ==
        fmt::format("the master at 127.0.0.1:{} refused this agent: authentication failed",
                    master.listener->port()));
  REQUIRE(RunUntil(io, [&] {
    return std::any_of(master.log.begin(), master.log.end(), [](const std::string& l) {
      return l.find(": authentication failed (claims node 2)") != std::string::npos;
    });
  }));
  CHECK(master.ends.empty());
}

uint16_t FreePort(asio::io_context& io) {
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

TEST_CASE("TcpLink: an agent retries with back-off, then fails naming the address",
          "[tcp_link]") {
  asio::io_context io;
  uint16_t port = FreePort(io);  // nothing listens there
  AgentSide agent;
  TcpConnector::Options options = AgentSide::QuickOptions();
  options.retry_for = 400ms;
  options.initial_backoff = 20ms;
  options.max_backoff = 100ms;
  auto start = steady_clock::now();
  agent.Connect(io, port, kSecret, 1, options);
  REQUIRE(RunUntil(io, [&] { return agent.settled(); }));
  auto took = steady_clock::now() - start;
  REQUIRE(agent.failed);
  CHECK(agent.failed->code() == Status::Code::kInfrastructure);
  std::string prefix = fmt::format("cannot reach the master at 127.0.0.1:{}: Connection refused "
                                   "(tried ", port);
  CHECK(agent.failed->message().rfind(prefix, 0) == 0);
  INFO(agent.failed->message());
  CHECK(took >= 250ms);  // it kept trying for about retry_for
  CHECK(took < 2s);
  // Each retry is logged, with the wait doubling up to max_backoff.
  CHECK(agent.log.size() >= 3);
  CHECK(agent.log[0].rfind(fmt::format("the master at 127.0.0.1:{} is not reachable yet "
                                       "(Connection refused); attempt 2 in 0.0",
                                       port), 0) == 0);
}

TEST_CASE("TcpLink: an agent started before its master joins when the master comes up",
          "[tcp_link]") {
  asio::io_context io;
  uint16_t port = FreePort(io);
  AgentSide agent;
  agent.Connect(io, port, kSecret, 4);
  REQUIRE(RunUntil(io, [&] { return agent.log.size() >= 2; }));
  CHECK_FALSE(agent.settled());

  std::vector<std::unique_ptr<TcpLinkEnd>> ends;
  TcpListener::Events events;
  events.accepted = [&](std::unique_ptr<TcpLinkEnd> e) { ends.push_back(std::move(e)); };
  auto listener = TcpListener::Listen(io, "127.0.0.1", port, kSecret, {}, events);
  REQUIRE(listener.ok());
  REQUIRE(RunUntil(io, [&] { return agent.settled() && ends.size() == 1; }));
  REQUIRE(agent.end);
  CHECK(ends[0]->peer().node == 4);
  CHECK(Contains(agent.log, fmt::format("connected to the master at 127.0.0.1:{} (127.0.0.1:{}) "
                                        "as node 4", port, port)));
}

TEST_CASE("TcpLink: closing an end is orderly and seen by the peer", "[tcp_link]") {
  asio::io_context io;
  MasterSide master(io);
  AgentSide agent;
  agent.Connect(io, master.listener->port(), kSecret, 2);
  REQUIRE(RunUntil(io, [&] { return agent.end && master.ends.size() == 1; }));

  SECTION("the agent says Bye and closes") {
    ByeMsg bye;
    bye.report.node = 2;
    agent.end->Send(bye);
    agent.end.reset();  // Close(): BYE, then GOODBYE, then the socket
    REQUIRE(RunUntil(io, [&] { return master.lost.size() == 1; }));
    // The Bye arrived before the end was reported.
    REQUIRE(master.received.size() == 1);
    CHECK(std::holds_alternative<ByeMsg>(master.received[0].second));
    CHECK(master.lost[0].second == "the agent closed the link");
    CHECK(agent.lost.empty());  // the closing side hears nothing
  }
  SECTION("the master closes") {
    master.ends[0]->Send(DrainMsg{});
    master.ends[0]->Close();
    REQUIRE(RunUntil(io, [&] { return agent.lost.size() == 1; }));
    REQUIRE(agent.received.size() == 1);
    CHECK(std::holds_alternative<DrainMsg>(agent.received[0]));
    CHECK_FALSE(agent.lost_by_tls[0]);
    CHECK(agent.lost[0] == "the master closed the link");
    CHECK(master.lost.empty());
    // Sending on a closed end is a no-op.
    master.ends[0]->Send(DrainMsg{});
    CHECK_FALSE(master.ends[0]->open());
  }
}

TEST_CASE("TcpLink: messages that arrive before SetHandler wait for it", "[tcp_link]") {
  asio::io_context io;
  MasterSide master(io);
  master.handle_messages = false;
  AgentSide agent;
  agent.Connect(io, master.listener->port());
  REQUIRE(RunUntil(io, [&] { return agent.end && master.ends.size() == 1; }));
  for (uint32_t i = 0; i < 3; i++) agent.end->Send(PullMsg{i});
  RunFor(io, 100ms);  // let them arrive with no handler set
  std::vector<uint32_t> got;
  master.ends[0]->SetHandler([&](LinkMessage&& m) { got.push_back(std::get<PullMsg>(m).n); });
  CHECK(got.empty());  // delivered from the loop, not from SetHandler
  agent.end->Send(PullMsg{3});
  REQUIRE(RunUntil(io, [&] { return got.size() == 4; }));
  CHECK(got == std::vector<uint32_t>{0, 1, 2, 3});
}

TEST_CASE("TcpLink: a listener binds only where it is told", "[tcp_link]") {
  asio::io_context io;
  MasterSide master(io);
  CHECK(master.listener->address() == "127.0.0.1");
  CHECK(master.listener->port() != 0);

  auto again = TcpListener::Listen(io, "127.0.0.1", master.listener->port(), kSecret, {}, {});
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().code() == Status::Code::kInfrastructure);
  CHECK(again.status().message() ==
        fmt::format("cannot listen on 127.0.0.1:{0} (127.0.0.1:{0}): bind: Address already in use",
                    master.listener->port()));

  TcpLinkOptions bad;
  bad.heartbeat_interval = 1000ms;
  bad.heartbeat_timeout = 500ms;
  auto silly = TcpListener::Listen(io, "127.0.0.1", 0, kSecret, bad, {});
  REQUIRE_FALSE(silly.ok());
  CHECK(silly.status().message() ==
        "cannot listen on 127.0.0.1:0: heartbeat every 1000 ms with a timeout of 500 ms cannot "
        "work");

  auto nowhere = TcpListener::Listen(io, "no-such-host.invalid", 0, kSecret, {}, {});
  REQUIRE_FALSE(nowhere.ok());
  CHECK(nowhere.status().message().rfind(
            "cannot listen on no-such-host.invalid:0: cannot resolve no-such-host.invalid: ", 0) == 0);
}

TEST_CASE("TcpLink: destroying the listener closes handshakes, not links", "[tcp_link]") {
  asio::io_context io;
  MasterSide master(io);
  AgentSide agent;
  agent.Connect(io, master.listener->port());
  REQUIRE(RunUntil(io, [&] { return agent.end && master.ends.size() == 1; }));
  RawPeer raw(io, master.listener->port());
  REQUIRE(RunUntil(io, [&] { return !raw.Frames().empty(); }));
  master.listener.reset();
  REQUIRE(RunUntil(io, [&] { return raw.eof(); }));
  CheckStillWorks(io, master, 0, agent);
}

}  // namespace
}  // namespace parallelrun
