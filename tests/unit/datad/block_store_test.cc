// BlockStore against a real Kyoto Cabinet file in a temp dir.
#include "daemons/datad/block_store.h"

#include <gtest/gtest.h>
#include <kchashdb.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <thread>

#include "common/crc32c.h"
#include "tests/unit/datad/store_util.h"
#include "tests/util/test_util.h"

namespace replfs::datad {
namespace {

constexpr int64_t kBs = 4096;

class BlockStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    Status s = BlockStore::Open(dir_.path(), kBs, &store_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::string FilePath() const { return dir_.path() + "/" + BlockStore::kFileName; }

  // The chunk's bytes [0, len) as a reader reconstructs them from blocks.
  std::string ReadAll(int64_t chunk, int64_t version, int64_t len) {
    std::vector<Block> blocks;
    Status s = store_->Read(chunk, version, 0, (len + kBs - 1) / kBs, &blocks);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::string out(static_cast<size_t>(len), '\0');
    for (const Block& b : blocks) {
      EXPECT_EQ(b.crc, Crc32c(b.data));
      const int64_t at = b.index * kBs;
      for (size_t i = 0; i < b.data.size() && at + static_cast<int64_t>(i) < len; ++i)
        out[at + i] = b.data[i];
    }
    return out;
  }

  testing::TempDir dir_{"datad-store"};
  std::unique_ptr<BlockStore> store_;
};

std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (char& c : s) c = static_cast<char>(rng() % 251 + 1);
  return s;
}

TEST_F(BlockStoreTest, CreateMakesAnEmptyChunkAndWritesNeedOne) {
  // Only Create makes a chunk: a Write to a chunk not held here (a replica
  // that lost it, a store that was wiped) must not bring back a part of it.
  EXPECT_EQ(store_->Write(3, 2, 0, "abc").code(), Status::Code::kNotFound);
  EXPECT_EQ(store_->Write(3, 2, 0, "").code(), Status::Code::kNotFound);
  ASSERT_TRUE(store_->Create(3, 2).ok());
  EXPECT_TRUE(store_->Create(3, 2).ok());  // idempotent
  EXPECT_EQ(store_->Create(3, 1).code(), Status::Code::kStale);
  EXPECT_EQ(store_->Create(0, 1).code(), Status::Code::kInvalid);
  EXPECT_EQ(store_->Create(3, 0).code(), Status::Code::kInvalid);
  ChunkStat st;
  ASSERT_TRUE(store_->Stat(3, &st).ok());
  EXPECT_EQ(st.version, 2);
  EXPECT_EQ(st.end_block, 0);
  EXPECT_EQ(store_->Stat(4, &st).code(), Status::Code::kNotFound);
  std::vector<Block> blocks;
  ASSERT_TRUE(store_->Read(3, 2, 0, 4, &blocks).ok());
  EXPECT_TRUE(blocks.empty());
  Reopen();
  EXPECT_EQ(store_->Inventory(), (std::vector<ChunkVersion>{{3, 2}}));
  ASSERT_TRUE(store_->Write(3, 2, 0, "abc").ok());
  EXPECT_EQ(ReadAll(3, 2, 3), "abc");
}

TEST_F(BlockStoreTest, DeleteUpToAVersionKeepsNewerCopies) {
  ASSERT_TRUE(Put(store_.get(), 5, 3, 0, "v3").ok());
  bool deleted = true;
  // A delete queued for an older copy (version 2) leaves the version-3 copy.
  ASSERT_TRUE(store_->DeleteChunkUpTo(5, 2, &deleted).ok());
  EXPECT_FALSE(deleted);
  EXPECT_EQ(ReadAll(5, 3, 2), "v3");
  ASSERT_TRUE(store_->DeleteChunkUpTo(5, 3, &deleted).ok());
  EXPECT_TRUE(deleted);
  ChunkStat st;
  EXPECT_EQ(store_->Stat(5, &st).code(), Status::Code::kNotFound);
  ASSERT_TRUE(store_->DeleteChunkUpTo(5, 3, &deleted).ok());  // absent: OK
  EXPECT_FALSE(deleted);
}

TEST_F(BlockStoreTest, SetVersionIsCheckedIdempotentAndDurable) {
  ASSERT_TRUE(Put(store_.get(), 3, 1, 0, "abc").ok());
  ASSERT_TRUE(store_->SetVersion(3, 1, 2).ok());
  EXPECT_TRUE(store_->SetVersion(3, 1, 2).ok());
  EXPECT_EQ(store_->SetVersion(3, 1, 3).code(), Status::Code::kStale);
  EXPECT_EQ(store_->SetVersion(3, 2, 2).code(), Status::Code::kInvalid);
  EXPECT_EQ(store_->SetVersion(9, 1, 2).code(), Status::Code::kNotFound);
  EXPECT_EQ(Put(store_.get(), 3, 1, 0, "x").code(), Status::Code::kStale);
  Reopen();
  EXPECT_EQ(store_->Inventory(), (std::vector<ChunkVersion>{{3, 2}}));
  EXPECT_EQ(ReadAll(3, 2, 3), "abc");
}

TEST_F(BlockStoreTest, RoundTripAtUnalignedOffsets) {
  const std::string data = Pattern(3 * kBs + 123, 1);
  ASSERT_TRUE(Put(store_.get(), 7, 1, 1000, data).ok());
  std::string expect(1000, '\0');
  expect += data;
  EXPECT_EQ(ReadAll(7, 1, static_cast<int64_t>(expect.size())), expect);
  std::vector<Block> blocks;
  ASSERT_TRUE(store_->Read(7, 1, 1, 2, &blocks).ok());
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].index, 1);
  EXPECT_EQ(blocks[1].data, expect.substr(2 * kBs, kBs));
  // The last block is short: only what was written is stored.
  blocks.clear();
  ASSERT_TRUE(store_->Read(7, 1, 3, 5, &blocks).ok());
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].data.size(), expect.size() - 3 * kBs);
}

TEST_F(BlockStoreTest, PartialWritePreservesNeighbours) {
  const std::string base = Pattern(2 * kBs, 2);
  ASSERT_TRUE(Put(store_.get(), 1, 1, 0, base).ok());
  ASSERT_TRUE(Put(store_.get(), 1, 1, kBs - 10, std::string(20, 'X')).ok());
  std::string expect = base;
  expect.replace(kBs - 10, 20, std::string(20, 'X'));
  EXPECT_EQ(ReadAll(1, 1, 2 * kBs), expect);
  StoreUsage u;
  ASSERT_TRUE(store_->Usage(&u).ok());
  EXPECT_EQ(u.bytes_used, 2 * kBs);
  EXPECT_EQ(u.chunks, 1);
  EXPECT_GT(u.bytes_total, 0);
}

// Partial writes update a block's checksum without reading it twice (the
// kept parts' CRCs combined with the piece's): random writes inside,
// across and past the stored bytes always leave every block verifiable and
// equal to a model of the chunk.
TEST_F(BlockStoreTest, RandomPartialWritesKeepEveryChecksumRight) {
  const int64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::string model;
  ASSERT_TRUE(store_->Create(40, 1).ok());
  for (int i = 0; i < 300; ++i) {
    const auto off = static_cast<size_t>(rng() % (3 * kBs));
    const size_t len = 1 + rng() % (i % 3 == 0 ? 2 * kBs : 64);
    const std::string piece = Pattern(len, i);
    ASSERT_TRUE(store_->Write(40, 1, static_cast<int64_t>(off), piece).ok()) << i;
    if (model.size() < off + len) model.resize(off + len, '\0');
    model.replace(off, len, piece);
  }
  EXPECT_EQ(ReadAll(40, 1, static_cast<int64_t>(model.size())), model);
  CheckResult r;
  ASSERT_TRUE(store_->Check(40, 1, &r).ok());
  EXPECT_EQ(r.state, ReplicaState::kOk);
  EXPECT_EQ(r.bad_blocks, 0);
}

TEST_F(BlockStoreTest, HolesAreAbsent) {
  ASSERT_TRUE(Put(store_.get(), 2, 1, 5 * kBs + 7, "abc").ok());
  std::vector<Block> blocks;
  ASSERT_TRUE(store_->Read(2, 1, 0, 10, &blocks).ok());
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].index, 5);
  EXPECT_EQ(blocks[0].data, std::string(7, '\0') + "abc");
  CheckResult r;
  ASSERT_TRUE(store_->Check(2, 1, &r).ok());
  EXPECT_EQ(r.state, ReplicaState::kOk);
  EXPECT_EQ(r.blocks, 1);
}

// A part of a block carries its bytes and the CRC32C of the rest, which
// combine into the whole block's; past the stored bytes it is empty.
TEST_F(BlockStoreTest, ReadPartReturnsTheRangeAndTheCrcsAroundIt) {
  const std::string data = Pattern(kBs + 1000, 9);  // block 1 holds 1000 bytes
  ASSERT_TRUE(Put(store_.get(), 4, 1, 0, data).ok());
  BlockPart p;
  bool found = false;
  ASSERT_TRUE(store_->ReadPart(4, 1, 0, 100, 512, &p, &found).ok());
  ASSERT_TRUE(found);
  EXPECT_EQ(p.index, 0);
  EXPECT_EQ(p.offset, 100);
  EXPECT_EQ(p.stored_length, kBs);
  EXPECT_EQ(p.data, data.substr(100, 512));
  EXPECT_EQ(p.crc, Crc32c(data.data(), kBs));
  EXPECT_EQ(p.prefix_crc, Crc32c(data.data(), 100));
  EXPECT_EQ(p.suffix_crc, Crc32c(data.data() + 612, kBs - 612));
  ASSERT_TRUE(store_->ReadPart(4, 1, 1, 900, 512, &p, &found).ok());  // crosses the stored end
  EXPECT_EQ(p.data, data.substr(kBs + 900, 100));
  EXPECT_EQ(p.stored_length, 1000);
  EXPECT_EQ(p.suffix_crc, 0u);  // nothing after
  ASSERT_TRUE(store_->ReadPart(4, 1, 1, 2000, 512, &p, &found).ok());  // all zeros
  EXPECT_TRUE(p.data.empty());
  EXPECT_EQ(p.offset, 1000);
  EXPECT_EQ(p.prefix_crc, p.crc);
  ASSERT_TRUE(store_->ReadPart(4, 1, 5, 0, 512, &p, &found).ok());  // a hole
  EXPECT_FALSE(found);
  EXPECT_EQ(store_->ReadPart(4, 2, 0, 0, 512, &p, &found).code(), Status::Code::kStale);
  EXPECT_EQ(store_->ReadPart(5, 1, 0, 0, 512, &p, &found).code(), Status::Code::kNotFound);
  EXPECT_EQ(store_->ReadPart(4, 1, 0, kBs - 10, 11, &p, &found).code(), Status::Code::kInvalid);
  EXPECT_EQ(store_->ReadPart(4, 1, 0, 0, 0, &p, &found).code(), Status::Code::kInvalid);
  EXPECT_EQ(store_->ReadPart(4, 1, -1, 0, 1, &p, &found).code(), Status::Code::kInvalid);
}

TEST_F(BlockStoreTest, VersionMismatchIsStaleAndMissingIsNotFound) {
  ASSERT_TRUE(Put(store_.get(), 3, 2, 0, "x").ok());
  EXPECT_EQ(Put(store_.get(), 3, 1, 0, "y").code(), Status::Code::kStale);
  std::vector<Block> blocks;
  EXPECT_EQ(store_->Read(3, 3, 0, 1, &blocks).code(), Status::Code::kStale);
  EXPECT_EQ(store_->Truncate(3, 1, 0).code(), Status::Code::kStale);
  EXPECT_EQ(store_->Read(99, 1, 0, 1, &blocks).code(), Status::Code::kNotFound);
  CheckResult r;
  ASSERT_TRUE(store_->Check(3, 5, &r).ok());
  EXPECT_EQ(r.state, ReplicaState::kStale);
  EXPECT_EQ(r.version, 2);
  ASSERT_TRUE(store_->Check(99, 1, &r).ok());
  EXPECT_EQ(r.state, ReplicaState::kMissing);
  EXPECT_EQ(Put(store_.get(), 0, 1, 0, "x").code(), Status::Code::kInvalid);
  EXPECT_EQ(Put(store_.get(), 1, 1, -1, "x").code(), Status::Code::kInvalid);
  EXPECT_EQ(Put(store_.get(), 1, 1, BlockStore::kMaxChunkBytes, "x").code(), Status::Code::kInvalid);
}

TEST_F(BlockStoreTest, TruncateThenExtendReadsZeros) {
  const std::string data = Pattern(3 * kBs, 3);
  ASSERT_TRUE(Put(store_.get(), 4, 1, 0, data).ok());
  ASSERT_TRUE(store_->Truncate(4, 1, kBs + 100).ok());
  std::vector<Block> blocks;
  ASSERT_TRUE(store_->Read(4, 1, 0, 3, &blocks).ok());
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[1].data.size(), 100u);
  ASSERT_TRUE(Put(store_.get(), 4, 1, 3 * kBs - 1, "Z").ok());  // extend again
  std::string expect = data.substr(0, kBs + 100) + std::string(2 * kBs - 101, '\0') + "Z";
  EXPECT_EQ(ReadAll(4, 1, 3 * kBs), expect);
  ASSERT_TRUE(store_->Truncate(4, 1, 0).ok());
  blocks.clear();
  ASSERT_TRUE(store_->Read(4, 1, 0, 3, &blocks).ok());
  EXPECT_TRUE(blocks.empty());
  EXPECT_TRUE(store_->Truncate(12345, 1, 0).ok());  // absent: nothing to drop
}

TEST_F(BlockStoreTest, DeleteAndInventory) {
  ASSERT_TRUE(Put(store_.get(), 10, 3, 0, Pattern(2 * kBs, 4)).ok());
  ASSERT_TRUE(Put(store_.get(), 11, 1, 0, "a").ok());
  ASSERT_TRUE(Put(store_.get(), 12, 2, 0, "b").ok());
  EXPECT_EQ(store_->Inventory(), (std::vector<ChunkVersion>{{10, 3}, {11, 1}, {12, 2}}));
  ASSERT_TRUE(store_->DeleteChunk(10).ok());
  ASSERT_TRUE(store_->DeleteChunk(10).ok());  // idempotent
  EXPECT_EQ(store_->Inventory(), (std::vector<ChunkVersion>{{11, 1}, {12, 2}}));
  std::vector<Block> blocks;
  EXPECT_EQ(store_->Read(10, 3, 0, 2, &blocks).code(), Status::Code::kNotFound);
  // A new replica of the same id does not inherit the old blocks.
  ASSERT_TRUE(Put(store_.get(), 10, 4, 0, "new").ok());
  ASSERT_TRUE(store_->Read(10, 4, 0, 2, &blocks).ok());
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].data, "new");
  StoreUsage u;
  ASSERT_TRUE(store_->Usage(&u).ok());
  EXPECT_EQ(u.bytes_used, 5);
  EXPECT_EQ(u.chunks, 3);
}

// Deleting leaves holes (nothing moves inside a remove); one pass of
// Compact, as long as CompactionBacklog says, moves the live records into
// them and gives the space back to the file system.
TEST_F(BlockStoreTest, CompactionBacklogIsOnePassThatReclaimsDeletedChunks) {
  auto file_size = [&] {
    struct stat st{};
    EXPECT_EQ(::stat(FilePath().c_str(), &st), 0);
    return static_cast<int64_t>(st.st_size);
  };
  EXPECT_EQ(store_->CompactionBacklog(), 0);
  const int64_t empty = file_size();
  constexpr int kChunks = 40;
  for (int c = 1; c <= kChunks; ++c)
    ASSERT_TRUE(Put(store_.get(), c, 1, 0, Pattern(4 * kBs, c)).ok());
  const int64_t full = file_size();
  ASSERT_GT(full - empty, kChunks * 4 * kBs);
  // The first 30 go: their holes lie before the 10 that stay.
  for (int c = 1; c <= 30; ++c) ASSERT_TRUE(store_->DeleteChunk(c).ok());
  EXPECT_EQ(file_size(), full);  // no automatic defragmentation
  ASSERT_TRUE(store_->Compact(1).ok());
  const int64_t backlog = store_->CompactionBacklog();
  // A pass covers the 50 records left (10 chunks of a header and 4 blocks)
  // and the 150 holes.
  EXPECT_GE(backlog, 150);
  EXPECT_LE(backlog, 250);
  int calls = 0;
  while (store_->CompactionBacklog() > 0 && calls < 1000) {
    ASSERT_TRUE(store_->Compact(8).ok());
    ++calls;
  }
  EXPECT_EQ(store_->CompactionBacklog(), 0);
  EXPECT_LE(calls, (backlog + 7) / 8);
  // Only the 10 chunks left take space: well under half of what 40 took.
  EXPECT_LT(file_size() - empty, (full - empty) / 2);
  for (int c = 31; c <= kChunks; ++c) EXPECT_EQ(ReadAll(c, 1, 4 * kBs), Pattern(4 * kBs, c));
  // Compacting a store without holes leaves no backlog.
  ASSERT_TRUE(store_->Compact(64).ok());
  EXPECT_EQ(store_->CompactionBacklog(), 0);
  // Holes from before a restart are counted nowhere: a store with chunks
  // starts with a pass over its 51 records.
  Reopen();
  EXPECT_EQ(store_->CompactionBacklog(), 51);
}

TEST_F(BlockStoreTest, ReopenKeepsData) {
  const std::string data = Pattern(kBs + 5, 5);
  ASSERT_TRUE(Put(store_.get(), 20, 7, 100, data).ok());
  ASSERT_TRUE(store_->Sync().ok());
  Reopen();
  EXPECT_EQ(store_->Inventory(), (std::vector<ChunkVersion>{{20, 7}}));
  EXPECT_EQ(ReadAll(20, 7, kBs + 105), std::string(100, '\0') + data);
  StoreUsage u;
  ASSERT_TRUE(store_->Usage(&u).ok());
  EXPECT_EQ(u.bytes_used, kBs + 105);
}

TEST_F(BlockStoreTest, ChecksumMismatchIsDetectedAndNeverReturned) {
  const std::string good = Pattern(2 * kBs, 6);
  ASSERT_TRUE(Put(store_.get(), 30, 1, 0, good).ok());
  store_.reset();
  {
    kyotocabinet::HashDB db;
    ASSERT_TRUE(db.open(FilePath(), kyotocabinet::HashDB::OWRITER));
    std::string key = "b";
    for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>((30ull >> (8 * i)) & 0xff));
    key += std::string("\0\0\0\1", 4);  // block 1
    std::string value;
    ASSERT_TRUE(db.get(key, &value));
    value[4 + 17] ^= 0x01;
    ASSERT_TRUE(db.set(key, value));
    ASSERT_TRUE(db.close());
  }
  Reopen();
  std::vector<Block> blocks;
  Status s = store_->Read(30, 1, 0, 2, &blocks);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("chunk 30 block 1"), std::string::npos) << s.message();
  EXPECT_TRUE(blocks.empty());
  CheckResult r;
  ASSERT_TRUE(store_->Check(30, 1, &r).ok());
  EXPECT_EQ(r.state, ReplicaState::kCorrupt);
  EXPECT_EQ(r.bad_blocks, 1);
  EXPECT_EQ(r.blocks, 2);
  // A part of the bad block is refused too, also one the flipped byte is
  // not in: the whole block is verified.
  BlockPart part;
  bool found = false;
  s = store_->ReadPart(30, 1, 1, 1024, 100, &part, &found);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_TRUE(part.data.empty());
  // The good block is still served; a partial write over the bad one refuses.
  ASSERT_TRUE(store_->Read(30, 1, 0, 1, &blocks).ok());
  EXPECT_EQ(blocks.at(0).data, good.substr(0, kBs));
  EXPECT_EQ(Put(store_.get(), 30, 1, kBs + 1, "x").code(), Status::Code::kCorruption);
  // Also one that would overwrite the flipped byte itself, and one past it.
  EXPECT_EQ(Put(store_.get(), 30, 1, kBs + 10, std::string(20, 'y')).code(),
            Status::Code::kCorruption);
  EXPECT_EQ(Put(store_.get(), 30, 1, kBs + 100, std::string(kBs, 'z')).code(),
            Status::Code::kCorruption);
  // A full-block write repairs it.
  ASSERT_TRUE(Put(store_.get(), 30, 1, kBs, good.substr(kBs)).ok());
  ASSERT_TRUE(store_->Check(30, 1, &r).ok());
  EXPECT_EQ(r.state, ReplicaState::kOk);
  StoreUsage u;
  ASSERT_TRUE(store_->Usage(&u).ok());
  EXPECT_GE(u.corrupt_found, 2);
}

TEST_F(BlockStoreTest, BlockSizeMismatchIsRefused) {
  store_.reset();
  std::unique_ptr<BlockStore> other;
  Status s = BlockStore::Open(dir_.path(), 2 * kBs, &other);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_NE(s.message().find(FilePath()), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("block size 4096"), std::string::npos) << s.message();
  EXPECT_EQ(other, nullptr);
}

TEST_F(BlockStoreTest, GarbageFileIsRefusedAndLeftUntouched) {
  store_.reset();
  testing::TempDir dir("datad-garbage");
  const std::string path = dir.path() + "/" + BlockStore::kFileName;
  const std::string garbage = Pattern(8192, 7);
  { std::ofstream(path, std::ios::binary) << garbage; }
  std::unique_ptr<BlockStore> store;
  Status s = BlockStore::Open(dir.path(), kBs, &store);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  std::ifstream in(path, std::ios::binary);
  std::string after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(after, garbage);
}

TEST_F(BlockStoreTest, StoreWithoutHeaderIsRefused) {
  store_.reset();
  testing::TempDir dir("datad-noheader");
  const std::string path = dir.path() + "/" + BlockStore::kFileName;
  {
    kyotocabinet::HashDB db;
    ASSERT_TRUE(db.open(path, kyotocabinet::HashDB::OWRITER | kyotocabinet::HashDB::OCREATE));
    ASSERT_TRUE(db.set("other", "data"));
    ASSERT_TRUE(db.close());
  }
  std::unique_ptr<BlockStore> store;
  Status s = BlockStore::Open(dir.path(), kBs, &store);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find(path), std::string::npos);
}

// Another process (a second datad on the same directory) is refused at once.
TEST_F(BlockStoreTest, StoreInUseByAnotherProcessIsRefused) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::unique_ptr<BlockStore> twin;
    Status s = BlockStore::Open(dir_.path(), kBs, &twin);
    _exit(s.ok() ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
}

TEST_F(BlockStoreTest, ConcurrentWritersToDifferentBlocks) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        // Each thread owns half-blocks at its own positions: RMW of shared blocks.
        const int64_t off = t * (kBs / 2);
        EXPECT_TRUE(Put(store_.get(), 40, 1, off, std::string(kBs / 2, static_cast<char>('a' + t))).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::string expect;
  for (int t = 0; t < kThreads; ++t) expect += std::string(kBs / 2, static_cast<char>('a' + t));
  EXPECT_EQ(ReadAll(40, 1, kThreads * kBs / 2), expect);
}

TEST_F(BlockStoreTest, ConcurrentWritersToTheSameBlockNeverTear) {
  constexpr int kThreads = 6;
  std::vector<std::string> payloads;
  for (int t = 0; t < kThreads; ++t) payloads.push_back(Pattern(2 * kBs, 100 + t));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 30; ++round) {
        // Unaligned: every block is written by read-modify-write.
        EXPECT_TRUE(Put(store_.get(), 41, 1, 10, payloads[t]).ok());
        EXPECT_TRUE(store_->Sync().ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  const std::string all = ReadAll(41, 1, 2 * kBs + 10);
  // Each block region ends equal to one writer's data.
  for (int64_t b = 0; b < 3; ++b) {
    const int64_t lo = std::max<int64_t>(b * kBs, 10), hi = std::min<int64_t>((b + 1) * kBs, 2 * kBs + 10);
    bool matched = false;
    for (const auto& p : payloads) matched |= all.substr(lo, hi - lo) == p.substr(lo - 10, hi - lo);
    EXPECT_TRUE(matched) << "block " << b << " is torn";
  }
}

}  // namespace
}  // namespace replfs::datad
