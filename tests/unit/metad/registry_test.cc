// Membership: registration, liveness with a fake clock, reconciliation,
// status counts.
#include "tests/unit/metad/metad_test_util.h"

namespace replfs::metad {
namespace {

using RegistryTest = CoreTest;

ServerUsage Usage(const std::string& addr, int32_t block_size = 64 << 10) {
  ServerUsage u;
  u.addr = addr;
  u.bytes_total = 1000 << 20;
  u.bytes_free = 800 << 20;
  u.bytes_used = 200 << 20;
  u.block_size = block_size;
  return u;
}

TEST_F(RegistryTest, BlockSizeMismatchIsRefusedClearly) {
  Status s = core_->RegisterServer(Usage("h:1", 4096), {});
  EXPECT_CODE(s, kInvalid);
  EXPECT_NE(s.message().find("block_size"), std::string::npos);
  std::vector<ReplicaHeld> del;
  EXPECT_CODE(core_->servers().Heartbeat(Usage("h:1"), &del), kNotFound);
}

TEST_F(RegistryTest, DownAfterSilenceAndUpOnHeartbeat) {
  ASSERT_OK(core_->RegisterServer(Usage("h:1"), {}));
  ASSERT_OK(core_->RegisterServer(Usage("h:2"), {}));
  clock_.Advance(4000);
  std::vector<ReplicaHeld> del;
  ASSERT_OK(core_->servers().Heartbeat(Usage("h:2"), &del));
  EXPECT_EQ(core_->servers().CheckLiveness(), 0);
  clock_.Advance(1000);
  EXPECT_EQ(core_->servers().CheckLiveness(), 1);
  EXPECT_FALSE(core_->servers().IsUp("h:1"));
  EXPECT_TRUE(core_->servers().IsUp("h:2"));
  ASSERT_OK(core_->servers().Heartbeat(Usage("h:1"), &del));
  EXPECT_TRUE(core_->servers().IsUp("h:1"));
  FsStat fs = core_->StatFs();
  EXPECT_EQ(fs.bytes_total, 2000 << 20);
  EXPECT_EQ(fs.bytes_free, 1600 << 20);
  EXPECT_EQ(fs.replicas, 3);
}

TEST_F(RegistryTest, InventoryReconciliationQueuesUnreferencedReplicas) {
  for (auto a : {"h:1", "h:2", "h:3", "h:4"}) AddServer(a);
  Inode f = MkFile(kRootIno, "f");
  ChunkInfo c;
  ASSERT_OK(core_->AllocChunk(f.ino, 0, &c));
  ASSERT_EQ(c.replicas.size(), 3u);
  std::string holder = c.replicas[0];
  std::string other;
  for (auto a : {"h:1", "h:2", "h:3", "h:4"})
    if (std::find(c.replicas.begin(), c.replicas.end(), a) == c.replicas.end()) other = a;
  // The holder keeps its replica; an unknown id goes.
  ASSERT_OK(core_->RegisterServer(Usage(holder), {{c.id, 1}, {c.id + 100, 1}}));
  std::vector<ReplicaHeld> del;
  ASSERT_OK(core_->servers().Heartbeat(Usage(holder), &del));
  EXPECT_EQ(Ids(del), std::vector<ChunkId>{c.id + 100});
  // A server holding a replica metad placed elsewhere drops it.
  ASSERT_OK(core_->RegisterServer(Usage(other), {{c.id, 1}}));
  ASSERT_OK(core_->servers().Heartbeat(Usage(other), &del));
  EXPECT_EQ(Ids(del), std::vector<ChunkId>{c.id});
}

TEST_F(RegistryTest, StatusCountsHealth) {
  for (auto a : {"h:1", "h:2", "h:3"}) AddServer(a);
  Inode f = MkFile(kRootIno, "f");
  MkDir(kRootIno, "d");
  ChunkInfo c;
  for (int i = 0; i < 3; ++i) ASSERT_OK(core_->AllocChunk(f.ino, i, &c));
  ClusterStatus st = core_->GetStatus();
  EXPECT_EQ(st.chunks.total, 3);
  EXPECT_EQ(st.chunks.healthy, 3);
  EXPECT_EQ(st.files, 1);
  EXPECT_EQ(st.directories, 2);
  ASSERT_EQ(st.servers.size(), 3u);
  EXPECT_EQ(st.servers[0].chunks, 3);
  EXPECT_EQ(st.servers[0].state, ServerState::kUp);
  // One server goes silent: every chunk is under-replicated.
  clock_.Advance(3000);
  std::vector<ReplicaHeld> del;
  ASSERT_OK(core_->servers().Heartbeat(Usage("h:1"), &del));
  ASSERT_OK(core_->servers().Heartbeat(Usage("h:2"), &del));
  clock_.Advance(3000);
  EXPECT_EQ(core_->servers().CheckLiveness(), 1);
  st = core_->GetStatus();
  EXPECT_EQ(st.chunks.under_replicated, 3);
  EXPECT_EQ(st.chunks.healthy, 0);
  EXPECT_EQ(st.servers[2].last_heartbeat_ms, 6000);
  // Allocation still works with 2 of 3 up (min_write_replicas = 2).
  ASSERT_OK(core_->AllocChunk(f.ino, 9, &c));
  EXPECT_EQ(c.replicas.size(), 2u);
  clock_.Advance(6000);
  core_->servers().CheckLiveness();
  st = core_->GetStatus();
  EXPECT_EQ(st.chunks.unavailable, 4);
  EXPECT_CODE(core_->AllocChunk(f.ino, 10, &c), kUnavailable);
  // Fsck reports down servers as unreachable without asking them.
  FileReport rep;
  ASSERT_OK(core_->Fsck(f.ino, &rep));
  ASSERT_EQ(rep.chunks.size(), 4u);
  EXPECT_EQ(rep.chunks[0].replicas[0].state, ReplicaState::kUnreachable);
}

TEST_F(RegistryTest, AllocChunkOnlyForRegularFiles) {
  for (auto a : {"h:1", "h:2", "h:3"}) AddServer(a);
  ChunkInfo c;
  EXPECT_CODE(core_->AllocChunk(kRootIno, 0, &c), kIsDir);
  EXPECT_CODE(core_->AllocChunk(12345, 0, &c), kNotFound);
  Inode f = MkFile(kRootIno, "f");
  ASSERT_OK(core_->AllocChunk(f.ino, 0, &c));
  EXPECT_EQ(c.version, 1u);
  ChunkInfo again;
  ASSERT_OK(core_->AllocChunk(f.ino, 0, &again));
  EXPECT_EQ(again.id, c.id);
  FileReport rep;
  ASSERT_OK(core_->Fsck(f.ino, &rep));
  ASSERT_EQ(rep.chunks.size(), 1u);
  for (const auto& r : rep.chunks[0].replicas) EXPECT_EQ(r.state, ReplicaState::kOk);
}

}  // namespace
}  // namespace replfs::metad
