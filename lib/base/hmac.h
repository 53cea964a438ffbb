// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for the master ⇄ agent
// link's authentication (link_codec.h): a peer proves it knows the job secret
// by answering a random nonce with an HMAC, never by sending the secret.
//
// Written here rather than taken from OpenSSL's libcrypto so that the tool
// keeps its short dependency list (DESIGN.md §10); ~150 lines, checked
// against the FIPS 180-2 and RFC 4231 test vectors (tests/hmac_test.cc).
// Not constant-time with respect to the key length, which is not secret.
#ifndef PARALLELRUN_BASE_HMAC_H_
#define PARALLELRUN_BASE_HMAC_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parallelrun {

constexpr size_t kSha256Size = 32;

// Incremental SHA-256: Update any number of times, then Final once.
class Sha256 {
 public:
  Sha256();
  void Update(std::string_view data);
  // The 32-byte digest. REQUIRES: called once; the object is spent after.
  std::string Final();

 private:
  void Block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buffered_ = 0;
  uint64_t length_ = 0;  // bytes hashed so far
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
