// libFuzzer target: decoding of the on-disk records of both stores.
//
// Input: selector byte, then the bytes to decode. By selector % 8:
//   0 metad inode value     (DecodeInode)
//   1 metad dentry value    (DecodeDentry)
//   2 metad chunk value     (DecodeChunk)
//   3 metad counter value   (DecodeU64), header (CheckHeader), key integers (KeyU64)
//   4 datad chunk header    (format::ParseHeader)
//   5 datad bitmap          (format::Bitmap ops against a model)
//   6 datad block value     (the checks BlockStore applies to a block record, and
//                            CRC32C against a bytewise reference)
//   7 all of 0..4 on the same bytes
//
// Oracles besides the sanitizers: a record that decodes re-encodes to the
// same bytes (the formats are canonical; the only exception is an inode
// record from before the xattr count, which gains the "unknown" count);
// Bitmap behaves like a set of bit indices; the CRC32C (SSE4.2, three streams)
// equals a bytewise reference and extends like one.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/crc32c.h"
#include "daemons/datad/store_format.h"
#include "daemons/metad/records.h"

namespace replfs::fuzz {
namespace {

namespace format = datad::format;

[[noreturn]] void Finding(const std::string& what, std::string_view input) {
  std::string hex;
  for (size_t i = 0; i < input.size() && i < 64; ++i) {
    char b[4];
    std::snprintf(b, sizeof b, "%02x", static_cast<uint8_t>(input[i]));
    hex += b;
  }
  std::fprintf(stderr, "FINDING: %s (input %s%s)\n", what.c_str(), hex.c_str(),
               input.size() > 64 ? "..." : "");
  std::abort();
}

void Inode(std::string_view v) {
  metad::Inode in;
  if (!metad::DecodeInode(v, &in).ok()) return;
  const std::string again = metad::EncodeInode(in);
  const std::string legacy = std::string(v) + std::string(4, '\xff');  // no xattr count stored
  if (again != v && again != legacy) Finding("inode record does not re-encode to itself", v);
}

void Dentry(std::string_view v) {
  metad::Ino child = 0;
  metad::FileType type{};
  if (!metad::DecodeDentry(v, &child, &type).ok()) return;
  if (metad::EncodeDentry(child, type) != v) Finding("dentry record does not re-encode to itself", v);
}

void Chunk(std::string_view v) {
  metad::ChunkInfo c;
  if (!metad::DecodeChunk(v, &c).ok()) return;
  if (metad::EncodeChunk(c) != v) Finding("chunk record does not re-encode to itself", v);
}

void Counters(std::string_view v) {
  uint64_t x = 0;
  if (metad::DecodeU64(v, &x).ok() && metad::EncodeU64(x) != v)
    Finding("counter record does not re-encode to itself", v);
  if (metad::CheckHeader(v).ok() && v != metad::EncodeHeader()) Finding("CheckHeader accepts another header", v);
  for (size_t pos = 0; pos <= v.size() + 1; ++pos) {
    uint64_t k = 0;
    const bool ok = metad::KeyU64(v, pos, &k).ok();
    if (ok != (pos + 8 <= v.size())) Finding("KeyU64 bounds at " + std::to_string(pos), v);
    if (ok && format::GetBE(v.data() + pos, 8) != k) Finding("KeyU64 is not big endian", v);
  }
}

void Header(std::string_view v) {
  int64_t version = 0;
  format::Bitmap written;
  bool has_bitmap = false;
  if (!format::ParseHeader(v.data(), v.size(), &version, &written, &has_bitmap)) return;
  if (version <= 0) Finding("ParseHeader accepts version " + std::to_string(version), v);
  if (!has_bitmap) {
    if (v.size() != format::kVersionSize) Finding("header without bitmap is not 8 bytes", v);
    return;
  }
  // The stored bitmap may carry trailing zero bytes; the canonical form has none.
  std::string trimmed(v);
  while (trimmed.size() > format::kVersionSize + 1 && trimmed.back() == '\0') trimmed.pop_back();
  if (format::HeaderValue(version, written) != trimmed) Finding("chunk header does not re-encode", v);
}

// Bitmap against a set of bit indices: after the initial bytes, each 3
// bytes are one op (set, test, clear-from, merge) on a bit below 2^16.
void Bitmaps(std::string_view v) {
  const size_t split = v.empty() ? 0 : static_cast<uint8_t>(v[0]) % (v.size() + 1);
  const std::string initial(v.substr(v.empty() ? 0 : 1, split > 0 ? split - 1 : 0));
  format::Bitmap b(initial);
  std::set<uint32_t> model;
  for (size_t i = 0; i < initial.size() * 8; ++i)
    if ((static_cast<uint8_t>(initial[i / 8]) >> (i % 8)) & 1) model.insert(static_cast<uint32_t>(i));
  auto end_of = [&] { return model.empty() ? 0u : *model.rbegin() + 1; };
  if (b.End() != end_of()) Finding("Bitmap::End of the stored bytes", v);
  for (size_t i = std::max<size_t>(split, 1); i + 2 < v.size(); i += 3) {
    const uint32_t idx = static_cast<uint8_t>(v[i + 1]) | static_cast<uint8_t>(v[i + 2]) << 8;
    switch (static_cast<uint8_t>(v[i]) % 4) {
      case 0:
        if (b.Set(idx) != model.insert(idx).second) Finding("Bitmap::Set result at " + std::to_string(idx), v);
        break;
      case 1:
        if (b.Test(idx) != (model.count(idx) > 0)) Finding("Bitmap::Test at " + std::to_string(idx), v);
        break;
      case 2:
        model.erase(model.lower_bound(idx), model.end());
        b.ClearFrom(idx);
        break;
      default: {
        format::Bitmap other;
        other.Set(idx);
        other.Set(idx / 2);
        b.Merge(other);
        model.insert(idx);
        model.insert(idx / 2);
        break;
      }
    }
    if (b.End() != end_of()) Finding("Bitmap::End " + std::to_string(b.End()) + " != " + std::to_string(end_of()), v);
    if (!b.bytes().empty() && b.bytes().back() == '\0') Finding("Bitmap keeps a trailing zero byte", v);
  }
  if (format::Bitmap(b.bytes()) != b) Finding("Bitmap does not survive its bytes", v);
}

uint32_t ReferenceCrc32c(uint32_t crc, std::string_view s) {
  crc = ~crc;
  for (char ch : s) {
    crc ^= static_cast<uint8_t>(ch);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// A block record: crc32c(data) LE + data, at most block_size data bytes.
void BlockValue(std::string_view v) {
  const size_t split = v.empty() ? 0 : static_cast<uint8_t>(v[0]) % (v.size() + 1);
  const std::string_view a = v.substr(std::min<size_t>(1, v.size()), split > 0 ? split - 1 : 0);
  const std::string_view rest = v.substr(std::min(v.size(), std::max<size_t>(split, 1)));
  const uint32_t whole = Crc32c(v);
  if (whole != ReferenceCrc32c(0, v)) Finding("CRC32C differs from the reference", v);
  if (Crc32cExtend(Crc32c(a), rest.data(), rest.size()) != ReferenceCrc32c(ReferenceCrc32c(0, a), rest))
    Finding("Crc32cExtend differs from the reference", v);
  const std::string value = format::BlockValue(v);
  if (value.size() != format::kCrcSize + v.size() || format::GetLE(value.data(), 4) != whole ||
      value.compare(format::kCrcSize, std::string::npos, v) != 0)
    Finding("BlockValue layout", v);
  // What BlockStore::GetBlock accepts of a stored value (block_store_ops.cc).
  if (v.size() >= format::kCrcSize) {
    const auto stored = static_cast<uint32_t>(format::GetLE(v.data(), 4));
    const bool valid = stored == Crc32c(v.substr(format::kCrcSize));
    if (valid != (format::BlockValue(v.substr(format::kCrcSize)) == v)) Finding("block value check", v);
  }
}

}  // namespace
}  // namespace replfs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace replfs::fuzz;
  if (size == 0) return 0;
  const std::string_view v(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 8) {
    case 0: Inode(v); break;
    case 1: Dentry(v); break;
    case 2: Chunk(v); break;
    case 3: Counters(v); break;
    case 4: Header(v); break;
    case 5: Bitmaps(v); break;
    case 6: BlockValue(v); break;
    default:
      Inode(v);
      Dentry(v);
      Chunk(v);
      Counters(v);
      Header(v);
      break;
  }
  return 0;
}
