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

}  // namespace replfs::client
