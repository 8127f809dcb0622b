// Heartbeater and Datad against a fake in-process MetaService on port 0.
#include "daemons/datad/heartbeat.h"

#include <gtest/gtest.h>

#include "daemons/datad/datad.h"
#include "tests/unit/datad/store_util.h"
#include "tests/util/test_util.h"
#include "thrift/rpc_status.h"
#include "thrift/server.h"

namespace replfs::datad {
namespace {

using std::chrono::milliseconds;
using testing::WaitFor;

// Records registrations and heartbeats; answers with what the test sets.
class FakeMeta : public rpc::MetaServiceNull {
 public:
  void RegisterServer(const rpc::ServerUsage& usage,
                      const std::vector<rpc::ChunkReplica>& inventory) override {
    MutexLock l(&mu_);
    if (!refuse_.empty()) {
      ++refused_;
      net::ThrowIfError(Status::Invalid(refuse_));
    }
    ++registrations_;
    known_ = true;
    last_usage_ = usage;
    inventory_ = inventory;
  }
  void Heartbeat(rpc::HeartbeatReply& reply, const rpc::ServerUsage& usage) override {
    MutexLock l(&mu_);
    if (!known_) net::ThrowIfError(Status::NotFound("unknown server " + usage.addr));
    ++heartbeats_;
    last_usage_ = usage;
    reply.delete_replicas = std::move(to_delete_);
    to_delete_.clear();
  }

  void BlockReport(rpc::HeartbeatReply& reply, const std::string& addr,
                   const std::vector<rpc::ChunkReplica>& inventory) override {
    MutexLock l(&mu_);
    if (!known_) net::ThrowIfError(Status::NotFound("unknown server " + addr));
    ++reports_;
    report_addr_ = addr;
    inventory_ = inventory;
    reply.delete_replicas = std::move(report_deletes_);
    report_deletes_.clear();
  }

  void Forget() { MutexLock l(&mu_); known_ = false; }
  void DeleteViaReport(std::vector<int64_t> ids) { MutexLock l(&mu_); report_deletes_ = Replicas(ids, INT64_MAX); }
  int reports() { MutexLock l(&mu_); return reports_; }
  std::string report_addr() { MutexLock l(&mu_); return report_addr_; }
  // Asks for deletes of copies of `ids` at versions <= max_version.
  void Delete(std::vector<int64_t> ids, int64_t max_version = INT64_MAX) {
    MutexLock l(&mu_);
    to_delete_ = Replicas(ids, max_version);
  }
  void Refuse(std::string why) { MutexLock l(&mu_); refuse_ = std::move(why); }
  int registrations() { MutexLock l(&mu_); return registrations_; }
  int refused() { MutexLock l(&mu_); return refused_; }
  int heartbeats() { MutexLock l(&mu_); return heartbeats_; }
  std::vector<rpc::ChunkReplica> inventory() { MutexLock l(&mu_); return inventory_; }
  rpc::ServerUsage usage() { MutexLock l(&mu_); return last_usage_; }

 private:
  Mutex mu_;
  int registrations_ GUARDED_BY(mu_) = 0;
  int refused_ GUARDED_BY(mu_) = 0;
  int heartbeats_ GUARDED_BY(mu_) = 0;
  int reports_ GUARDED_BY(mu_) = 0;
  std::string report_addr_ GUARDED_BY(mu_);
  static std::vector<rpc::ChunkReplica> Replicas(const std::vector<int64_t>& ids, int64_t version) {
    std::vector<rpc::ChunkReplica> out;
    for (int64_t id : ids) {
      rpc::ChunkReplica r;
      r.chunk_id = id;
      r.version = version;
      out.push_back(r);
    }
    return out;
  }
  std::vector<rpc::ChunkReplica> report_deletes_ GUARDED_BY(mu_);
  bool known_ GUARDED_BY(mu_) = false;
  std::string refuse_ GUARDED_BY(mu_);
  std::vector<rpc::ChunkReplica> to_delete_ GUARDED_BY(mu_);
  std::vector<rpc::ChunkReplica> inventory_ GUARDED_BY(mu_);
  rpc::ServerUsage last_usage_ GUARDED_BY(mu_);
};

struct MetaServer {
  std::shared_ptr<FakeMeta> fake = std::make_shared<FakeMeta>();
  std::unique_ptr<net::RpcServer> server;
  MetaServer() {
    net::ServerOptions so;
    so.listen = "127.0.0.1:0";
    so.allow_socket_activation = false;
    server = std::make_unique<net::RpcServer>(std::make_shared<rpc::MetaServiceProcessor>(fake), so);
    Status s = server->Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
};

// Records a heartbeat compacts however busy the datad (Heartbeater::kCompactSteps).
constexpr int64_t kStepsPerBeat = 64;

HeartbeatOptions Options(int port) {
  HeartbeatOptions o;
  o.advertise = "127.0.0.1:5555";
  o.meta = HostPort{"127.0.0.1", port};
  o.rpc.connect_timeout_ms = 500;
  o.rpc.rpc_timeout_ms = 2000;
  o.interval_ms = 20;
  o.max_backoff_ms = 50;
  o.invalid_retry_ms = 50;
  return o;
}

class HeartbeatTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(BlockStore::Open(dir_.path(), 4096, &store_).ok()); }
  // Chunks 1..1000 of 4 blocks each, then 1..900 deleted: holes before the
  // records left. Returns the compaction backlog (-1 on a failure).
  int64_t MakeHoles() {
    for (int c = 1; c <= 1000; ++c)
      if (!Put(store_.get(), c, 1, 0, std::string(4 * 4096, 'c')).ok()) return -1;
    for (int c = 1; c <= 900; ++c)
      if (!store_->DeleteChunk(c).ok()) return -1;
    return store_->Compact(1).ok() ? store_->CompactionBacklog() : -1;
  }
  // Heartbeats until the store has no compaction backlog (-1: not in 20 s).
  int64_t BeatsUntilCompacted(const HeartbeatOptions& o, const IoActivity* activity) {
    Heartbeater hb(store_.get(), o, nullptr, activity);
    hb.Start();
    const bool done = WaitFor([&] { return store_->CompactionBacklog() == 0; },
                              milliseconds(20000), "the backlog compacted");
    hb.Stop();
    return done ? hb.heartbeats() : -1;
  }
  testing::TempDir dir_{"datad-hb"};
  std::unique_ptr<BlockStore> store_;
};

TEST_F(HeartbeatTest, RegistersHeartbeatsDeletesAndReRegisters) {
  ASSERT_TRUE(Put(store_.get(), 1, 3, 0, "one").ok());
  ASSERT_TRUE(Put(store_.get(), 2, 1, 0, "two").ok());
  MetaServer meta;
  Heartbeater hb(store_.get(), Options(meta.server->port()));
  hb.Start();
  ASSERT_TRUE(WaitFor([&] { return meta.fake->heartbeats() >= 2; }, milliseconds(10000),
                      "two heartbeats"));
  EXPECT_EQ(meta.fake->registrations(), 1);
  auto inv = meta.fake->inventory();
  ASSERT_EQ(inv.size(), 2u);
  EXPECT_EQ(inv[0].chunk_id, 1);
  EXPECT_EQ(inv[0].version, 3);
  rpc::ServerUsage u = meta.fake->usage();
  EXPECT_EQ(u.addr, "127.0.0.1:5555");
  EXPECT_EQ(u.block_size, 4096);
  EXPECT_EQ(u.chunks, 2);

  meta.fake->Delete({1});
  ASSERT_TRUE(WaitFor([&] { return store_->Inventory().size() == 1; }, milliseconds(10000),
                      "chunk 1 deleted"));
  EXPECT_EQ(store_->Inventory()[0].chunk_id, 2);

  meta.fake->Forget();  // as if metad restarted
  ASSERT_TRUE(WaitFor([&] { return meta.fake->registrations() == 2; }, milliseconds(10000),
                      "re-registration"));
  EXPECT_EQ(meta.fake->inventory().size(), 1u);
  hb.Stop();
}

TEST_F(HeartbeatTest, SendsBlockReportsPeriodically) {
  ASSERT_TRUE(Put(store_.get(), 1, 3, 0, "one").ok());
  MetaServer meta;
  HeartbeatOptions o = Options(meta.server->port());
  o.block_report_interval_ms = 60;
  Heartbeater hb(store_.get(), o);
  hb.Start();
  ASSERT_TRUE(WaitFor([&] { return meta.fake->reports() >= 2; }, milliseconds(10000),
                      "two block reports"));
  EXPECT_EQ(meta.fake->registrations(), 1);
  EXPECT_EQ(meta.fake->report_addr(), "127.0.0.1:5555");
  // Reports follow the store: a new chunk shows up in the next one.
  ASSERT_TRUE(Put(store_.get(), 2, 1, 0, "two").ok());
  ASSERT_TRUE(WaitFor([&] { return meta.fake->inventory().size() == 2; }, milliseconds(10000),
                      "chunk 2 reported"));
  // Heartbeats keep their own, shorter, rhythm.
  EXPECT_GT(meta.fake->heartbeats(), meta.fake->reports());
  EXPECT_GE(hb.block_reports(), 2);
  hb.Stop();
}

TEST_F(HeartbeatTest, BlockReportRepliesDeleteAndNotFoundReRegisters) {
  ASSERT_TRUE(Put(store_.get(), 1, 3, 0, "one").ok());
  ASSERT_TRUE(Put(store_.get(), 2, 1, 0, "two").ok());
  MetaServer meta;
  HeartbeatOptions o = Options(meta.server->port());
  o.block_report_interval_ms = 20;
  Heartbeater hb(store_.get(), o);
  hb.Start();
  ASSERT_TRUE(WaitFor([&] { return meta.fake->reports() >= 1; }, milliseconds(10000),
                      "a block report"));
  meta.fake->DeleteViaReport({2});  // heartbeat replies stay empty
  ASSERT_TRUE(WaitFor([&] { return store_->Inventory().size() == 1; }, milliseconds(10000),
                      "chunk 2 deleted"));
  meta.fake->Forget();
  const int reports = meta.fake->reports();
  ASSERT_TRUE(WaitFor([&] { return meta.fake->registrations() >= 2; }, milliseconds(10000),
                      "re-registration"));
  ASSERT_TRUE(WaitFor([&] { return meta.fake->reports() > reports; }, milliseconds(10000),
                      "reports resume after re-registration"));
  hb.Stop();
}

TEST_F(HeartbeatTest, WaitsForMetadAndKeepsRetryingAfterRefusal) {
  int port;
  {
    MetaServer probe;  // learn a free port
    port = probe.server->port();
  }
  Heartbeater hb(store_.get(), Options(port));
  hb.Start();
  // metad comes up later on that port, first refusing us.
  auto fake = std::make_shared<FakeMeta>();
  fake->Refuse("block_size 4096 differs from the cluster's 65536");
  net::ServerOptions so;
  so.listen = "127.0.0.1:" + std::to_string(port);
  so.allow_socket_activation = false;
  net::RpcServer server(std::make_shared<rpc::MetaServiceProcessor>(fake), so);
  ASSERT_TRUE(server.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return fake->refused() >= 2; }, milliseconds(10000),
                      "registration refused twice"));
  EXPECT_EQ(hb.registrations(), 0);
  fake->Refuse("");
  ASSERT_TRUE(WaitFor([&] { return fake->heartbeats() >= 1; }, milliseconds(10000),
                      "heartbeat once metad is up"));
  const auto start = std::chrono::steady_clock::now();
  hb.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));
}

TEST_F(HeartbeatTest, CorruptChunksGoOutEarlyAndAreForgottenOnceSent) {
  MetaServer meta;
  ASSERT_TRUE(Put(store_.get(), 21, 3, 0, std::string(4096, 'k')).ok());
  HeartbeatOptions o = Options(meta.server->port());
  o.interval_ms = 60000;  // only Wake() makes a heartbeat go out in time
  Scrubber scrubber(store_.get(), nullptr, ScrubOptions{});  // not started: idle state
  Heartbeater hb(store_.get(), o, &scrubber);
  store_->SetCorruptionListener([&hb] { hb.Wake(); });
  hb.Start();
  ASSERT_TRUE(WaitFor([&] { return meta.fake->registrations() == 1; }, milliseconds(10000),
                      "registration"));
  EXPECT_EQ(meta.fake->heartbeats(), 0);
  EXPECT_TRUE(meta.fake->usage().corrupt_chunks.empty());
  ASSERT_TRUE(store_->InjectFault(21, 0, FaultMode::kFlip).ok());
  CheckResult r;
  ASSERT_TRUE(store_->Check(21, 3, &r).ok());  // finds it: listener -> early heartbeat
  ASSERT_TRUE(WaitFor([&] { return meta.fake->heartbeats() == 1; }, milliseconds(10000),
                      "early heartbeat"));
  const rpc::ServerUsage u = meta.fake->usage();
  ASSERT_EQ(u.corrupt_chunks.size(), 1u);
  EXPECT_EQ(u.corrupt_chunks[0].chunk_id, 21);
  EXPECT_EQ(u.corrupt_chunks[0].version, 3);
  EXPECT_EQ(u.corrupt_found, 1);
  EXPECT_FALSE(u.scrub.running);
  EXPECT_EQ(u.scrub.last_full_pass_ms, 0);
  EXPECT_TRUE(store_->CorruptChunks().empty());  // delivered
  hb.Stop();
  store_->SetCorruptionListener(nullptr);
}

// Each heartbeat compacts the store kStepsPerBeat steps; a datad with no
// client request since the previous beat goes on until the backlog is gone,
// one with a request in flight does not.
TEST_F(HeartbeatTest, CompactsAStepPerBeatWhenBusyAndTheWholeBacklogWhenIdle) {
  const int64_t backlog = MakeHoles();
  ASSERT_GE(backlog, 4500);  // 500 records left, 4,500 holes

  MetaServer meta;
  HeartbeatOptions o = Options(meta.server->port());
  o.interval_ms = 100;
  o.urgent_compact_free_percent = 0;  // however full the test's disk is
  IoActivity activity;
  {
    IoActivity::Scope request(&activity);  // a client request, in flight throughout
    Heartbeater hb(store_.get(), o, nullptr, &activity);
    hb.Start();
    ASSERT_TRUE(WaitFor([&] { return hb.heartbeats() >= 3; }, milliseconds(10000),
                        "three heartbeats"));
    hb.Stop();
    EXPECT_EQ(store_->CompactionBacklog(), backlog - kStepsPerBeat * hb.heartbeats());
  }
  const int64_t left = store_->CompactionBacklog();
  const int64_t beats = BeatsUntilCompacted(o, &activity);
  ASSERT_GT(beats, 0);
  // A step per beat alone would have needed more beats.
  EXPECT_LT(kStepsPerBeat * beats, left);
  for (int c = 901; c <= 1000; ++c) {
    std::vector<Block> blocks;
    ASSERT_TRUE(store_->Read(c, 1, 0, 4, &blocks).ok()) << c;
    ASSERT_EQ(blocks.size(), 4u);
    EXPECT_EQ(blocks[3].data, std::string(4096, 'c'));
  }
}

// Short of disk space, compaction goes on after each beat even while client
// requests are in flight.
TEST_F(HeartbeatTest, CompactsTheBacklogDespiteRequestsWhenShortOfSpace) {
  const int64_t backlog = MakeHoles();
  ASSERT_GE(backlog, 4500);
  MetaServer meta;
  HeartbeatOptions o = Options(meta.server->port());
  o.interval_ms = 100;
  o.urgent_compact_free_percent = 100;  // any disk is short of space
  IoActivity activity;
  IoActivity::Scope request(&activity);
  const int64_t beats = BeatsUntilCompacted(o, &activity);
  ASSERT_GT(beats, 0);
  EXPECT_LT(kStepsPerBeat * beats, backlog);
}

TEST(DatadTest, StartsOnPortZeroRegistersAndStops) {
  MetaServer meta;
  testing::TempDir dir("datad-daemon");
  Config c;
  c.datad_listen = "0.0.0.0:0";
  c.meta = "127.0.0.1:" + std::to_string(meta.server->port());
  c.datad_data_dir = dir.path() + "/sub/store";
  c.heartbeat_interval_ms = 20;
  c.block_size = 4096;
  c.chunk_size = 1 << 20;
  Datad d(c);
  Status s = d.Start();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(d.advertised(), "127.0.0.1:" + std::to_string(d.port()));
  ASSERT_TRUE(WaitFor([&] { return meta.fake->registrations() >= 1; }, milliseconds(10000),
                      "registration"));
  EXPECT_EQ(meta.fake->usage().addr, d.advertised());
  // The scrubber's first pass (an empty store) shows in a heartbeat.
  ASSERT_TRUE(WaitFor([&] { return meta.fake->usage().scrub.last_full_pass_ms > 0; },
                      milliseconds(10000), "scrub info in a heartbeat"));
  EXPECT_EQ(meta.fake->usage().scrub.progress, 1.0);
  EXPECT_TRUE(d.Stop().ok());
  // Restarting on the same directory finds the store again.
  Datad again(c);
  ASSERT_TRUE(again.Start().ok());
  EXPECT_TRUE(again.Stop().ok());
}

}  // namespace
}  // namespace replfs::datad
