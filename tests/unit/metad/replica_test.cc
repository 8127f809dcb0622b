// Version changes, ReportBadReplicas and inventory reconciliation against a
// fake datad layer.
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "daemons/metad/repair.h"
#include "tests/unit/metad/metad_test_util.h"

namespace replfs::metad {
namespace {

using Addrs = std::vector<std::string>;

class ReplicaTest : public CoreTest {
 protected:
  void SetUp() override {
    CoreTest::SetUp();
    for (auto a : {"h:1", "h:2", "h:3", "h:4"}) AddServer(a);
    file_ = MkFile(kRootIno, "f");
    ASSERT_OK(core_->AllocChunk(file_.ino, 0, &chunk_));
    ASSERT_EQ(chunk_.replicas, (Addrs{"h:1", "h:2", "h:3"}));
    datad_->ClearCalls();
  }
  ChunkInfo Current() {
    std::vector<ChunkInfo> v;
    EXPECT_TRUE(core_->GetChunks(file_.ino, 0, 1, &v).ok());
    return v.empty() ? ChunkInfo{} : v[0];
  }
  Status Report(const Addrs& bad, Status::Code why, ChunkInfo* out, uint64_t version = 1) {
    return core_->ReportBadReplicas(file_.ino, 0, chunk_.id, version, bad, why, "test", out);
  }
  ServerUsage Usage(const std::string& addr) {
    ServerUsage u;
    u.addr = addr;
    u.bytes_total = 1 << 30;
    u.bytes_free = 1 << 30;
    u.block_size = static_cast<int32_t>(core_->config().block_size);
    return u;
  }
  std::vector<ChunkId> Deletes(const std::string& addr) {
    std::vector<ReplicaHeld> del;
    EXPECT_TRUE(core_->servers().Heartbeat(Usage(addr), &del).ok());
    return Ids(del);
  }

  Inode file_;
  ChunkInfo chunk_;
};

// A new chunk is created on its three datads at once, by threads that
// already exist: spawning one per call cost ~0.5 ms per new file on the
// 2-vCPU VMs (3 clone+join), a sixth of a small-file write there.
TEST_F(ReplicaTest, ChunksAreCreatedOnTheirDatadsInParallelWithoutAThreadPerCall) {
  Mutex mu;
  std::map<ChunkId, int> started;  // guarded by mu
  std::set<long> tids;             // guarded by mu
  datad_->AfterCreate([&](const std::string&, ChunkId id, uint64_t) {
    {
      MutexLock l(&mu);
      ++started[id];
      tids.insert(::syscall(SYS_gettid));
    }
    // Returns only once all three creates of this chunk run: in parallel.
    EXPECT_TRUE(::replfs::testing::WaitFor(
        [&] {
          MutexLock l(&mu);
          return started[id] == 3;
        },
        std::chrono::seconds(10), "the other creates of chunk " + std::to_string(id)));
  });
  constexpr int kChunks = 40;
  for (int i = 1; i <= kChunks; ++i) {
    ChunkInfo c;
    ASSERT_OK(core_->AllocChunk(file_.ino, i, &c));
    ASSERT_EQ(c.replicas.size(), 3u);
  }
  MutexLock l(&mu);
  EXPECT_EQ(started.size(), static_cast<size_t>(kChunks));
  // The caller plus the helpers, however many chunks (a thread per call
  // would show ~2 new ids per chunk).
  EXPECT_LE(tids.size(), static_cast<size_t>(ReplicaManager::kCallThreads + 1));
}

TEST_F(ReplicaTest, VersionChangeDropsAFailingMemberAndCommitsNextVersion) {
  datad_->Fail("h:3");
  ChunkInfo out;
  ASSERT_OK(Report({"h:2"}, Status::Code::kUnavailable, &out));
  EXPECT_EQ(out.version, 2u);
  EXPECT_EQ(out.replicas, Addrs{"h:1"});
  Reopen();  // committed before answering
  ChunkInfo now = Current();
  EXPECT_EQ(now.version, 2u);
  EXPECT_EQ(now.replicas, Addrs{"h:1"});
}

TEST_F(ReplicaTest, PrimaryIsMovedFirst) {
  ChunkInfo out;
  ASSERT_OK(Report({"h:3"}, Status::Code::kUnavailable, &out));
  auto calls = datad_->Calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0], "SetVersion h:1 " + std::to_string(chunk_.id) + " 1->2");
  EXPECT_EQ(out.replicas, (Addrs{"h:1", "h:2"}));
  // A dropped primary: the next member becomes primary and is moved first.
  datad_->ClearCalls();
  ASSERT_OK(Report({"h:1"}, Status::Code::kUnavailable, &out, 2));
  calls = datad_->Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0], "SetVersion h:2 " + std::to_string(chunk_.id) + " 2->3");
  EXPECT_EQ(out.replicas, Addrs{"h:2"});
  EXPECT_EQ(out.version, 3u);
}

TEST_F(ReplicaTest, ReportedCorruptSecondaryIsDroppedAndDeleted) {
  ChunkInfo out;
  ASSERT_OK(Report({"h:3"}, Status::Code::kCorruption, &out));
  EXPECT_EQ(out.version, 2u);
  EXPECT_EQ(out.replicas, (Addrs{"h:1", "h:2"}));
  EXPECT_EQ(Deletes("h:3"), std::vector<ChunkId>{chunk_.id});
  EXPECT_EQ(core_->GetStatus().chunks.corrupt_replicas, 1);
  // An unreachable primary is dropped but not deleted (it may hold the
  // only good copy if it returns).
  ASSERT_OK(Report({"h:1"}, Status::Code::kTimedOut, &out, 2));
  EXPECT_EQ(out.replicas, Addrs{"h:2"});
  EXPECT_TRUE(Deletes("h:1").empty());
}

TEST_F(ReplicaTest, StaleReportChangesNothingAndLastMemberIsKept) {
  ChunkInfo out;
  ASSERT_OK(Report({"h:3"}, Status::Code::kStale, &out));
  datad_->ClearCalls();
  // Someone already handled version 1: the current location comes back.
  ASSERT_OK(Report({"h:1"}, Status::Code::kStale, &out, 1));
  EXPECT_EQ(out.version, 2u);
  EXPECT_EQ(out.replicas, (Addrs{"h:1", "h:2"}));
  EXPECT_TRUE(datad_->Calls().empty());
  // Every member bad: none dropped.
  EXPECT_CODE(Report({"h:1", "h:2"}, Status::Code::kCorruption, &out, 2), kUnavailable);
  EXPECT_EQ(Current().replicas, (Addrs{"h:1", "h:2"}));
  // Not a member: ignored, the current location comes back (see below).
  ASSERT_OK(Report({"h:4"}, Status::Code::kCorruption, &out, 2));
  EXPECT_EQ(out.replicas, (Addrs{"h:1", "h:2"}));
}

TEST_F(ReplicaTest, ReportOfAFormerMemberAtTheSameVersionAnswersTheCurrentLocation) {
  // Reconciliation drops a wiped member without a version change; a client
  // still holding the old location reports it.
  clock_.Advance(20000);
  ASSERT_OK(core_->RegisterServer(Usage("h:3"), {}));
  ASSERT_EQ(Current().replicas, (Addrs{"h:1", "h:2"}));
  ASSERT_EQ(Current().version, 1u);
  datad_->ClearCalls();
  ChunkInfo out;
  ASSERT_OK(Report({"h:3"}, Status::Code::kUnavailable, &out, 1));
  EXPECT_EQ(out.version, 1u);
  EXPECT_EQ(out.replicas, (Addrs{"h:1", "h:2"}));
  EXPECT_TRUE(datad_->Calls().empty());
  // A former member among members: only the members are dropped.
  ASSERT_OK(Report({"h:3", "h:2"}, Status::Code::kUnavailable, &out, 1));
  EXPECT_EQ(out.version, 2u);
  EXPECT_EQ(out.replicas, Addrs{"h:1"});
  // A chunk that is not (ino, index) stays an error.
  EXPECT_CODE(core_->ReportBadReplicas(file_.ino, 0, chunk_.id + 7, 2, {"h:1"}, Status::Code::kUnavailable, "test",
                                       &out),
              kNotFound);
}

TEST_F(ReplicaTest, TruncationDeletesTheDroppedChunksOnTheirDatadsBeforeForgettingThem) {
  ChunkInfo second;
  ASSERT_OK(core_->AllocChunk(file_.ino, 1, &second));
  datad_->ClearCalls();
  SetAttrRequest r;
  r.ino = file_.ino;
  r.has_size = true;
  r.size = core_->config().chunk_size;  // keeps chunk 0, drops chunk 1
  Inode got;
  ASSERT_OK(core_->SetAttr(r, &got));
  auto calls = datad_->Calls();
  std::sort(calls.begin(), calls.end());
  std::vector<std::string> want;
  for (const auto& a : second.replicas) want.push_back("DeleteChunk " + a + " " + std::to_string(second.id));
  std::sort(want.begin(), want.end());
  EXPECT_EQ(calls, want);
  std::vector<ChunkInfo> left;
  ASSERT_OK(core_->GetChunks(file_.ino, 0, 10, &left));
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].id, chunk_.id);
  // A truncation that drops nothing calls nobody.
  datad_->ClearCalls();
  ASSERT_OK(core_->SetAttr(r, &got));
  EXPECT_TRUE(datad_->Calls().empty());
}

TEST_F(ReplicaTest, ReportWaitsBoundedForARunningChange) {
  ChunkInfo out;
  {
    ReplicaManager::Guard busy = core_->replicas().Acquire(chunk_.id);  // e.g. a repair copy
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_CODE(Report({"h:3"}, Status::Code::kUnavailable, &out), kUnavailable);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  }
  ASSERT_OK(Report({"h:3"}, Status::Code::kUnavailable, &out));  // free again
  EXPECT_EQ(out.version, 2u);
}

TEST_F(ReplicaTest, NotFoundOnEveryOtherMemberCommitsNothing) {
  // Allocation created the chunk on every member, so NotFound means the
  // copy was lost: with the primary dead too there is no current replica
  // to move to V+1, and nothing is committed.
  datad_->Missing("h:2");
  datad_->Missing("h:3");
  ChunkInfo out;
  EXPECT_CODE(Report({"h:1"}, Status::Code::kUnavailable, &out), kUnavailable);
  EXPECT_EQ(Current().version, 1u);
  EXPECT_EQ(Current().replicas, (Addrs{"h:1", "h:2", "h:3"}));
}

TEST_F(ReplicaTest, AllocationCreatesTheChunkOnEveryMember) {
  Inode g = MkFile(kRootIno, "g");
  ChunkInfo c;
  ASSERT_OK(core_->AllocChunk(g.ino, 0, &c));
  auto calls = datad_->Calls();
  std::sort(calls.begin(), calls.end());
  const std::string id = std::to_string(c.id);
  EXPECT_EQ(calls, (Addrs{"CreateChunk h:1 " + id + " v1", "CreateChunk h:2 " + id + " v1",
                          "CreateChunk h:4 " + id + " v1"}));
  EXPECT_EQ(c.version, 1u);
  // Asking again returns the record, creating nothing.
  datad_->ClearCalls();
  ChunkInfo again;
  ASSERT_OK(core_->AllocChunk(g.ino, 0, &again));
  EXPECT_EQ(again.id, c.id);
  EXPECT_TRUE(datad_->Calls().empty());
}

TEST_F(ReplicaTest, BlockReportDuringAllocationKeepsTheNewCopies) {
  // A datad's block report may list a chunk it was just asked to create
  // before metad has recorded it: that copy is not an unknown orphan.
  datad_->AfterCreate([&](const std::string& addr, ChunkId id, uint64_t version) {
    core_->replicas().Reconcile(addr, {{id, version}});
  });
  Inode g = MkFile(kRootIno, "g");
  ChunkInfo c;
  ASSERT_OK(core_->AllocChunk(g.ino, 0, &c));
  datad_->AfterCreate(nullptr);
  ASSERT_EQ(c.replicas.size(), 3u);
  for (const auto& a : c.replicas) {
    EXPECT_EQ(core_->chunks().PendingDeletes(a), 0u) << a;
    core_->replicas().Reconcile(a, {{c.id, c.version}});  // the next report: a member, nothing to do
    EXPECT_EQ(core_->chunks().PendingDeletes(a), 0u) << a;
  }
  std::vector<ChunkInfo> v;
  ASSERT_OK(core_->GetChunks(g.ino, 0, 1, &v));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].replicas, c.replicas);
}

TEST_F(ReplicaTest, AllocationLeavesOutAServerThatCannotCreate) {
  datad_->Fail("h:2");
  Inode g = MkFile(kRootIno, "g");
  ChunkInfo c;
  ASSERT_OK(core_->AllocChunk(g.ino, 0, &c));
  EXPECT_EQ(c.version, 1u);  // recorded only once created: no set change
  EXPECT_EQ(std::count(c.replicas.begin(), c.replicas.end(), "h:2"), 0);
  EXPECT_EQ(c.replicas.size(), 2u);
}

TEST_F(ReplicaTest, AllocationNobodyCanCreateIsForgotten) {
  for (auto a : {"h:1", "h:2", "h:3", "h:4"}) datad_->Fail(a);
  Inode g = MkFile(kRootIno, "g");
  ChunkInfo c;
  EXPECT_CODE(core_->AllocChunk(g.ino, 0, &c), kUnavailable);
  std::vector<ChunkInfo> v;
  ASSERT_OK(core_->GetChunks(g.ino, 0, 1, &v));
  EXPECT_TRUE(v.empty());  // a hole again: the next write allocates anew
}

TEST_F(ReplicaTest, NotFoundBesideAnOkMemberIsALoss) {
  datad_->Missing("h:3");
  ChunkInfo out;
  ASSERT_OK(Report({"h:1"}, Status::Code::kUnavailable, &out));
  EXPECT_EQ(out.version, 2u);
  EXPECT_EQ(out.replicas, Addrs{"h:2"});
}

TEST_F(ReplicaTest, MissingMemberIsNotDroppedInFavourOfADownMember) {
  ChunkInfo out;
  ASSERT_OK(Report({"h:3"}, Status::Code::kUnavailable, &out));  // {h:1, h:2} v2
  // h:1 goes DOWN; h:2 never received the chunk.
  clock_.Advance(20000);
  std::vector<ReplicaHeld> del;
  for (auto a : {"h:2", "h:3", "h:4"}) ASSERT_OK(core_->servers().Heartbeat(Usage(a), &del));
  ASSERT_EQ(core_->servers().CheckLiveness(), 1);
  std::vector<ReplicaHeld> none;
  ASSERT_OK(core_->BlockReport("h:2", {}, &none));
  EXPECT_EQ(Current().replicas, (Addrs{"h:1", "h:2"}));
  // Every live member misses it: none is dropped either.
  ASSERT_OK(core_->RegisterServer(Usage("h:1"), {}));
  ASSERT_OK(core_->BlockReport("h:2", {}, &none));
  ASSERT_OK(core_->BlockReport("h:1", {}, &none));
  EXPECT_EQ(Current().replicas, (Addrs{"h:1", "h:2"}));
  // Once a member holds it, a member missing it is a loss again.
  ASSERT_OK(core_->BlockReport("h:1", {{chunk_.id, 2}}, &none));
  ASSERT_OK(core_->BlockReport("h:2", {}, &none));
  EXPECT_EQ(Current().replicas, Addrs{"h:1"});
}

TEST_F(ReplicaTest, ReconciliationDropsStaleAndAdoptsHigherVersions) {
  clock_.Advance(20000);  // past the missing-replica grace
  // Unknown chunk -> delete; lower version -> dropped and deleted.
  ASSERT_OK(core_->RegisterServer(Usage("h:3"), {{chunk_.id + 50, 1}, {chunk_.id, 0}}));
  auto del = Deletes("h:3");
  std::sort(del.begin(), del.end());
  EXPECT_EQ(del, (std::vector<ChunkId>{chunk_.id, chunk_.id + 50}));
  EXPECT_EQ(Current().replicas, (Addrs{"h:1", "h:2"}));
  EXPECT_EQ(Current().version, 1u);  // no bump: h:3 is already out of date
  // metad died mid-change: a member reports version 2 -> adopted.
  std::vector<ReplicaHeld> none;
  ASSERT_OK(core_->BlockReport("h:1", {{chunk_.id, 2}}, &none));
  EXPECT_EQ(Current().version, 2u);
  EXPECT_EQ(Current().replicas, (Addrs{"h:1", "h:2"}));
  // ... and the member still at 1 is stale.
  ASSERT_OK(core_->BlockReport("h:2", {{chunk_.id, 1}}, &none));
  EXPECT_EQ(Current().replicas, Addrs{"h:1"});
  EXPECT_CODE(core_->BlockReport("h:9", {}, &none), kNotFound);  // must register first
}

TEST_F(ReplicaTest, ReportBuiltBeforeAVersionChangeDropsNothing) {
  clock_.Advance(20000);
  ChunkInfo out;
  ASSERT_OK(Report({"h:3"}, Status::Code::kUnavailable, &out));  // {h:1, h:2} v2, now
  // h:1's block report was built before the change (it still says v1) and
  // arrives after it: h:1 is current all the same and must stay.
  std::vector<ReplicaHeld> none;
  ASSERT_OK(core_->BlockReport("h:1", {{chunk_.id, 1}}, &none));
  EXPECT_EQ(Current().replicas, (Addrs{"h:1", "h:2"}));
  EXPECT_TRUE(Deletes("h:1").empty());
  // A report that still says v1 long after the change is the truth: stale.
  clock_.Advance(20000);
  ASSERT_OK(core_->BlockReport("h:1", {{chunk_.id, 1}}, &none));
  EXPECT_EQ(Current().replicas, Addrs{"h:2"});
}

TEST_F(ReplicaTest, WipedStoreIsDroppedButNeverTheLastMember) {
  std::vector<ReplicaHeld> none;
  // Within the grace period a missing replica may just not be written yet.
  ASSERT_OK(core_->BlockReport("h:2", {}, &none));
  EXPECT_EQ(Current().replicas.size(), 3u);
  clock_.Advance(20000);
  ASSERT_OK(core_->RegisterServer(Usage("h:2"), {}));
  EXPECT_EQ(Current().replicas, (Addrs{"h:1", "h:3"}));
  ASSERT_OK(core_->BlockReport("h:3", {}, &none));
  ASSERT_OK(core_->BlockReport("h:1", {}, &none));
  EXPECT_EQ(Current().replicas, Addrs{"h:1"});
}

TEST_F(ReplicaTest, ChunksBelowGoalAfterReconciliationAreQueued) {
  RepairScheduler::Options o;
  o.start_delay_ms = 1000000;  // scan only
  RepairScheduler repair(&core_->replicas(), &core_->ns(), &clock_, o);
  core_->AttachRepair(&repair);
  clock_.Advance(20000);
  ASSERT_OK(core_->RegisterServer(Usage("h:2"), {}));
  EXPECT_EQ(repair.RunOnce(), 0);
  EXPECT_EQ(repair.queued(), 1);
  EXPECT_EQ(core_->GetStatus().repair_queued, 1);
  EXPECT_EQ(core_->GetStatus().chunks.under_replicated, 1);
  core_->AttachRepair(nullptr);
}

TEST_F(ReplicaTest, AllocatedBytesCountsTheFileInAllocatedChunks) {
  Inode in;
  const int64_t cs = core_->config().chunk_size;
  ASSERT_OK(ns().CommitWrite(file_.ino, 3 * cs, 1, &in));
  EXPECT_EQ(core_->AllocatedBytes(in), cs);  // one chunk allocated, two holes
  ASSERT_OK(ns().CommitWrite(file_.ino, 3 * cs, 1, &in));
  ChunkInfo c;
  ASSERT_OK(core_->AllocChunk(file_.ino, 2, &c));
  EXPECT_EQ(core_->AllocatedBytes(in), 2 * cs);
  Inode small = MkFile(kRootIno, "g");
  ASSERT_OK(core_->AllocChunk(small.ino, 0, &c));
  ASSERT_OK(ns().CommitWrite(small.ino, 100, 1, &in));
  EXPECT_EQ(core_->AllocatedBytes(in), 100);
  // A sparse file: 5 bytes written far out cost 5 bytes, not a whole chunk.
  Inode sparse = MkFile(kRootIno, "sparse");
  ASSERT_OK(core_->AllocChunk(sparse.ino, 80, &c));
  ASSERT_OK(ns().CommitWrite(sparse.ino, 80 * cs + 5, 1, &in));
  EXPECT_EQ(core_->AllocatedBytes(in), 5);
}

}  // namespace
}  // namespace replfs::metad
