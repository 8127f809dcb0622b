// Rename: flags and the POSIX edge cases.
#include "tests/unit/metad/metad_test_util.h"

namespace replfs::metad {
namespace {

using RenameTest = CoreTest;

TEST_F(RenameTest, MovesFilesAndDirectoriesAndFixesLinkCounts) {
  Inode a = MkDir(kRootIno, "a");
  Inode b = MkDir(kRootIno, "b");
  Inode sub = MkDir(a.ino, "sub");
  Inode f = MkFile(a.ino, "f");
  Unlinked u;
  ASSERT_OK(ns().Rename(a.ino, "sub", b.ino, "sub2", {}, &u));
  EXPECT_EQ(u.ino, 0u);
  EXPECT_EQ(Attr(a.ino).nlink, 2u);
  EXPECT_EQ(Attr(b.ino).nlink, 3u);
  Ino ino = 0;
  ASSERT_OK(ns().ResolvePath("/b/sub2/..", &ino));
  EXPECT_EQ(ino, b.ino);
  ASSERT_OK(ns().Rename(a.ino, "f", a.ino, "g", {}, &u));
  Inode got;
  ASSERT_OK(ns().Lookup(a.ino, "g", &got));
  EXPECT_EQ(got.ino, f.ino);
  EXPECT_CODE(ns().Lookup(a.ino, "f", &got), kNotFound);
  EXPECT_CODE(ns().Rename(a.ino, "missing", a.ino, "x", {}, &u), kNotFound);
  (void)sub;
}

TEST_F(RenameTest, IntoOwnSubtreeIsInvalid) {
  Inode a = MkDir(kRootIno, "a");
  Inode b = MkDir(a.ino, "b");
  Inode c = MkDir(b.ino, "c");
  Unlinked u;
  EXPECT_CODE(ns().Rename(kRootIno, "a", c.ino, "a", {}, &u), kInvalid);
  EXPECT_CODE(ns().Rename(kRootIno, "a", a.ino, "x", {}, &u), kInvalid);
  EXPECT_CODE(ns().Rename(kRootIno, "a", b.ino, "x", RenameFlags{false, false}, &u), kInvalid);
  MkFile(c.ino, "f");
  // Exchanging a file deep inside /a with /a itself.
  EXPECT_CODE(ns().Rename(c.ino, "f", kRootIno, "a", RenameFlags{false, true}, &u), kInvalid);
  // Exchanging a directory with something inside it.
  Inode a2 = MkDir(kRootIno, "p");
  MkDir(a2.ino, "q");
  EXPECT_CODE(ns().Rename(kRootIno, "p", a2.ino, "q", RenameFlags{false, true}, &u), kInvalid);
}

TEST_F(RenameTest, ReplacementRules) {
  Inode d1 = MkDir(kRootIno, "d1");
  Inode d2 = MkDir(kRootIno, "d2");
  Inode full = MkDir(kRootIno, "full");
  MkFile(full.ino, "x");
  Inode f = MkFile(kRootIno, "f");
  Unlinked u;
  EXPECT_CODE(ns().Rename(kRootIno, "d1", kRootIno, "full", {}, &u), kNotEmpty);
  EXPECT_CODE(ns().Rename(kRootIno, "d1", kRootIno, "f", {}, &u), kNotDir);
  EXPECT_CODE(ns().Rename(kRootIno, "f", kRootIno, "d1", {}, &u), kIsDir);
  EXPECT_CODE(ns().Rename(kRootIno, "f", kRootIno, "d1", RenameFlags{true, false}, &u), kExists);
  EXPECT_CODE(ns().Rename(kRootIno, "f", kRootIno, "nope", RenameFlags{false, true}, &u), kNotFound);
  EXPECT_CODE(ns().Rename(kRootIno, "f", kRootIno, "g", RenameFlags{true, true}, &u), kInvalid);
  const uint32_t root_links = Attr(kRootIno).nlink;
  ASSERT_OK(ns().Rename(kRootIno, "d1", kRootIno, "d2", {}, &u));  // over an empty dir
  EXPECT_EQ(u.ino, d2.ino);
  EXPECT_EQ(u.nlink, 0u);
  EXPECT_EQ(Attr(kRootIno).nlink, root_links - 1);
  Inode gone;
  EXPECT_CODE(ns().GetAttr(d2.ino, &gone), kNotFound);
  ASSERT_OK(ns().Lookup(kRootIno, "d2", &gone));
  EXPECT_EQ(gone.ino, d1.ino);
  // A file over a file that has another link: the target keeps one.
  Inode g = MkFile(kRootIno, "g");
  Inode l;
  ASSERT_OK(ns().Link(g.ino, kRootIno, "g2", &l));
  ASSERT_OK(ns().Rename(kRootIno, "f", kRootIno, "g", {}, &u));
  EXPECT_EQ(u.ino, g.ino);
  EXPECT_EQ(u.nlink, 1u);
  EXPECT_EQ(Attr(g.ino).nlink, 1u);
  (void)f;
}

TEST_F(RenameTest, OntoItselfOrAHardLinkIsANoOp) {
  Inode f = MkFile(kRootIno, "f");
  Inode l;
  ASSERT_OK(ns().Link(f.ino, kRootIno, "h", &l));
  Unlinked u;
  ASSERT_OK(ns().Rename(kRootIno, "f", kRootIno, "f", {}, &u));
  ASSERT_OK(ns().Rename(kRootIno, "f", kRootIno, "h", {}, &u));
  EXPECT_EQ(u.ino, 0u);
  Inode got;
  ASSERT_OK(ns().Lookup(kRootIno, "f", &got));
  ASSERT_OK(ns().Lookup(kRootIno, "h", &got));
  EXPECT_EQ(got.nlink, 2u);
}

TEST_F(RenameTest, ExchangeSwapsFileAndDirectoryAcrossParents) {
  Inode p1 = MkDir(kRootIno, "p1");
  Inode p2 = MkDir(kRootIno, "p2");
  Inode f = MkFile(p1.ino, "f");
  Inode d = MkDir(p2.ino, "d");
  Unlinked u;
  ASSERT_OK(ns().Rename(p1.ino, "f", p2.ino, "d", RenameFlags{false, true}, &u));
  EXPECT_EQ(u.ino, 0u);
  Inode got;
  ASSERT_OK(ns().Lookup(p1.ino, "f", &got));
  EXPECT_EQ(got.ino, d.ino);
  EXPECT_EQ(got.type, FileType::kDirectory);
  ASSERT_OK(ns().Lookup(p2.ino, "d", &got));
  EXPECT_EQ(got.ino, f.ino);
  EXPECT_EQ(Attr(p1.ino).nlink, 3u);
  EXPECT_EQ(Attr(p2.ino).nlink, 2u);
  Ino ino = 0;
  ASSERT_OK(ns().ResolvePath("/p1/f/..", &ino));
  EXPECT_EQ(ino, p1.ino);
}

TEST_F(RenameTest, OverwrittenOpenFileBecomesOrphan) {
  MkFile(kRootIno, "a");
  Inode b = MkFile(kRootIno, "b");
  Inode got;
  ASSERT_OK(ns().Open(b.ino, 1, &got));
  Unlinked u;
  ASSERT_OK(ns().Rename(kRootIno, "a", kRootIno, "b", {}, &u));
  EXPECT_EQ(u.ino, b.ino);
  EXPECT_EQ(u.nlink, 0u);
  ASSERT_OK(ns().GetAttr(b.ino, &got));
  ASSERT_OK(ns().Release(b.ino, 1));
  EXPECT_CODE(ns().GetAttr(b.ino, &got), kNotFound);
}

}  // namespace
}  // namespace replfs::metad
