// ChunkIo when datads or metad fail: PROTOCOL.md "Client write path" and
// "Client read path", against the fakes.
#include <gtest/gtest.h>

#include <thread>

#include "chunk_io_fixture.h"
#include "fuse/replica_ranking.h"
#include "tests/util/test_util.h"

namespace replfs::client::testing {
namespace {

using replfs::testing::WaitFor;
using std::chrono::milliseconds;

std::vector<std::string> Addrs(ServedData* d, std::initializer_list<int> which) {
  std::vector<std::string> out;
  for (int i : which) out.push_back(d[i].addr);
  return out;
}

TEST_F(ChunkIoTest, WriteGoesToThePrimaryWhichForwardsToTheOthers) {
  ASSERT_TRUE(io_->Write(kIno, 0, "abc").ok());
  EXPECT_EQ(data_[0].handler->primary_writes.load(), 1);
  EXPECT_EQ(data_[0].handler->LastForward(), Addrs(data_, {1, 2}));
  for (auto& d : data_) {
    EXPECT_EQ(d.handler->writes.load(), 1);
    EXPECT_EQ(d.handler->Contents(100), "abc");
  }
  EXPECT_EQ(data_[1].handler->primary_writes.load(), 0);
  EXPECT_EQ(meta_.handler->reports.load(), 0);
  EXPECT_EQ(io_->ServersToSync(kIno).size(), 3u);
}

TEST_F(ChunkIoTest, FailedSecondaryIsReportedAndTwoOfThreeSuffice) {
  data_[2].Stop();
  ASSERT_TRUE(io_->Write(kIno, 0, "abc").ok());
  auto reports = meta_.handler->Reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].bad, Addrs(data_, {2}));
  EXPECT_EQ(reports[0].version, 1);
  rpc::ChunkLocation loc = meta_.handler->Location(kIno, 0);
  EXPECT_EQ(loc.replicas, Addrs(data_, {0, 1}));
  EXPECT_EQ(loc.version, 2);
  // The dropped server is not waited for at fsync.
  std::vector<std::string> to_sync = io_->ServersToSync(kIno);
  std::sort(to_sync.begin(), to_sync.end());
  std::vector<std::string> want = Addrs(data_, {0, 1});
  std::sort(want.begin(), want.end());
  EXPECT_EQ(to_sync, want);
  ASSERT_TRUE(io_->Sync(kIno).ok());
  // The next write uses the new location: forward is just the survivor.
  ASSERT_TRUE(io_->Write(kIno, 3, "def").ok());
  EXPECT_EQ(data_[0].handler->LastForward(), Addrs(data_, {1}));
  EXPECT_EQ(meta_.handler->reports.load(), 1);
  EXPECT_EQ(data_[1].handler->Contents(100), "abcdef");
}

TEST_F(ChunkIoTest, TooFewReplicasRetriesThenFailsWithEio) {
  DataPathOptions o = FastDataOptions();
  o.rpc.budget_ms = 300;
  io_ = MakeIo(o);
  data_[1].Stop();
  data_[2].Stop();
  Status s = io_->Write(kIno, 0, "abc");
  EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
  EXPECT_NE(s.message().find("chunk 100"), std::string::npos) << s.ToString();
  EXPECT_GE(meta_.handler->reports.load(), 1);
  EXPECT_EQ(StatusToErrno(s), EIO);
}

TEST_F(ChunkIoTest, DeadPrimaryIsReportedAndTheWriteMovesToTheNewPrimary) {
  data_[0].Stop();
  ASSERT_TRUE(io_->Write(kIno, 0, "abc").ok());
  auto reports = meta_.handler->Reports();
  ASSERT_GE(reports.size(), 1u);
  EXPECT_EQ(reports[0].bad, Addrs(data_, {0}));
  EXPECT_EQ(data_[1].handler->primary_writes.load(), 1);
  EXPECT_EQ(data_[1].handler->LastForward(), Addrs(data_, {2}));
  EXPECT_EQ(data_[1].handler->Contents(100), "abc");
  EXPECT_EQ(data_[2].handler->Contents(100), "abc");
}

TEST_F(ChunkIoTest, StaleRefreshesTheLocationAndRetries) {
  ASSERT_TRUE(io_->Write(kIno, 0, "abc").ok());
  const int before = meta_.handler->get_chunks_calls;
  data_[0].handler->stale_writes = 1;
  ASSERT_TRUE(io_->Write(kIno, 0, "xyz").ok());
  EXPECT_GT(meta_.handler->get_chunks_calls.load(), before);
  EXPECT_EQ(data_[2].handler->Contents(100), "xyz");
  EXPECT_EQ(meta_.handler->reports.load(), 0);
}

TEST_F(ChunkIoTest, WriteIsRepeatedWhenTheSetChangedUnderIt) {
  ASSERT_TRUE(io_->Write(kIno, 0, "abc").ok());  // caches {v1, [d0, d1, d2]}
  // Meanwhile metad moved the chunk to v2 (e.g. a repair re-added d2), and
  // d2 is now down: the write at v1 misses d2, whose removal metad ignores
  // (old version). d2 is still in the set metad answers, so the write is
  // not done: it is repeated on the current location.
  rpc::ChunkLocation moved = meta_.handler->Location(kIno, 0);
  moved.version = 2;
  meta_.handler->SetLocation(kIno, moved);
  data_[2].Stop();
  const int before = data_[0].handler->primary_writes;
  ASSERT_TRUE(io_->Write(kIno, 0, "xyz").ok());
  EXPECT_EQ(data_[0].handler->primary_writes - before, 2);
  auto reports = meta_.handler->Reports();
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].version, 1);
  EXPECT_EQ(reports[1].version, 2);  // the repeat, against the current version
  EXPECT_EQ(meta_.handler->Location(kIno, 0).replicas, Addrs(data_, {0, 1}));
  EXPECT_EQ(data_[1].handler->Contents(100), "xyz");
}

TEST_F(ChunkIoTest, PrimaryThatLostTheChunkIsReportedAndTheWriteMoves) {
  ASSERT_TRUE(io_->Write(kIno, 0, "abc").ok());
  data_[0].handler->fault = FakeData::Fault::kNotFound;  // its store was wiped
  ASSERT_TRUE(io_->Write(kIno, 0, "xyz").ok());
  auto reports = meta_.handler->Reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].bad, Addrs(data_, {0}));
  EXPECT_EQ(reports[0].why, rpc::ErrorCode::NOT_FOUND);
  EXPECT_EQ(data_[2].handler->Contents(100), "xyz");
}

TEST_F(ChunkIoTest, WriteQuorumComesFromTheLocation) {
  // A goal-1 chunk: one replica, and metad says one acknowledgement is
  // enough (the cluster's min_write_replicas, 2 here, is not).
  meta_.handler->replicas = {data_[0].addr};
  meta_.handler->write_quorum = 1;
  ASSERT_TRUE(io_->Write(kIno, 0, "abc").ok());
  EXPECT_EQ(data_[0].handler->Contents(100), "abc");
  EXPECT_EQ(data_[1].handler->writes.load(), 0);
}

TEST_F(ChunkIoTest, StaleReadAtACachedVersionAsksMetadBeforeTheNextReplica) {
  ASSERT_TRUE(io_->Write(kIno, 0, "abc").ok());
  const int before = meta_.handler->get_chunks_calls;
  const int d1_reads = data_[1].handler->reads;
  // d0 holds a newer version than our cached location: the set may have
  // moved on without d1 or d2, so they are not read at the old version.
  data_[0].handler->fault = FakeData::Fault::kStale;
  EXPECT_EQ(ReadAll(0, 3, 3), "abc");
  EXPECT_EQ(meta_.handler->get_chunks_calls - before, 1);
  EXPECT_EQ(data_[1].handler->reads - d1_reads, 1);  // read once, after the refresh
}

TEST_F(ChunkIoTest, ReadOfAChunkNoReplicaHoldsIsAnIoError) {
  ASSERT_TRUE(io_->Write(kIno, 0, "abc").ok());
  for (auto& d : data_) d.handler->fault = FakeData::Fault::kNotFound;
  std::string out;
  Status s = io_->Read(kIno, 0, 3, 3, &out);
  EXPECT_EQ(StatusToErrno(s), EIO) << s.ToString();
  ASSERT_TRUE(WaitFor([&] { return meta_.handler->reports.load() >= 1; }, milliseconds(10000),
                      "missing replicas reported"));
  EXPECT_EQ(meta_.handler->Reports()[0].why, rpc::ErrorCode::NOT_FOUND);
}

TEST_F(ChunkIoTest, NoSpaceFailsAtOnce) {
  data_[0].handler->fault = FakeData::Fault::kNoSpace;
  Status s = io_->Write(kIno, 0, "abc");
  EXPECT_EQ(StatusToErrno(s), ENOSPC) << s.ToString();
  EXPECT_EQ(meta_.handler->reports.load(), 0);
}

TEST_F(ChunkIoTest, ReadReportsCorruptReplicasAndReturnsGoodData) {
  const std::string payload = Pattern(2 * kBlockSize + 7, 5);
  ASSERT_TRUE(io_->Write(kIno, 0, payload).ok());
  data_[0].handler->fault = FakeData::Fault::kFlipByte;
  data_[1].handler->fault = FakeData::Fault::kCorruptionError;
  EXPECT_EQ(ReadAll(0, payload.size(), payload.size()), payload);
  ASSERT_TRUE(WaitFor([&] { return meta_.handler->reports.load() >= 1; }, milliseconds(10000),
                      "corrupt replicas reported"));
  auto reports = meta_.handler->Reports();
  EXPECT_EQ(reports[0].bad, Addrs(data_, {0, 1}));
  EXPECT_EQ(reports[0].why, rpc::ErrorCode::CORRUPTION);
}

TEST_F(ChunkIoTest, SyncDropsAServerThatDiedAfterTheWrite) {
  ASSERT_TRUE(io_->Write(kIno, 0, "abc").ok());
  data_[2].Stop();
  ASSERT_TRUE(io_->Sync(kIno).ok());
  EXPECT_EQ(meta_.handler->Location(kIno, 0).replicas, Addrs(data_, {0, 1}));
  EXPECT_TRUE(io_->ServersToSync(kIno).empty());
}

TEST_F(ChunkIoTest, MetadRestartDuringAWriteIsSurvived) {
  meta_.Stop();
  std::atomic<bool> started{false};
  Status s;
  std::thread writer([&] {
    started = true;
    s = io_->Write(kIno, 0, "abc");  // needs AllocChunk from the dead metad
  });
  ASSERT_TRUE(WaitFor([&] { return started.load(); }, milliseconds(5000), "writer started"));
  meta_.Restart();
  writer.join();
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_GE(meta_.handler->alloc_calls.load(), 1);
  EXPECT_EQ(data_[2].handler->Contents(100), "abc");
}

TEST(ReplicaRankingTest, FasterReplicasFirstAndOldSamplesForgotten) {
  ReplicaRanking f(milliseconds(50));
  const std::vector<std::string> all{"a", "b", "c"};
  EXPECT_EQ(f.Order(all), all);  // nothing known: placement order
  f.MarkOk("a", std::chrono::microseconds(50000));  // behind a slow link
  f.MarkOk("b", std::chrono::microseconds(300));
  f.MarkOk("c", std::chrono::microseconds(200));
  EXPECT_EQ(f.Order(all), (std::vector<std::string>{"c", "b", "a"}));
  f.MarkOk("c", std::chrono::microseconds(5000));  // c slowed down: averaged, not replaced
  EXPECT_EQ(f.Order(all), (std::vector<std::string>{"b", "c", "a"}));
  f.MarkFailed("b");  // failure beats speed
  EXPECT_EQ(f.Order(all), (std::vector<std::string>{"c", "a", "b"}));
  EXPECT_GT(f.Latency("a").count(), 10000);
}

TEST(ReplicaRankingTest, FailedServersGoLastUntilTheyExpireOrSucceed) {
  ReplicaRanking f(milliseconds(50));
  const std::vector<std::string> all{"a", "b", "c"};
  f.MarkFailed("a");
  EXPECT_EQ(f.Order(all), (std::vector<std::string>{"b", "c", "a"}));
  f.MarkOk("a");
  EXPECT_EQ(f.Order(all), all);
  f.MarkFailed("b");
  ASSERT_TRUE(WaitFor([&] { return !f.RecentlyFailed("b"); }, milliseconds(5000), "expiry"));
  EXPECT_EQ(f.Order(all), all);
}

}  // namespace
}  // namespace replfs::client::testing
