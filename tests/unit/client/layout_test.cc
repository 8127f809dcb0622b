#include "fuse/layout.h"

#include <gtest/gtest.h>

#include "common/crc32c.h"

namespace replfs::client {
namespace {

Geometry Small() {
  Geometry g;
  g.chunk_size = 1 << 20;
  g.block_size = 64 << 10;
  g.max_rpc_bytes = 256 << 10;
  return g;
}

TEST(LayoutTest, SplitsAtChunkBoundariesAndRpcSize) {
  Geometry g = Small();
  auto p = SplitRange(g, (1 << 20) - 100, 300, g.max_rpc_bytes);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0], (Piece{0, (1 << 20) - 100, 100, (1 << 20) - 100}));
  EXPECT_EQ(p[1], (Piece{1, 0, 200, 1 << 20}));
  // 600 KiB inside one chunk with 256 KiB per RPC: 256 + 256 + 88.
  p = SplitRange(g, 0, 600 << 10, g.max_rpc_bytes);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[2].length, 88 << 10);
  EXPECT_EQ(p[2].offset_in_chunk, 512 << 10);
  EXPECT_TRUE(SplitRange(g, 5, 0, 10).empty());
}

TEST(LayoutTest, OffsetsBeyondFourGiB) {
  Geometry g;  // 64 MiB chunks, 64 KiB blocks
  const int64_t off = (5ll << 30) + 123;
  auto p = SplitRange(g, off, 10, g.max_rpc_bytes);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].chunk_index, 80);  // 5 GiB / 64 MiB
  EXPECT_EQ(p[0].offset_in_chunk, 123);
  ReadPlan r = PlanRead(g, off, 10);
  EXPECT_EQ(r.aligned_offset, 5ll << 30);
  EXPECT_EQ(r.aligned_length, 64 << 10);
}

TEST(LayoutTest, ReadPlanIsWholeBlocksAndCutsAtChunks) {
  Geometry g = Small();
  ReadPlan r = PlanRead(g, (1 << 20) - 10, 20);  // straddles chunk 0/1
  EXPECT_EQ(r.aligned_offset, (1 << 20) - (64 << 10));
  EXPECT_EQ(r.aligned_length, 128 << 10);
  ASSERT_EQ(r.pieces.size(), 2u);
  EXPECT_EQ(r.pieces[0].chunk_index, 0);
  EXPECT_EQ(r.pieces[1].chunk_index, 1);
  for (const Piece& p : r.pieces) {
    EXPECT_EQ(p.offset_in_chunk % g.block_size, 0);
    EXPECT_EQ(p.length % g.block_size, 0);
    EXPECT_LE(p.length, g.max_rpc_bytes);
  }
  // The tail of a file: one byte still reads one whole block.
  r = PlanRead(g, 3 * (64 << 10) + 5, 1);
  EXPECT_EQ(r.aligned_length, 64 << 10);
  EXPECT_TRUE(PlanRead(g, 0, 0).pieces.empty());
}

Block MakeBlock(int32_t index, std::string data) {
  Block b;
  b.index = index;
  b.crc = Crc32c(data);
  b.data = std::move(data);
  return b;
}

TEST(LayoutTest, AssemblesHolesAndShortBlocksAsZeros) {
  Geometry g;
  g.chunk_size = 64;
  g.block_size = 16;
  std::string out(4 * 16, 'x');
  // Blocks 10..13 asked; 10 short, 11 a hole, 12 full, 13 a hole.
  std::vector<Block> blocks = {MakeBlock(10, "abc"), MakeBlock(12, std::string(16, 'z'))};
  ASSERT_TRUE(AssembleBlocks(g, 10, 4, blocks, out.data()).ok());
  EXPECT_EQ(out.substr(0, 16), std::string("abc") + std::string(13, '\0'));
  EXPECT_EQ(out.substr(16, 16), std::string(16, '\0'));
  EXPECT_EQ(out.substr(32, 16), std::string(16, 'z'));
  EXPECT_EQ(out.substr(48, 16), std::string(16, '\0'));
}

TEST(LayoutTest, RejectsBadCrcAndStrayBlocks) {
  Geometry g;
  g.chunk_size = 64;
  g.block_size = 16;
  std::string out(2 * 16, '\0');
  Block bad = MakeBlock(0, "hello");
  bad.data[1] ^= 1;  // flipped after the CRC was taken
  EXPECT_TRUE(AssembleBlocks(g, 0, 2, {bad}, out.data()).IsCorruption());
  EXPECT_TRUE(AssembleBlocks(g, 0, 2, {MakeBlock(2, "x")}, out.data()).IsCorruption());
  EXPECT_TRUE(AssembleBlocks(g, 0, 2, {MakeBlock(0, std::string(17, 'a'))}, out.data()).IsCorruption());
  EXPECT_TRUE(AssembleBlocks(g, 0, 2, {MakeBlock(1, "a"), MakeBlock(1, "a")}, out.data()).IsCorruption());
}

TEST(LayoutTest, SmallReadsInOneBlockAskForTheirBytesOnly) {
  const Geometry g = Small();  // 64 KiB blocks
  const BlockRange r = SmallReadRange(g, 5 * 65536 + 4096, 4096);
  EXPECT_EQ(r.offset, 4096);
  EXPECT_EQ(r.length, 4096);
  EXPECT_EQ(SmallReadRange(g, 65536 - 100, 200).length, 0);  // spans two blocks
  EXPECT_EQ(SmallReadRange(g, 0, 16385).length, 0);           // over a quarter block
  EXPECT_EQ(SmallReadRange(g, 0, 16384).length, 16384);
  EXPECT_EQ(SmallReadRange(g, 0, 0).length, 0);
}

// A part of a block, checked against the whole block's CRC from the CRCs of
// what is around it.
TEST(LayoutTest, AssemblesAPartialBlockCheckedEndToEnd) {
  Geometry g;
  g.chunk_size = 64;
  g.block_size = 16;
  const std::string stored = "0123456789ab";  // 12 of 16 bytes stored
  PartialBlock p{3, 4, 12, stored.substr(4, 5), Crc32c(stored), Crc32c(stored.data(), 4),
                 Crc32c(stored.data() + 9, 3)};
  std::string out(16, 'x');
  ASSERT_TRUE(AssemblePartial(g, 3, p, out.data()).ok());
  EXPECT_EQ(out, std::string(4, '\0') + "45678" + std::string(7, '\0'));
  PartialBlock flipped = p;
  flipped.data[2] ^= 1;
  EXPECT_TRUE(AssemblePartial(g, 3, flipped, out.data()).IsCorruption());
  PartialBlock lying = p;
  lying.suffix_crc ^= 1;
  EXPECT_TRUE(AssemblePartial(g, 3, lying, out.data()).IsCorruption());
  EXPECT_TRUE(AssemblePartial(g, 4, p, out.data()).IsCorruption());  // another block
  PartialBlock too_long = p;
  too_long.stored_length = 17;
  EXPECT_TRUE(AssemblePartial(g, 3, too_long, out.data()).IsCorruption());
  PartialBlock past = p;
  past.offset = 9;  // data would end past the stored bytes
  EXPECT_TRUE(AssemblePartial(g, 3, past, out.data()).IsCorruption());
  PartialBlock unknown = p;
  unknown.stored_length = -1;  // a reply without stored_length
  EXPECT_TRUE(AssemblePartial(g, 3, unknown, out.data()).IsCorruption());
}

TEST(LayoutTest, ValidatesGeometry) {
  Geometry g = Small();
  EXPECT_TRUE(g.Validate().ok());
  g.chunk_size = g.block_size * 3 + 1;
  EXPECT_FALSE(g.Validate().ok());
}

}  // namespace
}  // namespace replfs::client
