// The metadata store: durability across reopen, refusal of damaged stores.
#include <fstream>
#include <iterator>

#include "daemons/metad/meta_store.h"
#include "daemons/metad/records.h"
#include "tests/unit/metad/metad_test_util.h"

namespace replfs::metad {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

using StoreTest = CoreTest;

TEST_F(StoreTest, ReopenKeepsEverything) {
  for (auto a : {"h:1", "h:2", "h:3"}) AddServer(a);
  Inode d = MkDir(kRootIno, "d");
  Inode f = MkFile(d.ino, "f");
  ASSERT_OK(ns().SetXattr(f.ino, "user.k", "v", 0));
  Inode s;
  ASSERT_OK(ns().Symlink(d.ino, "s", "f", 0, 0, &s));
  ChunkInfo c0, c1;
  ASSERT_OK(core_->AllocChunk(f.ino, 0, &c0));
  ASSERT_OK(core_->AllocChunk(f.ino, 5, &c1));
  Inode w;
  ASSERT_OK(ns().CommitWrite(f.ino, 12345, 99, &w));
  Reopen();
  Inode got;
  ASSERT_OK(ns().Lookup(d.ino, "f", &got));
  EXPECT_EQ(got.ino, f.ino);
  EXPECT_EQ(got.size, 12345);
  EXPECT_EQ(got.mtime_ns, 99);
  std::string v;
  ASSERT_OK(ns().GetXattr(f.ino, "user.k", &v));
  EXPECT_EQ(v, "v");
  ASSERT_OK(ns().ReadLink(s.ino, &v));
  EXPECT_EQ(v, "f");
  EXPECT_EQ(Attr(kRootIno).nlink, 3u);
  std::vector<ChunkInfo> chunks;
  ASSERT_OK(core_->chunks().GetChunks(f.ino, 0, 10, &chunks));
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].id, c0.id);
  EXPECT_EQ(chunks[1].replicas, c1.replicas);
  EXPECT_EQ(core_->chunks().Total(), 2);
  ClusterStatus st = core_->GetStatus();
  ASSERT_EQ(st.servers.size(), 3u);  // known, but down until they register
  for (const auto& srv : st.servers) EXPECT_EQ(srv.state, ServerState::kDown);
  EXPECT_EQ(st.chunks.unavailable, 2);
  EXPECT_EQ(st.files, 1);
  EXPECT_EQ(st.directories, 2);
  ChunkInfo c2;
  ASSERT_OK(core_->AllocChunk(f.ino, 0, &c2));  // existing: no servers needed
  EXPECT_EQ(c2.id, c0.id);
  EXPECT_GT(MkFile(kRootIno, "new").ino, s.ino);
}

TEST_F(StoreTest, FailedMutationRollsBack) {
  Inode f = MkFile(kRootIno, "f");
  // Rename over a non-empty directory fails after reading several records;
  // nothing of it may remain.
  Inode d = MkDir(kRootIno, "d");
  MkFile(d.ino, "x");
  Unlinked u;
  EXPECT_CODE(ns().Rename(kRootIno, "f", kRootIno, "d", {}, &u), kIsDir);
  Inode got;
  ASSERT_OK(ns().Lookup(kRootIno, "f", &got));
  EXPECT_EQ(got.ino, f.ino);
}

TEST(MetaStoreTest, DamagedStoreIsRefusedAndLeftUntouched) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/meta.kct";
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  {
    std::ofstream out(path, std::ios::binary);
    out << garbage;
  }
  std::unique_ptr<MetaStore> store;
  Status s = MetaStore::Open(dir.path(), false, &store);
  EXPECT_CODE(s, kCorruption);
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("refusing"), std::string::npos) << s.message();
  EXPECT_EQ(ReadFile(path), garbage);
  std::unique_ptr<MetaCore> core;
  FakeClock clock;
  EXPECT_CODE(MetaCore::Open(TestConfig(dir.path()), &clock, nullptr, &core), kCorruption);
  EXPECT_EQ(ReadFile(path), garbage);
}

TEST(MetaStoreTest, ForeignTreeDbWithoutHeaderIsRefused) {
  testing::TempDir dir;
  {
    std::unique_ptr<MetaStore> store;
    ASSERT_OK(MetaStore::Open(dir.path(), false, &store));
    ASSERT_OK(store->Mutate([](Txn& t) {
      REPLFS_RETURN_IF_ERROR(t.Put("zzz", "1"));
      return t.Delete(HeaderKey());
    }));
  }
  std::unique_ptr<MetaStore> store;
  EXPECT_CODE(MetaStore::Open(dir.path(), false, &store), kCorruption);
}

TEST(MetaStoreTest, MutateCommitsOrRollsBack) {
  testing::TempDir dir;
  std::unique_ptr<MetaStore> store;
  ASSERT_OK(MetaStore::Open(dir.path(), true, &store));
  bool committed = false;
  ASSERT_OK(store->Mutate([&](Txn& t) {
    t.OnCommit([&] { committed = true; });
    return t.Put("a", "1");
  }));
  EXPECT_TRUE(committed);
  committed = false;
  EXPECT_CODE(store->Mutate([&](Txn& t) {
    t.OnCommit([&] { committed = true; });
    REPLFS_RETURN_IF_ERROR(t.Put("a", "2"));
    REPLFS_RETURN_IF_ERROR(t.Put("b", "2"));
    return Status::Invalid("changed my mind");
  }), kInvalid);
  EXPECT_FALSE(committed);
  std::string v;
  ASSERT_OK(store->Get("a", &v));
  EXPECT_EQ(v, "1");
  EXPECT_CODE(store->Get("b", &v), kNotFound);
}

TEST(RecordsTest, DecodersRejectMalformedValues) {
  Inode in;
  in.symlink_target = "t";
  in.xattrs = 3;
  std::string enc = EncodeInode(in);
  Inode out;
  ASSERT_OK(DecodeInode(enc, &out));
  EXPECT_EQ(out.xattrs, 3u);
  // A record from before the xattr count (its last 4 bytes): count unknown.
  const size_t old_format = enc.size() - 4;
  ASSERT_OK(DecodeInode(enc.substr(0, old_format), &out));
  EXPECT_EQ(out.xattrs, kXattrsUnknown);
  for (size_t n = 0; n < enc.size(); ++n) {
    if (n == old_format) continue;
    EXPECT_FALSE(DecodeInode(enc.substr(0, n), &out).ok()) << n;
  }
  EXPECT_FALSE(DecodeInode(enc + "x", &out).ok());
  ChunkInfo c;
  EXPECT_CODE(DecodeChunk("\x02garbage", &c), kCorruption);
}

}  // namespace
}  // namespace replfs::metad
