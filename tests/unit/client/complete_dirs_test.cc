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
  d.Removed(7, "x", d.Stamp(7));
  EXPECT_TRUE(d.KnownAbsent(7, "x"));
  EXPECT_EQ(d.entries(), 1u);  // the directory itself
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

// This mount's unlink of x is answered; before it applies that, another
// mount's create of x (after the unlink, at metad) arrives on the feed:
// the removal must not erase the name again.
TEST(CompleteDirsTest, ARemovalRacingAnotherMountsChangeForgetsTheDirectory) {
  CompleteDirs d;
  d.Track(7);
  d.Added(7, "x");
  d.Added(7, "y");
  const uint64_t stamp = d.Stamp(7);
  d.MayExist(7, "x");  // already in the set: only the stamp moves
  d.Removed(7, "x", stamp);
  EXPECT_FALSE(d.tracked(7));
  EXPECT_FALSE(d.KnownAbsent(7, "x"));
  // Without a change in between the removal applies; own additions do not
  // move the stamp.
  d.Track(8);
  d.Added(8, "a");
  const uint64_t s8 = d.Stamp(8);
  d.Added(8, "b");
  d.MayExist(7, "elsewhere");
  d.Removed(8, "a", s8);
  EXPECT_TRUE(d.KnownAbsent(8, "a"));
  EXPECT_FALSE(d.KnownAbsent(8, "b"));
}

TEST(CompleteDirsTest, UntrackingForgetsTheDirectoryAndItsNames) {
  CompleteDirs d;
  d.Track(7);
  d.Track(8);
  d.Added(7, "a");
  d.Added(7, "b");
  d.Added(8, "c");
  EXPECT_EQ(d.entries(), 5u);
  d.Untrack(7);
  EXPECT_FALSE(d.KnownAbsent(7, "z"));
  EXPECT_EQ(d.entries(), 2u);
  d.Added(7, "a");  // untracked: not kept
  EXPECT_EQ(d.entries(), 2u);
  d.UntrackAll();
  EXPECT_FALSE(d.KnownAbsent(8, "z"));
  EXPECT_EQ(d.entries(), 0u);
  // Tracking again starts empty.
  d.Track(8);
  d.Added(8, "c");
  d.Track(8);
  EXPECT_TRUE(d.KnownAbsent(8, "c"));
  EXPECT_EQ(d.entries(), 1u);
}

TEST(CompleteDirsTest, PastTheBoundNothingNewIsTracked) {
  CompleteDirs d(/*max_entries=*/5);
  d.Track(1);
  d.Track(2);
  d.Added(1, "a");
  d.Added(1, "b");
  d.Added(2, "c");
  d.Added(2, "c");  // already there: no growth
  EXPECT_TRUE(d.tracked(2));
  d.Added(2, "d");  // a sixth entry: directory 2 goes (2 entries), 1 stays
  EXPECT_FALSE(d.tracked(2));
  EXPECT_FALSE(d.KnownAbsent(2, "e"));
  EXPECT_TRUE(d.tracked(1));
  EXPECT_EQ(d.entries(), 3u);
  d.Track(3);
  d.Track(4);
  EXPECT_TRUE(d.tracked(3));
  EXPECT_TRUE(d.tracked(4));
  d.Track(5);  // full
  EXPECT_FALSE(d.tracked(5));
  EXPECT_FALSE(d.KnownAbsent(5, "x"));
  d.Removed(1, "a", d.Stamp(1));
  d.Added(1, "z");
  EXPECT_FALSE(d.KnownAbsent(1, "z"));
  EXPECT_TRUE(d.KnownAbsent(1, "a"));
}

}  // namespace
}  // namespace replfs::client
