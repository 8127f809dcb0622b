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
  std::set<uint64_t> seen;
  std::atomic<bool> other_thread{true};
  const auto caller = std::this_thread::get_id();
  Invalidator inv([&](uint64_t ino) {
    if (std::this_thread::get_id() == caller) other_thread = false;
    MutexLock l(&mu);
    seen.insert(ino);
  });
  inv.Queue(3);
  inv.Queue(4);
  inv.Queue(3);
  WaitFor([&] {
    MutexLock l(&mu);
    return seen.size() == 2;
  }, std::chrono::seconds(5), "both inodes invalidated");
  inv.Stop();
  inv.Stop();  // idempotent
  inv.Queue(9);  // ignored after Stop
  EXPECT_TRUE(other_thread);
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
