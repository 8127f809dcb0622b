// CompleteDirs: a name outside a tracked directory's set does not exist;
// anything uncertain makes the directory (or the name) "ask metad".
#include "fuse/complete_dirs.h"

#include <gtest/gtest.h>

namespace replfs::client {
namespace {

TEST(CompleteDirsTest, OnlyATrackedDirectoryKnowsWhatIsAbsent) {
  CompleteDirs d;
  EXPECT_FALSE(d.KnownAbsent(7, "x")) << "untracked: ask metad";
  d.Track(7);
  EXPECT_TRUE(d.KnownAbsent(7, "x"));
  d.Added(7, "x");
  EXPECT_FALSE(d.KnownAbsent(7, "x"));
  EXPECT_TRUE(d.KnownAbsent(7, "y"));
  EXPECT_FALSE(d.KnownAbsent(8, "y"));
  d.Removed(7, "x");
  EXPECT_TRUE(d.KnownAbsent(7, "x"));
  EXPECT_EQ(d.names(), 0u);
}

TEST(CompleteDirsTest, AnotherMountsChangeMakesTheNameWorthALookup) {
  CompleteDirs d;
  d.Track(7);
  d.MayExist(7, "theirs");
  EXPECT_FALSE(d.KnownAbsent(7, "theirs"));
  EXPECT_TRUE(d.KnownAbsent(7, "other"));
  // A change in an untracked directory starts nothing.
  d.MayExist(9, "a");
  EXPECT_FALSE(d.tracked(9));
}

TEST(CompleteDirsTest, UntrackingForgetsTheDirectoryAndItsNames) {
  CompleteDirs d;
  d.Track(7);
  d.Track(8);
  d.Added(7, "a");
  d.Added(7, "b");
  d.Added(8, "c");
  EXPECT_EQ(d.names(), 3u);
  d.Untrack(7);
  EXPECT_FALSE(d.KnownAbsent(7, "z"));
  EXPECT_EQ(d.names(), 1u);
  d.Added(7, "a");  // untracked: not kept
  EXPECT_EQ(d.names(), 1u);
  d.UntrackAll();
  EXPECT_FALSE(d.KnownAbsent(8, "z"));
  EXPECT_EQ(d.names(), 0u);
  // Tracking again starts empty (a directory made again under that inode
  // is not possible, but a second Track must not keep stale names).
  d.Track(8);
  d.Added(8, "c");
  d.Track(8);
  EXPECT_TRUE(d.KnownAbsent(8, "c"));
  EXPECT_EQ(d.names(), 0u);
}

TEST(CompleteDirsTest, PastTheBoundTheGrowingDirectoryIsForgotten) {
  CompleteDirs d(/*max_names=*/3);
  d.Track(1);
  d.Track(2);
  d.Added(1, "a");
  d.Added(1, "b");
  d.Added(2, "c");
  d.Added(2, "c");  // already there: no growth
  EXPECT_TRUE(d.tracked(2));
  d.Added(2, "d");  // a fourth name: directory 2 goes, 1 stays
  EXPECT_FALSE(d.tracked(2));
  EXPECT_FALSE(d.KnownAbsent(2, "e"));
  EXPECT_TRUE(d.tracked(1));
  EXPECT_EQ(d.names(), 2u);
  d.Removed(1, "a");
  d.Added(1, "z");
  EXPECT_FALSE(d.KnownAbsent(1, "z"));
  EXPECT_TRUE(d.KnownAbsent(1, "a"));
}

}  // namespace
}  // namespace replfs::client
