// The change feed: keys to changes, sessions left out of their own
// changes, the ring's bounds, generations, and waiting.
#include "daemons/metad/change_feed.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "daemons/metad/records.h"
#include "tests/util/test_util.h"

namespace replfs::metad {
namespace {

using std::chrono::milliseconds;
using Kind = FeedChange::Kind;

constexpr milliseconds kNoWait{0};

TEST(ChangeFeedTest, KeysBecomeInodeAndEntryChanges) {
  ChangeFeed feed(7);
  // A create: the new inode, the parent, the entry, a counter. An xattr
  // change: the inode once, however many of its keys.
  feed.RecordKeys(5, {InodeKey(10), InodeKey(1), DentryKey(1, "new"), CounterKey("ino")});
  feed.RecordKeys(6, {XattrKey(10, "user.a"), XattrKey(10, "user.b"), InodeKey(10), ChunkKey(10, 0),
                      ServerKey("127.0.0.1:1"), OrphanKey(10)});
  FeedBatch b = feed.Read(7, 0, /*session=*/99, kNoWait);
  EXPECT_FALSE(b.lost);
  EXPECT_EQ(b.generation, 7u);
  EXPECT_EQ(b.last, 4);
  ASSERT_EQ(b.changes.size(), 4u);
  EXPECT_EQ(b.changes[0].kind, Kind::kInode);
  EXPECT_EQ(b.changes[0].ino, 10u);
  EXPECT_EQ(b.changes[1].ino, 1u);
  EXPECT_EQ(b.changes[2].kind, Kind::kEntry);
  EXPECT_EQ(b.changes[2].ino, 1u);
  EXPECT_EQ(b.changes[2].name, "new");
  EXPECT_EQ(b.changes[3].kind, Kind::kInode);
  EXPECT_EQ(b.changes[3].ino, 10u);
  // Nothing after the last position.
  b = feed.Read(7, 4, 99, kNoWait);
  EXPECT_FALSE(b.lost);
  EXPECT_EQ(b.last, 4);
  EXPECT_TRUE(b.changes.empty());
}

TEST(ChangeFeedTest, ASessionIsNotToldOfItsOwnChanges) {
  ChangeFeed feed(7);
  feed.RecordKeys(5, {InodeKey(10)});
  feed.RecordKeys(0, {InodeKey(11)});  // metad's own (repair, purge): for everyone
  feed.RecordKeys(6, {InodeKey(12)});
  FeedBatch b = feed.Read(7, 0, 5, kNoWait);
  EXPECT_EQ(b.last, 3);
  ASSERT_EQ(b.changes.size(), 2u);
  EXPECT_EQ(b.changes[0].ino, 11u);
  EXPECT_EQ(b.changes[1].ino, 12u);
  b = feed.Read(7, 0, 6, kNoWait);
  ASSERT_EQ(b.changes.size(), 2u);
  EXPECT_EQ(b.changes[0].ino, 10u);
  // Only its own changes since: the position still moves past them.
  feed.RecordKeys(5, {InodeKey(13)});
  b = feed.Read(7, 3, 5, kNoWait);
  EXPECT_EQ(b.last, 4);
  EXPECT_TRUE(b.changes.empty());
}

TEST(ChangeFeedTest, FallingBehindTheRingOrAnotherGenerationIsLost) {
  ChangeFeed feed(7, /*capacity=*/3);
  FeedBatch b = feed.Read(0, -1, 1, kNoWait);  // start following
  EXPECT_EQ(b.generation, 7u);
  EXPECT_EQ(b.last, 0);
  EXPECT_FALSE(b.lost);
  for (Ino i = 10; i < 15; ++i) feed.RecordKeys(2, {InodeKey(i)});  // positions 1..5, ring 3..5
  b = feed.Read(7, 1, 1, kNoWait);
  EXPECT_TRUE(b.lost);
  ASSERT_EQ(b.changes.size(), 3u);
  EXPECT_EQ(b.changes[0].ino, 12u);
  EXPECT_EQ(b.last, 5);
  // Just within the ring: nothing lost.
  b = feed.Read(7, 2, 1, kNoWait);
  EXPECT_FALSE(b.lost);
  EXPECT_EQ(b.changes.size(), 3u);
  // A reader of an earlier metad process, or at a position never given out.
  b = feed.Read(6, 5, 1, kNoWait);
  EXPECT_TRUE(b.lost);
  EXPECT_EQ(b.generation, 7u);
  EXPECT_EQ(b.last, 5);
  b = feed.Read(7, 99, 1, kNoWait);
  EXPECT_TRUE(b.lost);
  EXPECT_EQ(b.last, 5);
}

// Another session's change that the ring drops while a reader waits (its
// own changes flood the ring before it runs again) is reported lost, never
// skipped silently; the reader's own dropped changes are no loss.
TEST(ChangeFeedTest, ADroppedChangeOfAnotherSessionIsLostEvenWhileWaiting) {
  for (int round = 0; round < 50; ++round) {
    ChangeFeed feed(7, /*capacity=*/3);
    FeedBatch got;
    std::thread reader([&] { got = feed.Read(7, 0, /*session=*/5, std::chrono::seconds(30)); });
    testing::WaitFor([&] { return feed.waiting() == 1; }, std::chrono::seconds(10), "the reader to wait");
    feed.RecordKeys(6, {InodeKey(100)});
    std::vector<std::string> flood;  // one mutation: the reader cannot run in between
    for (Ino i = 0; i < 10; ++i) flood.push_back(InodeKey(200 + i));
    feed.RecordKeys(5, flood);
    reader.join();
    const bool seen = std::any_of(got.changes.begin(), got.changes.end(),
                                  [](const FeedChange& c) { return c.ino == 100; });
    ASSERT_TRUE(seen || got.lost) << "round " << round << ": the change was dropped without a word";
  }
  // Only the reader's own changes dropped while it waits: not lost.
  ChangeFeed feed(7, 3);
  FeedBatch got;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    got = feed.Read(7, 0, 5, std::chrono::seconds(30));
    done = true;
  });
  for (Ino i = 0; i < 10; ++i) feed.RecordKeys(5, {InodeKey(200 + i)});
  feed.RecordKeys(6, {InodeKey(100)});
  reader.join();
  ASSERT_TRUE(done);
  if (!got.lost) {
    ASSERT_EQ(got.changes.size(), 1u);
    EXPECT_EQ(got.changes[0].ino, 100u);
  } else {
    // It started after the flood: its position 0 was no longer held.
    EXPECT_FALSE(got.changes.empty());
  }
}

TEST(ChangeFeedTest, AReadWaitsForSomeoneElsesChangeAndStopEndsIt) {
  ChangeFeed feed(7);
  std::atomic<bool> done{false};
  FeedBatch got;
  std::thread reader([&] {
    got = feed.Read(7, 0, /*session=*/1, std::chrono::seconds(60));
    done = true;
  });
  // The reader's own change does not end its wait; another session's does.
  feed.RecordKeys(1, {InodeKey(20)});
  feed.RecordKeys(2, {DentryKey(1, "x")});
  testing::WaitFor([&] { return done.load(); }, std::chrono::seconds(30), "the read to return");
  reader.join();
  EXPECT_EQ(got.last, 2);
  ASSERT_EQ(got.changes.size(), 1u);
  EXPECT_EQ(got.changes[0].name, "x");

  done = false;
  std::thread waiter([&] {
    got = feed.Read(7, 2, 1, std::chrono::seconds(60));
    done = true;
  });
  feed.Stop();
  testing::WaitFor([&] { return done.load(); }, std::chrono::seconds(30), "Stop to end the wait");
  waiter.join();
  EXPECT_TRUE(got.changes.empty());
  EXPECT_EQ(got.last, 2);
  // After Stop, reads return at once.
  got = feed.Read(7, 2, 1, std::chrono::seconds(60));
  EXPECT_TRUE(got.changes.empty());
}

}  // namespace
}  // namespace replfs::metad
