// The written-block bitmap in the chunk header: lost blocks are corruption,
// never holes; truncation and old-format headers (no bitmap).
#include <gtest/gtest.h>
#include <kchashdb.h>

#include <atomic>

#include "daemons/datad/block_store.h"
#include "daemons/datad/store_format.h"
#include "tests/unit/datad/store_util.h"
#include "tests/util/test_util.h"

namespace replfs::datad {
namespace {

constexpr int64_t kBs = 4096;

TEST(BitmapTest, SetTestClearEndAndEncoding) {
  format::Bitmap b;
  EXPECT_EQ(b.End(), 0u);
  EXPECT_TRUE(b.Set(0));
  EXPECT_FALSE(b.Set(0));
  EXPECT_TRUE(b.Set(9));
  EXPECT_TRUE(b.Test(0) && b.Test(9) && !b.Test(1) && !b.Test(100000));
  EXPECT_EQ(b.End(), 10u);
  EXPECT_EQ(b.bytes(), std::string("\x01\x02", 2));
  b.ClearFrom(5);
  EXPECT_EQ(b.End(), 1u);
  EXPECT_EQ(b.bytes().size(), 1u);
  b.ClearFrom(0);
  EXPECT_TRUE(b.bytes().empty());

  format::Bitmap w;
  w.Set(3);
  const std::string v = format::HeaderValue(7, w);
  ASSERT_EQ(v.size(), 10u);
  int64_t version = 0;
  format::Bitmap parsed;
  bool has = false;
  ASSERT_TRUE(format::ParseHeader(v.data(), v.size(), &version, &parsed, &has));
  EXPECT_EQ(version, 7);
  EXPECT_TRUE(has);
  EXPECT_EQ(parsed, w);
  const std::string old = v.substr(0, 8);
  ASSERT_TRUE(format::ParseHeader(old.data(), old.size(), &version, &parsed, &has));
  EXPECT_FALSE(has);
  EXPECT_EQ(parsed.End(), 0u);
  EXPECT_FALSE(format::ParseHeader(v.data(), 5, &version, &parsed, &has));
  std::string bad = v;
  bad[8] = 9;  // unknown format byte
  EXPECT_FALSE(format::ParseHeader(bad.data(), bad.size(), &version, &parsed, &has));
}

class BitmapStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    Status s = BlockStore::Open(dir_.path(), kBs, &store_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // Runs `fn` on the raw Kyoto Cabinet file with the store closed, then
  // reopens the store.
  void Raw(const std::function<void(kyotocabinet::HashDB&)>& fn) {
    store_.reset();
    kyotocabinet::HashDB db;
    ASSERT_TRUE(db.open(dir_.path() + "/" + BlockStore::kFileName, kyotocabinet::HashDB::OWRITER));
    fn(db);
    ASSERT_TRUE(db.close());
    Reopen();
  }
  std::string Header(int64_t chunk) {
    std::string v;
    Raw([&](kyotocabinet::HashDB& db) { EXPECT_TRUE(db.get(format::ChunkKey(chunk), &v)); });
    return v;
  }
  Status ReadBlocks(int64_t chunk, int64_t version, int64_t first, int64_t count,
                    std::vector<Block>* out) {
    out->clear();
    return store_->Read(chunk, version, first, count, out);
  }

  testing::TempDir dir_{"datad-bitmap"};
  std::unique_ptr<BlockStore> store_;
};

TEST_F(BitmapStoreTest, WritesMarkBlocksAndHolesStayHoles) {
  ASSERT_TRUE(Put(store_.get(), 1, 1, 0, "").ok());
  EXPECT_EQ(Header(1).size(), 9u);  // version + format byte, empty bitmap
  ASSERT_TRUE(Put(store_.get(), 1, 1, 2 * kBs + 10, "abc").ok());  // block 2 only
  ASSERT_TRUE(Put(store_.get(), 1, 1, 0, std::string(kBs, 'x')).ok());  // block 0
  EXPECT_EQ(Header(1), format::HeaderValue(1, format::Bitmap(std::string("\x05", 1))));
  std::vector<Block> blocks;
  ASSERT_TRUE(ReadBlocks(1, 1, 0, 4, &blocks).ok());
  ASSERT_EQ(blocks.size(), 2u);  // block 1 is a hole
  EXPECT_EQ(blocks[1].index, 2);
  // SetVersion keeps the bitmap.
  ASSERT_TRUE(store_->SetVersion(1, 1, 2).ok());
  EXPECT_EQ(Header(1), format::HeaderValue(2, format::Bitmap(std::string("\x05", 1))));
}

TEST_F(BitmapStoreTest, DeletedBlockIsCorruptionNotAHole) {
  ASSERT_TRUE(Put(store_.get(), 2, 1, 0, std::string(3 * kBs, 'y')).ok());
  Raw([](kyotocabinet::HashDB& db) { ASSERT_TRUE(db.remove(format::BlockKey(2, 1))); });
  std::vector<Block> blocks;
  Status s = ReadBlocks(2, 1, 0, 3, &blocks);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("block 1"), std::string::npos) << s.message();
  EXPECT_TRUE(blocks.empty());
  ASSERT_TRUE(ReadBlocks(2, 1, 2, 1, &blocks).ok());  // other blocks stay readable
  EXPECT_EQ(blocks.size(), 1u);
  CheckResult r;
  ASSERT_TRUE(store_->Check(2, 1, &r).ok());
  EXPECT_EQ(r.state, ReplicaState::kCorrupt);
  EXPECT_EQ(r.bad_blocks, 1);
  EXPECT_EQ(r.blocks, 3);
  // A partial write cannot merge into the lost block (zeros would look valid)...
  EXPECT_TRUE(Put(store_.get(), 2, 1, kBs + 5, "z").IsCorruption());
  // ...a whole-block write replaces it.
  ASSERT_TRUE(Put(store_.get(), 2, 1, kBs, std::string(kBs, 'w')).ok());
  ASSERT_TRUE(store_->Check(2, 1, &r).ok());
  EXPECT_EQ(r.state, ReplicaState::kOk);
  // Corrupt chunks are remembered for the heartbeat.
  EXPECT_EQ(store_->CorruptChunks(), (std::vector<ChunkVersion>{{2, 1}}));
  store_->ForgetCorrupt({{2, 1}});
  EXPECT_TRUE(store_->CorruptChunks().empty());
}

TEST_F(BitmapStoreTest, TruncateClearsBitsPastTheEnd) {
  ASSERT_TRUE(Put(store_.get(), 3, 1, 0, std::string(4 * kBs, 'a')).ok());
  ASSERT_TRUE(store_->Truncate(3, 1, kBs + 100).ok());
  EXPECT_EQ(Header(3), format::HeaderValue(1, format::Bitmap(std::string("\x03", 1))));
  ChunkStat st;
  ASSERT_TRUE(store_->Stat(3, &st).ok());
  EXPECT_EQ(st.end_block, 2);
  // Growing again: blocks 2..3 are holes, not lost blocks.
  ASSERT_TRUE(Put(store_.get(), 3, 1, 4 * kBs - 1, "e").ok());
  std::vector<Block> blocks;
  ASSERT_TRUE(ReadBlocks(3, 1, 0, 4, &blocks).ok());
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[1].data.size(), 100u);
  EXPECT_EQ(blocks[2].index, 3);
  CheckResult r;
  ASSERT_TRUE(store_->Check(3, 1, &r).ok());
  EXPECT_EQ(r.state, ReplicaState::kOk);
  ASSERT_TRUE(store_->Truncate(3, 1, 0).ok());
  EXPECT_EQ(Header(3).size(), 9u);
  // Truncating into a hole keeps the hole a hole.
  ASSERT_TRUE(Put(store_.get(), 4, 1, 3 * kBs, "q").ok());
  ASSERT_TRUE(store_->Truncate(4, 1, kBs + 1).ok());
  ASSERT_TRUE(store_->Check(4, 1, &r).ok());
  EXPECT_EQ(r.state, ReplicaState::kOk);
  EXPECT_EQ(r.blocks, 0);
}

TEST_F(BitmapStoreTest, OldFormatHeaderMeansTheBlocksPresent) {
  ASSERT_TRUE(Put(store_.get(), 5, 3, 0, std::string(kBs, 'a')).ok());
  ASSERT_TRUE(Put(store_.get(), 5, 3, 2 * kBs, "b").ok());
  // Rewrite the header as an older datad wrote it: the version alone.
  Raw([](kyotocabinet::HashDB& db) {
    ASSERT_TRUE(db.set(format::ChunkKey(5), std::string("\x03\0\0\0\0\0\0\0", 8)));
  });
  EXPECT_EQ(Header(5).size(), 8u);
  std::vector<Block> blocks;
  ASSERT_TRUE(ReadBlocks(5, 3, 0, 3, &blocks).ok());
  ASSERT_EQ(blocks.size(), 2u);  // block 1 is still a hole
  CheckResult r;
  ASSERT_TRUE(store_->Check(5, 3, &r).ok());
  EXPECT_EQ(r.state, ReplicaState::kOk);
  // Deleting a block of such a chunk by fault injection writes the bitmap
  // first, so the loss is detected.
  ASSERT_TRUE(store_->InjectFault(5, 2, FaultMode::kDelete).ok());
  EXPECT_EQ(Header(5), format::HeaderValue(3, format::Bitmap(std::string("\x05", 1))));
  EXPECT_TRUE(ReadBlocks(5, 3, 0, 3, &blocks).IsCorruption());
  // A crash between a block record and its header update: present but not
  // marked counts as written.
  Raw([](kyotocabinet::HashDB& db) {
    ASSERT_TRUE(db.set(format::BlockKey(5, 1), format::BlockValue("late")));
  });
  ASSERT_TRUE(ReadBlocks(5, 3, 1, 1, &blocks).ok());
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].data, "late");
}

// A flipped bit in the high byte of a block key (fuzz finding F3): the
// record lies past any block a chunk can have. Opening must neither hang nor
// allocate for it, and the block the key belonged to reads as lost.
TEST_F(BitmapStoreTest, BlockKeysPastAnyChunkAreDamageRemovedAtOpen) {
  ASSERT_TRUE(Put(store_.get(), 7, 1, 0, std::string(2 * kBs, 'k')).ok());
  Raw([](kyotocabinet::HashDB& db) {
    std::string v;
    ASSERT_TRUE(db.get(format::BlockKey(7, 1), &v));
    ASSERT_TRUE(db.remove(format::BlockKey(7, 1)));
    ASSERT_TRUE(db.set(format::BlockKey(7, 0xff000001u), v));   // the flipped key
    ASSERT_TRUE(db.set(format::BlockKey(8, 0xffffffffu), v));   // no header: an orphan
    ASSERT_TRUE(db.set(format::BlockKey(9, 0x7fffffffu), v));   // likewise
  });
  CheckResult r;
  ASSERT_TRUE(store_->Check(7, 1, &r).ok());
  EXPECT_EQ(r.state, ReplicaState::kCorrupt);
  EXPECT_EQ(r.blocks, 2);
  EXPECT_EQ(r.bad_blocks, 1);
  ChunkStat st;
  ASSERT_TRUE(store_->Stat(7, &st).ok());
  EXPECT_EQ(st.end_block, 2);
  EXPECT_FALSE(store_->Stat(8, &st).ok());
  // The damaged records are gone from the file.
  Raw([](kyotocabinet::HashDB& db) {
    EXPECT_LT(db.check(format::BlockKey(7, 0xff000001u)), 0);
    EXPECT_LT(db.check(format::BlockKey(8, 0xffffffffu)), 0);
    EXPECT_LT(db.check(format::BlockKey(9, 0x7fffffffu)), 0);
  });
}

// A header whose bitmap marks blocks past any chunk keeps the marks below.
TEST_F(BitmapStoreTest, HeaderBitsPastAnyChunkAreIgnored) {
  ASSERT_TRUE(Put(store_.get(), 10, 1, 0, std::string(kBs, 'h')).ok());
  format::Bitmap w;
  w.Set(0);
  w.Set(static_cast<uint32_t>(BlockStore::kMaxChunkBytes / kBs) + 5);
  Raw([&](kyotocabinet::HashDB& db) { ASSERT_TRUE(db.set(format::ChunkKey(10), format::HeaderValue(1, w))); });
  ChunkStat st;
  ASSERT_TRUE(store_->Stat(10, &st).ok());
  EXPECT_EQ(st.end_block, 1);
  CheckResult r;
  ASSERT_TRUE(store_->Check(10, 1, &r).ok());
  EXPECT_EQ(r.state, ReplicaState::kOk);
}

TEST_F(BitmapStoreTest, ListenerFiresOncePerNewCorruptChunk) {
  std::atomic<int> calls{0};
  store_->SetCorruptionListener([&] { calls.fetch_add(1); });
  ASSERT_TRUE(Put(store_.get(), 6, 2, 0, std::string(2 * kBs, 'c')).ok());
  ASSERT_TRUE(store_->InjectFault(6, 0, FaultMode::kFlip).ok());
  ASSERT_TRUE(store_->InjectFault(6, 1, FaultMode::kZero).ok());
  std::vector<Block> blocks;
  EXPECT_TRUE(ReadBlocks(6, 2, 0, 2, &blocks).IsCorruption());
  CheckResult r;
  ASSERT_TRUE(store_->Check(6, 2, &r).ok());
  EXPECT_EQ(r.bad_blocks, 2);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(store_->CorruptChunks(), (std::vector<ChunkVersion>{{6, 2}}));
  StoreUsage u;
  ASSERT_TRUE(store_->Usage(&u).ok());
  EXPECT_EQ(u.corrupt_found, 3);  // one by the read, two by the check
  store_->SetCorruptionListener(nullptr);
}

}  // namespace
}  // namespace replfs::datad
