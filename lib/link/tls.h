// TLS for the master ⇄ agent link (tcp_link.h), for networks that are not
// trusted: with it, paths and rows do not travel in the clear, and nobody
// between the nodes can read or inject frames once the handshake is done.
// The job secret's handshake (link_codec.h) still runs, inside TLS: TLS says
// who the master is, the secret says that a peer belongs to this job.
//
// Settings, the flag first, then the environment; every node of a job must
// agree (a node with TLS meeting one without fails at once, with a message
// on both sides):
//   --tls              PARALLELRUN_TLS=on|off (1/0, true/false, yes/no)
//   --tls-cert FILE    PARALLELRUN_TLS_CERT   PEM certificate (chain) of this node
//   --tls-key FILE     PARALLELRUN_TLS_KEY    its PEM private key (mode 0600)
//   --tls-ca FILE      PARALLELRUN_TLS_CA     PEM CA certificates to verify peers
// Any of the three files turns TLS on. Two ways to get certificates:
//   - self-signed (--tls, no files): the master makes an EC P-256 key and a
//     self-signed certificate into <job dir>/.parallelrun/tls/ (key mode
//     0600; an existing pair is used again, for a resumed job), and agents,
//     which must see the same job dir, trust exactly that certificate
//     (pinned: compared byte for byte, no name or date check).
//   - files: the master presents --tls-cert/--tls-key; agents verify it
//     against --tls-ca, including that it names the host they dial
//     (--master-addr / MASTER_ADDR). With --tls-ca on the master too, the
//     master asks each agent for a certificate --tls-ca signed (agents then
//     give --tls-cert/--tls-key as well): the same three flags on every node
//     give mutual TLS.
// TLS 1.2 at least, OpenSSL's default ciphers, no renegotiation.
//
// On the wire (before the link's MASTER_HELLO): a master with TLS sends, in
// the clear, one ERROR frame whose reason is kTlsGreeting, then waits for
// the agent's TLS ClientHello. An agent without TLS reads an ERROR saying
// that the master uses TLS and stops; an agent with TLS checks that the
// greeting is exactly that frame, then starts TLS. An agent with TLS that
// reads a MASTER_HELLO instead knows the master does not use TLS, and says
// so to it in an ERROR frame. Nothing but this fixed greeting ever travels in
// the clear, and an agent never falls back to a plain link.
#ifndef PARALLELRUN_LINK_TLS_H_
#define PARALLELRUN_LINK_TLS_H_

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include "link/role.h"
#include "parallelrun/status.h"

namespace parallelrun {

// The reason text of the ERROR frame a master with TLS greets with.
extern const char kTlsGreeting[];

// What the command line said ("" / false: not given there).
struct TlsFlags {
  bool tls = false;  // --tls
  std::string cert_file, key_file, ca_file;
};

struct TlsSettings {
  bool enabled = false;
  std::string cert_file, key_file, ca_file;  // all "": self-signed in the job dir
  bool self_signed() const { return cert_file.empty() && key_file.empty() && ca_file.empty(); }
};

// Flags first, then PARALLELRUN_TLS*. Usage errors: PARALLELRUN_TLS with a
// value that is not on/off; PARALLELRUN_TLS=off with certificate files
// (which ask for TLS); a file named that does not exist.
Result<TlsSettings> ResolveTlsSettings(const EnvironmentMap& env, const TlsFlags& flags);

// One side's TLS: an OpenSSL context set up for the master (server) or an
// agent (client), and what is needed to explain a failed handshake.
class TlsContext {
 public:
  boost::asio::ssl::context& context() { return context_; }
  bool server() const { return server_; }
  // Agent with CA files: the name the master's certificate must carry.
  const std::string& verify_host() const { return verify_host_; }
  // For the node log: "TLS with the self-signed certificate <path> (SHA-256
  // fingerprint …)", "TLS with the certificate <file>, peers verified
  // against <ca>".
  const std::string& description() const { return description_; }
  // A failed TLS handshake as a sentence: `ec` and, when `ssl` is given,
  // the certificate check's result, with what to do about it.
  std::string Explain(const boost::system::error_code& ec, const void* ssl) const;
  // Sets up one connection's OpenSSL object (an SSL*) before its handshake:
  // on an agent with CA files, the name or address the master's
  // certificate must carry (OpenSSL's own check, so that a mismatch is
  // reported as one).
  void Prepare(void* ssl) const;

  // The master's side. Self-signed: makes (or uses again) the key and the
  // certificate in `job_dir`. Errors: Usage for files that cannot be read or
  // do not match, a key others may read; Infrastructure when the job dir
  // cannot be written.
  static Result<std::shared_ptr<TlsContext>> ForMaster(const TlsSettings& settings,
                                                       const std::string& job_dir);
  // An agent's side, for the master at `master_host`. Self-signed: the
  // certificate in `job_dir` is read now if it is there, else by Ready()
  // when a master greets with TLS (a master without TLS is then told at
  // once, instead of after a wait for a file that never comes). Usage
  // errors as above.
  static Result<std::shared_ptr<TlsContext>> ForAgent(const TlsSettings& settings,
                                                      const std::string& job_dir,
                                                      const std::string& master_host);

  // Agent, self-signed: reads the pinned certificate if not read yet (a
  // small file: the one blocking read, once per job). Infrastructure while
  // the master has not written it (try again), Usage when it is not a
  // certificate. Ok in every other case.
  Status Ready();

  explicit TlsContext(bool server);

 private:
  boost::asio::ssl::context context_;
  bool server_;
  std::string verify_host_;
  std::string description_;
  std::string pinned_path_;  // agent, self-signed: where the pinned certificate comes from
  std::string pinned_der_;   // and its DER bytes, once read
};

// The certificate and key a master with --tls and no files makes, as PEM
// text: an EC P-256 key and a self-signed certificate for it, valid from an
// hour ago for ten years (with pinning only the bytes matter). Errors:
// Infrastructure when OpenSSL fails.
struct SelfSignedPair {
  std::string cert_pem, key_pem;
};
Result<SelfSignedPair> MakeSelfSignedPair(const std::string& common_name);

// "ab:cd:…": the SHA-256 of a PEM certificate's DER bytes; "" when `pem` is
// not a certificate.
std::string CertificateFingerprint(const std::string& pem);

}  // namespace parallelrun

#endif  // PARALLELRUN_LINK_TLS_H_
