// File geometry: how byte ranges of a file map onto chunks and blocks, and
// how the blocks a datad returns are assembled into bytes. Pure functions,
// no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace replfs::client {

struct Geometry {
  int64_t chunk_size = 64ll << 20;    // multiple of block_size
  int64_t block_size = 64 << 10;
  int64_t max_rpc_bytes = 8 << 20;    // file bytes one RPC may carry

  // Checks the invariants above (sizes positive, chunk multiple of block).
  Status Validate() const;
  // Whole blocks one Read RPC may ask for (at least 1).
  int64_t MaxBlocksPerRpc() const;
};

// A piece of a file range that lies inside one chunk.
struct Piece {
  int64_t chunk_index = 0;      // offset / chunk_size
  int64_t offset_in_chunk = 0;
  int64_t length = 0;
  int64_t file_offset = 0;      // where the piece starts in the file
  bool operator==(const Piece&) const = default;
};

// Splits [offset, offset + length) into pieces that never cross a chunk
// boundary and carry at most `max_bytes` each (max_bytes > 0), in order.
std::vector<Piece> SplitRange(const Geometry& g, int64_t offset, int64_t length,
                              int64_t max_bytes);

// A read plan: the requested range widened to whole blocks, cut into pieces
// of whole blocks (≤ MaxBlocksPerRpc() each, inside one chunk).
struct ReadPlan {
  int64_t aligned_offset = 0;   // first byte of the first block
  int64_t aligned_length = 0;   // whole blocks
  std::vector<Piece> pieces;
};
ReadPlan PlanRead(const Geometry& g, int64_t offset, int64_t length);

// Part of one block to ask a datad for (length 0: the piece's whole blocks).
struct BlockRange {
  int32_t offset = 0;  // within the block
  int32_t length = 0;
};
// The part of one block a read of [offset, offset + length) needs, when
// that read lies in one block and is small (at most a quarter of it: a 4
// KiB random read then carries 4 KiB, not the whole 64 KiB block); else
// length 0.
BlockRange SmallReadRange(const Geometry& g, int64_t offset, int64_t length);

// A block as a datad returns it.
struct Block {
  int32_t index = 0;    // within the chunk
  std::string data;     // ≤ block_size bytes; zeros follow when shorter
  uint32_t crc = 0;     // CRC32C of data as stored
};

// Copies `blocks` (the answer to Read(first_block, count)) into
// dst[0, count * block_size). Blocks that are absent (holes) and the tail of
// short blocks become zeros. Verifies every block end to end: a CRC mismatch
// is Corruption; a block outside [first_block, first_block + count), longer
// than block_size or repeated is Corruption too (the replica is not
// trustworthy). On failure dst holds unspecified bytes.
Status AssembleBlocks(const Geometry& g, int32_t first_block, int32_t count,
                      const std::vector<Block>& blocks, char* dst);

// Part of a block as a ranged read returns it (BlockData with prefix_crc).
struct PartialBlock {
  int32_t index = 0;
  int32_t offset = 0;         // where `data` starts in the block
  int32_t stored_length = 0;  // bytes the block holds; zeros follow
  std::string data;
  uint32_t crc = 0;           // of the whole stored block
  uint32_t prefix_crc = 0;    // of the stored bytes before `data`
  uint32_t suffix_crc = 0;    // of the stored bytes after it
};

// Places `b`, the answer for block `index`, in dst[0, block_size) (zeros
// elsewhere) after checking it end to end: the CRC32C of prefix, data and
// suffix combined must be the block's. Inconsistent lengths or another
// block: Corruption. On failure dst holds unspecified bytes.
Status AssemblePartial(const Geometry& g, int32_t index, const PartialBlock& b, char* dst);

}  // namespace replfs::client
