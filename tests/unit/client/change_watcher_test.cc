// ChangeWatcher against a fake metad that answers scripted WatchChanges.
#include "fuse/change_watcher.h"

#include <gtest/gtest.h>

#include "fakes.h"
#include "tests/util/test_util.h"

namespace replfs::client::testing {
namespace {

rpc::ChangeBatch Batch(int64_t generation, int64_t last, bool lost, std::vector<rpc::Change> changes = {}) {
  rpc::ChangeBatch b;
  b.generation = generation;
  b.last = last;
  b.lost = lost;
  b.changes = std::move(changes);
  return b;
}

rpc::Change Change(rpc::ChangeKind::type kind, int64_t ino, std::string name = {}) {
  rpc::Change c;
  c.kind = kind;
  c.ino = ino;
  c.name = std::move(name);
  return c;
}

class ChangeWatcherTest : public ::testing::Test {
 protected:
  ChangeWatcherTest() : meta_(HostPort{"127.0.0.1", served_.server->port()}, FastOptions()) {}

  ServedMeta served_;
  MetaClient meta_;
  Mutex mu_;
  std::vector<NsChange> changes_ GUARDED_BY(mu_);
  std::atomic<int> lost_{0};
  std::atomic<int> started_{0};
  std::atomic<size_t> changes_at_start_{99};

  ChangeWatcher::Callbacks Record() {
    ChangeWatcher::Callbacks cb;
    cb.changed = [this](const NsChange& c) {
      MutexLock l(&mu_);
      changes_.push_back(c);
    };
    cb.lost = [this] { ++lost_; };
    cb.started = [this] {
      MutexLock l(&mu_);
      changes_at_start_ = changes_.size();
      ++started_;
    };
    return cb;
  }
};

TEST_F(ChangeWatcherTest, DeliversChangesResumesFromItsPositionAndReportsLosses) {
  served_.handler->ScriptWatch({
      Batch(5, 10, false),  // the answer to "start now"
      Batch(5, 12, false, {Change(rpc::ChangeKind::INODE, 7), Change(rpc::ChangeKind::ENTRY, 1, "x")}),
      Batch(6, 3, true),  // metad restarted
  });
  ChangeWatcher w(&meta_, 42, std::chrono::milliseconds(100), Record());
  replfs::testing::WaitFor([&] { return lost_.load() == 1 && served_.handler->Watches().size() >= 4; },
                           std::chrono::seconds(10), "the script to be played");
  const uint64_t epoch = w.Epoch();
  EXPECT_TRUE(w.live());
  // Once, when the feed is first followed, before anything it brings:
  // what the mount learned before may have missed changes.
  EXPECT_EQ(started_.load(), 1);
  EXPECT_EQ(changes_at_start_.load(), 0u);
  EXPECT_TRUE(w.Coherent(epoch));
  {
    MutexLock l(&mu_);
    ASSERT_EQ(changes_.size(), 2u);
    EXPECT_EQ(changes_[0].kind, NsChange::Kind::kInode);
    EXPECT_EQ(changes_[0].ino, 7u);
    EXPECT_EQ(changes_[1].kind, NsChange::Kind::kEntry);
    EXPECT_EQ(changes_[1].ino, 1u);
    EXPECT_EQ(changes_[1].name, "x");
  }
  // Each poll asks after the position the previous answer gave, in the
  // generation it came from.
  const auto calls = served_.handler->Watches();
  EXPECT_EQ(calls[0], std::make_pair(int64_t{0}, int64_t{-1}));
  EXPECT_EQ(calls[1], std::make_pair(int64_t{5}, int64_t{10}));
  EXPECT_EQ(calls[2], std::make_pair(int64_t{5}, int64_t{12}));
  EXPECT_EQ(calls[3], std::make_pair(int64_t{6}, int64_t{3}));
  w.Stop();
  EXPECT_FALSE(w.live());
  EXPECT_FALSE(w.Coherent(w.Epoch())) << "nothing may be cached long once the feed is not followed";
}

TEST_F(ChangeWatcherTest, AnEpochFromBeforeAChangeIsNotCoherent) {
  served_.handler->ScriptWatch({Batch(5, 10, false)});
  ChangeWatcher w(&meta_, 42, std::chrono::milliseconds(50), Record());
  replfs::testing::WaitFor([&] { return w.live(); }, std::chrono::seconds(10), "the feed to be followed");
  const uint64_t before = w.Epoch();
  EXPECT_TRUE(w.Coherent(before));
  served_.handler->ScriptWatch({Batch(5, 11, false, {Change(rpc::ChangeKind::INODE, 9)})});
  replfs::testing::WaitFor([&] { return w.Epoch() != before; }, std::chrono::seconds(10), "the change");
  EXPECT_FALSE(w.Coherent(before)) << "a reply begun before the change must be short";
  EXPECT_TRUE(w.Coherent(w.Epoch()));
}

TEST_F(ChangeWatcherTest, GivesUpOnAMetadWithoutTheFeed) {
  // Unscripted: the fake answers NOT_SUPPORTED.
  ChangeWatcher w(&meta_, 42, std::chrono::milliseconds(50), Record());
  replfs::testing::WaitFor([&] { return served_.handler->Watches().size() >= 1; }, std::chrono::seconds(10),
                           "the first poll");
  // A watcher that kept trying would poll again after its 100 ms pause.
  EXPECT_FALSE(replfs::testing::PollUntil([&] { return served_.handler->Watches().size() >= 2; },
                                          std::chrono::milliseconds(1000)))
      << "a refused feed is polled again";
  EXPECT_FALSE(w.live());
  w.Stop();
  EXPECT_EQ(lost_.load(), 0);
}

}  // namespace
}  // namespace replfs::client::testing
