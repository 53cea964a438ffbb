// TLS on the master ⇄ agent link (link/tls.h) over real sockets on
// 127.0.0.1: a self-signed certificate made into a job dir and pinned by
// agents; certificate files checked against the dialled name; a TLS node
// meeting a plain one, told on both sides; strangers that stall or send
// garbage instead of a ClientHello, bounded like plain ones. No fixed sleeps:
// the loop runs until a condition holds or a deadline passes.
#include "link/tls.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "base/job_dir.h"
#include "link/link_codec.h"
#include "link/tcp_link.h"
#include "temp_dir.h"

namespace parallelrun {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

const std::string kSecret = "the job's secret";

bool RunUntil(asio::io_context& io, const std::function<bool()>& done, milliseconds limit = 10s) {
  auto deadline = steady_clock::now() + limit;
  while (!done()) {
    if (steady_clock::now() >= deadline) return false;
    io.restart();
    io.run_one_for(5ms);
  }
  return true;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

bool AnyContains(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines) {
    if (l.find(part) != std::string::npos) return true;
  }
  return false;
}

struct Master {
  Master(asio::io_context& io, TcpLinkOptions options) {
    TcpListener::Events events;
    events.accepted = [this](std::unique_ptr<TcpLinkEnd> end) {
      end->SetHandler([this](LinkMessage&& m) { received.push_back(std::move(m)); });
      ends.push_back(std::move(end));
    };
    events.log = [this](const std::string& line) { log.push_back(line); };
    auto l = TcpListener::Listen(io, "127.0.0.1", 0, kSecret, options, std::move(events));
    INFO((l.ok() ? "" : l.status().message()));
    REQUIRE(l.ok());
    listener = std::move(l.value());
  }
  std::vector<std::unique_ptr<TcpLinkEnd>> ends;
  std::vector<LinkMessage> received;
  std::vector<std::string> log;
  std::unique_ptr<TcpListener> listener;
};

struct Agent {
  void Connect(asio::io_context& io, uint16_t port, std::shared_ptr<TlsContext> tls,
               const std::string& secret = kSecret, uint32_t node = 1) {
    TcpConnector::Options o;
    o.retry_for = 3s;
    o.initial_backoff = 20ms;
    o.max_backoff = 200ms;
    o.link.tls = std::move(tls);
    TcpConnector::Events events;
    events.done = [this](Result<std::unique_ptr<TcpLinkEnd>> r) {
      if (!r.ok()) {
        failed = r.status();
        return;
      }
      end = std::move(r.value());
      end->SetHandler([this](LinkMessage&& m) { received.push_back(std::move(m)); });
    };
    events.log = [this](const std::string& line) { log.push_back(line); };
    connector = std::make_unique<TcpConnector>(io, "127.0.0.1", port, secret,
                                               TcpConnector::Identity{node, 2, "agent-host"}, o,
                                               std::move(events));
    connector->Start();
  }
  bool settled() const { return end != nullptr || failed.has_value(); }
  std::unique_ptr<TcpConnector> connector;
  std::unique_ptr<TcpLinkEnd> end;
  std::optional<Status> failed;
  std::vector<LinkMessage> received;
  std::vector<std::string> log;
};

// Raw bytes on a socket, and what came back.
class RawPeer {
 public:
  RawPeer(asio::io_context& io, uint16_t port) : socket_(io) {
    boost::system::error_code ec;
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    REQUIRE(!ec);
    Read();
  }
  void Write(const std::string& bytes) {
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(bytes), ec);
  }
  bool eof() const { return eof_; }
  const std::string& received() const { return received_; }

 private:
  void Read() {
    socket_.async_read_some(asio::buffer(buf_), [this](const boost::system::error_code& ec,
                                                       size_t n) {
      if (ec) {
        eof_ = true;
        return;
      }
      received_.append(buf_, n);
      Read();
    });
  }
  tcp::socket socket_;
  char buf_[4096];
  std::string received_;
  bool eof_ = false;
};

std::string GreetingBytes() {
  std::string out;
  EncodeLinkFrame(ErrorFrame{kTlsGreeting}, &out);
  return out;
}

void CheckMessagesCross(asio::io_context& io, Master& master, Agent& agent) {
  REQUIRE(RunUntil(io, [&] { return agent.settled() && master.ends.size() == 1; }));
  INFO(Join(master.log) + Join(agent.log) + (agent.failed ? agent.failed->message() : ""));
  REQUIRE(agent.end);
  MiniBatch batch;
  batch.id = 7;
  batch.items = {"/secret/path/one.png", std::string(100000, 'r')};
  master.ends[0]->Send(LeaseMsg{batch, 1});
  agent.end->Send(PullMsg{3});
  REQUIRE(RunUntil(io, [&] { return !agent.received.empty() && !master.received.empty(); }));
  auto* lease = std::get_if<LeaseMsg>(&agent.received[0]);
  REQUIRE(lease);
  CHECK(lease->batch->items == batch.items);
  CHECK(std::holds_alternative<PullMsg>(master.received[0]));
}

TEST_CASE("TlsLink: self-signed: the master makes its pair, agents pin it, messages cross",
          "[tls]") {
  TempDir dir;
  TlsSettings settings;
  settings.enabled = true;
  auto master_tls = TlsContext::ForMaster(settings, dir.path());
  INFO((master_tls.ok() ? "" : master_tls.status().message()));
  REQUIRE(master_tls.ok());
  struct stat st;
  REQUIRE(stat(TlsKeyPath(dir.path()).c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(stat(TlsCertPath(dir.path()).c_str(), &st) == 0);
  CHECK((*master_tls)->description().find("made in the job dir") != std::string::npos);

  asio::io_context io;
  TcpLinkOptions options;
  options.tls = master_tls.value();
  Master master(io, options);
  auto agent_tls = TlsContext::ForAgent(settings, dir.path(), "127.0.0.1");
  REQUIRE(agent_tls.ok());
  Agent agent;
  agent.Connect(io, master.listener->port(), agent_tls.value());
  CheckMessagesCross(io, master, agent);
  CHECK((*agent_tls)->description().find("SHA-256 fingerprint") != std::string::npos);

  // The same job dir again (a resumed job): the same certificate.
  std::ifstream in(TlsCertPath(dir.path()));
  std::string before((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto again = TlsContext::ForMaster(settings, dir.path());
  REQUIRE(again.ok());
  CHECK((*again)->description().find("used again") != std::string::npos);
  std::ifstream in2(TlsCertPath(dir.path()));
  std::string after((std::istreambuf_iterator<char>(in2)), std::istreambuf_iterator<char>());
  CHECK(before == after);
}

TEST_CASE("TlsLink: a wrong secret is refused inside TLS too", "[tls]") {
  TempDir dir;
  TlsSettings settings;
  settings.enabled = true;
  auto master_tls = TlsContext::ForMaster(settings, dir.path());
  REQUIRE(master_tls.ok());
  asio::io_context io;
  TcpLinkOptions options;
  options.tls = master_tls.value();
  Master master(io, options);
  Agent agent;
  agent.Connect(io, master.listener->port(),
                TlsContext::ForAgent(settings, dir.path(), "127.0.0.1").value(), "not the secret");
  REQUIRE(RunUntil(io, [&] { return agent.settled(); }));
  REQUIRE(agent.failed);
  CHECK(agent.failed->message().find("refused this agent: authentication failed") !=
        std::string::npos);
  CHECK(master.ends.empty());
}

TEST_CASE("TlsLink: an agent with TLS meeting a plain master: both sides say so, no retry",
          "[tls]") {
  TempDir dir;
  TlsSettings settings;
  settings.enabled = true;
  // The certificate exists (another job's), but this master runs plain.
  REQUIRE(TlsContext::ForMaster(settings, dir.path()).ok());
  asio::io_context io;
  Master master(io, TcpLinkOptions{});
  Agent agent;
  agent.Connect(io, master.listener->port(),
                TlsContext::ForAgent(settings, dir.path(), "127.0.0.1").value());
  REQUIRE(RunUntil(io, [&] {
    return agent.settled() && AnyContains(master.log, "this agent uses TLS");
  }));
  REQUIRE(agent.failed);
  CHECK(agent.failed->code() == Status::Code::kUsage);
  CHECK(agent.failed->message() ==
        fmt::format("the master at 127.0.0.1:{} does not use TLS, but this agent does (--tls); "
                    "every node of a job must use --tls (PARALLELRUN_TLS), or none",
                    master.listener->port()));
  CHECK(AnyContains(master.log, "the agent gave up: this agent uses TLS (--tls) and this master "
                                "does not; every node of a job must use --tls"));
}

TEST_CASE("TlsLink: a plain agent meeting a TLS master: both sides say so", "[tls]") {
  TempDir dir;
  TlsSettings settings;
  settings.enabled = true;
  asio::io_context io;
  TcpLinkOptions options;
  options.tls = TlsContext::ForMaster(settings, dir.path()).value();
  Master master(io, options);
  Agent agent;
  agent.Connect(io, master.listener->port(), nullptr);
  REQUIRE(RunUntil(io, [&] {
    return agent.settled() && AnyContains(master.log, "instead of starting TLS");
  }));
  INFO(Join(master.log));
  REQUIRE(agent.failed);
  CHECK(agent.failed->message() ==
        fmt::format("the master at 127.0.0.1:{} refused this agent: {}", master.listener->port(),
                    kTlsGreeting));
  CHECK(AnyContains(master.log, "the agent closed the connection instead of starting TLS (an "
                                "agent without --tls?); every node of a job must use --tls"));
}

TEST_CASE("TlsLink: an agent refuses a master whose certificate is not the pinned one",
          "[tls]") {
  TempDir mine, other;
  TlsSettings settings;
  settings.enabled = true;
  REQUIRE(TlsContext::ForMaster(settings, mine.path()).ok());  // what the agent pins
  asio::io_context io;
  TcpLinkOptions options;
  options.tls = TlsContext::ForMaster(settings, other.path()).value();  // what it meets
  Master master(io, options);
  Agent agent;
  agent.Connect(io, master.listener->port(),
                TlsContext::ForAgent(settings, mine.path(), "127.0.0.1").value());
  REQUIRE(RunUntil(io, [&] { return agent.settled(); }));
  REQUIRE(agent.failed);
  INFO(agent.failed->message());
  CHECK(agent.failed->code() == Status::Code::kUsage);
  CHECK(agent.failed->message().find("TLS handshake failed") != std::string::npos);
  CHECK(agent.failed->message().find("the master's certificate is not the one in " +
                                     TlsCertPath(mine.path())) != std::string::npos);
  CHECK(master.ends.empty());
}

TEST_CASE("TlsLink: with certificate files the master's certificate must name the dialled host",
          "[tls]") {
  // A self-signed certificate used as the CA: valid, but it names no host.
  TempDir dir;
  auto pair = MakeSelfSignedPair("not-this-host");
  REQUIRE(pair.ok());
  std::string cert = dir.path() + "/cert.pem", key = dir.path() + "/key.pem";
  std::ofstream(cert) << pair->cert_pem;
  std::ofstream(key) << pair->key_pem;
  REQUIRE(chmod(key.c_str(), 0600) == 0);
  TlsSettings files;
  files.enabled = true;
  files.cert_file = cert;
  files.key_file = key;
  files.ca_file = cert;
  asio::io_context io;
  TcpLinkOptions options;
  TlsSettings master_files = files;
  master_files.ca_file.clear();  // no client certificates asked for
  auto master_tls = TlsContext::ForMaster(master_files, "");
  INFO((master_tls.ok() ? "" : master_tls.status().message()));
  REQUIRE(master_tls.ok());
  options.tls = master_tls.value();
  Master master(io, options);
  TlsSettings agent_files;
  agent_files.enabled = true;
  agent_files.ca_file = cert;
  auto agent_tls = TlsContext::ForAgent(agent_files, "", "127.0.0.1");
  REQUIRE(agent_tls.ok());
  Agent agent;
  agent.Connect(io, master.listener->port(), agent_tls.value());
  REQUIRE(RunUntil(io, [&] { return agent.settled(); }));
  REQUIRE(agent.failed);
  INFO(agent.failed->message());
  CHECK(agent.failed->message().find("does not name 127.0.0.1, the address agents dial") !=
        std::string::npos);
}

TEST_CASE("TlsLink: a key file others may read is refused", "[tls]") {
  TempDir dir;
  auto pair = MakeSelfSignedPair("x");
  REQUIRE(pair.ok());
  std::string cert = dir.path() + "/cert.pem", key = dir.path() + "/key.pem";
  std::ofstream(cert) << pair->cert_pem;
  std::ofstream(key) << pair->key_pem;
  REQUIRE(chmod(key.c_str(), 0644) == 0);
  TlsSettings files;
  files.enabled = true;
  files.cert_file = cert;
  files.key_file = key;
  auto tls = TlsContext::ForMaster(files, "");
  REQUIRE(!tls.ok());
  CHECK(tls.status().message() ==
        fmt::format("TLS key {}: its group or others may read or write it (mode 0644), so they "
                    "could pose as this node; run chmod 600 {}",
                    key, key));
  // And a certificate without its key.
  files.key_file.clear();
  tls = TlsContext::ForMaster(files, "");
  REQUIRE(!tls.ok());
  CHECK(tls.status().message().find("needs both --tls-cert and --tls-key") != std::string::npos);
  // An agent with certificate files but no CA could not check the master.
  files.key_file = key;
  REQUIRE(chmod(key.c_str(), 0600) == 0);
  tls = TlsContext::ForAgent(files, "", "127.0.0.1");
  REQUIRE(!tls.ok());
  CHECK(tls.status().message().rfind("TLS: an agent needs --tls-ca (PARALLELRUN_TLS_CA)", 0) == 0);
}

TEST_CASE("TlsLink: garbage instead of a ClientHello is refused at its first byte; stalled "
          "TLS handshakes are bounded and a real agent still joins",
          "[tls]") {
  TempDir dir;
  TlsSettings settings;
  settings.enabled = true;
  asio::io_context io;
  TcpLinkOptions options;
  options.tls = TlsContext::ForMaster(settings, dir.path()).value();
  options.max_handshaking = 8;
  options.handshake_timeout = 60s;  // longer than the test: eviction is what frees them
  Master master(io, options);
  uint16_t port = master.listener->port();

  RawPeer garbage(io, port);
  REQUIRE(RunUntil(io, [&] { return garbage.received() == GreetingBytes(); }));
  garbage.Write("GET / HTTP/1.1\r\n\r\n");
  REQUIRE(RunUntil(io, [&] { return garbage.eof(); }));
  CHECK(AnyContains(master.log, "sent bytes that do not start a TLS handshake (first byte "
                                "0x47)"));

  // Strangers that start a TLS record and stall, and ones that say nothing.
  std::vector<std::unique_ptr<RawPeer>> strangers;
  for (int i = 0; i < 30; i++) {
    strangers.push_back(std::make_unique<RawPeer>(io, port));
    if (i % 2 == 0) strangers.back()->Write(std::string("\x16\x03\x01\x02\x00\x01", 6));
  }
  REQUIRE(RunUntil(io, [&] {
    size_t closed = 0;
    for (const auto& s : strangers) closed += s->eof();
    return closed >= strangers.size() - options.max_handshaking;
  }));
  CHECK(AnyContains(master.log, "more than 8 connections without a finished handshake"));

  Agent agent;
  agent.Connect(io, port, TlsContext::ForAgent(settings, dir.path(), "127.0.0.1").value());
  CheckMessagesCross(io, master, agent);
}

TEST_CASE("TlsLink: a stalled TLS handshake ends at the handshake deadline", "[tls]") {
  TempDir dir;
  TlsSettings settings;
  settings.enabled = true;
  asio::io_context io;
  TcpLinkOptions options;
  options.tls = TlsContext::ForMaster(settings, dir.path()).value();
  options.handshake_timeout = 200ms;
  Master master(io, options);
  RawPeer stalled(io, master.listener->port());
  stalled.Write(std::string("\x16\x03\x01", 3));  // a ClientHello that never comes whole
  REQUIRE(RunUntil(io, [&] { return stalled.eof(); }));
  CHECK(AnyContains(master.log, "no handshake within 200 ms"));
}

TEST_CASE("TlsLink: an agent that finds no certificate yet tries again until it is there",
          "[tls]") {
  // The master's job dir and the one the agent sees (shared storage that
  // shows the file late).
  TempDir master_dir, agent_dir;
  TlsSettings settings;
  settings.enabled = true;
  asio::io_context io;
  TcpLinkOptions options;
  options.tls = TlsContext::ForMaster(settings, master_dir.path()).value();
  Master master(io, options);
  auto agent_tls = TlsContext::ForAgent(settings, agent_dir.path(), "127.0.0.1");
  REQUIRE(agent_tls.ok());
  Agent agent;
  agent.Connect(io, master.listener->port(), agent_tls.value());
  REQUIRE(RunUntil(io, [&] { return AnyContains(agent.log, "is not there yet"); }));
  CHECK(!agent.settled());
  std::ifstream in(TlsCertPath(master_dir.path()));
  std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  agent_dir.Write(".parallelrun/tls/cert.pem", pem);
  CheckMessagesCross(io, master, agent);
}

TEST_CASE("TlsSettings: flags, then the environment; files ask for TLS", "[tls]") {
  TempDir dir;
  std::string file = dir.path() + "/c.pem";
  std::ofstream(file) << "x";
  auto s = ResolveTlsSettings({}, TlsFlags{});
  REQUIRE(s.ok());
  CHECK(!s->enabled);
  s = ResolveTlsSettings({{"PARALLELRUN_TLS", "on"}}, TlsFlags{});
  REQUIRE(s.ok());
  CHECK(s->enabled);
  CHECK(s->self_signed());
  s = ResolveTlsSettings({{"PARALLELRUN_TLS", "0"}}, TlsFlags{true, "", "", ""});
  REQUIRE(s.ok());
  CHECK(s->enabled);  // the flag wins
  s = ResolveTlsSettings({{"PARALLELRUN_TLS_CA", file}}, TlsFlags{});
  REQUIRE(s.ok());
  CHECK(s->enabled);
  CHECK(s->ca_file == file);
  s = ResolveTlsSettings({{"PARALLELRUN_TLS", "maybe"}}, TlsFlags{});
  REQUIRE(!s.ok());
  CHECK(s.status().message() ==
        "PARALLELRUN_TLS='maybe' is not valid: give on or off (1/0, true/false, yes/no)");
  s = ResolveTlsSettings({{"PARALLELRUN_TLS", "off"}}, TlsFlags{false, file, "", ""});
  REQUIRE(!s.ok());
  CHECK(s.status().message().find("PARALLELRUN_TLS=off but TLS certificate files are given") == 0);
  s = ResolveTlsSettings({}, TlsFlags{false, "", "", dir.path() + "/missing.pem"});
  REQUIRE(!s.ok());
  CHECK(s.status().message() ==
        "TLS CA file " + dir.path() + "/missing.pem: No such file or directory");
}

}  // namespace
}  // namespace parallelrun
