#include "fuse/kernel_state.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "tests/util/test_util.h"

namespace replfs::client {
namespace {

using replfs::testing::WaitFor;

TEST(LookupCountsTest, CountsPairWithForgets) {
  LookupCounts c;
  c.Add(5);
  c.Add(5, 2);
  EXPECT_EQ(c.Get(5), 3u);
  EXPECT_FALSE(c.Forget(5, 2));
  EXPECT_TRUE(c.Forget(5, 1));
  EXPECT_EQ(c.Get(5), 0u);
}

TEST(LookupCountsDeathTest, UnderflowAbortsLoudly) {
  LookupCounts c;
  c.Add(7);
  EXPECT_DEATH(c.Forget(7, 2), "lookup count");
}

TEST(InvalidatorTest, NotifiesOnItsOwnThread) {
  Mutex mu;
  std::vector<Invalidation> seen;
  std::atomic<bool> other_thread{true};
  const auto caller = std::this_thread::get_id();
  Invalidator inv([&](const Invalidation& what) {
    if (std::this_thread::get_id() == caller) other_thread = false;
    MutexLock l(&mu);
    seen.push_back(what);
  });
  inv.Queue(Invalidation::Attrs(3));
  inv.Queue(Invalidation::Entry(1, "a"));
  inv.Queue(Invalidation::All(4));
  inv.Queue(Invalidation::Entry(1, "b"));
  WaitFor([&] {
    MutexLock l(&mu);
    return seen.size() == 4;
  }, std::chrono::seconds(5), "every invalidation");
  inv.Stop();
  inv.Stop();  // idempotent
  inv.Queue(Invalidation::Attrs(9));  // ignored after Stop
  EXPECT_TRUE(other_thread);
  MutexLock l(&mu);
  // In order; the same inode or name twice while queued counts once, but
  // an inode's attributes and its contents are different things.
  std::set<Invalidation> distinct(seen.begin(), seen.end());
  EXPECT_EQ(distinct.size(), seen.size());
  EXPECT_TRUE(distinct.count(Invalidation::Attrs(3)));
  EXPECT_TRUE(distinct.count(Invalidation::All(4)));
  EXPECT_TRUE(distinct.count(Invalidation::Entry(1, "a")));
  EXPECT_TRUE(distinct.count(Invalidation::Entry(1, "b")));
}

TEST(ParentHintsTest, FallsBackToTheDirectoryItself) {
  ParentHints h;
  EXPECT_EQ(h.Get(1), 1u);
  h.Set(10, 1);
  EXPECT_EQ(h.Get(10), 1u);
  h.Erase(10);
  EXPECT_EQ(h.Get(10), 10u);
}

}  // namespace
}  // namespace replfs::client
