// TcpLink: the master ⇄ agent link between nodes, over TCP with Boost.Asio,
// speaking the protocol of link_codec.h. The master's TcpListener accepts
// agents and hands out one TcpLinkEnd per agent that proved it knows the job
// secret; an agent gets its TcpLinkEnd from TcpConnector, which retries with
// back-off until the master answers or the time runs out. A TcpLinkEnd is a
// LinkEnd, so Master and Agent use it exactly like the in-process link.
//
// Threads: everything runs on one io_context's thread; no handler blocks, no
// exception leaves a handler (error_code overloads throughout).
//
// Connections: TCP_NODELAY; outgoing frames are queued and written many per
// write; incoming bytes go through LinkDecoder. A malformed, truncated,
// oversized or wrong-version frame, a failed authentication, a handshake not
// finished within handshake_timeout, or a peer that sends nothing for
// heartbeat_timeout ends that one connection — with an ERROR frame to the
// peer where one can still be sent, and a log line naming the peer's address
// and the reason — and nothing else.
//
// How a connection ends, seen by its owner:
//   - this side closes it (TcpLinkEnd::Close or its destructor): queued
//     frames, then GOODBYE, are sent; no callback follows.
//   - otherwise (the peer's GOODBYE or ERROR, a reset, silence, a protocol
//     error): the `lost` callback runs once with a reason. For the master
//     that means: requeue the agent's leases unless it already said Bye.
// After a TcpLinkEnd is destroyed nothing calls its handler or `lost`.
//
// Strangers (DESIGN.md §5): before the HMAC proof a connection holds at most
// a greeting-sized buffer, at most max_handshaking of them exist at once (the
// oldest is closed for a new one once it has had evict_after; at most
// max_waiting more wait for a place holding only a descriptor), each has
// handshake_timeout to finish, and the lines logged about refused
// connections are rate-limited; with TLS
// (tls.h) the same holds for the TLS handshake, which counts as part of the
// handshake: a connection that sends anything but a ClientHello is closed at
// its first byte, and OpenSSL's state is made only for one that does. An
// agent that
// proves the secret but claims a node rank that is the master's or already
// joined is refused with a message on both sides.
#ifndef PARALLELRUN_LINK_TCP_LINK_H_
#define PARALLELRUN_LINK_TCP_LINK_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "link/link.h"
#include "parallelrun/status.h"

namespace parallelrun {

class TcpConnection;  // tcp_link.cc
class TlsContext;     // tls.h

struct TcpLinkOptions {
  // The master's values are announced in WELCOME and used by both sides; an
  // agent's own values matter only until then.
  std::chrono::milliseconds heartbeat_interval{2000};
  std::chrono::milliseconds heartbeat_timeout{30000};
  std::chrono::milliseconds handshake_timeout{10000};
  // Connections that have not yet proved the secret. One more closes the
  // oldest of them once that one has had evict_after; until then new
  // connections wait in the kernel's backlog. Strangers cannot hold more
  // than this many sockets (and their greeting-sized buffers), nor one for
  // longer than evict_after while others wait; a real agent, whose
  // handshake takes a round trip, gets evict_after to finish it, even when
  // thousands join at once — or twice what the recent agents' handshakes
  // took when that is longer (a busy master answers late), at most
  // handshake_timeout.
  size_t max_handshaking = 128;
  std::chrono::milliseconds evict_after{100};
  // Accepted connections that wait for one of those places, in the order
  // they came: a descriptor each, nothing read from them. The listener
  // empties the kernel's accept queue into this list, so that a storm of
  // agents (10,000 starting together) does not overflow the kernel's queue
  // (net.core.somaxconn, 4,096 by default), where dropped SYNs are sent
  // again only after 1, 3, 7 s. Once this many wait, new ones wait in the
  // kernel's backlog. A stranger's connection waits its turn, then has
  // evict_after like any other: at most max_waiting + max_handshaking
  // descriptors are held by unproven peers. Capped at a quarter of the
  // process's descriptor limit (RLIMIT_NOFILE), so that strangers cannot
  // take the descriptors the node needs.
  size_t max_waiting = 8192;
  // Bytes queued for a peer that does not read before it counts as lost.
  size_t max_queued_bytes = 256u << 20;
  // TLS (tls.h): the master's context on a listener, an agent's on a
  // connector. Null: plain TCP. Both ends must agree (tls.h says how a
  // mismatch is told).
  std::shared_ptr<TlsContext> tls;
};

// Who is at the other end of a link.
struct PeerInfo {
  uint64_t id = 0;          // connection number on this listener/connector, from 1
  std::string address;      // "10.0.0.5:40312"
  uint32_t node = 0;        // agent's node rank (on the agent side: 0, the master)
  uint32_t slots = 0;       // from AGENT_HELLO
  std::string host;         // the agent's host name (on the agent side: as dialled)
  uint64_t capabilities = 0;  // agreed in WELCOME
};

class TcpLinkEnd : public LinkEnd {
 public:
  explicit TcpLinkEnd(std::shared_ptr<TcpConnection> connection);
  ~TcpLinkEnd() override;  // Close()
  TcpLinkEnd(const TcpLinkEnd&) = delete;
  TcpLinkEnd& operator=(const TcpLinkEnd&) = delete;

  // Queues `message`; dropped silently once the connection has ended (the
  // owner has been told through `lost`).
  void Send(LinkMessage message) override;
  // Messages that arrived before this was called are delivered, in order,
  // from the loop soon after.
  void SetHandler(Handler handler) override;
  size_t queued_bytes() const override;
  const PeerInfo& peer() const;
  bool open() const;
  // Sends what is queued, then GOODBYE, and closes; no callbacks after.
  void Close();

 private:
  std::shared_ptr<TcpConnection> connection_;
};

// The master's side: listens where it is told and accepts agents.
class TcpListener {
 public:
  struct Events {
    // An agent completed the handshake. The receiver owns the end; dropping
    // it closes the connection.
    std::function<void(std::unique_ptr<TcpLinkEnd>)> accepted;
    // An accepted agent's connection ended without this side closing it
    // (see the header comment); `reason` says how.
    std::function<void(const PeerInfo&, const std::string& reason)> lost;
    // Lines for the master's log: refusals and losses with the peer's
    // address and the reason, joins.
    std::function<void(const std::string&)> log;
  };

  // Binds `host`:`port` (port 0 = any free one) and starts accepting on `io`.
  // `host` is resolved here, synchronously: call it while setting up, not
  // from a handler. Infrastructure error naming the address when it cannot
  // be resolved or bound.
  static Result<std::unique_ptr<TcpListener>> Listen(boost::asio::io_context& io,
                                                     const std::string& host, uint16_t port,
                                                     std::string secret, TcpLinkOptions options,
                                                     Events events);
  // Stops accepting and closes connections still in their handshake; links
  // already handed out stay open, but this listener's events stop.
  ~TcpListener();

  std::string address() const;  // the bound address, without the port
  uint16_t port() const;        // the bound port

  struct State;  // tcp_link.cc

 private:
  explicit TcpListener(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

// The agent's side: connects to the master, retrying with back-off.
class TcpConnector {
 public:
  struct Options {
    TcpLinkOptions link;
    // Keep trying this long after Start (the master may start later, or its
    // name may not resolve yet), waiting initial_backoff, then twice as long
    // each time up to max_backoff, ±20 % so that many agents do not retry in
    // step.
    std::chrono::milliseconds retry_for{std::chrono::minutes(5)};
    std::chrono::milliseconds initial_backoff{100};
    std::chrono::milliseconds max_backoff{5000};
  };
  struct Identity {
    uint32_t node = 0;
    uint32_t slots = 0;
    std::string host;
  };
  struct Events {
    // Once: the link, or why there is none: Infrastructure "cannot reach the
    // master at H:P …" after retry_for, or Usage when the master refused this
    // agent (authentication, version) or failed to prove itself — those are
    // not retried.
    std::function<void(Result<std::unique_ptr<TcpLinkEnd>>)> done;
    // The link given by `done` ended without this side closing it. `by_tls`:
    // TLS ended it (a record failed its check: someone between the nodes or
    // a broken network), so the master is not known to be gone.
    std::function<void(const std::string& reason, bool by_tls)> lost;
    std::function<void(const std::string&)> log;
  };

  TcpConnector(boost::asio::io_context& io, std::string host, uint16_t port, std::string secret,
               Identity identity, Options options, Events events);
  // Cancels a connection attempt in progress (no `done` after). `lost` stops
  // too, but a link already handed out stays open.
  ~TcpConnector();

  void Start();

  struct State;  // tcp_link.cc

 private:
  std::shared_ptr<State> state_;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_LINK_TCP_LINK_H_
