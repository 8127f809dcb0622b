// Namespace operations on a real store in a temp dir.
#include <set>

#include "tests/unit/metad/metad_test_util.h"

namespace replfs::metad {
namespace {

using NamespaceTest = CoreTest;

TEST_F(NamespaceTest, RootExistsAndCreateLookup) {
  Inode root = Attr(kRootIno);
  EXPECT_EQ(root.type, FileType::kDirectory);
  EXPECT_EQ(root.mode, 0755u);
  EXPECT_EQ(root.nlink, 2u);
  Inode f = MkFile(kRootIno, "f");
  EXPECT_GT(f.ino, kRootIno);
  EXPECT_EQ(f.goal, 3);
  EXPECT_EQ(f.nlink, 1u);
  Inode got;
  ASSERT_OK(ns().Lookup(kRootIno, "f", &got));
  EXPECT_EQ(got.ino, f.ino);
  EXPECT_CODE(ns().Lookup(kRootIno, "nope", &got), kNotFound);
  EXPECT_CODE(ns().Mknod(kRootIno, "f", FileType::kRegular, 0644, 0, 0, 0, &got), kExists);
  EXPECT_CODE(ns().Lookup(f.ino, "x", &got), kNotDir);
  EXPECT_CODE(ns().Mkdir(f.ino, "x", 0755, 0, 0, &got), kNotDir);
  EXPECT_CODE(ns().Mknod(kRootIno, "d", FileType::kDirectory, 0755, 0, 0, 0, &got), kInvalid);
}

TEST_F(NamespaceTest, NameValidation) {
  Inode in;
  EXPECT_CODE(ns().Mkdir(kRootIno, std::string(256, 'a'), 0755, 0, 0, &in), kNameTooLong);
  ASSERT_OK(ns().Mkdir(kRootIno, std::string(255, 'a'), 0755, 0, 0, &in));
  for (std::string bad : {std::string(""), std::string("."), std::string(".."), std::string("a/b"),
                          std::string("a\0b", 3)}) {
    EXPECT_CODE(ns().Mkdir(kRootIno, bad, 0755, 0, 0, &in), kInvalid) << bad;
    EXPECT_CODE(ns().Lookup(kRootIno, bad, &in), kInvalid) << bad;
  }
}

TEST_F(NamespaceTest, LinkCountsOfFilesAndDirectories) {
  Inode d = MkDir(kRootIno, "d");
  EXPECT_EQ(Attr(kRootIno).nlink, 3u);
  MkDir(d.ino, "sub");
  EXPECT_EQ(Attr(d.ino).nlink, 3u);
  Inode f = MkFile(d.ino, "f");
  Inode linked;
  ASSERT_OK(ns().Link(f.ino, kRootIno, "g", &linked));
  EXPECT_EQ(linked.nlink, 2u);
  EXPECT_CODE(ns().Link(d.ino, kRootIno, "dl", &linked), kPermission);
  EXPECT_CODE(ns().Link(f.ino, kRootIno, "g", &linked), kExists);
  Unlinked u;
  ASSERT_OK(ns().Unlink(d.ino, "f", &u));
  EXPECT_EQ(u.ino, f.ino);
  EXPECT_EQ(u.nlink, 1u);
  EXPECT_EQ(Attr(f.ino).nlink, 1u);
  EXPECT_CODE(ns().Unlink(d.ino, "sub", &u), kIsDir);
  EXPECT_CODE(ns().Rmdir(kRootIno, "g"), kNotDir);
  EXPECT_CODE(ns().Rmdir(kRootIno, "d"), kNotEmpty);
  ASSERT_OK(ns().Rmdir(d.ino, "sub"));
  EXPECT_EQ(Attr(d.ino).nlink, 2u);
  ASSERT_OK(ns().Rmdir(kRootIno, "d"));
  EXPECT_EQ(Attr(kRootIno).nlink, 2u);
  ASSERT_OK(ns().Unlink(kRootIno, "g", &u));
  EXPECT_EQ(u.nlink, 0u);
  Inode gone;
  EXPECT_CODE(ns().GetAttr(f.ino, &gone), kNotFound);
  EXPECT_CODE(ns().GetAttr(d.ino, &gone), kNotFound);
  EXPECT_EQ(ns().files(), 0);
  EXPECT_EQ(ns().directories(), 1);
}

TEST_F(NamespaceTest, SetgidDirectoryHandsDownItsGroup) {
  Inode plain = MkDir(kRootIno, "plain");
  Inode shared;
  ASSERT_OK(ns().Mkdir(kRootIno, "shared", 0775, 1, 2, &shared));
  SetAttrRequest r;
  r.ino = shared.ino;
  r.has_mode = true;
  r.mode = 02775;
  r.has_gid = true;
  r.gid = 500;
  ASSERT_OK(ns().SetAttr(r, &shared));

  // Caller uid 7, gid 8 everywhere below.
  Inode f, d, l, n;
  ASSERT_OK(ns().Mknod(shared.ino, "f", FileType::kRegular, 0644, 7, 8, 0, &f));
  ASSERT_OK(ns().Mkdir(shared.ino, "d", 0755, 7, 8, &d));
  ASSERT_OK(ns().Symlink(shared.ino, "l", "f", 7, 8, &l));
  ASSERT_OK(ns().Mknod(shared.ino, "p", FileType::kFifo, 0600, 7, 8, 0, &n));
  for (const Inode& in : {f, d, l, n}) {
    EXPECT_EQ(in.uid, 7u) << in.ino;
    EXPECT_EQ(in.gid, 500u) << in.ino;
    EXPECT_EQ(Attr(in.ino).gid, 500u) << in.ino;  // as stored
  }
  EXPECT_EQ(f.mode, 0644u);           // files do not get S_ISGID
  EXPECT_EQ(d.mode, 02755u);          // subdirectories do
  EXPECT_EQ(Attr(d.ino).mode, 02755u);
  // ... and pass it on.
  Inode deeper;
  ASSERT_OK(ns().Mknod(d.ino, "g", FileType::kRegular, 0600, 7, 8, 0, &deeper));
  EXPECT_EQ(deeper.gid, 500u);

  // Without S_ISGID: the caller's group, mode as asked.
  Inode pf, pd;
  ASSERT_OK(ns().Mknod(plain.ino, "f", FileType::kRegular, 0644, 7, 8, 0, &pf));
  ASSERT_OK(ns().Mkdir(plain.ino, "d", 0755, 7, 8, &pd));
  EXPECT_EQ(pf.gid, 8u);
  EXPECT_EQ(pd.gid, 8u);
  EXPECT_EQ(pd.mode, 0755u);
}

TEST_F(NamespaceTest, ParentTimesChangeOnEntryChanges) {
  Inode before = Attr(kRootIno);
  MkFile(kRootIno, "f");
  Inode after = Attr(kRootIno);
  EXPECT_GE(after.mtime_ns, before.mtime_ns);
  EXPECT_GE(after.ctime_ns, before.ctime_ns);
  EXPECT_NE(after.mtime_ns, before.mtime_ns);
}

// What each change of entries reports as the parent is the parent as stored.
TEST_F(NamespaceTest, EntryChangesReportTheParentAsTheyLeftIt) {
  auto same = [&](const Inode& reported, Ino parent) {
    Inode stored = Attr(parent);
    EXPECT_EQ(reported.ino, parent);
    EXPECT_EQ(reported.nlink, stored.nlink);
    EXPECT_EQ(reported.mtime_ns, stored.mtime_ns);
    EXPECT_EQ(reported.ctime_ns, stored.ctime_ns);
    EXPECT_EQ(reported.mode, stored.mode);
  };
  Inode d, f, s, l, dir;
  ASSERT_OK(ns().Mkdir(kRootIno, "d", 0755, 0, 0, &d, &dir));
  same(dir, kRootIno);
  EXPECT_EQ(dir.nlink, 3u);
  ASSERT_OK(ns().Mknod(d.ino, "f", FileType::kRegular, 0644, 0, 0, 0, &f, &dir));
  same(dir, d.ino);
  ASSERT_OK(ns().Symlink(d.ino, "s", "f", 0, 0, &s, &dir));
  same(dir, d.ino);
  ASSERT_OK(ns().Link(f.ino, kRootIno, "l", &l, &dir));
  same(dir, kRootIno);
  Unlinked u;
  ASSERT_OK(ns().Unlink(kRootIno, "l", &u, &dir));
  same(dir, kRootIno);
  ASSERT_OK(ns().Unlink(d.ino, "f", &u, &dir));
  ASSERT_OK(ns().Unlink(d.ino, "s", &u, &dir));
  same(dir, d.ino);
  ASSERT_OK(ns().Rmdir(kRootIno, "d", &u, &dir));
  EXPECT_EQ(u.ino, d.ino);
  same(dir, kRootIno);
  EXPECT_EQ(dir.nlink, 2u);
}

TEST_F(NamespaceTest, ReadDirOfTenThousandEntriesPagesInOrderWithoutDuplicates) {
  Inode d = MkDir(kRootIno, "big");
  std::set<std::string> want;
  for (int i = 0; i < 10000; ++i) {
    std::string name = "e" + std::to_string(i * 7919 % 10000);
    MkFile(d.ino, name);
    want.insert(name);
  }
  std::vector<std::string> seen;
  std::string after;
  bool eof = false;
  int pages = 0;
  while (!eof) {
    std::vector<DirEntry> page;
    ASSERT_OK(ns().ReadDir(d.ino, after, 333, pages % 2 == 0, &page, &eof));
    ASSERT_TRUE(!page.empty() || eof);
    for (const auto& e : page) {
      seen.push_back(e.name);
      if (pages % 2 == 0) {
        EXPECT_EQ(e.attr.ino, e.ino);
      }
    }
    if (!page.empty()) after = page.back().name;
    ASSERT_LT(++pages, 100);
  }
  EXPECT_EQ(seen.size(), 10000u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), want);
  // `after` need not exist.
  std::vector<DirEntry> page;
  ASSERT_OK(ns().ReadDir(d.ino, "e5000a", 1, false, &page, &eof));
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].name, "e5001");
  ASSERT_OK(ns().ReadDir(d.ino, "e9999", 10, false, &page, &eof));
  EXPECT_TRUE(page.empty());
  EXPECT_TRUE(eof);
}

TEST_F(NamespaceTest, UnlinkOfOpenFileKeepsItUntilLastRelease) {
  Inode f = MkFile(kRootIno, "f");
  Inode got;
  ASSERT_OK(ns().Open(f.ino, 7, &got));
  ASSERT_OK(ns().Open(f.ino, 8, &got));
  Unlinked u;
  ASSERT_OK(ns().Unlink(kRootIno, "f", &u));
  EXPECT_EQ(u.nlink, 0u);
  ASSERT_OK(ns().GetAttr(f.ino, &got));
  EXPECT_EQ(got.nlink, 0u);
  EXPECT_CODE(ns().Lookup(kRootIno, "f", &got), kNotFound);
  ASSERT_OK(ns().Release(f.ino, 7));
  ASSERT_OK(ns().GetAttr(f.ino, &got));
  ASSERT_OK(ns().Release(f.ino, 99));  // not held: harmless
  ASSERT_OK(ns().Release(f.ino, 8));
  EXPECT_CODE(ns().GetAttr(f.ino, &got), kNotFound);
  EXPECT_CODE(ns().Open(f.ino, 7, &got), kNotFound);
  EXPECT_EQ(ns().OpenCount(f.ino), 0);
}

TEST_F(NamespaceTest, OrphansSurviveARestartForTheirClientsToOpenAgain) {
  Inode f = MkFile(kRootIno, "f");
  Inode got;
  ASSERT_OK(ns().Open(f.ino, 1, &got));
  Unlinked u;
  ASSERT_OK(ns().Unlink(kRootIno, "f", &u));
  Reopen();  // open counts are gone; the orphan is in its grace period
  ASSERT_OK(ns().GetAttr(f.ino, &got));
  EXPECT_EQ(got.nlink, 0u);
  EXPECT_CODE(ns().Lookup(kRootIno, "f", &got), kNotFound);
  ASSERT_OK(ns().Open(f.ino, 1, &got));  // the client announces its handle again
  ASSERT_OK(ns().Release(f.ino, 1));     // ... and its last Release purges it
  EXPECT_CODE(ns().GetAttr(f.ino, &got), kNotFound);
  // Inode numbers are never reused.
  EXPECT_GT(MkFile(kRootIno, "g").ino, f.ino);
}

// A Namespace of its own, with a short orphan grace.
class OrphanGraceTest : public ::testing::Test {
 protected:
  void Start(int64_t grace_ms) {
    ns_.reset();
    chunks_.reset();
    store_.reset();
    ASSERT_OK(MetaStore::Open(dir_.path(), /*fsync=*/false, &store_));
    chunks_ = std::make_unique<ChunkMap>(store_.get(), 2, 64 << 10);
    ASSERT_OK(chunks_->Load());
    Namespace::Options o;
    o.orphan_grace_ms = grace_ms;
    ns_ = std::make_unique<Namespace>(store_.get(), chunks_.get(), o);
    ASSERT_OK(ns_->Init());
  }
  // Creates, opens (session 9) and unlinks a file: an orphan.
  Ino Orphan(const std::string& name) {
    Inode in, got;
    EXPECT_TRUE(ns_->Mknod(kRootIno, name, FileType::kRegular, 0644, 0, 0, 0, &in).ok());
    EXPECT_TRUE(ns_->Open(in.ino, 9, &got).ok());
    Unlinked u;
    EXPECT_TRUE(ns_->Unlink(kRootIno, name, &u).ok());
    return in.ino;
  }
  bool Exists(Ino ino) {
    Inode got;
    return ns_->GetAttr(ino, &got).ok();
  }

  testing::TempDir dir_;
  std::unique_ptr<MetaStore> store_;
  std::unique_ptr<ChunkMap> chunks_;
  std::unique_ptr<Namespace> ns_;
};

TEST_F(OrphanGraceTest, AfterTheGraceOrphansNobodyOpenedArePurged) {
  Start(60000);
  const Ino kept = Orphan("kept"), dropped = Orphan("dropped");
  Start(300);  // a restart: every handle is forgotten
  ASSERT_TRUE(Exists(kept));
  ASSERT_TRUE(Exists(dropped));
  Inode got;
  ASSERT_OK(ns_->Open(kept, 9, &got));  // reclaimed within the grace
  testing::WaitFor([&] { return !Exists(dropped); }, std::chrono::seconds(10),
                   "unclaimed orphan purged");
  EXPECT_TRUE(Exists(kept));
  EXPECT_EQ(ns_->files(), 1);
  ASSERT_OK(ns_->Release(kept, 9));
  EXPECT_FALSE(Exists(kept));
  EXPECT_EQ(ns_->files(), 0);
}

TEST_F(OrphanGraceTest, NoGraceMeansPurgedAtStartAndStopEndsAPendingSweep) {
  Start(60000);
  const Ino a = Orphan("a");
  Start(0);
  EXPECT_FALSE(Exists(a));
  const Ino b = Orphan("b");
  Start(60000);
  ASSERT_TRUE(Exists(b));
  const auto t0 = std::chrono::steady_clock::now();
  ns_.reset();  // does not wait for the grace
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  Start(0);  // the orphan waited for this start
  EXPECT_FALSE(Exists(b));
}

TEST_F(NamespaceTest, XattrCountIsKeptInTheInode) {
  Inode f = MkFile(kRootIno, "counted");
  EXPECT_EQ(Attr(f.ino).xattrs, 0u);
  ASSERT_OK(ns().SetXattr(f.ino, "user.a", "1", 0));
  ASSERT_OK(ns().SetXattr(f.ino, "user.b", "1", 0));
  ASSERT_OK(ns().SetXattr(f.ino, "user.a", "2", 0));  // replaced: still two
  EXPECT_EQ(Attr(f.ino).xattrs, 2u);
  ASSERT_OK(ns().RemoveXattr(f.ino, "user.a"));
  EXPECT_EQ(Attr(f.ino).xattrs, 1u);
  EXPECT_CODE(ns().RemoveXattr(f.ino, "user.a"), kNoData);
  EXPECT_EQ(Attr(f.ino).xattrs, 1u);
}

TEST_F(NamespaceTest, XattrFlagsNamespacesAndLimits) {
  Inode f = MkFile(kRootIno, "f");
  std::string v;
  EXPECT_CODE(ns().GetXattr(f.ino, "user.a", &v), kNoData);
  EXPECT_CODE(ns().SetXattr(f.ino, "user.a", "1", 2), kNoData);
  ASSERT_OK(ns().SetXattr(f.ino, "user.a", "1", 1));
  EXPECT_CODE(ns().SetXattr(f.ino, "user.a", "2", 1), kExists);
  ASSERT_OK(ns().SetXattr(f.ino, "user.a", "2", 2));
  ASSERT_OK(ns().SetXattr(f.ino, "trusted.b", std::string("\0x", 2), 0));
  ASSERT_OK(ns().GetXattr(f.ino, "user.a", &v));
  EXPECT_EQ(v, "2");
  EXPECT_CODE(ns().SetXattr(f.ino, "system.posix_acl_access", "x", 0), kNotSupported);
  EXPECT_CODE(ns().SetXattr(f.ino, "other.x", "x", 0), kNotSupported);
  EXPECT_CODE(ns().SetXattr(f.ino, "user.x", "x", 3), kInvalid);
  EXPECT_CODE(ns().SetXattr(f.ino, "user." + std::string(251, 'n'), "x", 0), kRange);
  EXPECT_CODE(ns().SetXattr(f.ino, "user.big", std::string((64 << 10) + 1, 'v'), 0), kRange);
  ASSERT_OK(ns().SetXattr(f.ino, "user.max", std::string(64 << 10, 'v'), 0));
  std::vector<std::string> names;
  ASSERT_OK(ns().ListXattr(f.ino, &names));
  EXPECT_EQ(names, (std::vector<std::string>{"trusted.b", "user.a", "user.max"}));
  ASSERT_OK(ns().RemoveXattr(f.ino, "user.a"));
  EXPECT_CODE(ns().RemoveXattr(f.ino, "user.a"), kNoData);
  EXPECT_CODE(ns().GetXattr(999, "user.a", &v), kNotFound);
}

TEST_F(NamespaceTest, SetAttrAndCommitWrite) {
  Inode f = MkFile(kRootIno, "f");
  SetAttrRequest r;
  r.ino = f.ino;
  r.has_mode = true;
  r.mode = 0100600;  // type bits are dropped
  r.has_mtime = true;
  r.mtime_ns = 42;
  Inode got;
  ASSERT_OK(ns().SetAttr(r, &got));
  EXPECT_EQ(got.mode, 0600u);
  EXPECT_EQ(got.mtime_ns, 42);
  EXPECT_GT(got.ctime_ns, f.ctime_ns - 1);
  ASSERT_OK(ns().CommitWrite(f.ino, 1000, 77, &got));
  EXPECT_EQ(got.size, 1000);
  EXPECT_EQ(got.mtime_ns, 77);
  ASSERT_OK(ns().CommitWrite(f.ino, 10, 78, &got));
  EXPECT_EQ(got.size, 1000);  // never shrinks
  SetAttrRequest dir_size;
  dir_size.ino = kRootIno;
  dir_size.has_size = true;
  EXPECT_CODE(ns().SetAttr(dir_size, &got), kIsDir);
  dir_size.ino = f.ino;
  dir_size.size = -1;
  EXPECT_CODE(ns().SetAttr(dir_size, &got), kInvalid);
}

TEST_F(NamespaceTest, TruncateAndPurgeDropChunksAndQueueDeletes) {
  for (auto a : {"h:1", "h:2", "h:3"}) AddServer(a);
  Inode f = MkFile(kRootIno, "f");
  ChunkInfo c;
  for (int i = 0; i < 4; ++i) ASSERT_OK(core_->AllocChunk(f.ino, i, &c));
  EXPECT_EQ(core_->chunks().Total(), 4);
  SetAttrRequest r;
  r.ino = f.ino;
  r.has_size = true;
  r.size = core_->config().chunk_size + 1;  // keeps chunks 0 and 1
  Inode got;
  ASSERT_OK(ns().SetAttr(r, &got));
  std::vector<ChunkInfo> left;
  ASSERT_OK(core_->chunks().GetChunks(f.ino, 0, 100, &left));
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[1].index, 1);
  EXPECT_EQ(core_->chunks().PendingDeletes("h:1"), 2u);
  Unlinked u;
  ASSERT_OK(ns().Unlink(kRootIno, "f", &u));
  EXPECT_EQ(core_->chunks().Total(), 0);
  std::vector<ReplicaHeld> del;
  ASSERT_OK(core_->servers().Heartbeat(ServerUsage{"h:2", 1 << 30, 1 << 30, 0, 0, 0, 0, {}, {}}, &del));
  EXPECT_EQ(del.size(), 4u);
  ASSERT_OK(core_->servers().Heartbeat(ServerUsage{"h:2", 1 << 30, 1 << 30, 0, 0, 0, 0, {}, {}}, &del));
  EXPECT_TRUE(del.empty());
}

TEST_F(NamespaceTest, SymlinkReadLinkAndResolvePath) {
  Inode a = MkDir(kRootIno, "a");
  Inode b = MkDir(a.ino, "b");
  Inode s;
  ASSERT_OK(ns().Symlink(b.ino, "l", "../x", 5, 6, &s));
  EXPECT_EQ(s.type, FileType::kSymlink);
  EXPECT_EQ(s.size, 4);
  std::string t;
  ASSERT_OK(ns().ReadLink(s.ino, &t));
  EXPECT_EQ(t, "../x");
  EXPECT_CODE(ns().ReadLink(b.ino, &t), kInvalid);
  Ino ino = 0;
  ASSERT_OK(ns().ResolvePath("/a/b/l", &ino));
  EXPECT_EQ(ino, s.ino);
  ASSERT_OK(ns().ResolvePath("/", &ino));
  EXPECT_EQ(ino, kRootIno);
  ASSERT_OK(ns().ResolvePath("//a/./b/..", &ino));
  EXPECT_EQ(ino, a.ino);
  EXPECT_CODE(ns().ResolvePath("/a/zz", &ino), kNotFound);
  EXPECT_CODE(ns().ResolvePath("/a/b/l/x", &ino), kNotDir);
  EXPECT_CODE(ns().ResolvePath("a", &ino), kInvalid);
}

}  // namespace
}  // namespace replfs::metad
