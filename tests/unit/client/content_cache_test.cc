// ContentCache: whole contents of small files, found only at the version
// they were committed with, bounded, oldest out first.
#include "fuse/content_cache.h"

#include <gtest/gtest.h>

namespace replfs::client {
namespace {

Attr Version(uint64_t ino, int64_t size, int64_t mtime_ns, int64_t ctime_ns) {
  Attr a;
  a.ino = ino;
  a.size = size;
  a.mtime_ns = mtime_ns;
  a.ctime_ns = ctime_ns;
  return a;
}

TEST(ContentCacheTest, FindsTheContentAtTheVersionItWasCommittedWith) {
  ContentCache c(1 << 20);
  c.Put(Version(7, 2, 100, 100), "x\n");
  ContentCache::Bytes b = c.Find(Version(7, 2, 100, 100));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(*b, "x\n");
  EXPECT_EQ(c.Find(Version(8, 2, 100, 100)), nullptr);
  ASSERT_NE(c.Find(Version(7, 2, 100, 100)), nullptr) << "finding keeps it";
}

TEST(ContentCacheTest, AnotherVersionDropsIt) {
  // Each field alone: size (grown elsewhere), mtime (written elsewhere),
  // ctime (mtime set back with touch -d, or chmod).
  for (const Attr& other : {Version(7, 3, 100, 100), Version(7, 2, 101, 101), Version(7, 2, 100, 150)}) {
    ContentCache c(1 << 20);
    c.Put(Version(7, 2, 100, 100), "x\n");
    EXPECT_EQ(c.Find(other), nullptr);
    EXPECT_EQ(c.Find(Version(7, 2, 100, 100)), nullptr) << "dropped, not only missed";
    EXPECT_EQ(c.bytes(), 0u);
  }
}

TEST(ContentCacheTest, KeepsOnlyWholeContents) {
  ContentCache c(16);
  c.Put(Version(7, 5, 100, 100), "x\n");  // the file is larger than what was sent
  EXPECT_EQ(c.Find(Version(7, 5, 100, 100)), nullptr);
  c.Put(Version(8, 17, 100, 100), std::string(17, 'a'));  // larger than the cache
  EXPECT_EQ(c.Find(Version(8, 17, 100, 100)), nullptr);
  c.Put(Version(0, 2, 100, 100), "x\n");  // no inode
  EXPECT_EQ(c.bytes(), 0u);
}

TEST(ContentCacheTest, TheOldestGoFirstWhenFull) {
  ContentCache c(10);
  c.Put(Version(1, 4, 1, 1), "aaaa");
  c.Put(Version(2, 4, 1, 1), "bbbb");
  c.Put(Version(1, 4, 2, 2), "AAAA");  // again: now the newest
  c.Put(Version(3, 4, 1, 1), "cccc");  // 12 > 10: inode 2 goes
  EXPECT_EQ(c.Find(Version(2, 4, 1, 1)), nullptr);
  ASSERT_NE(c.Find(Version(1, 4, 2, 2)), nullptr);
  EXPECT_EQ(*c.Find(Version(1, 4, 2, 2)), "AAAA");
  ASSERT_NE(c.Find(Version(3, 4, 1, 1)), nullptr);
  EXPECT_EQ(c.bytes(), 8u);
}

TEST(ContentCacheTest, ForgetAndClear) {
  ContentCache c(100);
  c.Put(Version(1, 1, 1, 1), "a");
  c.Put(Version(2, 1, 1, 1), "b");
  c.Forget(1);
  EXPECT_EQ(c.Find(Version(1, 1, 1, 1)), nullptr);
  ASSERT_NE(c.Find(Version(2, 1, 1, 1)), nullptr);
  c.Clear();
  EXPECT_EQ(c.Find(Version(2, 1, 1, 1)), nullptr);
  EXPECT_EQ(c.bytes(), 0u);
  c.Put(Version(3, 1, 1, 1), "c");  // usable after a clear
  EXPECT_NE(c.Find(Version(3, 1, 1, 1)), nullptr);
}

}  // namespace
}  // namespace replfs::client
