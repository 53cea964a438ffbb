#include "base/crc32c.h"

#include <array>
#include <cstring>

namespace parallelrun {

namespace {

constexpr uint32_t kPolynomial = 0x82f63b78;  // reflected Castagnoli

std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    table[i] = c;
  }
  return table;
}

uint32_t Portable(const unsigned char* p, size_t n, uint32_t crc) {
  static const std::array<uint32_t, 256> table = MakeTable();
  for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// SSE 4.2 has an instruction for exactly this polynomial: 8 bytes a step,
// an order of magnitude faster than the table (the journal checksums every
// record on the master's loop).
__attribute__((target("sse4.2"))) uint32_t Hardware(const unsigned char* p, size_t n,
                                                    uint32_t crc) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = __builtin_ia32_crc32di(c, word);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n > 0) {
    c32 = __builtin_ia32_crc32qi(c32, *p++);
    n--;
  }
  return c32;
}

bool HasHardware() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#else
uint32_t Hardware(const unsigned char* p, size_t n, uint32_t crc) { return Portable(p, n, crc); }
bool HasHardware() { return false; }
#endif

}  // namespace

uint32_t Crc32c(std::string_view data, uint32_t crc) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  crc = ~crc;
  crc = HasHardware() ? Hardware(p, data.size(), crc) : Portable(p, data.size(), crc);
  return ~crc;
}

namespace internal {
uint32_t Crc32cPortable(std::string_view data, uint32_t crc) {
  return ~Portable(reinterpret_cast<const unsigned char*>(data.data()), data.size(), ~crc);
}
}  // namespace internal

}  // namespace parallelrun
