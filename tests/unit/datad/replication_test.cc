// Primary forwarding, SetVersion and PushChunk between in-process datads
// (real DataService handlers on port 0 over separate BlockStores).
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <kchashdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "daemons/datad/store_format.h"
#include "tests/unit/datad/test_node.h"
#include "tests/util/test_util.h"

namespace replfs::datad {
namespace {

using testnode::Client;
using testnode::TestNode;
using TempDir = ::replfs::testing::TempDir;

constexpr int64_t kBs = 4096;

std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (char& c : s) c = static_cast<char>(rng() % 251 + 1);
  return s;
}

// Every block of the chunk as stored, read (and verified) straight from the store.
std::vector<Block> Blocks(BlockStore* store, int64_t chunk, int64_t version) {
  std::vector<Block> out;
  Status s = store->Read(chunk, version, 0, 4096, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

void ExpectSameBlocks(const std::vector<Block>& a, const std::vector<Block>& b,
                      const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].index, b[i].index) << what << " block #" << i;
    EXPECT_TRUE(a[i].data == b[i].data) << what << " block " << a[i].index << " differs";
    EXPECT_EQ(a[i].crc, b[i].crc) << what << " block " << a[i].index;
  }
}

int64_t VersionOf(BlockStore* store, int64_t chunk) {
  ChunkStat st;
  return store->Stat(chunk, &st).ok() ? st.version : 0;
}

// An address where nothing listens (a server that was stopped).
std::string DeadAddress() {
  TempDir d("datad-dead");
  TestNode n(d.path());
  EXPECT_TRUE(n.status().ok());
  return n.addr();
}

class ReplicationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i) {
      nodes_.push_back(std::make_unique<TestNode>(dirs_[i].path()));
      ASSERT_TRUE(nodes_[i]->status().ok()) << nodes_[i]->status().ToString();
    }
  }
  TestNode& primary() { return *nodes_[0]; }
  std::vector<std::string> Secondaries() { return {nodes_[1]->addr(), nodes_[2]->addr()}; }
  void ExpectReplicasIdentical(int64_t chunk, int64_t version) {
    const std::vector<Block> p = Blocks(nodes_[0]->store(), chunk, version);
    for (int i = 1; i < 3; ++i)
      ExpectSameBlocks(p, Blocks(nodes_[i]->store(), chunk, version),
                       "replica " + std::to_string(i));
  }

  TempDir dirs_[3] = {TempDir("datad-r0"), TempDir("datad-r1"), TempDir("datad-r2")};
  std::vector<std::unique_ptr<TestNode>> nodes_;
};

TEST_F(ReplicationTest, PrimaryForwardsToEverySecondary) {
  rpc::WriteReply reply;
  ASSERT_TRUE(primary().Put(4, 1, 100, Pattern(3 * kBs, 1), Secondaries(), &reply).ok());
  EXPECT_TRUE(reply.failed.empty());
  ASSERT_TRUE(primary().Put(4, 1, 5000, Pattern(10, 2), Secondaries(), &reply).ok());
  EXPECT_TRUE(reply.failed.empty());
  EXPECT_EQ(Blocks(primary().store(), 4, 1).size(), 4u);
  ExpectReplicasIdentical(4, 1);
  EXPECT_EQ(primary().replicator()->locks()->entries(), 0u);  // nothing left locked
}

TEST_F(ReplicationTest, DeadSecondaryIsListedAndTheWriteStillSucceeds) {
  const std::string dead = DeadAddress();
  rpc::WriteReply reply;
  ASSERT_TRUE(primary().Put(4, 1, 0, "data", {nodes_[1]->addr(), dead}, &reply).ok());
  ASSERT_EQ(reply.failed.size(), 1u);
  EXPECT_EQ(reply.failed[0].addr, dead);
  EXPECT_EQ(reply.failed[0].code, rpc::ErrorCode::UNAVAILABLE) << reply.failed[0].message;
  EXPECT_NE(reply.failed[0].message.find(dead), std::string::npos) << reply.failed[0].message;
  EXPECT_EQ(Blocks(primary().store(), 4, 1)[0].data, "data");
  EXPECT_EQ(Blocks(nodes_[1]->store(), 4, 1)[0].data, "data");
}

TEST_F(ReplicationTest, SyncedWriteSyncsEveryReplicaBeforeItAnswers) {
  for (const std::string& size : {std::string("small"), std::string("large")}) {
    SCOPED_TRACE(size);
    const std::string data = size == "small" ? Pattern(100, 3) : Pattern(3 * kBs, 4);
    const int64_t chunk = size == "small" ? 7 : 8;
    ASSERT_TRUE(primary().Put(chunk, 1, 0, "x", Secondaries()).ok());
    std::vector<int64_t> before;
    for (auto& n : nodes_) before.push_back(n->store()->SyncsCompleted());
    rpc::WriteReply reply;
    ASSERT_TRUE(primary().Write(chunk, 1, 0, data, Secondaries(), &reply, /*sync=*/true).ok());
    EXPECT_TRUE(reply.failed.empty());
    EXPECT_TRUE(reply.synced);
    for (size_t i = 0; i < nodes_.size(); ++i)
      EXPECT_GT(nodes_[i]->store()->SyncsCompleted(), before[i]) << "replica " << i;
    ExpectReplicasIdentical(chunk, 1);
  }
  // Without sync nothing is synced, and the reply says so.
  const int64_t before = primary().store()->SyncsCompleted();
  rpc::WriteReply reply;
  ASSERT_TRUE(primary().Write(7, 1, 0, "y", Secondaries(), &reply).ok());
  EXPECT_FALSE(reply.synced);
  EXPECT_EQ(primary().store()->SyncsCompleted(), before);
}

TEST_F(ReplicationTest, SyncedWriteWithADeadSecondaryListsItAndSyncsTheRest) {
  const std::string dead = DeadAddress();
  rpc::WriteReply reply;
  ASSERT_TRUE(primary().Put(9, 1, 0, "x", {nodes_[1]->addr(), dead}).ok());
  const int64_t before = nodes_[1]->store()->SyncsCompleted();
  ASSERT_TRUE(primary().Write(9, 1, 0, "data", {nodes_[1]->addr(), dead}, &reply, true).ok());
  ASSERT_EQ(reply.failed.size(), 1u);
  EXPECT_EQ(reply.failed[0].addr, dead);
  EXPECT_TRUE(reply.synced);  // every replica that applied it
  EXPECT_GT(nodes_[1]->store()->SyncsCompleted(), before);
}

// A listening socket that never accepts: connections complete in the
// kernel's backlog and requests sit unread, like a hung (stopped) datad.
class HungPeer {
 public:
  HungPeer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(fd_, 16) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "hung peer: " << strerror(errno);
      return;
    }
    addr_ = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  }
  ~HungPeer() {
    if (fd_ >= 0) close(fd_);
  }
  HungPeer(const HungPeer&) = delete;
  HungPeer& operator=(const HungPeer&) = delete;
  const std::string& addr() const { return addr_; }

 private:
  int fd_ = -1;
  std::string addr_;
};

// A secondary that never answers costs the write one peer timeout, not
// more, and does not cost the other secondary its copy: for small writes
// (sent by the primary's own thread, hung peer first) and large ones.
TEST(ReplicationHungPeerTest, HungSecondaryIsListedOnceItTimesOutAndTheOtherStillGetsTheWrite) {
  constexpr int64_t kPeerTimeoutMs = 300;
  TempDir d0("datad-h0"), d1("datad-h1");
  TestNode primary(d0.path(), kBs, "", kPeerTimeoutMs);
  TestNode live(d1.path());
  ASSERT_TRUE(primary.status().ok() && live.status().ok());
  HungPeer hung;
  ASSERT_FALSE(hung.addr().empty());
  int64_t chunk = 20;
  for (size_t len : {size_t{100}, Replicator::kSmallForwardBytes, 3 * static_cast<size_t>(kBs)}) {
    SCOPED_TRACE("write of " + std::to_string(len) + " bytes");
    const std::string data = Pattern(len, static_cast<int>(len));
    ASSERT_TRUE(primary.Create(chunk, 1).ok());
    ASSERT_TRUE(live.Create(chunk, 1).ok());
    rpc::WriteReply reply;
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(primary.Write(chunk, 1, 0, data, {hung.addr(), live.addr()}, &reply).ok());
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(reply.failed.size(), 1u);
    EXPECT_EQ(reply.failed[0].addr, hung.addr());
    EXPECT_EQ(reply.failed[0].code, rpc::ErrorCode::TIMED_OUT) << reply.failed[0].message;
    EXPECT_GE(took, std::chrono::milliseconds(kPeerTimeoutMs));
    EXPECT_LT(took, std::chrono::milliseconds(4 * kPeerTimeoutMs));  // not one timeout each
    ExpectSameBlocks(Blocks(primary.store(), chunk, 1), Blocks(live.store(), chunk, 1), "live");
    ++chunk;
  }
}

TEST_F(ReplicationTest, StaleSecondaryIsListed) {
  ASSERT_TRUE(nodes_[2]->Put(4, 2, 0, "newer").ok());
  rpc::WriteReply reply;
  ASSERT_TRUE(primary().Put(4, 1, 0, "data", Secondaries(), &reply).ok());
  ASSERT_EQ(reply.failed.size(), 1u);
  EXPECT_EQ(reply.failed[0].addr, nodes_[2]->addr());
  EXPECT_EQ(reply.failed[0].code, rpc::ErrorCode::STALE);
}

TEST_F(ReplicationTest, FailedLocalWriteForwardsNothing) {
  ASSERT_TRUE(primary().Put(4, 2, 0, "held at v2").ok());
  EXPECT_EQ(primary().Put(4, 1, 0, "x", Secondaries()).code(), Status::Code::kStale);
  EXPECT_TRUE(nodes_[1]->store()->Inventory().empty());
  EXPECT_TRUE(nodes_[2]->store()->Inventory().empty());
}

TEST_F(ReplicationTest, ConcurrentWritersLeaveIdenticalReplicas) {
  const int64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::vector<std::thread> writers;
  for (int w = 0; w < 6; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937_64 rng(seed + w);
      for (int i = 0; i < 40; ++i) {
        const int64_t off = static_cast<int64_t>(rng() % (3 * kBs));
        const size_t len = 1 + rng() % (2 * kBs);
        rpc::WriteReply reply;
        Status s = primary().Put(8, 1, off, Pattern(len, w * 1000 + i), Secondaries(), &reply);
        EXPECT_TRUE(s.ok()) << s.ToString();
        EXPECT_TRUE(reply.failed.empty());
      }
    });
  }
  for (std::thread& t : writers) t.join();
  ExpectReplicasIdentical(8, 1);
}

TEST_F(ReplicationTest, SetVersionSemantics) {
  TestNode& n = primary();
  ASSERT_TRUE(n.Put(5, 1, 0, "abc").ok());
  auto set = [&](int64_t chunk, int64_t from, int64_t to) {
    return n.Call([&](Client& c) { c.SetVersion(chunk, from, to); });
  };
  ASSERT_TRUE(set(5, 1, 2).ok());
  EXPECT_EQ(VersionOf(n.store(), 5), 2);
  EXPECT_TRUE(set(5, 1, 2).ok());  // idempotent
  EXPECT_EQ(set(5, 1, 3).code(), Status::Code::kStale);
  EXPECT_EQ(set(5, 3, 4).code(), Status::Code::kStale);
  EXPECT_EQ(set(99, 1, 2).code(), Status::Code::kNotFound);
  EXPECT_EQ(set(5, 2, 2).code(), Status::Code::kInvalid);
  EXPECT_EQ(set(5, 3, 2).code(), Status::Code::kInvalid);
  EXPECT_EQ(VersionOf(n.store(), 5), 2);

  // The old version is refused for writes and reads.
  EXPECT_EQ(n.Put(5, 1, 0, "old").code(), Status::Code::kStale);
  std::vector<rpc::BlockData> blocks;
  EXPECT_EQ(n.Call([&](Client& c) { c.Read(blocks, 5, 1, 0, 1, 0, 0); }).code(),
            Status::Code::kStale);
  ASSERT_TRUE(n.Call([&](Client& c) { c.Read(blocks, 5, 2, 0, 1, 0, 0); }).ok());
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].data, "abc");

  // Durable: a reopened store still holds version 2.
  nodes_[0].reset();
  TestNode again(dirs_[0].path());
  ASSERT_TRUE(again.status().ok());
  EXPECT_EQ(VersionOf(again.store(), 5), 2);
}

// Source chunk 9 at v3: full blocks 0-1, short block 2, holes, a partial
// block 5 and a block past the first 8 MiB batch.
void FillSource(TestNode* n) {
  ASSERT_TRUE(n->Put(9, 3, 0, Pattern(2 * kBs + 100, 3)).ok());
  ASSERT_TRUE(n->Put(9, 3, 5 * kBs + 10, Pattern(50, 4)).ok());
  ASSERT_TRUE(n->Put(9, 3, 2100 * kBs, Pattern(kBs, 5)).ok());
}

Status Push(TestNode* from, int64_t chunk, int64_t version, const std::string& to,
            int64_t new_version) {
  return from->Call([&](Client& c) { c.PushChunk(chunk, version, to, new_version); });
}

TEST_F(ReplicationTest, PushChunkCopiesWithHolesToAnEmptyTarget) {
  FillSource(&primary());
  const std::vector<Block> before = Blocks(primary().store(), 9, 3);
  ASSERT_EQ(before.size(), 5u);
  ASSERT_TRUE(Push(&primary(), 9, 3, nodes_[1]->addr(), 4).ok());
  EXPECT_EQ(VersionOf(primary().store(), 9), 4);
  EXPECT_EQ(VersionOf(nodes_[1]->store(), 9), 4);
  ExpectSameBlocks(before, Blocks(primary().store(), 9, 4), "source");
  ExpectSameBlocks(before, Blocks(nodes_[1]->store(), 9, 4), "target");
  StoreUsage a, b;
  ASSERT_TRUE(primary().store()->Usage(&a).ok());
  ASSERT_TRUE(nodes_[1]->store()->Usage(&b).ok());
  EXPECT_EQ(a.bytes_used, b.bytes_used);
}

TEST_F(ReplicationTest, PushChunkReplacesAStaleCopy) {
  FillSource(&primary());
  // The target's stale copy has blocks where the source has holes.
  ASSERT_TRUE(nodes_[1]->Put(9, 2, 0, Pattern(8 * kBs, 9)).ok());
  ASSERT_TRUE(Push(&primary(), 9, 3, nodes_[1]->addr(), 4).ok());
  EXPECT_EQ(VersionOf(nodes_[1]->store(), 9), 4);
  ExpectSameBlocks(Blocks(primary().store(), 9, 4), Blocks(nodes_[1]->store(), 9, 4), "target");
}

TEST_F(ReplicationTest, PushChunkCreatesAnEmptyChunk) {
  ASSERT_TRUE(primary().Put(11, 1, 0, "").ok());
  ASSERT_EQ(VersionOf(primary().store(), 11), 1);
  ASSERT_TRUE(Push(&primary(), 11, 1, nodes_[2]->addr(), 2).ok());
  EXPECT_EQ(VersionOf(nodes_[2]->store(), 11), 2);
  EXPECT_TRUE(Blocks(nodes_[2]->store(), 11, 2).empty());
  EXPECT_EQ(VersionOf(primary().store(), 11), 2);
}

TEST_F(ReplicationTest, PushChunkRefusesWrongVersionsAndNamesTheTarget) {
  ASSERT_TRUE(primary().Put(9, 3, 0, "x").ok());
  EXPECT_EQ(Push(&primary(), 9, 2, nodes_[1]->addr(), 3).code(), Status::Code::kStale);
  EXPECT_EQ(Push(&primary(), 10, 1, nodes_[1]->addr(), 2).code(), Status::Code::kNotFound);
  const std::string dead = DeadAddress();
  Status s = Push(&primary(), 9, 3, dead, 4);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find(dead), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("chunk 9"), std::string::npos) << s.message();
  EXPECT_EQ(VersionOf(primary().store(), 9), 3);
}

TEST_F(ReplicationTest, PushChunkFromACorruptReplicaChangesNothing) {
  FillSource(&primary());
  nodes_[0].reset();
  {
    kyotocabinet::HashDB db;
    ASSERT_TRUE(db.open(dirs_[0].path() + "/" + BlockStore::kFileName,
                        kyotocabinet::HashDB::OWRITER));
    const std::string key = format::BlockKey(9, 5);
    std::string value;
    ASSERT_TRUE(db.get(key, &value));
    value[4 + 12] ^= 0x01;
    ASSERT_TRUE(db.set(key, value));
    ASSERT_TRUE(db.close());
  }
  nodes_[0] = std::make_unique<TestNode>(dirs_[0].path());
  ASSERT_TRUE(primary().status().ok());
  Status s = Push(&primary(), 9, 3, nodes_[1]->addr(), 4);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("block 5"), std::string::npos) << s.message();
  EXPECT_EQ(VersionOf(primary().store(), 9), 3);
  StoreUsage u;
  ASSERT_TRUE(primary().store()->Usage(&u).ok());
  EXPECT_GE(u.corrupt_found, 1);
  CheckResult r;
  ASSERT_TRUE(primary().store()->Check(9, 3, &r).ok());
  EXPECT_EQ(r.blocks, 5);
  EXPECT_EQ(r.bad_blocks, 1);
  EXPECT_EQ(VersionOf(nodes_[1]->store(), 9), 0);  // the partial copy was removed
}

}  // namespace
}  // namespace replfs::datad
