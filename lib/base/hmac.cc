#include "base/hmac.h"

#include <errno.h>
#include <sys/random.h>

#include <cstdlib>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace parallelrun {

struct Sha256::Context {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Context() { EVP_MD_CTX_free(ctx); }
};

// Allocation failure in libcrypto is out-of-memory: there is no digest to
// return and no caller that could go on without one.
Sha256::Sha256() : context_(std::make_unique<Context>()) {
  if (!context_->ctx || EVP_DigestInit_ex(context_->ctx, EVP_sha256(), nullptr) != 1) {
    std::abort();
  }
}

Sha256::~Sha256() = default;

void Sha256::Update(std::string_view data) {
  if (EVP_DigestUpdate(context_->ctx, data.data(), data.size()) != 1) std::abort();
}

std::string Sha256::Final() {
  std::string out(kSha256Size, '\0');
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(context_->ctx, reinterpret_cast<unsigned char*>(out.data()), &n) != 1 ||
      n != kSha256Size) {
    std::abort();
  }
  return out;
}

std::string Sha256Digest(std::string_view data) {
  std::string out(kSha256Size, '\0');
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &n,
                 EVP_sha256(), nullptr) != 1 ||
      n != kSha256Size) {
    std::abort();
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view message) {
  std::string out(kSha256Size, '\0');
  unsigned int n = 0;
  // HMAC() with a null key pointer means "no key"; an empty key must still
  // be a key, so point at something.
  static const unsigned char kNothing = 0;
  const void* k = key.empty() ? static_cast<const void*>(&kNothing) : key.data();
  if (!HMAC(EVP_sha256(), k, static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(message.data()), message.size(),
            reinterpret_cast<unsigned char*>(out.data()), &n) ||
      n != kSha256Size) {
    std::abort();
  }
  return out;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string HexEncode(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    unsigned char u = static_cast<unsigned char>(c);
    out.push_back(kHex[u >> 4]);
    out.push_back(kHex[u & 15]);
  }
  return out;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(out.data() + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return {};
    }
    got += static_cast<size_t>(r);
  }
  return out;
}

}  // namespace parallelrun
