#include "link/tcp_link.h"

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "base/hmac.h"
#include "link/link_codec.h"
#include "link/tls.h"

namespace parallelrun {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// How long a closing connection waits for its last frames to drain and the
// peer to close its end before the socket is closed regardless.
constexpr milliseconds kLinger{2000};

// The first byte of a TLS record carrying a handshake message (RFC 8446
// §5.1): what a ClientHello starts with.
constexpr uint8_t kTlsHandshakeRecord = 0x16;

const char kMixedTls[] =
    "every node of a job must use --tls (PARALLELRUN_TLS), or none";

std::string EndpointText(const tcp::endpoint& e) {
  if (e.address().is_v6()) return fmt::format("[{}]:{}", e.address().to_string(), e.port());
  return fmt::format("{}:{}", e.address().to_string(), e.port());
}

}  // namespace

// One TCP connection speaking link_codec.h, on either side. Owned by the
// handlers in flight (shared_from_this) and by the TcpLinkEnd handed out.
class TcpConnection : public std::enable_shared_from_this<TcpConnection> {
 public:
  enum class Side { kMaster, kAgent };

  struct Hooks {
    // The handshake completed.
    std::function<void(const std::shared_ptr<TcpConnection>&)> open;
    // The handshake failed. `final`: retrying cannot help (refused,
    // version, authentication) as opposed to a connection that broke.
    std::function<void(const std::string& reason, bool final)> refused;
    // An open connection ended without this side closing it. `by_tls`:
    // TLS ended it (a record failed its check), not a peer that closed,
    // broke or went silent.
    std::function<void(const std::string& reason, bool by_tls)> lost;
    // Master side, after the agent proved the secret: "" admits it, else
    // the reason it is refused (sent to the agent and logged).
    std::function<std::string(const PeerInfo& peer)> admit;
  };
  Hooks hooks;

  TcpConnection(tcp::socket socket, Side side, std::string secret, TcpLinkOptions options,
                PeerInfo peer)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), side_(side),
        secret_(std::move(secret)), options_(options), peer_(std::move(peer)),
        tls_(options_.tls), decoder_(kMaxGreetingFrame), rbuf_(kGreetingReadSize) {
    boost::system::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);  // small frames must not wait for Nagle
  }

  // Master side: greet with a fresh nonce and wait for AGENT_HELLO.
  void StartMaster() {
    nonce_ = RandomBytes(kLinkNonceSize);
    if (nonce_.size() != kLinkNonceSize) {
      Fail("no random bytes for the nonce", "internal error", true);
      return;
    }
    if (!tls_) Queue(MasterHelloFrame{kLinkProtocolVersion, kLinkCapabilities, nonce_});
    Begin();
  }

  // Agent side: wait for MASTER_HELLO, then answer it.
  void StartAgent(const TcpConnector::Identity& identity) {
    identity_ = identity;
    Begin();
  }

  void Send(const LinkMessage& message) {
    if (state_ != State::kOpen) return;
    EncodeLinkMessage(message, &out_);
    Queued();
  }

  void SetHandler(LinkEnd::Handler handler) {
    handler_ = std::make_shared<LinkEnd::Handler>(std::move(handler));
    if (!early_.empty()) PostEarly();
  }

  // This side closes: queued frames, GOODBYE, then the socket. No hooks run
  // after this.
  void Close() {
    hooks = Hooks{};
    handler_.reset();
    early_.clear();
    if (state_ == State::kOpen) Queue(GoodbyeFrame{});
    if (SettingUpTls() && state_ == State::kHandshake) {
      CloseNow();  // nothing to drain: only OpenSSL's records are in flight
      return;
    }
    if (state_ == State::kOpen || state_ == State::kHandshake) BeginClose();
  }

  // Drops a connection that has not finished its handshake at once: no
  // GOODBYE, no lingering, what it received freed. For strangers making
  // room for others: lingering would hold their buffers for seconds more.
  void Abort() {
    hooks = Hooks{};
    handler_.reset();
    early_.clear();
    decoder_ = LinkDecoder(kMaxGreetingFrame);
    out_.clear();
    out_.shrink_to_fit();
    CloseNow();
  }

  const PeerInfo& peer() const { return peer_; }
  bool open() const { return state_ == State::kOpen; }
  // Queued and being written: both wait for the peer to read.
  size_t queued_bytes() const { return out_.size() + wbuf_.size(); }
  bool closed() const { return state_ == State::kClosed; }
  SteadyClock::time_point started() const { return started_; }

 private:
  enum class State { kHandshake, kOpen, kClosing, kClosed };

  const char* PeerWord() const { return side_ == Side::kMaster ? "the agent" : "the master"; }

  void Begin() {
    started_ = last_heard_ = last_sent_ = SteadyClock::now();
    deadline_ = last_heard_ + options_.handshake_timeout;
    ArmTimer(options_.handshake_timeout);
    if (tls_) tls_phase_ = TlsPhase::kGreeting;
    if (tls_ && side_ == Side::kMaster) {
      SendTlsGreeting();
    } else {
      Read();
    }
  }

  // ---- TLS (tls.h) ----------------------------------------------------------------

  tcp::socket& Lowest() { return stream_ ? stream_->next_layer() : socket_; }

  // While TLS is being set up nothing may be written into the connection
  // but the greeting and OpenSSL's records, and there is nothing to drain
  // when it ends: the master from its greeting on, either side during the
  // TLS handshake.
  bool SettingUpTls() const {
    if (!tls_) return false;
    if (tls_phase_ == TlsPhase::kHandshake) return true;
    return tls_phase_ == TlsPhase::kGreeting && side_ == Side::kMaster;
  }

  // Master: the greeting in the clear, then wait for the agent's first
  // byte, which must start a TLS handshake record. Nothing of OpenSSL is
  // made before it does, so that a stranger that sends garbage or nothing
  // holds no more than one on a plain link.
  void SendTlsGreeting() {
    greeting_.clear();
    EncodeLinkFrame(ErrorFrame{kTlsGreeting}, &greeting_);
    asio::async_write(socket_, asio::buffer(greeting_),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        if (self->state_ != State::kHandshake) return;
                        self->greeting_.clear();
                        self->greeting_.shrink_to_fit();
                        if (ec) {
                          self->EndTls("connection error: " + ec.message() +
                                           " during the handshake", false);
                          return;
                        }
                        self->AwaitClientHello();
                      });
  }

  void AwaitClientHello() {
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& ec) {
                         if (self->state_ != State::kHandshake) return;
                         if (ec) {
                           self->EndTls("connection error: " + ec.message() +
                                            " during the handshake", false);
                           return;
                         }
                         self->PeekClientHello();
                       });
  }

  void PeekClientHello() {
    uint8_t first = 0;
    boost::system::error_code ec;
    socket_.non_blocking(true, ec);  // a spurious wake-up must not block the loop
    size_t n = socket_.receive(asio::buffer(&first, 1), tcp::socket::message_peek, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      AwaitClientHello();
      return;
    }
    if (ec == asio::error::eof || (!ec && n == 0)) {
      EndTls(fmt::format("the agent closed the connection instead of starting TLS (an agent "
                         "without --tls?); {}", kMixedTls),
             false);
      return;
    }
    if (ec) {
      EndTls("connection error: " + ec.message() + " during the handshake", false);
      return;
    }
    if (first != kTlsHandshakeRecord) {
      EndTls(fmt::format("sent bytes that do not start a TLS handshake (first byte 0x{:02x}); "
                         "{}", first, kMixedTls),
             false);
      return;
    }
    StartTlsHandshake();
  }

  // Agent: the master's first frame, which must be its TLS greeting.
  void AgentTlsGreeting(LinkFrame&& frame) {
    if (auto* e = std::get_if<ErrorFrame>(&frame); e && e->reason == kTlsGreeting) {
      if (decoder_.buffered() > 0) {
        Fail("sent more than its TLS greeting before the TLS handshake", std::nullopt, true);
        return;
      }
      Status ready = tls_->Ready();
      if (!ready.ok()) {
        Fail(ready.message(), std::nullopt, ready.code() == Status::Code::kUsage);
        return;
      }
      StartTlsHandshake();
      return;
    }
    if (auto* e = std::get_if<ErrorFrame>(&frame)) {
      Fail("refused this agent: " + e->reason, std::nullopt, true);
      return;
    }
    if (std::get_if<MasterHelloFrame>(&frame)) {
      // Written now, not queued: the owner of an agent refused for good
      // stops its loop at once, and the master should say why too. A small
      // frame on a fresh socket goes into its send buffer without waiting.
      std::string error;
      EncodeLinkFrame(
          ErrorFrame{fmt::format("this agent uses TLS (--tls) and this master does not; {}",
                                 kMixedTls)},
          &error);
      boost::system::error_code ec;
      socket_.non_blocking(true, ec);
      if (!ec) asio::write(socket_, asio::buffer(error), ec);
      Fail(fmt::format("does not use TLS, but this agent does (--tls); {}", kMixedTls),
           std::nullopt, true);
      return;
    }
    Fail(fmt::format("sent {} where its TLS greeting was expected", Name(frame)),
         "expected the TLS greeting here, got " + Name(frame), true);
  }

  void StartTlsHandshake() {
    tls_phase_ = TlsPhase::kHandshake;
    stream_ = std::make_unique<ssl::stream<tcp::socket>>(std::move(socket_), tls_->context());
    tls_->Prepare(stream_->native_handle());
    stream_->async_handshake(side_ == Side::kMaster ? ssl::stream_base::server
                                                    : ssl::stream_base::client,
                             [self = shared_from_this()](const boost::system::error_code& ec) {
                               self->OnTlsHandshake(ec);
                             });
  }

  void OnTlsHandshake(const boost::system::error_code& ec) {
    if (state_ == State::kClosed) return;
    if (state_ == State::kClosing) {
      CloseNow();
      return;
    }
    if (ec) {
      // A TLS error (a certificate refused, a protocol error) will not go
      // away by trying again; a connection that closed or broke may.
      bool final = ec.category() == asio::error::get_ssl_category();
      std::string why = (side_ == Side::kAgent ? "is not reachable over TLS: the " : "") +
                        std::string("TLS handshake failed: ") +
                        tls_->Explain(ec, stream_->native_handle());
      if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
        why = fmt::format("{} closed the connection during the TLS handshake", PeerWord());
      }
      EndTls(why, final);
      return;
    }
    tls_phase_ = TlsPhase::kUp;
    if (side_ == Side::kMaster) {
      Queue(MasterHelloFrame{kLinkProtocolVersion, kLinkCapabilities, nonce_});
    }
    Read();
  }

  // Ends a connection whose TLS is being set up: at once, nothing to drain.
  void EndTls(const std::string& reason, bool final) {
    CloseNow();
    Notify(reason, final);
  }

  // ---- writing ----------------------------------------------------------------

  void Queue(const LinkFrame& frame) {
    EncodeLinkFrame(frame, &out_);
    Queued();
  }

  // Frames are written after the current handler returns, so that everything
  // sent in one turn of the loop goes out in one write.
  void Queued() {
    last_sent_ = SteadyClock::now();
    if (out_.size() > options_.max_queued_bytes && state_ == State::kOpen) {
      out_.clear();
      Fail(fmt::format("{} is not reading: more than {} bytes wait to be sent", PeerWord(),
                       options_.max_queued_bytes),
           std::nullopt, true);
      return;
    }
    if (writing_ || flush_posted_) return;
    flush_posted_ = true;
    asio::post(timer_.get_executor(), [self = shared_from_this()] {
      self->flush_posted_ = false;
      self->Flush();
    });
  }

  void Flush() {
    if (writing_ || state_ == State::kClosed) return;
    if (out_.empty()) {
      if (state_ == State::kClosing) Linger();
      return;
    }
    writing_ = true;
    wbuf_.swap(out_);
    out_.clear();
    auto written = [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        self->writing_ = false;
                        self->wbuf_.clear();
                        if (self->state_ == State::kClosed) return;
                        if (ec) {
                          if (self->state_ == State::kClosing) {
                            self->CloseNow();
                          } else {
                            self->Fail("cannot send: " + ec.message(), std::nullopt, false);
                          }
                          return;
                        }
                        self->Flush();
    };
    if (stream_) {
      asio::async_write(*stream_, asio::buffer(wbuf_), std::move(written));
    } else {
      asio::async_write(socket_, asio::buffer(wbuf_), std::move(written));
    }
  }

  // ---- reading ------------------------------------------------------------------

  void Read() {
    auto got = [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
      self->OnRead(ec, n);
    };
    if (stream_) {
      stream_->async_read_some(asio::buffer(rbuf_), std::move(got));
    } else {
      socket_.async_read_some(asio::buffer(rbuf_), std::move(got));
    }
  }

  void OnRead(const boost::system::error_code& ec, size_t n) {
    if (state_ == State::kClosed) return;
    if (state_ == State::kClosing) {  // draining until the peer closes too
      if (ec) {
        CloseNow();
      } else {
        Read();
      }
      return;
    }
    if (ec) {
      std::string reason;
      bool final = false;
      // A TLS peer that closes without TLS's close_notify (GOODBYE is the
      // orderly end here) is an end of stream too.
      if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
        reason = decoder_.buffered() > 0
                     ? fmt::format("{} closed the connection inside a frame ({} bytes of it "
                                   "received)", PeerWord(), decoder_.buffered())
                     : fmt::format("{} closed the connection", PeerWord());
      } else if (ec.category() == asio::error::get_ssl_category()) {
        // With TLS 1.3 a master that refuses the agent's certificate says
        // so after the agent's side of the TLS handshake is done: here.
        reason = (side_ == Side::kAgent ? "ended the link with a TLS error: "
                                        : "TLS error from the agent: ") +
                 ec.message();
        final = true;
      } else {
        reason = "connection error: " + ec.message();
      }
      if (state_ == State::kHandshake) reason += " during the handshake";
      CloseNow();
      Notify(reason, final, /*by_tls=*/final);
      return;
    }
    last_heard_ = SteadyClock::now();
    decoder_.Feed(rbuf_.data(), n);
    // An open link's buffer starts small and doubles while reads fill it: a
    // master of 10,000 agents held 64 KiB per link (655 MB) for frames of a
    // few hundred bytes; a link that carries rows grows to 64 KiB at once.
    if (opened_ && n == rbuf_.size() && rbuf_.size() < kOpenReadMax) rbuf_.resize(rbuf_.size() * 2);
    auto keep = shared_from_this();  // a handler may drop the last owner
    for (;;) {
      LinkFrame frame;
      std::string why;
      LinkDecoder::Outcome o = decoder_.Next(&frame, &why);
      if (o == LinkDecoder::Outcome::kNeedMore) break;
      if (o == LinkDecoder::Outcome::kMalformed) {
        Fail("malformed frame: " + why, "malformed frame: " + why, true);
        break;
      }
      Dispatch(std::move(frame));
      if (state_ == State::kClosed) return;
      if (state_ == State::kClosing) break;  // keep reading, to see the peer close
      if (tls_phase_ == TlsPhase::kHandshake) return;  // TLS reads from here on
    }
    Read();
  }

  void Dispatch(LinkFrame&& frame) {
    if (state_ == State::kHandshake) {
      if (side_ == Side::kAgent && tls_ && tls_phase_ == TlsPhase::kGreeting) {
        AgentTlsGreeting(std::move(frame));
        return;
      }
      if (auto* e = std::get_if<ErrorFrame>(&frame)) {
        Fail(side_ == Side::kMaster ? "the agent gave up: " + e->reason
                                    : "refused this agent: " + e->reason,
             std::nullopt, true);
      } else if (side_ == Side::kMaster) {
        MasterHandshake(std::move(frame));
      } else {
        AgentHandshake(std::move(frame));
      }
      return;
    }
    if (std::get_if<HeartbeatFrame>(&frame)) return;
    if (std::get_if<GoodbyeFrame>(&frame)) {
      BeginClose();
      Notify(fmt::format("{} closed the link", PeerWord()), false);
      return;
    }
    if (auto* e = std::get_if<ErrorFrame>(&frame)) {
      Fail(fmt::format("{} reported an error: {}", PeerWord(), e->reason), std::nullopt, true);
      return;
    }
    auto* m = std::get_if<LinkMessage>(&frame);
    if (!m) {
      std::string why = fmt::format("unexpected {} after the handshake", Name(frame));
      Fail(why, why, true);
      return;
    }
    if (!Allowed(*m)) {
      std::string why = fmt::format("unexpected {} from {}", Name(frame), PeerWord());
      Fail(why, why, true);
      return;
    }
    Deliver(std::move(*m));
  }

  // The direction each message travels (link.h).
  bool Allowed(const LinkMessage& m) const {
    bool to_agent = std::holds_alternative<LeaseMsg>(m) || std::holds_alternative<DrainMsg>(m) ||
                    std::holds_alternative<StopMsg>(m) || std::holds_alternative<EndMsg>(m) ||
                    std::holds_alternative<JobDirMsg>(m) || std::holds_alternative<CancelMsg>(m) ||
                    std::holds_alternative<StandbyMsg>(m) ||
                    std::holds_alternative<JournalCopyMsg>(m) ||
                    std::holds_alternative<PartCopyMsg>(m);
    return side_ == Side::kAgent ? to_agent : !to_agent;
  }

  static std::string Name(const LinkFrame& frame) {
    std::string bytes;
    EncodeLinkFrame(frame, &bytes);
    return LinkFrameName(static_cast<uint8_t>(bytes[4]));
  }

  void MasterHandshake(LinkFrame&& frame) {
    auto* hello = std::get_if<AgentHelloFrame>(&frame);
    if (!hello) {
      std::string why = "expected AGENT_HELLO first, got " + Name(frame);
      Fail(why, why, true);
      return;
    }
    if (hello->version != kLinkProtocolVersion) {
      std::string why = fmt::format("protocol version {} is not supported (this side speaks {})",
                                    hello->version, kLinkProtocolVersion);
      Fail(why, why, true);
      return;
    }
    if (!ConstantTimeEqual(hello->proof, AgentProof(secret_, nonce_, hello->node))) {
      Fail(fmt::format("authentication failed (claims node {})", hello->node),
           "authentication failed", true);
      return;
    }
    peer_.node = hello->node;
    peer_.slots = hello->slots;
    peer_.host = hello->host;
    peer_.capabilities = hello->capabilities & kLinkCapabilities;
    if (hooks.admit) {
      std::string why = hooks.admit(peer_);
      if (!why.empty()) {
        Fail(why, why, true);
        return;
      }
    }
    Queue(WelcomeFrame{peer_.capabilities, static_cast<uint32_t>(options_.heartbeat_interval.count()),
                       static_cast<uint32_t>(options_.heartbeat_timeout.count()),
                       MasterProof(secret_, hello->nonce, nonce_)});
    Opened();
  }

  void AgentHandshake(LinkFrame&& frame) {
    if (auto* hello = std::get_if<MasterHelloFrame>(&frame); hello && nonce_.empty()) {
      if (hello->version != kLinkProtocolVersion) {
        std::string why = fmt::format("protocol version {} is not supported (this side speaks {})",
                                      hello->version, kLinkProtocolVersion);
        Fail(fmt::format("speaks protocol version {}; this agent speaks {}", hello->version,
                         kLinkProtocolVersion),
             why, true);
        return;
      }
      master_nonce_ = hello->nonce;
      nonce_ = RandomBytes(kLinkNonceSize);
      if (nonce_.size() != kLinkNonceSize) {
        Fail("no random bytes for the nonce", "internal error", true);
        return;
      }
      Queue(AgentHelloFrame{kLinkProtocolVersion, kLinkCapabilities, identity_.node,
                            identity_.slots, identity_.host, nonce_,
                            AgentProof(secret_, master_nonce_, identity_.node)});
      return;
    }
    if (auto* welcome = std::get_if<WelcomeFrame>(&frame); welcome && !nonce_.empty()) {
      if (!ConstantTimeEqual(welcome->proof, MasterProof(secret_, nonce_, master_nonce_))) {
        Fail("did not prove it knows the job secret (is it another job's master?)",
             "authentication failed", true);
        return;
      }
      peer_.capabilities = welcome->capabilities & kLinkCapabilities;
      options_.heartbeat_interval = milliseconds(welcome->heartbeat_ms);
      options_.heartbeat_timeout = milliseconds(welcome->heartbeat_timeout_ms);
      Opened();
      return;
    }
    std::string expected = nonce_.empty() ? "MASTER_HELLO" : "WELCOME";
    Fail(fmt::format("sent {} where {} was expected", Name(frame), expected),
         fmt::format("expected {} here, got {}", expected, Name(frame)), true);
  }

  void Opened() {
    state_ = State::kOpen;
    opened_ = true;
    decoder_.set_limit(kMaxLinkFrame);
    rbuf_.resize(kOpenReadStart);  // no read is in flight: this runs inside OnRead
    last_heard_ = SteadyClock::now();
    ArmTimer(Tick());
    auto open = std::move(hooks.open);
    hooks.open = nullptr;
    hooks.refused = nullptr;
    if (open) open(shared_from_this());
  }

  void Deliver(LinkMessage&& m) {
    if (handler_ && early_.empty()) {
      auto handler = handler_;  // survives the handler dropping this end
      (*handler)(std::move(m));
      return;
    }
    early_.push_back(std::move(m));
    if (handler_) PostEarly();
  }

  void PostEarly() {
    if (early_posted_) return;
    early_posted_ = true;
    asio::post(timer_.get_executor(), [self = shared_from_this()] {
      self->early_posted_ = false;
      while (!self->early_.empty() && self->handler_) {
        LinkMessage m = std::move(self->early_.front());
        self->early_.pop_front();
        auto handler = self->handler_;
        (*handler)(std::move(m));
      }
    });
  }

  // ---- timers -------------------------------------------------------------------

  milliseconds Tick() const {
    return std::max(milliseconds(1), options_.heartbeat_interval / 2);
  }

  void ArmTimer(milliseconds after) {
    timer_.expires_after(after);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec != asio::error::operation_aborted) self->OnTimer();
    });
  }

  // A stale expiry can still arrive after the timer was re-armed, so each
  // case checks the clock rather than trusting that it is due.
  void OnTimer() {
    SteadyClock::time_point now = SteadyClock::now();
    switch (state_) {
      case State::kHandshake:
        if (now >= deadline_) {
          Fail(fmt::format("no handshake within {} ms", options_.handshake_timeout.count()),
               "handshake timeout", false);
        } else {
          ArmTimer(std::chrono::duration_cast<milliseconds>(deadline_ - now) + milliseconds(1));
        }
        return;
      case State::kOpen:
        if (now - last_heard_ >= options_.heartbeat_timeout) {
          Fail(fmt::format("nothing received from {} for {} ms (heartbeat timeout)", PeerWord(),
                           options_.heartbeat_timeout.count()),
               "heartbeat timeout", true);
          return;
        }
        if (now - last_sent_ >= options_.heartbeat_interval / 2) Queue(HeartbeatFrame{});
        ArmTimer(Tick());
        return;
      case State::kClosing:
        if (now >= deadline_) {
          CloseNow();
        } else {
          ArmTimer(std::chrono::duration_cast<milliseconds>(deadline_ - now) + milliseconds(1));
        }
        return;
      case State::kClosed:
        return;
    }
  }

  // ---- ending ---------------------------------------------------------------------

  // Ends the connection because of `reason`: tells the peer `to_peer` in an
  // ERROR frame if given, then runs the hook for the state it was in.
  void Fail(const std::string& reason, const std::optional<std::string>& to_peer, bool final) {
    if (state_ == State::kClosing || state_ == State::kClosed) return;
    if (SettingUpTls()) {
      EndTls(reason, final);
      return;
    }
    if (to_peer) Queue(ErrorFrame{*to_peer});
    BeginClose();
    Notify(reason, final);
  }

  // Runs refused (during the handshake) or lost (after it), once. The hooks
  // are moved out first: running one may drop the owner that set them.
  void Notify(const std::string& reason, bool final, bool by_tls = false) {
    auto refused = std::move(hooks.refused);
    auto lost = std::move(hooks.lost);
    hooks = Hooks{};
    if (!opened_ && refused) refused(reason, final);
    if (opened_ && lost) lost(reason, by_tls);
  }

  // Stops reading into the protocol, lets queued frames drain, then shuts
  // down the sending side and waits (bounded) for the peer to close, so that
  // the last frames — an ERROR, a GOODBYE — are not lost to a reset.
  void BeginClose() {
    if (state_ == State::kClosing || state_ == State::kClosed) return;
    state_ = State::kClosing;
    deadline_ = SteadyClock::now() + kLinger;
    ArmTimer(kLinger);
    if (!writing_ && !flush_posted_) Flush();
  }

  void Linger() {
    if (shut_down_) return;
    shut_down_ = true;
    boost::system::error_code ec;
    Lowest().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) CloseNow();
  }

  void CloseNow() {
    state_ = State::kClosed;
    boost::system::error_code ec;
    Lowest().close(ec);
    timer_.cancel();
  }

  tcp::socket socket_;  // moved into stream_ when TLS starts
  asio::steady_timer timer_;
  Side side_;
  std::string secret_;
  TcpLinkOptions options_;
  PeerInfo peer_;
  TcpConnector::Identity identity_;
  State state_ = State::kHandshake;
  bool opened_ = false;  // the handshake completed (so an end is `lost`, not `refused`)

  // TLS: kGreeting until the TLS handshake starts (master: sending the
  // greeting, waiting for the ClientHello; agent: reading the greeting),
  // kHandshake during it, kUp after.
  enum class TlsPhase { kNone, kGreeting, kHandshake, kUp };
  std::shared_ptr<TlsContext> tls_;
  TlsPhase tls_phase_ = TlsPhase::kNone;
  std::unique_ptr<ssl::stream<tcp::socket>> stream_;
  std::string greeting_;  // master: being written

  std::string nonce_;         // ours
  std::string master_nonce_;  // agent side: the master's

  LinkDecoder decoder_;
  // Greeting-sized until the peer proves the secret, so that strangers hold
  // little.
  static constexpr size_t kGreetingReadSize = 4096;
  // An open link's read buffer: from 4 KiB, doubled while reads fill it.
  static constexpr size_t kOpenReadStart = 4096;
  static constexpr size_t kOpenReadMax = 64 * 1024;
  std::vector<char> rbuf_;
  SteadyClock::time_point started_;
  std::string out_;   // queued, not yet being written
  std::string wbuf_;  // being written
  bool writing_ = false;
  bool flush_posted_ = false;
  bool shut_down_ = false;
  SteadyClock::time_point last_heard_, last_sent_, deadline_;

  std::shared_ptr<LinkEnd::Handler> handler_;
  std::deque<LinkMessage> early_;  // arrived before SetHandler
  bool early_posted_ = false;
};

// ---- TcpLinkEnd -----------------------------------------------------------------

TcpLinkEnd::TcpLinkEnd(std::shared_ptr<TcpConnection> connection)
    : connection_(std::move(connection)) {}

TcpLinkEnd::~TcpLinkEnd() { Close(); }

void TcpLinkEnd::Send(LinkMessage message) { connection_->Send(message); }

void TcpLinkEnd::SetHandler(Handler handler) { connection_->SetHandler(std::move(handler)); }

const PeerInfo& TcpLinkEnd::peer() const { return connection_->peer(); }

bool TcpLinkEnd::open() const { return connection_->open(); }

size_t TcpLinkEnd::queued_bytes() const { return connection_->queued_bytes(); }

void TcpLinkEnd::Close() { connection_->Close(); }

// ---- TcpListener ------------------------------------------------------------------

struct TcpListener::State : std::enable_shared_from_this<TcpListener::State> {
  State(asio::io_context& io, std::string secret, TcpLinkOptions options, Events events)
      : acceptor(io), retry(io), evict_timer(io), secret(std::move(secret)), options(options),
        events(std::move(events)), max_waiting(WaitingBudget(options.max_waiting)) {}

  void Log(const std::string& line) {
    if (alive && events.log) events.log(line);
  }

  // Keeps one accept in flight while fewer than max_waiting accepted
  // connections wait for a handshake place: the kernel's accept queue
  // (net.core.somaxconn, 4,096 by default) is emptied as fast as the loop
  // turns. When it overflows the kernel drops SYNs, and those agents try
  // again after 1, 3, 7 s: 10,000 agents starting together, greeted 128 at
  // a time from the kernel's queue, had only 1,700–3,000 of them joined when
  // a 20-second job ended. A waiting connection holds a descriptor and
  // nothing else (nothing is read from it, no buffer, no timer) and gets
  // its greeting, in the order it came, when Room says so.
  // REQUIRES: no accept in flight.
  void Accept() {
    if (accepting || !alive || waiting.size() >= MaxWaiting()) return;
    accepting = true;
    acceptor.async_accept([self = shared_from_this()](const boost::system::error_code& ec,
                                                      tcp::socket socket) {
      self->accepting = false;
      if (!self->alive) return;
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
        // Out of descriptors and the like: say so, and try again shortly
        // rather than spinning.
        self->Log("cannot accept a connection: " + ec.message());
        self->retry.expires_after(milliseconds(100));
        self->retry.async_wait([self](const boost::system::error_code& e) {
          if (!e && self->alive) self->Accept();
        });
        return;
      }
      self->waiting.push_back(std::move(socket));
      self->AcceptPending();
      self->Greet();
    });
  }

  // Takes every connection already in the kernel's queue, up to
  // max_waiting, without waiting for the loop: one accept per completion
  // handler took one connection per turn of a loop busy with thousands of
  // agents' traffic, and the kernel's queue overflowed all the same.
  void AcceptPending() {
    boost::system::error_code ec;
    acceptor.non_blocking(true, ec);
    if (ec) return;
    while (waiting.size() < MaxWaiting()) {
      tcp::socket socket(acceptor.get_executor());
      acceptor.accept(socket, ec);
      if (ec) return;  // would_block: empty; anything else: the next async accept says so
      waiting.push_back(std::move(socket));
    }
  }

  // max_waiting, but never more than a quarter of this process's descriptor
  // limit when the listener was made: a stranger's waiting connections must
  // not take the descriptors the node needs for its logs, its workers'
  // pipes and its real agents (at the common soft limit of 1,024, 256 wait;
  // raise `ulimit -n` for a 10,000-node job, as the README says).
  static size_t WaitingBudget(size_t wanted) {
    struct rlimit limit;
    size_t budget = static_cast<size_t>(1) << 20;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
      budget = std::max<size_t>(static_cast<size_t>(limit.rlim_cur) / 4, 16);
    }
    return std::max<size_t>(std::min(wanted, budget), 1);
  }
  size_t MaxWaiting() const { return max_waiting; }

  // Starts the handshakes of waiting connections while there is room, then
  // accepts again if the waiting list had been full.
  void Greet() {
    while (!waiting.empty() && Room()) {
      tcp::socket socket = std::move(waiting.front());
      waiting.pop_front();
      OnAccept(std::move(socket));
    }
    Accept();
  }

  // Whether one more connection may start its handshake: below the cap, or
  // the oldest one has had evict_after and makes room. Otherwise the
  // waiting connections (and, once max_waiting of them wait, new ones in
  // the kernel's backlog) wait until a handshake ends or the oldest is old
  // enough. Evicting at once let 10,000 agents that joined together evict
  // each other for seconds: a handshake needs the agent's answer, and 128
  // newer arrivals came first. A real agent behind N stalled strangers
  // waits about N / max_handshaking × evict_after.
  bool Room() {
    handshaking.erase(std::remove_if(handshaking.begin(), handshaking.end(),
                                     [](const std::weak_ptr<TcpConnection>& w) {
                                       auto c = w.lock();
                                       return !c || c->open() || c->closed();
                                     }),
                      handshaking.end());
    if (options.max_handshaking == 0 || handshaking.size() < options.max_handshaking) return true;
    auto oldest = handshaking.front().lock();
    SteadyClock::time_point due = oldest->started() + EvictAfter();
    if (SteadyClock::now() >= due) {
      handshaking.erase(handshaking.begin());
      evicted++;
      LogRefused(fmt::format("closed {}: more than {} connections without a finished handshake; "
                             "the oldest makes room",
                             oldest->peer().address, options.max_handshaking));
      oldest->Abort();
      return true;
    }
    if (!paused) {
      paused = true;
      evict_timer.expires_at(due);
      evict_timer.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
        if (e || !self->alive || !self->paused) return;
        self->paused = false;
        self->Greet();
      });
    }
    return false;
  }

  // How long the oldest handshake keeps its place while others wait:
  // evict_after, or twice what the agents' handshakes have recently taken
  // when that is longer (at most handshake_timeout). A master busy with
  // thousands of agents' leases answered agents later than 100 ms, and
  // evicting them all made a storm of retries (10,000 in one bench run).
  // Only a peer that proves the secret counts, so strangers cannot
  // lengthen it.
  SteadyClock::duration EvictAfter() const {
    SteadyClock::duration after = std::max<SteadyClock::duration>(options.evict_after,
                                                                  2 * handshake_typical);
    return std::min<SteadyClock::duration>(after, options.handshake_timeout);
  }

  // A handshake ended: the next waiting connection may start its own.
  void Resume() {
    if (!alive) return;
    if (paused) {
      paused = false;
      evict_timer.cancel();
    }
    if (!waiting.empty()) Greet();
  }

  void OnAccept(tcp::socket socket) {
    boost::system::error_code ec;
    tcp::endpoint remote = socket.remote_endpoint(ec);
    PeerInfo peer;
    peer.id = next_id++;
    peer.address = ec ? std::string("(unknown address)") : EndpointText(remote);
    auto conn = std::make_shared<TcpConnection>(std::move(socket), TcpConnection::Side::kMaster,
                                                secret, options, peer);
    std::weak_ptr<State> weak = shared_from_this();
    std::string address = peer.address;
    conn->hooks.refused = [weak, address](const std::string& reason, bool) {
      auto self = weak.lock();
      if (!self) return;
      self->LogRefused(fmt::format("refused {}: {}", address, reason));
      // Posted: the connection is still among the handshaking until this
      // hook returns.
      asio::post(self->acceptor.get_executor(), [self] { self->Resume(); });
    };
    conn->hooks.admit = [weak](const PeerInfo& p) -> std::string {
      auto self = weak.lock();
      if (!self) return "the master is stopping";
      if (p.node == 0) {
        return "node rank 0 is the master's; each agent needs a rank of its own (check the "
               "launcher's rank variables or --node-rank)";
      }
      auto it = self->joined.find(p.node);
      if (it != self->joined.end()) {
        auto other = it->second.lock();
        if (other && !other->closed()) {
          return fmt::format("node rank {} has already joined from {} ({}); two nodes claim "
                             "one rank (check the launcher's rank variables or --node-rank)",
                             p.node, other->peer().address, other->peer().host);
        }
      }
      return "";
    };
    conn->hooks.open = [weak](const std::shared_ptr<TcpConnection>& c) {
      auto self = weak.lock();
      if (!self || !self->alive) {
        c->Close();
        return;
      }
      // A running average over the last ~16 handshakes.
      SteadyClock::duration took = SteadyClock::now() - c->started();
      self->handshake_typical = self->handshake_typical.count() == 0
                                    ? took
                                    : (self->handshake_typical * 15 + took) / 16;
      self->Resume();  // c->open() already: it no longer counts
      PeerInfo p = c->peer();
      self->joined[p.node] = c;
      c->hooks.lost = [weak, p](const std::string& reason, bool) {
        auto s = weak.lock();
        if (!s || !s->alive) return;
        s->Log(fmt::format("lost the agent of node {} ({}): {}", p.node, p.address, reason));
        if (s->events.lost) s->events.lost(p, reason);
      };
      self->Log(fmt::format("agent of node {} on {} joined from {} with {} slots", p.node,
                            p.host, p.address, p.slots));
      auto end = std::make_unique<TcpLinkEnd>(c);
      if (self->events.accepted) self->events.accepted(std::move(end));
    };
    handshaking.push_back(conn);
    conn->StartMaster();
  }

  // Lines about refused connections: at most kRefusedLines per
  // kRefusedWindow, then one line counting the rest, so that a stranger
  // opening thousands of connections cannot fill the disk with the log.
  void LogRefused(const std::string& line) {
    auto now = SteadyClock::now();
    if (now - window_start >= kRefusedWindow) {
      if (suppressed > 0) {
        Log(fmt::format("… and {} more connections refused in {} s (lines left out)", suppressed,
                        std::chrono::duration_cast<std::chrono::seconds>(kRefusedWindow).count()));
      }
      window_start = now;
      window_lines = 0;
      suppressed = 0;
    }
    if (window_lines < kRefusedLines) {
      window_lines++;
      Log(line);
    } else {
      suppressed++;
    }
  }

  static constexpr size_t kRefusedLines = 20;
  static constexpr std::chrono::seconds kRefusedWindow{10};
  SteadyClock::time_point window_start{};
  size_t window_lines = 0;
  uint64_t suppressed = 0;
  uint64_t evicted = 0;
  // Open connections by the node rank they proved, for refusing a second
  // node with the same rank.
  std::map<uint32_t, std::weak_ptr<TcpConnection>> joined;

  tcp::acceptor acceptor;
  asio::steady_timer retry;        // accepting again after an error
  asio::steady_timer evict_timer;  // the oldest handshake may be evicted
  std::string secret;
  TcpLinkOptions options;
  Events events;
  bool alive = true;
  bool paused = false;     // full of young handshakes: see Room
  bool accepting = false;  // an accept is in flight
  size_t max_waiting;      // options.max_waiting within the descriptor budget
  SteadyClock::duration handshake_typical{0};  // of agents that proved the secret: EvictAfter
  uint64_t next_id = 1;
  std::vector<std::weak_ptr<TcpConnection>> handshaking;
  // Accepted, not yet greeted (at most max_waiting), oldest first.
  std::deque<tcp::socket> waiting;
};

TcpListener::TcpListener(std::shared_ptr<State> state) : state_(std::move(state)) {}

TcpListener::~TcpListener() {
  state_->alive = false;
  boost::system::error_code ec;
  state_->acceptor.close(ec);
  state_->retry.cancel();
  state_->evict_timer.cancel();
  state_->waiting.clear();
  for (auto& w : state_->handshaking) {
    if (auto c = w.lock(); c && !c->open()) c->Close();
  }
}

Result<std::unique_ptr<TcpListener>> TcpListener::Listen(asio::io_context& io,
                                                         const std::string& host, uint16_t port,
                                                         std::string secret,
                                                         TcpLinkOptions options, Events events) {
  std::string where = fmt::format("{}:{}", host, port);
  if (options.heartbeat_interval.count() <= 0 ||
      options.heartbeat_timeout < options.heartbeat_interval ||
      options.heartbeat_timeout.count() > 0xffffffffLL) {
    return Status::Infrastructure(fmt::format(
        "cannot listen on {}: heartbeat every {} ms with a timeout of {} ms cannot work", where,
        options.heartbeat_interval.count(), options.heartbeat_timeout.count()));
  }
  boost::system::error_code ec;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(host, std::to_string(port),
                                  tcp::resolver::numeric_service | tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return Status::Infrastructure(
        fmt::format("cannot listen on {}: cannot resolve {}: {}", where, host,
                    ec ? ec.message() : std::string("no addresses")));
  }
  // One address: the first IPv4 one if there is one (agents try every
  // address a name resolves to, so they find it).
  tcp::endpoint endpoint = results.begin()->endpoint();
  for (const auto& r : results) {
    if (r.endpoint().address().is_v4()) {
      endpoint = r.endpoint();
      break;
    }
  }
  auto state = std::make_shared<State>(io, std::move(secret), options, std::move(events));
  tcp::acceptor& a = state->acceptor;
  auto fail = [&](const char* step) {
    return Status::Infrastructure(
        fmt::format("cannot listen on {} ({}): {}: {}", where, EndpointText(endpoint), step,
                    ec.message()));
  };
  a.open(endpoint.protocol(), ec);
  if (ec) return fail("socket");
  // A restarted master can bind again while old connections are in TIME_WAIT.
  a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (ec) return fail("SO_REUSEADDR");
  a.bind(endpoint, ec);
  if (ec) return fail("bind");
  a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  state->Accept();
  auto listener = std::unique_ptr<TcpListener>(new TcpListener(state));
  state->Log(fmt::format("listening on {} for agents", EndpointText(a.local_endpoint(ec))));
  return listener;
}

std::string TcpListener::address() const {
  boost::system::error_code ec;
  auto e = state_->acceptor.local_endpoint(ec);
  return ec ? std::string() : e.address().to_string();
}

uint16_t TcpListener::port() const {
  boost::system::error_code ec;
  auto e = state_->acceptor.local_endpoint(ec);
  return ec ? 0 : e.port();
}

// ---- TcpConnector -------------------------------------------------------------------

struct TcpConnector::State : std::enable_shared_from_this<TcpConnector::State> {
  State(asio::io_context& io, std::string host, uint16_t port, std::string secret,
        Identity identity, Options options, Events events)
      : io(io), resolver(io), timer(io), host(std::move(host)), port(port),
        secret(std::move(secret)), identity(std::move(identity)), options(options),
        events(std::move(events)), rng(std::random_device{}()) {}

  std::string Where() const { return fmt::format("{}:{}", host, port); }

  void Log(const std::string& line) {
    if (alive && events.log) events.log(line);
  }

  void Attempt() {
    attempts++;
    resolver.async_resolve(
        host, std::to_string(port), tcp::resolver::numeric_service,
        [self = shared_from_this()](const boost::system::error_code& ec,
                                    tcp::resolver::results_type results) {
          if (!self->alive || self->finished) return;
          if (ec) {
            self->Retry(fmt::format("cannot resolve {}: {}", self->host, ec.message()));
            return;
          }
          auto socket = std::make_shared<tcp::socket>(self->io);
          asio::async_connect(*socket, results,
                              [self, socket](const boost::system::error_code& e,
                                             const tcp::endpoint& endpoint) {
                                if (!self->alive || self->finished) return;
                                if (e) {
                                  self->Retry(e.message());
                                  return;
                                }
                                self->Handshake(std::move(*socket), endpoint);
                              });
        });
  }

  void Handshake(tcp::socket socket, const tcp::endpoint& endpoint) {
    PeerInfo peer;
    peer.id = attempts;
    peer.address = EndpointText(endpoint);
    peer.host = host;
    conn = std::make_shared<TcpConnection>(std::move(socket), TcpConnection::Side::kAgent, secret,
                                           options.link, peer);
    std::weak_ptr<State> weak = shared_from_this();
    conn->hooks.refused = [weak](const std::string& reason, bool final) {
      auto self = weak.lock();
      if (!self || !self->alive || self->finished) return;
      self->conn.reset();
      if (final) {
        self->Finish(Status::Usage(fmt::format("the master at {} {}", self->Where(), reason)));
      } else {
        self->Retry(reason);
      }
    };
    conn->hooks.open = [weak](const std::shared_ptr<TcpConnection>& c) {
      auto self = weak.lock();
      if (!self || !self->alive || self->finished) {
        c->Close();
        return;
      }
      self->conn.reset();
      c->hooks.lost = [weak](const std::string& reason, bool by_tls) {
        auto s = weak.lock();
        if (!s || !s->alive) return;
        s->Log(fmt::format("lost the master at {}: {}", s->Where(), reason));
        if (s->events.lost) s->events.lost(reason, by_tls);
      };
      self->Log(fmt::format("connected to the master at {} ({}) as node {}{}", self->Where(),
                            c->peer().address, self->identity.node,
                            self->options.link.tls
                                ? " over " + self->options.link.tls->description()
                                : std::string()));
      self->Finish(std::make_unique<TcpLinkEnd>(c));
    };
    conn->StartAgent(identity);
  }

  void Retry(const std::string& reason) {
    last_error = reason;
    auto elapsed = SteadyClock::now() - started;
    // ±20 % jitter so that many agents started together do not retry in step.
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    auto wait = milliseconds(static_cast<int64_t>(backoff.count() * jitter(rng)));
    if (elapsed + wait > options.retry_for) {
      double secs = std::chrono::duration<double>(elapsed).count();
      Finish(Status::Infrastructure(fmt::format(
          "cannot reach the master at {}: {} (tried {} time{} in {:.1f} s)", Where(), reason,
          attempts, attempts == 1 ? "" : "s", secs)));
      return;
    }
    Log(fmt::format("the master at {} is not reachable yet ({}); attempt {} in {:.1f} s", Where(),
                    reason, attempts + 1, wait.count() / 1000.0));
    backoff = std::min(options.max_backoff, backoff * 2);
    timer.expires_after(wait);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec && self->alive && !self->finished) self->Attempt();
    });
  }

  void Finish(Result<std::unique_ptr<TcpLinkEnd>> result) {
    finished = true;
    auto done = std::move(events.done);
    events.done = nullptr;
    if (done) done(std::move(result));
  }

  asio::io_context& io;
  tcp::resolver resolver;
  asio::steady_timer timer;
  std::string host;
  uint16_t port;
  std::string secret;
  Identity identity;
  Options options;
  Events events;
  std::mt19937 rng;
  SteadyClock::time_point started;
  milliseconds backoff{0};
  uint64_t attempts = 0;
  std::string last_error;
  bool alive = true;
  bool finished = false;
  std::shared_ptr<TcpConnection> conn;  // while in its handshake
};

TcpConnector::TcpConnector(asio::io_context& io, std::string host, uint16_t port,
                           std::string secret, Identity identity, Options options, Events events)
    : state_(std::make_shared<State>(io, std::move(host), port, std::move(secret),
                                     std::move(identity), options, std::move(events))) {}

TcpConnector::~TcpConnector() {
  state_->alive = false;
  state_->resolver.cancel();
  state_->timer.cancel();
  if (state_->conn) state_->conn->Close();
}

void TcpConnector::Start() {
  state_->started = SteadyClock::now();
  state_->backoff = state_->options.initial_backoff;
  state_->Attempt();
}

}  // namespace parallelrun
