// Key and value encoding of the datad block store (the table in
// thrift/PROTOCOL.md). Internal to block_store*.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/crc32c.h"

namespace replfs::datad::format {

inline void PutBE(std::string* s, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void PutLE(std::string* s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline uint64_t GetBE(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
inline uint64_t GetLE(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

inline constexpr size_t kChunkKeySize = 9;   // 'h' + u64
inline constexpr size_t kBlockKeySize = 13;  // 'b' + u64 + u32
inline constexpr size_t kCrcSize = 4;
inline constexpr size_t kHeaderSize = 12;    // magic + u32 block size

inline std::string HeaderKey() { return "M"; }

inline std::string ChunkKey(int64_t chunk) {
  std::string k = "h";
  PutBE(&k, static_cast<uint64_t>(chunk), 8);
  return k;
}

inline std::string BlockKey(int64_t chunk, uint32_t idx) {
  std::string k = "b";
  PutBE(&k, static_cast<uint64_t>(chunk), 8);
  PutBE(&k, idx, 4);
  return k;
}

inline std::string VersionValue(int64_t version) {
  std::string v;
  PutLE(&v, static_cast<uint64_t>(version), 8);
  return v;
}

// crc32c(data) (u32 LE) + data.
inline std::string BlockValue(std::string_view data) {
  std::string v;
  v.reserve(kCrcSize + data.size());
  PutLE(&v, Crc32c(data), 4);
  v.append(data);
  return v;
}

}  // namespace replfs::datad::format
