// Key and value encoding of the datad block store (the table in
// thrift/PROTOCOL.md). For block_store*.cc (block_store.h includes it for the
// Bitmap in its chunk index); nothing else should depend on it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "common/crc32c.h"

namespace replfs::datad::format {

inline void PutBE(std::string* s, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void PutLE(std::string* s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
// PutLE over bytes already there.
inline void SetLE(char* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
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

// Chunk header value: version (u64 LE), then, since format 1, the format
// byte kBitmapFormat and the written-block bitmap: bit i (byte i / 8, bit
// i % 8, least significant first) set = block i was written. Trailing zero
// bytes are omitted, so an empty chunk's header is 9 bytes. A header of
// exactly 8 bytes (stores from before the bitmap) has no bitmap: its blocks
// present are taken as the written set.
inline constexpr size_t kVersionSize = 8;
inline constexpr char kBitmapFormat = 1;

// A written-block bitmap as stored (see above); at most kMaxChunkBytes /
// 512 bits.
class Bitmap {
 public:
  Bitmap() = default;
  explicit Bitmap(std::string bytes) : bytes_(std::move(bytes)) { Trim(); }

  bool Test(uint32_t i) const {
    return i / 8 < bytes_.size() && (static_cast<uint8_t>(bytes_[i / 8]) >> (i % 8)) & 1;
  }
  // True if the bit was clear before.
  bool Set(uint32_t i) {
    if (Test(i)) return false;
    if (bytes_.size() <= i / 8) bytes_.resize(i / 8 + 1, '\0');
    bytes_[i / 8] = static_cast<char>(static_cast<uint8_t>(bytes_[i / 8]) | (1u << (i % 8)));
    return true;
  }
  // Clears every bit >= i.
  void ClearFrom(uint32_t i) {
    if (i / 8 >= bytes_.size()) return;
    bytes_[i / 8] = static_cast<char>(static_cast<uint8_t>(bytes_[i / 8]) & ((1u << (i % 8)) - 1));
    bytes_.resize(i / 8 + 1);
    Trim();
  }
  // One past the highest set bit (0 when empty).
  uint32_t End() const {
    if (bytes_.empty()) return 0;
    const auto last = static_cast<uint8_t>(bytes_.back());
    uint32_t high = 7;
    while (((last >> high) & 1) == 0) --high;  // Trim() keeps the last byte non-zero
    return static_cast<uint32_t>(bytes_.size() - 1) * 8 + high + 1;
  }
  // Sets every bit set in `other`.
  void Merge(const Bitmap& other) {
    if (bytes_.size() < other.bytes_.size()) bytes_.resize(other.bytes_.size(), '\0');
    for (size_t i = 0; i < other.bytes_.size(); ++i)
      bytes_[i] = static_cast<char>(static_cast<uint8_t>(bytes_[i]) |
                                    static_cast<uint8_t>(other.bytes_[i]));
  }
  const std::string& bytes() const { return bytes_; }
  bool operator==(const Bitmap&) const = default;

 private:
  void Trim() {
    while (!bytes_.empty() && bytes_.back() == '\0') bytes_.pop_back();
  }
  std::string bytes_;
};

inline std::string HeaderValue(int64_t version, const Bitmap& written) {
  std::string v;
  PutLE(&v, static_cast<uint64_t>(version), 8);
  v.push_back(kBitmapFormat);
  v.append(written.bytes());
  return v;
}

// Parses a chunk header. *has_bitmap = false for the 8-byte format without
// a bitmap. False if malformed (then the outputs are unspecified).
inline bool ParseHeader(const char* p, size_t n, int64_t* version, Bitmap* written,
                        bool* has_bitmap) {
  if (n < kVersionSize) return false;
  *version = static_cast<int64_t>(GetLE(p, 8));
  if (*version <= 0) return false;
  *has_bitmap = n > kVersionSize;
  if (!*has_bitmap) {
    *written = Bitmap();
    return true;
  }
  if (p[kVersionSize] != kBitmapFormat) return false;
  *written = Bitmap(std::string(p + kVersionSize + 1, n - kVersionSize - 1));
  return true;
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
