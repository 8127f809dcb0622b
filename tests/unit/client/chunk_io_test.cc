// ChunkIo against a fake metad and three fake datads served in process.
#include "fuse/chunk_io.h"

#include <gtest/gtest.h>

#include "chunk_io_fixture.h"

namespace replfs::client::testing {
namespace {

TEST_F(ChunkIoTest, WriteReachesEveryReplicaAndReadsBack) {
  // 40000 bytes from offset 100: crosses chunk boundaries (16 KiB) and is
  // cut into 8 KiB RPCs; the fakes reject any payload whose CRC is wrong.
  const std::string payload = Pattern(40000, 1);
  ASSERT_TRUE(io_->Write(kIno, 100, payload).ok());
  for (auto& d : data_) {
    EXPECT_EQ(d.handler->Contents(100).substr(100), payload.substr(0, kChunkSize - 100));
    EXPECT_EQ(d.handler->Contents(101), payload.substr(kChunkSize - 100, kChunkSize));
    EXPECT_GE(d.handler->writes.load(), 5);
  }
  EXPECT_EQ(ReadAll(100, 40000, 40100), payload);
  EXPECT_EQ(ReadAll(5000, 7, 40100), payload.substr(4900, 7));
  // Locations are cached: a second write allocates nothing new.
  const int allocs = meta_.handler->alloc_calls;
  ASSERT_TRUE(io_->Write(kIno, 0, "abc").ok());
  EXPECT_EQ(meta_.handler->alloc_calls.load(), allocs);
  EXPECT_EQ(io_->CachedLocations(kIno), 3u);
  io_->Invalidate(kIno, 1);
  EXPECT_EQ(io_->CachedLocations(kIno), 1u);
}

TEST_F(ChunkIoTest, ReadClampsToFileSizeAndZeroFillsHoles) {
  ASSERT_TRUE(io_->Write(kIno, 2 * kChunkSize + 10, "tail").ok());
  const int64_t size = 2 * kChunkSize + 14;
  std::string all = ReadAll(0, 1 << 20, size);
  ASSERT_EQ(static_cast<int64_t>(all.size()), size);
  EXPECT_EQ(all.substr(0, 2 * kChunkSize + 10), std::string(2 * kChunkSize + 10, '\0'));
  EXPECT_EQ(all.substr(2 * kChunkSize + 10), "tail");
  EXPECT_TRUE(ReadAll(size, 10, size).empty());
  EXPECT_TRUE(ReadAll(size + 100, 10, size).empty());
}

TEST_F(ChunkIoTest, ReadFailsOverWhenTheFirstReplicaIsDown) {
  const std::string payload = Pattern(3 * kBlockSize, 2);
  ASSERT_TRUE(io_->Write(kIno, 0, payload).ok());
  data_[0].Stop();
  EXPECT_EQ(ReadAll(0, payload.size(), payload.size()), payload);
  EXPECT_GT(data_[1].handler->reads.load(), 0);
}

TEST_F(ChunkIoTest, ReadNeverReturnsCorruptBytes) {
  const std::string payload = Pattern(2 * kBlockSize + 7, 3);
  ASSERT_TRUE(io_->Write(kIno, 0, payload).ok());
  // First replica flips a byte behind its CRC; second reports CORRUPTION.
  data_[0].handler->fault = FakeData::Fault::kFlipByte;
  data_[1].handler->fault = FakeData::Fault::kCorruptionError;
  EXPECT_EQ(ReadAll(0, payload.size(), payload.size()), payload);
  EXPECT_GT(data_[0].handler->reads.load(), 0);
  EXPECT_GT(data_[1].handler->reads.load(), 0);
  EXPECT_GT(data_[2].handler->reads.load(), 0);
  // With every replica bad the read fails instead of returning bad data.
  data_[2].handler->fault = FakeData::Fault::kFlipByte;
  std::string out;
  Status s = io_->Read(kIno, 0, payload.size(), payload.size(), &out);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

// A small read inside one block asks for its bytes only, checked end to
// end all the same: a byte flipped in them moves the read to the next
// replica.
TEST_F(ChunkIoTest, SmallReadsCarryTheirBytesOnlyAndAreStillVerified) {
  const std::string payload = Pattern(2 * kBlockSize + 7, 4);
  ASSERT_TRUE(io_->Write(kIno, 0, payload).ok());
  const int64_t off = kBlockSize + 100, len = kBlockSize / 4;
  EXPECT_EQ(ReadAll(off, len, payload.size()), payload.substr(off, len));
  int ranged = 0;
  for (auto& d : data_) ranged += d.handler->ranged_reads.load();
  EXPECT_EQ(ranged, 1);
  EXPECT_EQ(ReadAll(2 * kBlockSize + 2, 100, payload.size()), payload.substr(2 * kBlockSize + 2, 5));
  for (auto& d : data_) d.handler->fault = FakeData::Fault::kFlipByte;
  data_[2].handler->fault = FakeData::Fault::kNone;
  EXPECT_EQ(ReadAll(off, len, payload.size()), payload.substr(off, len));
  EXPECT_GT(data_[2].handler->ranged_reads.load(), 0);
  data_[2].handler->fault = FakeData::Fault::kFlipByte;
  std::string out;
  Status s = io_->Read(kIno, off, len, payload.size(), &out);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

TEST_F(ChunkIoTest, TruncateTailTrimsEveryReplica) {
  ASSERT_TRUE(io_->Write(kIno, 0, Pattern(kChunkSize + 3 * kBlockSize, 4)).ok());
  ASSERT_TRUE(io_->TruncateTail(kIno, kChunkSize + 5000).ok());
  for (auto& d : data_) {
    EXPECT_EQ(d.handler->truncates.load(), 1);
    EXPECT_EQ(d.handler->Contents(101).size(), 5000u);
  }
  EXPECT_EQ(io_->CachedLocations(kIno), 1u);  // chunk 1 on was forgotten
  // On a chunk boundary nothing is trimmed: metad drops whole chunks.
  ASSERT_TRUE(io_->TruncateTail(kIno, kChunkSize).ok());
  EXPECT_EQ(data_[0].handler->truncates.load(), 1);
}

TEST_F(ChunkIoTest, SyncReachesEveryServerWrittenOnce) {
  ASSERT_TRUE(io_->Sync(kIno).ok());
  for (auto& d : data_) EXPECT_EQ(d.handler->syncs.load(), 0);
  ASSERT_TRUE(io_->Write(kIno, 0, "hello").ok());
  ASSERT_TRUE(io_->Sync(kIno).ok());
  for (auto& d : data_) EXPECT_EQ(d.handler->syncs.load(), 1);
  ASSERT_TRUE(io_->Sync(kIno).ok());
  for (auto& d : data_) EXPECT_EQ(d.handler->syncs.load(), 1);
}

TEST_F(ChunkIoTest, ConcurrentWritersToDifferentRanges) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      EXPECT_TRUE(io_->Write(kIno, t * 5000, Pattern(5000, t)).ok());
    });
  }
  for (auto& th : threads) th.join();
  std::string all = ReadAll(0, 40000, 40000);
  for (int t = 0; t < 8; ++t) EXPECT_EQ(all.substr(t * 5000, 5000), Pattern(5000, t)) << t;
}

}  // namespace
}  // namespace replfs::client::testing
