// CRC32C (Castagnoli), the per-block checksum of replfs. Uses SSE4.2 when the
// CPU has it (checked once at run time), else a table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace replfs {

// Extends `crc` (0 for a fresh checksum) over data[0, n).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }
inline uint32_t Crc32c(std::string_view s) { return Crc32c(s.data(), s.size()); }

}  // namespace replfs
