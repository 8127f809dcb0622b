// KnownFiles: a name and its file's attributes, as metad last answered,
// until anything may have changed them; an answer that overlapped another
// note or forget leaves nothing behind.
#include "fuse/known_files.h"

#include <gtest/gtest.h>

namespace replfs::client {
namespace {

using std::chrono::milliseconds;

Attr File(uint64_t ino, int64_t size, uint32_t nlink = 1) {
  Attr a;
  a.ino = ino;
  a.type = FileType::kRegular;
  a.size = size;
  a.nlink = nlink;
  return a;
}

KnownFiles::Clock::time_point fake_now{};
KnownFiles::Clock::time_point FakeNow() { return fake_now; }

TEST(KnownFilesTest, AnswersWithWhatMetadLastSaidForAsLongAsTheKernelMayCacheIt) {
  fake_now = {};
  KnownFiles k(milliseconds(30000), KnownFiles::kMaxEntries, &FakeNow);
  Attr got;
  milliseconds left{};
  EXPECT_FALSE(k.Find(1, "f", &got, &left));
  k.Note(1, "f", File(7, 0), k.Stamp());
  ASSERT_TRUE(k.Find(1, "f", &got, &left));
  EXPECT_EQ(got.ino, 7u);
  EXPECT_EQ(left, milliseconds(30000));
  fake_now += milliseconds(10000);
  ASSERT_TRUE(k.Find(1, "f", &got, &left));
  EXPECT_EQ(left, milliseconds(20000));
  k.NoteAttrs(File(7, 4096), k.Stamp());  // the commit of its writes
  ASSERT_TRUE(k.Find(1, "f", &got, &left)) << "answers are used again and again";
  ASSERT_TRUE(k.Find(1, "f", &got, &left));
  EXPECT_EQ(got.size, 4096);
  EXPECT_EQ(left, milliseconds(20000)) << "the name is as old as the lookup that brought it";
  fake_now += milliseconds(20000);
  EXPECT_FALSE(k.Find(1, "f", &got, &left)) << "older than the kernel could have cached it";
  k.NoteAttrs(File(7, 4096), k.Stamp());
  EXPECT_FALSE(k.Find(1, "f", &got, &left)) << "new attributes do not renew an old name";
  k.Note(1, "f", File(7, 4096), k.Stamp());
  ASSERT_TRUE(k.Find(1, "f", &got, &left));
  EXPECT_EQ(left, milliseconds(30000));
  EXPECT_FALSE(k.Find(2, "f", &got, &left));
  EXPECT_FALSE(k.Find(1, "g", &got, &left));
}

TEST(KnownFilesTest, AnAnswerOverlappingAnotherChangeLeavesNothing) {
  KnownFiles k(milliseconds(30000));
  Attr got;
  milliseconds left{};
  k.Note(1, "f", File(7, 100), k.Stamp());
  // A lookup is sent; a chmod through this mount is answered and forgets;
  // then the lookup's answer (from before the chmod) arrives.
  uint64_t lookup = k.Stamp();
  k.ForgetIno(7);
  k.Note(1, "f", File(7, 100), lookup);
  EXPECT_FALSE(k.Find(1, "f", &got, &left));
  // Two answers in flight: whichever is noted first, the second one finds
  // its stamp old and drops what the first left.
  k.Note(1, "f", File(7, 100), k.Stamp());
  const uint64_t a = k.Stamp();
  const uint64_t b = k.Stamp();
  k.NoteAttrs(File(7, 200), b);  // the newer answer, noted first
  ASSERT_TRUE(k.Find(1, "f", &got, &left));
  k.NoteAttrs(File(7, 100), a);  // the older one, late
  EXPECT_FALSE(k.Find(1, "f", &got, &left));
}

TEST(KnownFilesTest, ANameOrInodeThatMayHaveChangedIsForgotten) {
  KnownFiles k(milliseconds(30000));
  Attr got;
  milliseconds left{};
  k.Note(1, "f", File(7, 0, 2), k.Stamp());
  k.Note(2, "hardlink", File(7, 0, 2), k.Stamp());
  k.ForgetName(1, "f");  // unlinked: the other name's link count is wrong too
  EXPECT_FALSE(k.Find(1, "f", &got, &left));
  EXPECT_FALSE(k.Find(2, "hardlink", &got, &left));
  k.NoteAttrs(File(7, 0, 1), k.Stamp());  // asked metad again
  ASSERT_TRUE(k.Find(2, "hardlink", &got, &left));
  EXPECT_EQ(got.nlink, 1u);
  EXPECT_FALSE(k.Find(1, "f", &got, &left));

  k.ForgetIno(7);
  EXPECT_FALSE(k.Find(2, "hardlink", &got, &left));
  k.Note(3, "g", File(8, 0), k.Stamp());
  k.ForgetAll();
  EXPECT_FALSE(k.Find(3, "g", &got, &left));
  EXPECT_EQ(k.entries(), 0u);
}

TEST(KnownFilesTest, OnlyRegularFilesAndOnlyWithALifetime) {
  KnownFiles k(milliseconds(30000));
  Attr got;
  milliseconds left{};
  k.Note(1, "f", File(7, 0), k.Stamp());
  Attr dir = File(7, 0);
  dir.type = FileType::kDirectory;  // the name now names a directory
  k.Note(1, "f", dir, k.Stamp());
  EXPECT_FALSE(k.Find(1, "f", &got, &left));
  Attr link = File(9, 0);
  link.type = FileType::kSymlink;
  k.Note(1, "l", link, k.Stamp());
  EXPECT_FALSE(k.Find(1, "l", &got, &left));

  KnownFiles off(milliseconds(0));  // coherent_timeout = 0: no change feed
  off.Note(1, "f", File(7, 0), off.Stamp());
  EXPECT_FALSE(off.Find(1, "f", &got, &left));
  EXPECT_EQ(off.entries(), 0u);
}

TEST(KnownFilesTest, MemoryIsBounded) {
  KnownFiles k(milliseconds(30000), 10);
  for (uint64_t i = 1; i <= 100; ++i) {
    k.Note(1, "f" + std::to_string(i), File(i, 0), k.Stamp());
    EXPECT_LE(k.entries(), 10u);
  }
  Attr got;
  milliseconds left{};
  EXPECT_TRUE(k.Find(1, "f100", &got, &left));
}

}  // namespace
}  // namespace replfs::client
