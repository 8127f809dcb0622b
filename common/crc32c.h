// CRC32C (Castagnoli), the per-block checksum of replfs. Uses SSE4.2 when the
// CPU has it (checked once at run time), else a table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace replfs {

// Extends `crc` (0 for a fresh checksum) over data[0, n).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

// The CRC32C of A followed by B, from crc_a = CRC32C(A), crc_b = CRC32C(B)
// and len_b = |B|, without the bytes (zlib's crc32_combine: multiplication
// by x^(8 len_b) modulo the polynomial). O(log len_b).
uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }
inline uint32_t Crc32c(std::string_view s) { return Crc32c(s.data(), s.size()); }

}  // namespace replfs
