// The Thrift handler through an in-process Metad on 127.0.0.1 port 0.
#include "DataService.h"
#include "MetaService.h"
#include "daemons/metad/meta_service.h"
#include "daemons/metad/metad.h"
#include "tests/unit/metad/metad_test_util.h"
#include "thrift/client_pool.h"
#include "thrift/server.h"

namespace replfs::metad {
namespace {

net::RpcOptions Fast() {
  net::RpcOptions o;
  o.connect_timeout_ms = 500;
  o.rpc_timeout_ms = 5000;
  o.attempts = 2;
  o.backoff_ms = 5;
  o.budget_ms = 5000;
  return o;
}

// A datad that answers CheckChunk only: every replica is corrupt.
class CorruptData : public rpc::DataServiceIf {
 public:
  void Ping() override {}
  void Write(rpc::WriteReply&, int64_t, int64_t, int64_t, const std::string&, int32_t,
             const std::vector<std::string>&, bool) override {}
  void CreateChunk(int64_t, int64_t) override {}
  void SetVersion(int64_t, int64_t, int64_t) override {}
  void PushChunk(int64_t, int64_t, const std::string&, int64_t) override {}
  void Read(std::vector<rpc::BlockData>&, int64_t, int64_t, int32_t, int32_t, int32_t, int32_t) override {}
  void Truncate(int64_t, int64_t, int64_t) override {}
  void DeleteChunk(int64_t) override {}
  void Sync() override {}
  void CheckChunk(rpc::ChunkCheck& out, int64_t, int64_t version) override {
    out.state = rpc::ReplicaState::CORRUPT;
    out.version = version;
    out.blocks = 4;
    out.bad_blocks = 1;
  }
  void Usage(rpc::ServerUsage&) override {}
  void InjectFault(int64_t, int32_t, rpc::FaultMode::type) override {}
  void StartScrub() override {}
};

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    metad_ = std::make_unique<Metad>(TestConfig(dir_.path()));
    ASSERT_OK(metad_->Start());
    pool_ = std::make_unique<net::ClientPool<rpc::MetaServiceClient>>(
        HostPort{"127.0.0.1", metad_->port()}, Fast());
  }
  Status Call(const std::function<void(rpc::MetaServiceClient&)>& fn) {
    return pool_->Call("test", net::Idempotency::kIdempotent, fn);
  }

  testing::TempDir dir_;
  std::unique_ptr<Metad> metad_;
  std::unique_ptr<net::ClientPool<rpc::MetaServiceClient>> pool_;
  rpc::Attr got_;
};

TEST_F(ServiceTest, NamespaceRoundTripAndErrorCodes) {
  rpc::ClusterInfo info;
  ASSERT_OK(Call([&](auto& c) { c.GetClusterInfo(info); }));
  EXPECT_EQ(info.block_size, 64 << 10);
  EXPECT_EQ(info.min_write_replicas, 2);
  EXPECT_EQ(info.max_rpc_bytes, 8 << 20);
  rpc::Attr d, got;
  ASSERT_OK(Call([&](auto& c) { c.Mkdir(d, 1, "dir", 0755, 10, 20); }));
  EXPECT_EQ(d.type, rpc::FileType::DIRECTORY);
  EXPECT_EQ(d.uid, 10);
  ASSERT_OK(Call([&](auto& c) { c.Lookup(got, 1, "dir"); }));
  EXPECT_EQ(got.ino, d.ino);
  EXPECT_EQ(got.nlink, 2);
  EXPECT_CODE(Call([&](auto& c) { c.Lookup(got, 1, "nope"); }), kNotFound);
  EXPECT_CODE(Call([&](auto& c) { c.Mkdir(got, 1, "dir", 0755, 0, 0); }), kExists);
  EXPECT_CODE(Call([&](auto& c) { c.Mkdir(got, 1, std::string(300, 'x'), 0755, 0, 0); }), kNameTooLong);
  EXPECT_CODE(Call([&](auto& c) { c.Lookup(got, -5, "x"); }), kInvalid);
  EXPECT_CODE(Call([&](auto& c) { c.Mknod(got, 1, "x", static_cast<rpc::FileType::type>(99), 0, 0, 0, 0); }),
              kInvalid);
  rpc::DirPage page;
  EXPECT_CODE(Call([&](auto& c) { c.ReadDir(page, 1, "", 0, false); }), kInvalid);
  ASSERT_OK(Call([&](auto& c) { c.ReadDir(page, 1, "", 10, true); }));
  ASSERT_EQ(page.entries.size(), 1u);
  EXPECT_TRUE(page.eof);
  EXPECT_TRUE(page.entries[0].__isset.attr);
  std::vector<rpc::ChunkLocation> locs;
  EXPECT_CODE(Call([&](auto& c) { c.GetChunks(locs, 1, 0, 5000); }), kInvalid);
  rpc::SetAttrRequest req;
  req.ino = d.ino;
  req.__set_mode(0700);
  ASSERT_OK(Call([&](auto& c) { c.SetAttr(got, req); }));
  EXPECT_EQ(got.mode, 0700);
  rpc::RenameFlags flags;
  rpc::Unlinked u;
  EXPECT_CODE(Call([&](auto& c) { c.Rename(u, 1, "dir", d.ino, "x", flags); }), kInvalid);
  EXPECT_EQ(Call([&](auto& c) { EXPECT_EQ(c.ResolvePath("/dir"), d.ino); }).code(), Status::Code::kOk);
  rpc::ClusterStatus st;
  ASSERT_OK(Call([&](auto& c) { c.Status(st); }));
  EXPECT_EQ(st.directories, 2);
}

// Changes of a directory's entries answer with the directory's attributes
// as they left it (what a GetAttr right after returns); Create makes and
// opens a file in one call.
TEST_F(ServiceTest, EntryChangesReturnTheParentAndCreateOpens) {
  rpc::Attr d, root;
  ASSERT_OK(Call([&](auto& c) { c.Mkdir(d, 1, "d", 0755, 0, 0); }));
  ASSERT_OK(Call([&](auto& c) { c.GetAttr(root, 1); }));
  ASSERT_TRUE(d.__isset.dir && d.dir != nullptr);
  EXPECT_EQ(*d.dir, root);
  EXPECT_EQ(d.dir->nlink, 3);

  rpc::OpenReply made;
  ASSERT_OK(Call([&](auto& c) { c.Create(made, d.ino, "f", 0640, 7, 8, 42, 16); }));
  EXPECT_EQ(made.attr.type, rpc::FileType::REGULAR);
  EXPECT_EQ(made.attr.mode, 0640);
  EXPECT_EQ(made.attr.uid, 7);
  EXPECT_TRUE(made.chunks.empty());
  rpc::Attr dir;
  ASSERT_OK(Call([&](auto& c) { c.GetAttr(dir, d.ino); }));
  ASSERT_TRUE(made.attr.__isset.dir && made.attr.dir != nullptr);
  EXPECT_EQ(*made.attr.dir, dir);
  EXPECT_FALSE(dir.__isset.dir) << "a GetAttr carries no parent";
  EXPECT_CODE(Call([&](auto& c) { c.Create(made, d.ino, "f", 0640, 7, 8, 42, 16); }), kExists);
  EXPECT_CODE(Call([&](auto& c) { c.Create(made, d.ino, "g", 0640, 7, 8, 42, 65); }), kInvalid);
  EXPECT_CODE(Call([&](auto& c) { c.Create(made, -1, "g", 0640, 7, 8, 42, 0); }), kInvalid);
  // It is open under session 42: unlinked, it stays until released.
  rpc::Unlinked u;
  rpc::Attr f;
  ASSERT_OK(Call([&](auto& c) { c.Lookup(f, d.ino, "f"); }));
  ASSERT_OK(Call([&](auto& c) { c.Unlink(u, d.ino, "f"); }));
  EXPECT_EQ(u.ino, f.ino);
  ASSERT_OK(Call([&](auto& c) { c.GetAttr(dir, d.ino); }));
  ASSERT_TRUE(u.__isset.dir);
  EXPECT_EQ(u.dir, dir);
  ASSERT_OK(Call([&](auto& c) { c.GetAttr(got_, f.ino); }));
  EXPECT_EQ(got_.nlink, 0);
  ASSERT_OK(Call([&](auto& c) { c.Release(f.ino, 42); }));
  EXPECT_CODE(Call([&](auto& c) { c.GetAttr(got_, f.ino); }), kNotFound);

  ASSERT_OK(Call([&](auto& c) { c.Rmdir(u, 1, "d"); }));
  EXPECT_EQ(u.ino, d.ino);
  EXPECT_EQ(u.nlink, 0);
  ASSERT_OK(Call([&](auto& c) { c.GetAttr(root, 1); }));
  ASSERT_TRUE(u.__isset.dir);
  EXPECT_EQ(u.dir, root);
  EXPECT_EQ(root.nlink, 2);
}

// ReleaseAll: every release applied, in order, even past one that fails;
// the first failure is thrown after that.
TEST_F(ServiceTest, ReleaseAllReleasesEachAndReportsTheFirstFailure) {
  rpc::OpenReply a, b;
  ASSERT_OK(Call([&](auto& c) { c.Create(a, 1, "a", 0644, 0, 0, 42, 0); }));
  ASSERT_OK(Call([&](auto& c) { c.Create(b, 1, "b", 0644, 0, 0, 42, 0); }));
  ASSERT_OK(Call([&](auto& c) { c.Open(a, a.attr.ino, 42, 0); }));  // a: two handles
  rpc::Unlinked u;
  ASSERT_OK(Call([&](auto& c) { c.Unlink(u, 1, "a"); }));
  ASSERT_OK(Call([&](auto& c) { c.Unlink(u, 1, "b"); }));
  // An inode number metad refuses comes first; the rest is still applied.
  EXPECT_CODE(Call([&](auto& c) { c.ReleaseAll({-5, b.attr.ino, a.attr.ino}, 42); }), kInvalid);
  EXPECT_CODE(Call([&](auto& c) { c.GetAttr(got_, b.attr.ino); }), kNotFound);
  ASSERT_OK(Call([&](auto& c) { c.GetAttr(got_, a.attr.ino); }));  // one handle left
  ASSERT_OK(Call([&](auto& c) { c.ReleaseAll({a.attr.ino}, 42); }));
  EXPECT_CODE(Call([&](auto& c) { c.GetAttr(got_, a.attr.ino); }), kNotFound);
  ASSERT_OK(Call([&](auto& c) { c.ReleaseAll({}, 42); }));
  const std::vector<int64_t> too_many(kMaxReleaseBatch + 1, a.attr.ino);
  EXPECT_CODE(Call([&](auto& c) { c.ReleaseAll(too_many, 42); }), kInvalid);
}

TEST_F(ServiceTest, RegisterAllocAndFsckAgainstADatad) {
  auto data = std::make_shared<CorruptData>();
  net::ServerOptions so;
  so.listen = "127.0.0.1:0";
  so.allow_socket_activation = false;
  net::RpcServer datad(std::make_shared<rpc::DataServiceProcessor>(data), so);
  ASSERT_OK(datad.Start());
  const std::string addr = "127.0.0.1:" + std::to_string(datad.port());
  rpc::ServerUsage usage;
  usage.bytes_total = usage.bytes_free = 1 << 30;
  usage.block_size = 4096;
  usage.addr = addr;
  EXPECT_CODE(Call([&](auto& c) { c.RegisterServer(usage, {}); }), kInvalid);
  for (const std::string& a : {addr, std::string("127.0.0.1:1")}) {
    usage.addr = a;
    usage.block_size = 64 << 10;
    ASSERT_OK(Call([&](auto& c) { c.RegisterServer(usage, {}); }));
  }
  rpc::Attr f;
  ASSERT_OK(Call([&](auto& c) { c.Mknod(f, 1, "f", rpc::FileType::REGULAR, 0644, 0, 0, 0); }));
  rpc::ChunkLocation loc;
  ASSERT_OK(Call([&](auto& c) { c.AllocChunk(loc, f.ino, 0); }));
  // Nothing listens on :1, so it could not create the chunk: the chunk is
  // recorded without it (created first, recorded after).
  EXPECT_EQ(loc.version, 1);
  EXPECT_EQ(loc.replicas, std::vector<std::string>{addr});
  EXPECT_EQ(loc.write_quorum, 2);
  rpc::FileReport rep;
  ASSERT_OK(Call([&](auto& c) { c.Fsck(rep, f.ino); }));
  ASSERT_EQ(rep.chunks.size(), 1u);
  ASSERT_EQ(rep.chunks[0].replicas.size(), 1u);
  EXPECT_EQ(rep.chunks[0].replicas[0].state, rpc::ReplicaState::CORRUPT);
  rpc::HeartbeatReply hb;
  usage.addr = "127.0.0.1:9";
  EXPECT_CODE(Call([&](auto& c) { c.Heartbeat(hb, usage); }), kNotFound);
}

// Two sessions on their own connections: each hears of the other's
// changes through WatchChanges, not of its own.
TEST_F(ServiceTest, WatchChangesLeavesOutTheCallersOwnChanges) {
  auto identified = [&](int64_t session) {
    auto p = std::make_unique<net::ClientPool<rpc::MetaServiceClient>>(HostPort{"127.0.0.1", metad_->port()},
                                                                        Fast());
    p->SetGreeting([session](rpc::MetaServiceClient& c) { c.Identify(session); });
    return p;
  };
  auto a = identified(101), b = identified(202);
  auto call = [](net::ClientPool<rpc::MetaServiceClient>& p, const std::function<void(rpc::MetaServiceClient&)>& fn) {
    return p.Call("test", net::Idempotency::kIdempotent, fn);
  };
  rpc::ChangeBatch start;
  ASSERT_OK(call(*b, [&](auto& c) { c.WatchChanges(start, 0, -1, 202, 0); }));
  rpc::Attr d;
  ASSERT_OK(call(*a, [&](auto& c) { c.Mkdir(d, 1, "from_a", 0755, 0, 0); }));
  rpc::ChangeBatch got;
  ASSERT_OK(call(*b, [&](auto& c) { c.WatchChanges(got, start.generation, start.last, 202, 5000); }));
  EXPECT_FALSE(got.lost);
  bool entry = false, dir = false, parent = false;
  for (const rpc::Change& ch : got.changes) {
    entry = entry || (ch.kind == rpc::ChangeKind::ENTRY && ch.ino == 1 && ch.name == "from_a");
    dir = dir || (ch.kind == rpc::ChangeKind::INODE && ch.ino == d.ino);
    parent = parent || (ch.kind == rpc::ChangeKind::INODE && ch.ino == 1);
  }
  EXPECT_TRUE(entry && dir && parent) << got.changes.size() << " changes";
  // a hears nothing of its own mkdir.
  rpc::ChangeBatch own;
  ASSERT_OK(call(*a, [&](auto& c) { c.WatchChanges(own, start.generation, start.last, 101, 0); }));
  EXPECT_TRUE(own.changes.empty());
  EXPECT_EQ(own.last, got.last);
  // Bad waits are refused; another generation is reported lost.
  EXPECT_CODE(call(*a, [&](auto& c) { c.WatchChanges(own, start.generation, 0, 101, 30001); }), kInvalid);
  EXPECT_CODE(call(*a, [&](auto& c) { c.WatchChanges(own, start.generation, 0, 101, -1); }), kInvalid);
  ASSERT_OK(call(*a, [&](auto& c) { c.WatchChanges(own, start.generation + 1, got.last, 101, 0); }));
  EXPECT_TRUE(own.lost);
}

}  // namespace
}  // namespace replfs::metad
