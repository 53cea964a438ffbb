// CRC-32C (Castagnoli), the checksum of the journal's records: it catches a
// torn or overwritten tail, not an attacker.
#ifndef PARALLELRUN_BASE_CRC32C_H_
#define PARALLELRUN_BASE_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace parallelrun {

// The CRC-32C of `data`, continuing from `crc` (0 to start).
// With SSE 4.2 (checked at run time) the processor computes it.
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

namespace internal {
// The table-driven version, for machines without SSE 4.2; tests compare the two.
uint32_t Crc32cPortable(std::string_view data, uint32_t crc = 0);
}  // namespace internal

}  // namespace parallelrun

#endif  // PARALLELRUN_BASE_CRC32C_H_
