// RepairScheduler driven round by round with a fake clock and fake datads.
#include <algorithm>

#include "daemons/metad/repair.h"
#include "tests/unit/metad/metad_test_util.h"

namespace replfs::metad {
namespace {

using Addrs = std::vector<std::string>;

class RepairTest : public CoreTest {
 protected:
  void SetUp() override {
    CoreTest::SetUp();
    for (auto a : {"h:1", "h:2", "h:3", "h:4"}) AddServer(a);
  }
  void TearDown() override {
    if (repair_) core_->AttachRepair(nullptr);
  }
  // A scheduler created now: repairs may start dead_after_ms (5 s) later.
  void MakeRepair(int max_concurrent = 2, int64_t rate_bytes_s = 0) {
    RepairScheduler::Options o;
    o.max_concurrent = max_concurrent;
    o.rate_bytes_s = rate_bytes_s;
    o.start_delay_ms = core_->config().dead_after_ms;
    o.chunk_size = core_->config().chunk_size;
    o.block_size = core_->config().block_size;
    repair_ = std::make_unique<RepairScheduler>(&core_->replicas(), &core_->ns(), &clock_, o);
    core_->AttachRepair(repair_.get());
  }
  ChunkInfo NewChunk(const std::string& name, int64_t size = 0) {
    Inode f = MkFile(kRootIno, name), in;
    ChunkInfo c;
    EXPECT_TRUE(core_->AllocChunk(f.ino, 0, &c).ok());
    if (size) {
      EXPECT_TRUE(ns().CommitWrite(f.ino, size, 1, &in).ok());
    }
    return c;
  }
  ChunkInfo Get(ChunkId id) {
    ChunkInfo c;
    EXPECT_TRUE(core_->chunks().Get(id, &c).ok());
    return c;
  }
  ServerUsage Usage(const std::string& addr, int64_t free_bytes = 1 << 30) {
    ServerUsage u;
    u.addr = addr;
    u.bytes_total = 1 << 30;
    u.bytes_free = free_bytes;
    u.block_size = static_cast<int32_t>(core_->config().block_size);
    return u;
  }
  // Time passes; every server but `dead` heartbeats; `dead` goes DOWN.
  void KillServer(const std::string& dead) {
    clock_.Advance(core_->config().dead_after_ms + 1000);
    std::vector<ReplicaHeld> del;
    for (auto a : {"h:1", "h:2", "h:3", "h:4"})
      if (a != dead) ASSERT_OK(core_->servers().Heartbeat(Usage(a), &del));
    ASSERT_EQ(core_->servers().CheckLiveness(), 1);
  }
  std::vector<std::string> Pushes() {
    std::vector<std::string> out;
    for (auto& c : datad_->Calls())
      if (c.rfind("PushChunk", 0) == 0) out.push_back(c);
    return out;
  }

  std::unique_ptr<RepairScheduler> repair_;
};

TEST_F(RepairTest, CopiesWaitBrieflyAfterAServerComesBackForOthersToReturn) {
  MakeRepair();
  ChunkInfo c = NewChunk("f");
  ASSERT_EQ(c.replicas, (Addrs{"h:1", "h:2", "h:3"}));
  std::vector<ReplicaHeld> del;
  const auto beat = [&](std::initializer_list<const char*> addrs) {
    for (auto a : addrs) ASSERT_OK(core_->servers().Heartbeat(Usage(a), &del));
  };
  clock_.Advance(core_->config().dead_after_ms + 1000);
  beat({"h:1", "h:2"});
  ASSERT_EQ(core_->servers().CheckLiveness(), 2);  // h:3 (a member) and h:4 down
  // h:4 comes back: h:3 may be about to as well, so nothing is copied yet.
  beat({"h:4"});
  EXPECT_EQ(repair_->RunOnce(), 0);
  EXPECT_TRUE(Pushes().empty());
  // h:3 returns within the hold: the chunk is at its goal without a copy.
  beat({"h:3"});
  clock_.Advance(1500);
  beat({"h:1", "h:2", "h:3", "h:4"});
  EXPECT_EQ(repair_->RunOnce(), 0);
  EXPECT_TRUE(Pushes().empty());
  EXPECT_EQ(Get(c.id).version, 1u);
  // When nobody came back lately, a down member is replaced at once.
  KillServer("h:3");
  EXPECT_EQ(repair_->RunOnce(), 1);
  EXPECT_EQ(Pushes().size(), 1u);
}

TEST_F(RepairTest, DownMemberIsReplacedOnASpareServer) {
  MakeRepair();
  ChunkInfo c = NewChunk("f");
  ASSERT_EQ(c.replicas, (Addrs{"h:1", "h:2", "h:3"}));
  KillServer("h:3");
  EXPECT_EQ(core_->GetStatus().chunks.under_replicated, 1);  // live members only
  EXPECT_EQ(repair_->RunOnce(), 1);
  EXPECT_EQ(Pushes(), Addrs{"PushChunk h:1->h:4 " + std::to_string(c.id) + " v2"});
  ChunkInfo now = Get(c.id);
  EXPECT_EQ(now.version, 2u);
  EXPECT_EQ(now.replicas, (Addrs{"h:1", "h:2", "h:4"}));
  EXPECT_EQ(repair_->done(), 1);
  ClusterStatus st = core_->GetStatus();
  EXPECT_EQ(st.chunks.healthy, 1);
  EXPECT_EQ(st.repair_done, 1);
  EXPECT_EQ(repair_->RunOnce(), 0);  // converged
  EXPECT_EQ(repair_->queued(), 0);
}

TEST_F(RepairTest, WaitsDeadAfterFromStart) {
  ChunkInfo c = NewChunk("f");
  ChunkInfo out;
  ASSERT_OK(core_->ReportBadReplicas(c.ino, 0, c.id, 1, {"h:3"}, Status::Code::kCorruption, "t", &out));
  MakeRepair();
  EXPECT_EQ(repair_->RunOnce(), 0);
  EXPECT_EQ(repair_->queued(), 1);
  clock_.Advance(4000);
  EXPECT_EQ(repair_->RunOnce(), 0);
  EXPECT_TRUE(Pushes().empty());
  clock_.Advance(1000);
  EXPECT_EQ(repair_->RunOnce(), 1);
  EXPECT_EQ(Get(c.id).replicas.size(), 3u);
  EXPECT_EQ(core_->GetStatus().chunks.corrupt_replicas, 0);  // repaired
}

TEST_F(RepairTest, MostEndangeredChunkFirst) {
  MakeRepair(/*max_concurrent=*/1);
  ChunkInfo two = NewChunk("two"), one = NewChunk("one"), out;
  // Placement spreads chunks: name each chunk's own secondaries.
  ASSERT_OK(core_->ReportBadReplicas(two.ino, 0, two.id, 1, {two.replicas[2]},
                                     Status::Code::kCorruption, "t", &out));
  ASSERT_OK(core_->ReportBadReplicas(one.ino, 0, one.id, 1, {one.replicas[1], one.replicas[2]},
                                     Status::Code::kCorruption, "t", &out));
  clock_.Advance(6000);
  EXPECT_EQ(repair_->RunOnce(), 1);
  auto p = Pushes();
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].find(" " + std::to_string(one.id) + " "), std::string::npos) << p[0];
  EXPECT_EQ(Get(one.id).replicas.size(), 2u);
  EXPECT_EQ(Get(two.id).replicas.size(), 2u);
}

TEST_F(RepairTest, OverGoalTrimsTheFullestServer) {
  MakeRepair();
  ASSERT_OK(core_->RegisterServer(Usage("h:2", 1 << 20), {}));  // nearly full
  ChunkInfo c = NewChunk("f");
  ASSERT_EQ(c.replicas, (Addrs{"h:1", "h:3", "h:4"}));  // least full first
  ChunkInfo next = c;
  next.replicas.push_back("h:2");  // e.g. a server that came back
  ASSERT_OK(core_->chunks().Commit(next, 1, {}, false));
  clock_.Advance(6000);
  std::vector<ReplicaHeld> del;
  for (std::string a : {"h:1", "h:2", "h:3", "h:4"})
    ASSERT_OK(core_->servers().Heartbeat(Usage(a, a == "h:2" ? 1 << 20 : 1 << 30), &del));
  EXPECT_EQ(repair_->RunOnce(), 1);
  ChunkInfo now = Get(c.id);
  EXPECT_EQ(now.replicas.size(), 3u);
  EXPECT_EQ(std::count(now.replicas.begin(), now.replicas.end(), "h:2"), 0);
  // A version change: the trimmed copy is as current as the others, and a
  // client with the old location must not read it after writes it misses.
  EXPECT_EQ(now.version, 2u);
  ASSERT_OK(core_->servers().Heartbeat(Usage("h:2", 1 << 20), &del));
  ASSERT_EQ(Ids(del), std::vector<ChunkId>{c.id});
  EXPECT_EQ(del[0].version, 1u);  // only copies at the old version go
}

TEST_F(RepairTest, RateLimitHoldsBackTheSecondChunk) {
  MakeRepair(/*max_concurrent=*/2, /*rate_bytes_s=*/1 << 20);
  ChunkInfo a = NewChunk("a", 1 << 20), b = NewChunk("b", 1 << 20), out;
  for (const ChunkInfo* c : {&a, &b})
    ASSERT_OK(core_->ReportBadReplicas(c->ino, 0, c->id, 1, {c->replicas[2]},
                                       Status::Code::kCorruption, "t", &out));
  clock_.Advance(6000);  // bucket full: 1 MiB
  EXPECT_EQ(repair_->RunOnce(), 1);
  EXPECT_EQ(repair_->RunOnce(), 0);
  EXPECT_EQ(repair_->queued(), 1);
  clock_.Advance(500);
  EXPECT_EQ(repair_->RunOnce(), 0);
  clock_.Advance(500);
  EXPECT_EQ(repair_->RunOnce(), 1);
  EXPECT_EQ(repair_->done(), 2);
}

TEST_F(RepairTest, CorruptSourceIsDroppedAndAnotherUsed) {
  MakeRepair();
  ChunkInfo c = NewChunk("f");
  KillServer("h:3");
  datad_->Corrupt("h:1");
  EXPECT_EQ(repair_->RunOnce(), 0);
  ChunkInfo now = Get(c.id);
  EXPECT_EQ(now.replicas, Addrs{"h:2"});  // corrupt source and DOWN member out
  EXPECT_EQ(now.version, 2u);
  EXPECT_EQ(core_->GetStatus().chunks.corrupt_replicas, 1);
  EXPECT_EQ(repair_->RunOnce(), 1);  // from h:2 now
  now = Get(c.id);
  EXPECT_EQ(now.version, 3u);
  EXPECT_EQ(now.replicas.size(), 2u);
  EXPECT_EQ(now.replicas.front(), "h:2");
  EXPECT_EQ(repair_->RunOnce(), 1);  // back at goal
  EXPECT_EQ(Get(c.id).replicas.size(), 3u);
  EXPECT_EQ(core_->GetStatus().chunks.corrupt_replicas, 0);
}


TEST_F(RepairTest, ChunkNoLiveMemberHoldsWaitsForTheDeadOne) {
  MakeRepair();
  ChunkInfo c = NewChunk("f");
  ASSERT_EQ(c.replicas, (Addrs{"h:1", "h:2", "h:3"}));
  // The live members lost their copies; the primary died holding one.
  KillServer("h:1");
  datad_->Missing("h:2");
  datad_->Missing("h:3");
  datad_->Missing("h:4");
  EXPECT_EQ(repair_->RunOnce(), 0);
  // No live member holds it, so no version change can be made: the set
  // stays as it is (the dead primary may come back with the only copy) and
  // nothing is invented (no empty copy on h:4).
  ChunkInfo now = Get(c.id);
  EXPECT_EQ(now.version, 1u);
  EXPECT_EQ(now.replicas, (Addrs{"h:1", "h:2", "h:3"}));
}

TEST_F(RepairTest, LostSourceIsDroppedWhenAnotherMemberHoldsTheChunk) {
  MakeRepair();
  ChunkInfo c = NewChunk("f");
  KillServer("h:3");
  datad_->Missing("h:1");
  datad_->Missing("h:4");
  EXPECT_EQ(repair_->RunOnce(), 0);
  ChunkInfo now = Get(c.id);
  EXPECT_EQ(now.version, 2u);
  EXPECT_EQ(now.replicas, Addrs{"h:2"});  // h:1 lost its copy, h:4 got nothing
}

TEST_F(RepairTest, FailingChunkBacksOffAndOthersAreRepaired) {
  MakeRepair(/*max_concurrent=*/1);
  ChunkInfo bad = NewChunk("bad"), good = NewChunk("good"), out;
  // bad: 1 live replica (most endangered), and every copy of it fails.
  ASSERT_OK(core_->ReportBadReplicas(bad.ino, 0, bad.id, 1, Addrs(bad.replicas.begin() + 1, bad.replicas.end()),
                                     Status::Code::kCorruption, "t", &out));
  ASSERT_OK(core_->ReportBadReplicas(good.ino, 0, good.id, 1, {good.replicas[2]}, Status::Code::kCorruption, "t",
                                     &out));
  datad_->FailChunk(bad.id);
  clock_.Advance(6000);
  auto pushes_of = [&](ChunkId id) {
    int n = 0;
    for (auto& p : Pushes()) n += p.find(" " + std::to_string(id) + " ") != std::string::npos;
    return n;
  };
  EXPECT_EQ(repair_->RunOnce(), 0);
  EXPECT_EQ(pushes_of(bad.id), 1);
  clock_.Advance(100);
  EXPECT_EQ(repair_->RunOnce(), 1);  // bad waits: good goes
  EXPECT_EQ(pushes_of(bad.id), 1);
  EXPECT_EQ(Get(good.id).replicas.size(), 3u);
  clock_.Advance(1000);  // 1 s after the first failure: tried again
  EXPECT_EQ(repair_->RunOnce(), 0);
  EXPECT_EQ(pushes_of(bad.id), 2);
  clock_.Advance(1500);  // the second failure waits 2 s
  EXPECT_EQ(repair_->RunOnce(), 0);
  EXPECT_EQ(pushes_of(bad.id), 2);
  clock_.Advance(600);
  EXPECT_EQ(repair_->RunOnce(), 0);
  EXPECT_EQ(pushes_of(bad.id), 3);
  // Capped at 60 s.
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(60000);
    repair_->RunOnce();
  }
  EXPECT_EQ(pushes_of(bad.id), 13);
}

}  // namespace
}  // namespace replfs::metad
