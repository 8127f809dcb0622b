// A MetaCore with four fake datads (h:1..h:4) and a repair scheduler driven
// round by round: the operator tools' tests.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "daemons/metad/repair.h"
#include "tests/unit/metad/metad_test_util.h"

namespace replfs::metad {

using Addrs = std::vector<std::string>;

class OpsTest : public CoreTest {
 protected:
  void SetUp() override {
    CoreTest::SetUp();
    for (auto a : kAll) AddServer(a);
    RepairScheduler::Options o;
    o.max_concurrent = 2;
    o.rate_bytes_s = 1 << 20;  // throttled: Heal must bypass it
    o.start_delay_ms = core_->config().dead_after_ms;
    o.chunk_size = core_->config().chunk_size;
    o.block_size = core_->config().block_size;
    repair_ = std::make_unique<RepairScheduler>(&core_->replicas(), &core_->ns(), &clock_, o);
    core_->AttachRepair(repair_.get());
    clock_.Advance(o.start_delay_ms + 1);
    Beat();
  }
  void TearDown() override { core_->AttachRepair(nullptr); }

  ServerUsage Usage(const std::string& addr) {
    ServerUsage u;
    u.addr = addr;
    u.bytes_total = 1 << 30;
    u.bytes_free = 1 << 30;
    u.block_size = static_cast<int32_t>(core_->config().block_size);
    return u;
  }
  // Every server but `skip` heartbeats.
  void Beat(const std::string& skip = "") {
    std::vector<ReplicaHeld> del;
    for (auto a : kAll)
      if (a != skip) ASSERT_OK(core_->Heartbeat(Usage(a), &del));
  }
  ChunkInfo NewChunk(Ino parent, const std::string& name, int64_t index = 0, bool pin = true) {
    Inode f = MkFile(parent, name);
    ChunkInfo c;
    EXPECT_TRUE(core_->AllocChunk(f.ino, index, &c).ok());
    // Placement spreads chunks over h:1..h:4; the scenarios below name their
    // replicas, so pin chunks to h:1, h:2, h:3 (h:4 stays spare) unless a
    // test checks placement itself (pin = false).
    if (pin && c.replicas != std::vector<std::string>{"h:1", "h:2", "h:3"}) {
      ChunkInfo pinned = c;
      pinned.replicas = {"h:1", "h:2", "h:3"};
      EXPECT_TRUE(core_->chunks().Commit(pinned, c.version, {}, false).ok());
      c = pinned;
    }
    return c;
  }
  ChunkInfo Get(ChunkId id) {
    ChunkInfo c;
    EXPECT_TRUE(core_->chunks().Get(id, &c).ok());
    return c;
  }
  // Repair rounds until nothing is left to do (at most `max`).
  void Converge(int max = 20) {
    for (int i = 0; i < max && repair_->RunOnce() > 0; ++i) {
    }
  }
  static bool Has(const ChunkInfo& c, const std::string& a) {
    return std::find(c.replicas.begin(), c.replicas.end(), a) != c.replicas.end();
  }

  static constexpr const char* kAll[] = {"h:1", "h:2", "h:3", "h:4"};
  std::unique_ptr<RepairScheduler> repair_;
};

}  // namespace replfs::metad
