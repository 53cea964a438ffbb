#include "link/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/disk.h"
#include "base/hmac.h"
#include "base/job_dir.h"

namespace parallelrun {

namespace ssl = boost::asio::ssl;

const char kTlsGreeting[] =
    "this master uses TLS (--tls); an agent must use TLS too: every node of a job must use "
    "--tls, or none";

namespace {

constexpr size_t kMaxPemFile = 1 << 20;

// OpenSSL objects owned the C++ way.
struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct X509Free { void operator()(X509* x) const { X509_free(x); } };
struct PkeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// The oldest error on OpenSSL's queue, as text, and the queue emptied (it
// is per thread and would otherwise confuse the next caller).
std::string OpensslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

std::string Get(const EnvironmentMap& env, const char* name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

// A PEM file read whole (bounded); Usage error naming it and `what` it is.
Result<std::string> ReadPem(const std::string& path, const char* what) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Usage(fmt::format("{} {}: {}", what, path, ErrnoText(errno)));
  UniqueFd owner(fd);
  std::string text(kMaxPemFile, '\0');
  ssize_t got = ReadAll(fd, text.data(), text.size());
  if (got < 0) return Status::Usage(fmt::format("{} {}: {}", what, path, ErrnoText(errno)));
  text.resize(static_cast<size_t>(got));
  return text;
}

// A private key must not be readable by others: whoever reads it can pose
// as the master.
Status CheckKeyMode(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return Status::Usage(fmt::format("TLS key {}: {}", path, ErrnoText(errno)));
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return Status::Usage(fmt::format(
        "TLS key {}: its group or others may read or write it (mode {:04o}), so they could pose "
        "as this node; run chmod 600 {}",
        path, st.st_mode & 07777, path));
  }
  return Status::Ok();
}

X509Ptr ParseCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::string CertDer(X509* cert) {
  int n = i2d_X509(cert, nullptr);
  if (n <= 0) return "";
  std::string der(static_cast<size_t>(n), '\0');
  unsigned char* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(cert, &p);
  return der;
}

std::string Fingerprint(const std::string& der) {
  std::string hex = HexEncode(Sha256Digest(der));
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (!out.empty()) out += ':';
    out += hex.substr(i, 2);
  }
  return out;
}

// Writes `text` to `path` whole: a temporary file in the same folder with
// `mode`, then renamed over it, so that a reader sees the old file or the
// new one, never half.
Status WriteWhole(const std::string& path, const std::string& text, mode_t mode) {
  std::string temp = path + ".XXXXXX";
  int fd = mkostemp(temp.data(), O_CLOEXEC);  // mode 0600
  if (fd < 0) {
    return Status::Infrastructure(fmt::format("cannot write {}: {}", temp, ErrnoText(errno)));
  }
  UniqueFd owner(fd);
  Status s = Status::Ok();
  if (fchmod(fd, mode) != 0 || !WriteAll(fd, text.data(), text.size()) || fsync(fd) != 0) {
    s = Status::Infrastructure("cannot write " + ErrnoMessage(temp, errno));
  } else if (rename(temp.c_str(), path.c_str()) != 0) {
    s = Status::Infrastructure("cannot create " + ErrnoMessage(path, errno));
  }
  if (!s.ok()) unlink(temp.c_str());
  return s;
}

// Only TLS 1.2 and later, no renegotiation, no compression.
void Harden(ssl::context& ctx) {
  SSL_CTX* native = ctx.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE);
}

// Loads a certificate chain and its key from files into `ctx` and checks
// that they belong together.
Status UseCertificateFiles(ssl::context& ctx, const TlsSettings& s, const char* role) {
  if (s.cert_file.empty() || s.key_file.empty()) {
    return Status::Usage(fmt::format(
        "TLS: {} needs both --tls-cert and --tls-key (PARALLELRUN_TLS_CERT, "
        "PARALLELRUN_TLS_KEY); {} is missing",
        role, s.cert_file.empty() ? "--tls-cert" : "--tls-key"));
  }
  Status mode = CheckKeyMode(s.key_file);
  if (!mode.ok()) return mode;
  if (SSL_CTX_use_certificate_chain_file(ctx.native_handle(), s.cert_file.c_str()) != 1) {
    return Status::Usage(fmt::format("TLS certificate {}: {}", s.cert_file, OpensslError()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.native_handle(), s.key_file.c_str(), SSL_FILETYPE_PEM) !=
      1) {
    return Status::Usage(fmt::format("TLS key {}: {}", s.key_file, OpensslError()));
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    return Status::Usage(fmt::format("TLS key {} does not belong to the certificate {}: {}",
                                     s.key_file, s.cert_file, OpensslError()));
  }
  return Status::Ok();
}

Status UseCaFile(ssl::context& ctx, const std::string& ca) {
  if (SSL_CTX_load_verify_locations(ctx.native_handle(), ca.c_str(), nullptr) != 1) {
    return Status::Usage(fmt::format("TLS CA file {}: {}", ca, OpensslError()));
  }
  return Status::Ok();
}

// The master's self-signed pair in the job dir: used again when both files
// are there (a resumed job: agents may already trust it), else made anew.
Result<std::string> SelfSignedInJobDir(ssl::context& ctx, const std::string& job_dir) {
  std::string cert_path = TlsCertPath(job_dir), key_path = TlsKeyPath(job_dir);
  if (access(cert_path.c_str(), F_OK) == 0 && access(key_path.c_str(), F_OK) == 0) {
    TlsSettings files;
    files.cert_file = cert_path;
    files.key_file = key_path;
    Status used = UseCertificateFiles(ctx, files, "the master");
    if (!used.ok()) return used;
    return std::string("used again");
  }
  std::string folder = cert_path.substr(0, cert_path.rfind('/'));
  Status made = CreateFolders(folder, "the job dir's TLS folder");
  if (!made.ok()) return made;
  chmod(folder.c_str(), 0700);
  auto pair = MakeSelfSignedPair("parallelrun job master");
  if (!pair.ok()) return pair.status();
  // The key first: an agent waits for the certificate, and the master must
  // never present a certificate whose key is not there yet.
  Status w = WriteWhole(key_path, pair->key_pem, 0600);
  if (!w.ok()) return w;
  w = WriteWhole(cert_path, pair->cert_pem, 0644);
  if (!w.ok()) return w;
  TlsSettings files;
  files.cert_file = cert_path;
  files.key_file = key_path;
  Status used = UseCertificateFiles(ctx, files, "the master");
  if (!used.ok()) return used;
  return std::string("made");
}

}  // namespace

Result<TlsSettings> ResolveTlsSettings(const EnvironmentMap& env, const TlsFlags& flags) {
  TlsSettings s;
  s.cert_file = !flags.cert_file.empty() ? flags.cert_file : Get(env, "PARALLELRUN_TLS_CERT");
  s.key_file = !flags.key_file.empty() ? flags.key_file : Get(env, "PARALLELRUN_TLS_KEY");
  s.ca_file = !flags.ca_file.empty() ? flags.ca_file : Get(env, "PARALLELRUN_TLS_CA");
  bool files = !s.self_signed();
  std::string value = Get(env, "PARALLELRUN_TLS");
  std::string lower = value;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  bool env_on = false, env_off = false;
  if (lower == "on" || lower == "1" || lower == "true" || lower == "yes") {
    env_on = true;
  } else if (lower == "off" || lower == "0" || lower == "false" || lower == "no") {
    env_off = true;
  } else if (env.count("PARALLELRUN_TLS")) {
    return Status::Usage(fmt::format(
        "PARALLELRUN_TLS='{}' is not valid: give on or off (1/0, true/false, yes/no)", value));
  }
  if (flags.tls) {
    s.enabled = true;
  } else if (env_off && files) {
    return Status::Usage(
        "PARALLELRUN_TLS=off but TLS certificate files are given (--tls-cert, --tls-key, "
        "--tls-ca or PARALLELRUN_TLS_CERT/_KEY/_CA), which ask for TLS: drop one or the other");
  } else {
    s.enabled = env_on || files;
  }
  for (const auto& [file, what] : {std::pair{s.cert_file, "TLS certificate"},
                                   std::pair{s.key_file, "TLS key"},
                                   std::pair{s.ca_file, "TLS CA file"}}) {
    if (!file.empty() && access(file.c_str(), R_OK) != 0) {
      return Status::Usage(fmt::format("{} {}: {}", what, file, ErrnoText(errno)));
    }
  }
  return s;
}

TlsContext::TlsContext(bool server)
    : context_(server ? ssl::context::tls_server : ssl::context::tls_client), server_(server) {
  Harden(context_);
}

Result<std::shared_ptr<TlsContext>> TlsContext::ForMaster(const TlsSettings& settings,
                                                          const std::string& job_dir) {
  auto tls = std::make_shared<TlsContext>(true);
  ssl::context& ctx = tls->context_;
  if (settings.self_signed()) {
    auto how = SelfSignedInJobDir(ctx, job_dir);
    if (!how.ok()) return how.status();
    auto pem = ReadPem(TlsCertPath(job_dir), "TLS certificate");
    if (!pem.ok()) return pem.status();
    tls->description_ = fmt::format(
        "TLS with a self-signed certificate ({} in the job dir: {}; SHA-256 fingerprint {}); "
        "agents trust exactly this certificate",
        how.value(), TlsCertPath(job_dir), CertificateFingerprint(pem.value()));
    return tls;
  }
  Status used = UseCertificateFiles(ctx, settings, "the master");
  if (!used.ok()) return used;
  tls->description_ = fmt::format("TLS with the certificate {}", settings.cert_file);
  if (!settings.ca_file.empty()) {
    Status ca = UseCaFile(ctx, settings.ca_file);
    if (!ca.ok()) return ca;
    ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    tls->description_ += fmt::format("; agents must present a certificate {} signed",
                                     settings.ca_file);
  }
  return tls;
}

Result<std::shared_ptr<TlsContext>> TlsContext::ForAgent(const TlsSettings& settings,
                                                         const std::string& job_dir,
                                                         const std::string& master_host) {
  auto tls = std::make_shared<TlsContext>(false);
  ssl::context& ctx = tls->context_;
  if (settings.self_signed()) {
    tls->pinned_path_ = TlsCertPath(job_dir);
    tls->description_ = fmt::format(
        "TLS, trusting exactly the master's self-signed certificate {}", tls->pinned_path_);
    ctx.set_verify_mode(ssl::verify_peer);
    // Pinning: the master's own certificate must be these bytes; the chain
    // it may send above it does not matter, nor do names or dates.
    TlsContext* self = tls.get();  // owns the context, so outlives the callback
    ctx.set_verify_callback([self](bool, ssl::verify_context& vc) {
      X509_STORE_CTX* store = vc.native_handle();
      if (X509_STORE_CTX_get_error_depth(store) > 0) return true;
      X509* presented = X509_STORE_CTX_get_current_cert(store);
      if (presented && !self->pinned_der_.empty() && CertDer(presented) == self->pinned_der_) {
        X509_STORE_CTX_set_error(store, X509_V_OK);
        return true;
      }
      X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
      return false;
    });
    Status loaded = tls->Ready();
    if (!loaded.ok() && loaded.code() == Status::Code::kUsage) return loaded;
    return tls;
  }
  if (settings.ca_file.empty()) {
    return Status::Usage(
        "TLS: an agent needs --tls-ca (PARALLELRUN_TLS_CA) to verify the master's certificate; "
        "give every node the same --tls-cert, --tls-key and --tls-ca, or only --tls for a "
        "self-signed certificate in a shared job dir");
  }
  Status ca = UseCaFile(ctx, settings.ca_file);
  if (!ca.ok()) return ca;
  ctx.set_verify_mode(ssl::verify_peer);
  tls->verify_host_ = master_host;
  tls->description_ = fmt::format("TLS, verifying that the master's certificate names {} and {} "
                                  "signed it",
                                  master_host, settings.ca_file);
  if (!settings.cert_file.empty() || !settings.key_file.empty()) {
    Status used = UseCertificateFiles(ctx, settings, "an agent");
    if (!used.ok()) return used;
    tls->description_ += fmt::format("; presenting {}", settings.cert_file);
  }
  return tls;
}

Status TlsContext::Ready() {
  if (pinned_path_.empty() || !pinned_der_.empty()) return Status::Ok();
  if (access(pinned_path_.c_str(), F_OK) != 0) {
    return Status::Infrastructure(fmt::format(
        "its TLS certificate {} is not there yet (with --tls and no certificate files every "
        "node must see the master's job dir: --job-dir on shared storage)",
        pinned_path_));
  }
  auto pem = ReadPem(pinned_path_, "TLS certificate");
  if (!pem.ok()) return pem.status();
  X509Ptr cert = ParseCert(pem.value());
  if (!cert) {
    return Status::Usage(fmt::format("TLS certificate {}: not a PEM certificate ({})",
                                     pinned_path_, OpensslError()));
  }
  pinned_der_ = CertDer(cert.get());
  description_ += fmt::format(" (SHA-256 fingerprint {})", Fingerprint(pinned_der_));
  return Status::Ok();
}

void TlsContext::Prepare(void* ssl_handle) const {
  if (verify_host_.empty()) return;
  SSL* ssl = static_cast<SSL*>(ssl_handle);
  boost::system::error_code ec;
  boost::asio::ip::make_address(verify_host_, ec);
  if (!ec) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), verify_host_.c_str());
  } else {
    SSL_set1_host(ssl, verify_host_.c_str());
    SSL_set_tlsext_host_name(ssl, verify_host_.c_str());
  }
}

std::string TlsContext::Explain(const boost::system::error_code& ec, const void* ssl_handle) const {
  std::string text = ec.message();
  const SSL* ssl = static_cast<const SSL*>(ssl_handle);
  long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (!server_ && verify != X509_V_OK) {
    text += fmt::format(" ({})", X509_verify_cert_error_string(verify));
    if (!pinned_path_.empty()) {
      text += fmt::format(": the master's certificate is not the one in {} (another job's "
                          "master, or someone between the nodes)",
                          pinned_path_);
    } else if (verify == X509_V_ERR_HOSTNAME_MISMATCH ||
               verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      text += fmt::format(": the master's certificate does not name {}, the address agents "
                          "dial (--master-addr, MASTER_ADDR); give it a certificate whose "
                          "subjectAltName has that name or address",
                          verify_host_);
    }
  } else if (server_ && verify != X509_V_OK) {
    text += fmt::format(" (the agent's certificate: {})", X509_verify_cert_error_string(verify));
  }
  return text;
}

Result<SelfSignedPair> MakeSelfSignedPair(const std::string& common_name) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Status::Infrastructure("TLS: cannot make a key: " + OpensslError());
  X509Ptr cert(X509_new());
  if (!cert) return Status::Infrastructure("TLS: cannot make a certificate: " + OpensslError());
  std::string serial = RandomBytes(16);
  if (serial.size() != 16) return Status::Infrastructure("TLS: no random bytes for a serial");
  serial[0] = static_cast<char>(serial[0] & 0x7f);  // positive
  std::unique_ptr<BIGNUM, void (*)(BIGNUM*)> bn(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(serial.data()), 16, nullptr), BN_free);
  bool ok = bn && X509_set_version(cert.get(), 2) == 1 &&
            BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) != nullptr &&
            X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600) != nullptr &&
            X509_set_pubkey(cert.get(), key.get()) == 1;
  X509_NAME* name = X509_get_subject_name(cert.get());
  ok = ok && X509_NAME_add_entry_by_txt(
                 name, "CN", MBSTRING_UTF8,
                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0) == 1 &&
       X509_set_issuer_name(cert.get(), name) == 1 &&
       X509_sign(cert.get(), key.get(), EVP_sha256()) > 0;
  if (!ok) return Status::Infrastructure("TLS: cannot make a certificate: " + OpensslError());
  SelfSignedPair pair;
  BioPtr cb(BIO_new(BIO_s_mem())), kb(BIO_new(BIO_s_mem()));
  if (!cb || !kb || PEM_write_bio_X509(cb.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Status::Infrastructure("TLS: cannot write the certificate: " + OpensslError());
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(cb.get(), &data);
  pair.cert_pem.assign(data, static_cast<size_t>(n));
  n = BIO_get_mem_data(kb.get(), &data);
  pair.key_pem.assign(data, static_cast<size_t>(n));
  return pair;
}

std::string CertificateFingerprint(const std::string& pem) {
  X509Ptr cert = ParseCert(pem);
  if (!cert) {
    ERR_clear_error();
    return "";
  }
  return Fingerprint(CertDer(cert.get()));
}

}  // namespace parallelrun
