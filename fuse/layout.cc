#include "fuse/layout.h"

#include <algorithm>
#include <cstring>

#include "common/crc32c.h"

namespace replfs::client {

Status Geometry::Validate() const {
  if (block_size <= 0 || chunk_size <= 0 || max_rpc_bytes <= 0)
    return Status::Invalid("cluster geometry has a non-positive size");
  if (chunk_size % block_size != 0)
    return Status::Invalid("chunk_size " + std::to_string(chunk_size) +
                           " is not a multiple of block_size " + std::to_string(block_size));
  return Status::OK();
}

int64_t Geometry::MaxBlocksPerRpc() const {
  return std::max<int64_t>(1, max_rpc_bytes / block_size);
}

std::vector<Piece> SplitRange(const Geometry& g, int64_t offset, int64_t length,
                              int64_t max_bytes) {
  std::vector<Piece> out;
  int64_t pos = offset;
  const int64_t end = offset + length;
  while (pos < end) {
    Piece p;
    p.chunk_index = pos / g.chunk_size;
    p.offset_in_chunk = pos % g.chunk_size;
    p.file_offset = pos;
    p.length = std::min({end - pos, g.chunk_size - p.offset_in_chunk, max_bytes});
    out.push_back(p);
    pos += p.length;
  }
  return out;
}

ReadPlan PlanRead(const Geometry& g, int64_t offset, int64_t length) {
  ReadPlan plan;
  if (length <= 0) return plan;
  const int64_t first = offset / g.block_size * g.block_size;
  const int64_t end = (offset + length + g.block_size - 1) / g.block_size * g.block_size;
  plan.aligned_offset = first;
  plan.aligned_length = end - first;
  // Chunk boundaries are block boundaries, so every piece is whole blocks.
  plan.pieces = SplitRange(g, first, end - first, g.MaxBlocksPerRpc() * g.block_size);
  return plan;
}

BlockRange SmallReadRange(const Geometry& g, int64_t offset, int64_t length) {
  const int64_t in_block = offset % g.block_size;
  if (length <= 0 || length > g.block_size / 4 || in_block + length > g.block_size) return {};
  return BlockRange{static_cast<int32_t>(in_block), static_cast<int32_t>(length)};
}

Status AssemblePartial(const Geometry& g, int32_t index, const PartialBlock& b, char* dst) {
  const auto bs = static_cast<int64_t>(g.block_size);
  const auto n = static_cast<int64_t>(b.data.size());
  if (b.index != index) return Status::Corruption("block " + std::to_string(b.index) + " instead of " + std::to_string(index));
  if (b.offset < 0 || b.stored_length < 0 || b.stored_length > bs || b.offset + n > b.stored_length)
    return Status::Corruption("block " + std::to_string(index) + ": part " + std::to_string(b.offset) + "+" +
                              std::to_string(n) + " of " + std::to_string(b.stored_length) + " stored bytes");
  const uint64_t suffix_len = static_cast<uint64_t>(b.stored_length - b.offset - n);
  const uint32_t whole =
      Crc32cCombine(Crc32cCombine(b.prefix_crc, Crc32c(b.data), static_cast<uint64_t>(n)), b.suffix_crc, suffix_len);
  if (whole != b.crc) return Status::Corruption("block " + std::to_string(index) + " fails its CRC32C");
  std::memset(dst, 0, static_cast<size_t>(bs));
  std::memcpy(dst + b.offset, b.data.data(), b.data.size());
  return Status::OK();
}

Status AssembleBlocks(const Geometry& g, int32_t first_block, int32_t count,
                      const std::vector<Block>& blocks, char* dst) {
  const size_t bs = static_cast<size_t>(g.block_size);
  std::memset(dst, 0, static_cast<size_t>(count) * bs);
  std::vector<bool> seen(static_cast<size_t>(count), false);
  for (const Block& b : blocks) {
    if (b.index < first_block || b.index >= first_block + count)
      return Status::Corruption("block " + std::to_string(b.index) + " outside the range asked");
    const size_t slot = static_cast<size_t>(b.index - first_block);
    if (seen[slot]) return Status::Corruption("block " + std::to_string(b.index) + " repeated");
    seen[slot] = true;
    if (b.data.size() > bs)
      return Status::Corruption("block " + std::to_string(b.index) + " longer than block_size");
    if (Crc32c(b.data) != b.crc)
      return Status::Corruption("block " + std::to_string(b.index) + " fails its CRC32C");
    std::memcpy(dst + slot * bs, b.data.data(), b.data.size());
  }
  return Status::OK();
}

}  // namespace replfs::client
