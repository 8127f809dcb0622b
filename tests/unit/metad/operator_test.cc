// Operator tools against fake datads: corrupt replicas reported in
// heartbeats, what fsck remembers, fault injection, scrub, heal, drain,
// remove, and the Status counts (also with 100,000 chunks).
#include <atomic>
#include <chrono>
#include <thread>

#include "common/log.h"
#include "tests/unit/metad/ops_fixture.h"

namespace replfs::metad {
namespace {

const ReplicaReport* Find(const ChunkReport& r, const std::string& addr) {
  for (const auto& x : r.replicas)
    if (x.addr == addr) return &x;
  return nullptr;
}

TEST_F(OpsTest, CorruptChunkInHeartbeatIsDroppedAndRepaired) {
  ChunkInfo c = NewChunk(kRootIno, "f");
  ASSERT_EQ(c.replicas, (Addrs{"h:1", "h:2", "h:3"}));
  ServerUsage u = Usage("h:2");
  u.corrupt_chunks = {{c.id, 1}};
  u.scrub.running = true;
  u.scrub.progress = 0.5;
  std::vector<ReplicaHeld> del;
  ASSERT_OK(core_->Heartbeat(u, &del));
  EXPECT_EQ(Ids(del), std::vector<ChunkId>{c.id});  // the corrupt copy goes at once
  ChunkInfo now = Get(c.id);
  EXPECT_EQ(now.version, 2u);
  EXPECT_EQ(now.replicas, (Addrs{"h:1", "h:3"}));
  ClusterStatus st = core_->GetStatus();
  EXPECT_EQ(st.chunks.corrupt_replicas, 1);
  for (const auto& s : st.servers) {
    if (s.addr != "h:2") continue;
    EXPECT_TRUE(s.scrub.running);
    EXPECT_EQ(s.scrub.progress, 0.5);
  }
  FileReport rep;
  ASSERT_OK(core_->Fsck(c.ino, &rep));
  ASSERT_EQ(rep.chunks.size(), 1u);
  ASSERT_EQ(rep.chunks[0].replicas.size(), 3u);
  EXPECT_EQ(rep.chunks[0].replicas[2].addr, "h:2");  // after the members
  EXPECT_EQ(rep.chunks[0].replicas[2].state, ReplicaState::kCorrupt);
  EXPECT_EQ(repair_->RunOnce(), 1);
  now = Get(c.id);
  EXPECT_EQ(now.replicas.size(), 3u);
  EXPECT_EQ(core_->GetStatus().chunks.corrupt_replicas, 0);
  ASSERT_OK(core_->Fsck(c.ino, &rep));
  ASSERT_EQ(rep.chunks[0].replicas.size(), 3u);  // the members only: at goal again
  for (const auto& r : rep.chunks[0].replicas) EXPECT_EQ(r.state, ReplicaState::kOk) << r.addr;
}

TEST_F(OpsTest, CorruptReportOfAnOldVersionIsIgnored) {
  ChunkInfo c = NewChunk(kRootIno, "f");
  ServerUsage u = Usage("h:2");
  u.corrupt_chunks = {{c.id, 7}};
  std::vector<ReplicaHeld> del;
  ASSERT_OK(core_->Heartbeat(u, &del));
  EXPECT_EQ(Get(c.id).replicas.size(), 3u);
}

TEST_F(OpsTest, FsckShowsRememberedStaleAndMissingAndReportsCorruptMembers) {
  ChunkInfo a = NewChunk(kRootIno, "a"), b = NewChunk(kRootIno, "b"), out;
  ASSERT_OK(core_->ReportBadReplicas(a.ino, 0, a.id, 1, {"h:3"}, Status::Code::kUnavailable, "t", &out));
  clock_.Advance(11000);  // past the grace for a replica not yet written
  Beat();
  std::vector<ReplicaHeld> del;
  std::vector<ReplicaHeld> inv{{a.id, 1}};  // h:3 holds its old copy of a, not b
  ASSERT_OK(core_->BlockReport("h:3", inv, &del));
  FileReport rep;
  ASSERT_OK(core_->Fsck(a.ino, &rep));
  const ReplicaReport* r = Find(rep.chunks[0], "h:3");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->state, ReplicaState::kStale);
  ASSERT_OK(core_->Fsck(b.ino, &rep));
  r = Find(rep.chunks[0], "h:3");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->state, ReplicaState::kMissing);
  EXPECT_EQ(rep.chunks[0].replicas.back().addr, "h:3");
  EXPECT_EQ(core_->GetStatus().chunks.stale_replicas, 1);  // remembered and queued: counted once
  // fsck meets a corrupt member: dropped like a client's report.
  datad_->SetCheck("h:2", ReplicaState::kCorrupt);
  ASSERT_OK(core_->Fsck(b.ino, &rep));
  EXPECT_EQ(Find(rep.chunks[0], "h:2")->state, ReplicaState::kCorrupt);
  EXPECT_FALSE(Has(Get(b.id), "h:2"));
  EXPECT_EQ(core_->GetStatus().chunks.corrupt_replicas, 1);
}

TEST_F(OpsTest, CorruptPicksThePrimaryAndMapsTheBlock) {
  Inode f = MkFile(kRootIno, "f");
  ChunkInfo c;
  ASSERT_OK(core_->AllocChunk(f.ino, 1, &c));
  const int64_t per_chunk = core_->config().chunk_size / core_->config().block_size;
  CorruptResult r;
  ASSERT_OK(core_->Corrupt(f.ino, per_chunk + 5, "", FaultMode::kZero, false, &r));
  EXPECT_EQ(r.addr, c.replicas[0]);
  EXPECT_EQ(r.chunk_id, c.id);
  EXPECT_EQ(r.chunk_index, 1);
  EXPECT_EQ(r.block, 5);
  EXPECT_EQ(datad_->Calls().back(), "InjectFault h:1 " + std::to_string(c.id) + " b5 m2");
  ASSERT_OK(core_->Corrupt(f.ino, per_chunk, "h:3", FaultMode::kFlip, false, &r));
  EXPECT_EQ(r.addr, "h:3");
  // Not a member: NotFound (kInvalid is the last-good-replica refusal).
  EXPECT_CODE(core_->Corrupt(f.ino, per_chunk, "h:4", FaultMode::kFlip, false, &r), kNotFound);
  // Chunk 0 is not allocated: past the end while the size is 0, a hole once
  // the file is longer; a directory says so.
  Status s = core_->Corrupt(f.ino, 0, "", FaultMode::kFlip, false, &r);
  EXPECT_CODE(s, kNotFound);
  EXPECT_NE(s.message().find("block 0 is beyond the end of the file"), std::string::npos) << s.ToString();
  Inode in;
  ASSERT_OK(ns().CommitWrite(f.ino, 2 * core_->config().chunk_size, 1, &in));
  s = core_->Corrupt(f.ino, 0, "", FaultMode::kFlip, false, &r);
  EXPECT_CODE(s, kNotFound);
  EXPECT_NE(s.message().find("block 0 is a hole (chunk 0 of the file is not allocated)"), std::string::npos)
      << s.ToString();
  s = core_->Corrupt(f.ino, 2 * per_chunk, "", FaultMode::kFlip, false, &r);
  EXPECT_NE(s.message().find("beyond the end of the file"), std::string::npos) << s.ToString();
  s = core_->Corrupt(kRootIno, 0, "", FaultMode::kFlip, false, &r);
  EXPECT_CODE(s, kIsDir);
  EXPECT_NE(s.message().find("is a directory"), std::string::npos) << s.ToString();
}

TEST_F(OpsTest, CorruptRefusesTheLastGoodReplicaUnlessForced) {
  ChunkInfo c = NewChunk(kRootIno, "f");
  datad_->SetCheck("h:2", ReplicaState::kCorrupt);
  datad_->SetCheck("h:3", ReplicaState::kStale);
  CorruptResult r;
  Status s = core_->Corrupt(c.ino, 0, "", FaultMode::kFlip, false, &r);
  EXPECT_CODE(s, kInvalid);
  EXPECT_NE(s.ToString().find("last good replica of chunk " + std::to_string(c.id)), std::string::npos);
  datad_->ClearCalls();
  ASSERT_OK(core_->Corrupt(c.ino, 0, "", FaultMode::kDelete, true, &r));
  EXPECT_EQ(datad_->Calls().back(), "InjectFault h:1 " + std::to_string(c.id) + " b0 m3");
}

TEST_F(OpsTest, StartScrubFansOutToUpServers) {
  clock_.Advance(6000);
  Beat("h:4");
  ASSERT_EQ(core_->servers().CheckLiveness(), 1);
  datad_->ClearCalls();
  ASSERT_OK(core_->StartScrub(""));
  auto calls = datad_->Calls();
  std::sort(calls.begin(), calls.end());
  EXPECT_EQ(calls, (Addrs{"StartScrub h:1", "StartScrub h:2", "StartScrub h:3"}));
  ASSERT_OK(core_->StartScrub("h:2"));
  EXPECT_CODE(core_->StartScrub("h:4"), kUnavailable);
  EXPECT_CODE(core_->StartScrub("h:9"), kNotFound);
}

TEST_F(OpsTest, HealBypassesTheThrottle) {
  std::vector<ChunkInfo> cs;
  for (int i = 0; i < 3; ++i) {
    cs.push_back(NewChunk(kRootIno, "f" + std::to_string(i)));
    Inode in;
    ASSERT_OK(ns().CommitWrite(cs.back().ino, 8 << 20, 1, &in));  // 8 MiB each, rate 1 MiB/s
    ChunkInfo out;
    ASSERT_OK(core_->ReportBadReplicas(cs.back().ino, 0, cs.back().id, 1, {"h:3"}, Status::Code::kCorruption,
                                       "t", &out));
  }
  EXPECT_EQ(repair_->RunOnce(), 1);  // throttled: one chunk, then the bucket is in debt
  EXPECT_EQ(repair_->RunOnce(), 0);
  EXPECT_EQ(core_->GetStatus().repair_bytes_queued, 2 * (8 << 20));
  EXPECT_GT(core_->GetStatus().repair_bytes_per_s, 0);
  ASSERT_OK(core_->Heal());
  EXPECT_TRUE(core_->GetStatus().heal_running);
  EXPECT_EQ(repair_->RunOnce(), 2);  // both at once
  EXPECT_EQ(repair_->RunOnce(), 0);  // queue empty: heal ends
  EXPECT_FALSE(core_->GetStatus().heal_running);
  for (const auto& c : cs) EXPECT_EQ(Get(c.id).replicas.size(), 3u);
}

TEST_F(OpsTest, DrainMovesEveryReplicaOffAndUndrainRestores) {
  std::vector<ChunkInfo> cs;
  for (int i = 0; i < 4; ++i) cs.push_back(NewChunk(kRootIno, "f" + std::to_string(i)));
  ASSERT_OK(core_->Drain("h:1"));
  EXPECT_CODE(core_->Drain("h:9"), kNotFound);
  ChunkInfo fresh = NewChunk(kRootIno, "new", 0, /*pin=*/false);
  EXPECT_FALSE(Has(fresh, "h:1"));  // placement avoids it
  ClusterStatus st = core_->GetStatus();
  EXPECT_EQ(st.servers[0].addr, "h:1");
  EXPECT_EQ(st.servers[0].state, ServerState::kDraining);
  EXPECT_GT(st.servers[0].chunks, 0);
  EXPECT_EQ(st.chunks.under_replicated, 4);  // draining replicas do not count
  Converge();
  for (const auto& c : cs) {
    ChunkInfo now = Get(c.id);
    EXPECT_FALSE(Has(now, "h:1"));
    EXPECT_EQ(now.replicas.size(), 3u);
  }
  st = core_->GetStatus();
  EXPECT_EQ(st.servers[0].state, ServerState::kDraining);
  EXPECT_EQ(st.servers[0].chunks, 0);
  EXPECT_EQ(st.chunks.healthy, 5);
  ASSERT_OK(core_->Undrain("h:1"));
  EXPECT_EQ(core_->GetStatus().servers[0].state, ServerState::kUp);
}

TEST_F(OpsTest, RemoveServerRefusesToLoseTheLastLiveReplica) {
  ChunkInfo c = NewChunk(kRootIno, "f");
  EXPECT_CODE(core_->RemoveServer("h:1"), kInvalid);  // up, not drained
  EXPECT_CODE(core_->RemoveServer("h:9"), kNotFound);
  clock_.Advance(6000);
  Beat("h:3");
  ASSERT_EQ(core_->servers().CheckLiveness(), 1);
  ChunkInfo only = Get(c.id);
  only.replicas = {"h:3"};
  ASSERT_OK(core_->chunks().Commit(only, 1, {}, false));
  Status s = core_->RemoveServer("h:3");
  EXPECT_CODE(s, kInvalid);
  EXPECT_NE(s.ToString().find("1 chunk(s)"), std::string::npos) << s.ToString();
  only.replicas = {"h:3", "h:1"};
  ASSERT_OK(core_->chunks().Commit(only, 1, {}, false));
  ASSERT_OK(core_->RemoveServer("h:3"));
  EXPECT_EQ(Get(c.id).replicas, Addrs{"h:1"});
  EXPECT_FALSE(core_->servers().IsKnown("h:3"));
  EXPECT_EQ(core_->GetStatus().servers.size(), 3u);
}

TEST_F(OpsTest, StatusCountsUnderReplicatedByGoodReplicas) {
  ChunkInfo a = NewChunk(kRootIno, "a"), b = NewChunk(kRootIno, "b"), c = NewChunk(kRootIno, "c"), out;
  ASSERT_OK(core_->ReportBadReplicas(b.ino, 0, b.id, 1, {"h:3"}, Status::Code::kCorruption, "t", &out));
  ASSERT_OK(core_->ReportBadReplicas(c.ino, 0, c.id, 1, {"h:2", "h:3"}, Status::Code::kStale, "t", &out));
  ClusterStatus st = core_->GetStatus();
  EXPECT_EQ(st.chunks.total, 3);
  EXPECT_EQ(st.chunks.healthy, 1);
  EXPECT_EQ(st.chunks.under_replicated, 2);
  EXPECT_EQ(st.chunks.under_by_good, (std::map<int32_t, int64_t>{{1, 1}, {2, 1}}));
  EXPECT_EQ(st.chunks.corrupt_replicas, 1);
  EXPECT_EQ(st.chunks.stale_replicas, 2);
  clock_.Advance(6000);
  Beat("h:1");
  ASSERT_EQ(core_->servers().CheckLiveness(), 1);
  st = core_->GetStatus();
  EXPECT_EQ(st.chunks.under_by_good, (std::map<int32_t, int64_t>{{0, 1}, {1, 1}, {2, 1}}));
  EXPECT_EQ(st.chunks.unavailable, 1);
  EXPECT_EQ(st.chunks.healthy, 0);
}

TEST_F(OpsTest, StatusWithOneHundredThousandChunks) {
  constexpr int kChunks = 100000;
  for (int i = 0; i < kChunks; ++i) {
    ChunkInfo c;
    c.ino = 1000000 + static_cast<Ino>(i / 10);
    c.index = i % 10;
    c.id = 1000000 + static_cast<ChunkId>(i);
    c.version = 1;
    c.goal = 3;
    c.replicas = {kAll[i % 4], kAll[(i + 1) % 4]};
    if (i % 2) c.replicas.push_back(kAll[(i + 2) % 4]);  // every other one at goal
    core_->chunks().IndexForTest(c);
  }
  const auto t0 = std::chrono::steady_clock::now();
  ClusterStatus st = core_->GetStatus();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  LOG(INFO) << "Status() with " << kChunks << " chunks took " << ms.count() << " ms";
  std::cerr << "Status() with " << kChunks << " chunks took " << ms.count() << " ms\n";
  // Measured ~5 ms; the bound is generous for a loaded machine or a sanitizer
  // build, yet an O(n^2) regression (seconds) fails it.
  EXPECT_LT(ms.count(), 500) << "Status() must answer in well under a second with " << kChunks << " chunks";
  EXPECT_EQ(st.chunks.total, kChunks);
  EXPECT_EQ(st.chunks.healthy, kChunks / 2);
  EXPECT_EQ(st.chunks.under_by_good, (std::map<int32_t, int64_t>{{2, kChunks / 2}}));
  int64_t held = 0;
  for (const auto& s : st.servers) held += s.chunks;
  EXPECT_EQ(held, kChunks / 2 * 5);
}

// A datad layer whose CheckChunk takes `sleep_ms` and moves the fake clock
// on by `advance_ms`: how many checks run at once, and metad's fsck budget.
class SlowCheckDatad : public FakeDatad {
 public:
  SlowCheckDatad(FakeClock* clock, int64_t sleep_ms, int64_t advance_ms)
      : clock_(clock), sleep_ms_(sleep_ms), advance_ms_(advance_ms) {}
  ReplicaReport Check(const std::string& addr, ChunkId id, uint64_t version) override {
    const int now = ++running_;
    for (int seen = max_running_.load(); now > seen && !max_running_.compare_exchange_weak(seen, now);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    clock_->Advance(advance_ms_);
    ++checks_;
    --running_;
    return FakeDatad::Check(addr, id, version);
  }
  int max_running() const { return max_running_.load(); }
  int checks() const { return checks_.load(); }

 private:
  FakeClock* const clock_;
  const int64_t sleep_ms_, advance_ms_;
  std::atomic<int> running_{0}, max_running_{0}, checks_{0};
};

class FsckBoundsTest : public CoreTest {
 protected:
  // Reopens the core over `datad`, with h:1..h:3 up and a file of `chunks`
  // chunks (3 replicas each).
  Ino Setup(std::unique_ptr<SlowCheckDatad> datad, int chunks) {
    slow_ = datad.get();
    core_.reset();
    Status s = MetaCore::Open(TestConfig(dir_.path()), &clock_, std::move(datad), &core_);
    EXPECT_TRUE(s.ok()) << s.ToString();
    for (const char* a : {"h:1", "h:2", "h:3"}) AddServer(a);
    Inode f = MkFile(kRootIno, "big");
    for (int i = 0; i < chunks; ++i) {
      ChunkInfo c;
      s = core_->AllocChunk(f.ino, i, &c);
      EXPECT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(c.replicas.size(), 3u);
    }
    return f.ino;
  }
  SlowCheckDatad* slow_ = nullptr;  // owned by core_
};

TEST_F(FsckBoundsTest, ReplicasAndChunksAreCheckedInParallelWithABound) {
  const Ino ino = Setup(std::make_unique<SlowCheckDatad>(&clock_, 100, 0), 8);
  const auto t0 = std::chrono::steady_clock::now();
  FileReport rep;
  ASSERT_OK(core_->Fsck(ino, &rep));
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(rep.chunks.size(), 8u);
  for (size_t i = 0; i < rep.chunks.size(); ++i) {
    EXPECT_EQ(rep.chunks[i].index, static_cast<int64_t>(i));  // in order, whatever the finishing order
    ASSERT_EQ(rep.chunks[i].replicas.size(), 3u);
    for (const auto& r : rep.chunks[i].replicas) EXPECT_EQ(r.state, ReplicaState::kOk) << r.addr;
  }
  EXPECT_EQ(slow_->checks(), 24);
  EXPECT_GE(slow_->max_running(), 3) << "the replicas of a chunk are checked at once";
  EXPECT_LE(slow_->max_running(), 12) << "4 chunks x 3 replicas at most";
  // 24 checks of 100 ms one after another would take 2.4 s.
  EXPECT_LT(took, std::chrono::milliseconds(1500));
}

TEST_F(FsckBoundsTest, AFileTooLargeForTheBudgetAnswersTimedOutSayingHowFarItGot) {
  // Every check "takes" 10 s of metad's clock: the 60 s budget covers a few
  // chunks of 20.
  const Ino ino = Setup(std::make_unique<SlowCheckDatad>(&clock_, 0, 10'000), 20);
  FileReport rep;
  Status s = core_->Fsck(ino, &rep);
  EXPECT_CODE(s, kTimedOut);
  EXPECT_NE(s.message().find(" of 20 chunks within metad's budget of 60 s"), std::string::npos) << s.ToString();
  EXPECT_LT(slow_->checks(), 60) << "chunks past the budget are not started";
  EXPECT_GE(slow_->checks(), 3);
}

}  // namespace
}  // namespace replfs::metad
