// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for the master ⇄ agent
// link's authentication (link_codec.h): a peer proves it knows the job secret
// by answering a random nonce with an HMAC, never by sending the secret.
//
// OpenSSL's libcrypto does the hashing: it is in the build anyway for the
// link's TLS (link/tls.h), and its code is reviewed and constant-time where
// it matters. This file keeps the tool's small interface to it, checked
// against the FIPS 180-2 and RFC 4231 test vectors (tests/hmac_test.cc).
#ifndef PARALLELRUN_BASE_HMAC_H_
#define PARALLELRUN_BASE_HMAC_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace parallelrun {

constexpr size_t kSha256Size = 32;

// Incremental SHA-256: Update any number of times, then Final once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view data);
  // The 32-byte digest. REQUIRES: called once; the object is spent after.
  std::string Final();

 private:
  struct Context;  // OpenSSL's EVP_MD_CTX, kept out of this header
  std::unique_ptr<Context> context_;
};

// SHA-256 of `data`: 32 raw bytes.
std::string Sha256Digest(std::string_view data);

// HMAC-SHA256 of `message` under `key` (any length): 32 raw bytes.
std::string HmacSha256(std::string_view key, std::string_view message);

// Equality whose running time does not depend on where the inputs differ,
// for comparing a received proof with the expected one.
bool ConstantTimeEqual(std::string_view a, std::string_view b);

// Lower-case hex of `bytes` (for tests and log lines).
std::string HexEncode(std::string_view bytes);

// `n` bytes from the kernel's random source (getrandom). Empty on failure,
// which callers treat as fatal: a predictable nonce is no nonce.
std::string RandomBytes(size_t n);

}  // namespace parallelrun

#endif  // PARALLELRUN_BASE_HMAC_H_
