// The metadata store: durability across reopen, refusal of damaged stores.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <cstdio>
#include <fstream>
#include <thread>
#include <iterator>

#include "daemons/metad/meta_store.h"
#include "daemons/metad/records.h"
#include "tests/unit/metad/metad_test_util.h"

namespace replfs::metad {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

using StoreTest = CoreTest;

TEST_F(StoreTest, ReopenKeepsEverything) {
  for (auto a : {"h:1", "h:2", "h:3"}) AddServer(a);
  Inode d = MkDir(kRootIno, "d");
  Inode f = MkFile(d.ino, "f");
  ASSERT_OK(ns().SetXattr(f.ino, "user.k", "v", 0));
  Inode s;
  ASSERT_OK(ns().Symlink(d.ino, "s", "f", 0, 0, &s));
  ChunkInfo c0, c1;
  ASSERT_OK(core_->AllocChunk(f.ino, 0, &c0));
  ASSERT_OK(core_->AllocChunk(f.ino, 5, &c1));
  Inode w;
  ASSERT_OK(ns().CommitWrite(f.ino, 12345, 99, &w));
  Reopen();
  Inode got;
  ASSERT_OK(ns().Lookup(d.ino, "f", &got));
  EXPECT_EQ(got.ino, f.ino);
  EXPECT_EQ(got.size, 12345);
  EXPECT_EQ(got.mtime_ns, 99);
  std::string v;
  ASSERT_OK(ns().GetXattr(f.ino, "user.k", &v));
  EXPECT_EQ(v, "v");
  ASSERT_OK(ns().ReadLink(s.ino, &v));
  EXPECT_EQ(v, "f");
  EXPECT_EQ(Attr(kRootIno).nlink, 3u);
  std::vector<ChunkInfo> chunks;
  ASSERT_OK(core_->chunks().GetChunks(f.ino, 0, 10, &chunks));
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].id, c0.id);
  EXPECT_EQ(chunks[1].replicas, c1.replicas);
  EXPECT_EQ(core_->chunks().Total(), 2);
  ClusterStatus st = core_->GetStatus();
  ASSERT_EQ(st.servers.size(), 3u);  // known, but down until they register
  for (const auto& srv : st.servers) EXPECT_EQ(srv.state, ServerState::kDown);
  EXPECT_EQ(st.chunks.unavailable, 2);
  EXPECT_EQ(st.files, 1);
  EXPECT_EQ(st.directories, 2);
  ChunkInfo c2;
  ASSERT_OK(core_->AllocChunk(f.ino, 0, &c2));  // existing: no servers needed
  EXPECT_EQ(c2.id, c0.id);
  EXPECT_GT(MkFile(kRootIno, "new").ino, s.ino);
}

// A create is lazy: a power loss may take it. Its inode number must still
// never be handed out again (a client may hold it). Simulated by putting
// back the store's files as they were before the create.
TEST_F(StoreTest, InodeNumbersOfCreatesLostToAPowerLossAreNeverReused) {
  MkFile(kRootIno, "before");
  auto copy = [&](const std::string& from, const std::string& to) {
    for (const char* f : {"/meta.kct", "/meta.log"}) {
      std::ifstream in(from + f, std::ios::binary);
      std::ofstream out(to + f, std::ios::binary | std::ios::trunc);
      out << in.rdbuf();
    }
  };
  testing::TempDir saved;
  copy(dir_.path(), saved.path());  // what the disk held at the power loss
  const Inode lost = MkFile(kRootIno, "lost");
  core_.reset();
  copy(saved.path(), dir_.path());
  Reopen();
  Inode got;
  EXPECT_CODE(ns().Lookup(kRootIno, "lost", &got), kNotFound);
  const Inode again = MkFile(kRootIno, "after");
  EXPECT_GT(again.ino, lost.ino);
}

TEST_F(StoreTest, FailedMutationRollsBack) {
  Inode f = MkFile(kRootIno, "f");
  // Rename over a non-empty directory fails after reading several records;
  // nothing of it may remain.
  Inode d = MkDir(kRootIno, "d");
  MkFile(d.ino, "x");
  Unlinked u;
  EXPECT_CODE(ns().Rename(kRootIno, "f", kRootIno, "d", {}, &u), kIsDir);
  Inode got;
  ASSERT_OK(ns().Lookup(kRootIno, "f", &got));
  EXPECT_EQ(got.ino, f.ino);
}

TEST(MetaStoreTest, DamagedStoreIsRefusedAndLeftUntouched) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/meta.kct";
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  {
    std::ofstream out(path, std::ios::binary);
    out << garbage;
  }
  std::unique_ptr<MetaStore> store;
  Status s = MetaStore::Open(dir.path(), false, &store);
  EXPECT_CODE(s, kCorruption);
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("refusing"), std::string::npos) << s.message();
  EXPECT_EQ(ReadFile(path), garbage);
  std::unique_ptr<MetaCore> core;
  FakeClock clock;
  EXPECT_CODE(MetaCore::Open(TestConfig(dir.path()), &clock, nullptr, &core), kCorruption);
  EXPECT_EQ(ReadFile(path), garbage);
}

TEST(MetaStoreTest, ForeignTreeDbWithoutHeaderIsRefused) {
  testing::TempDir dir;
  {
    std::unique_ptr<MetaStore> store;
    ASSERT_OK(MetaStore::Open(dir.path(), false, &store));
    ASSERT_OK(store->Mutate([](Txn& t) {
      REPLFS_RETURN_IF_ERROR(t.Put("zzz", "1"));
      return t.Delete(HeaderKey());
    }));
  }
  std::unique_ptr<MetaStore> store;
  EXPECT_CODE(MetaStore::Open(dir.path(), false, &store), kCorruption);
}

TEST(MetaStoreTest, MutateCommitsOrRollsBack) {
  testing::TempDir dir;
  std::unique_ptr<MetaStore> store;
  ASSERT_OK(MetaStore::Open(dir.path(), true, &store));
  bool committed = false;
  ASSERT_OK(store->Mutate([&](Txn& t) {
    t.OnCommit([&] { committed = true; });
    return t.Put("a", "1");
  }));
  EXPECT_TRUE(committed);
  committed = false;
  EXPECT_CODE(store->Mutate([&](Txn& t) {
    t.OnCommit([&] { committed = true; });
    REPLFS_RETURN_IF_ERROR(t.Put("a", "2"));
    REPLFS_RETURN_IF_ERROR(t.Put("b", "2"));
    return Status::Invalid("changed my mind");
  }), kInvalid);
  EXPECT_FALSE(committed);
  std::string v;
  ASSERT_OK(store->Get("a", &v));
  EXPECT_EQ(v, "1");
  EXPECT_CODE(store->Get("b", &v), kNotFound);
}

// Mutations that queue behind a running commit share the next one; a member
// of a group that fails leaves nothing behind, the others commit.
TEST(MetaStoreTest, QueuedMutationsShareACommitAndAFailureStaysAlone) {
  testing::TempDir dir;
  std::unique_ptr<MetaStore> store;
  ASSERT_OK(MetaStore::Open(dir.path(), true, &store));
  ASSERT_OK(store->Mutate([](Txn& t) { return t.Put("pre", "old"); }));
  const int64_t commits0 = store->commits();
  std::atomic<bool> release{false}, a_running{false};
  std::thread a([&] {
    EXPECT_TRUE(store->Mutate([&](Txn& t) {
      a_running = true;
      while (!release.load()) std::this_thread::yield();  // holds the commit open
      return t.Put("a", "1");
    }).ok());
  });
  ASSERT_TRUE(testing::WaitFor([&] { return a_running.load(); }, std::chrono::seconds(5), "a leads"));
  bool b_committed = false;
  std::string c_saw;
  std::thread b([&] {
    EXPECT_CODE(store->Mutate([&](Txn& t) {
      t.OnCommit([&] { b_committed = true; });
      REPLFS_RETURN_IF_ERROR(t.Delete("pre"));
      REPLFS_RETURN_IF_ERROR(t.Put("pre", "b"));
      REPLFS_RETURN_IF_ERROR(t.Put("b", "1"));
      return Status::Invalid("b fails after writing");
    }), kInvalid);
  });
  ASSERT_TRUE(testing::WaitFor([&] { return store->waiting() == 1; }, std::chrono::seconds(5), "b queued"));
  std::thread c([&] {
    EXPECT_TRUE(store->Mutate([&](Txn& t) {
      REPLFS_RETURN_IF_ERROR(t.Get("pre", &c_saw));
      return t.Put("c", "1");
    }).ok());
  });
  ASSERT_TRUE(testing::WaitFor([&] { return store->waiting() == 2; }, std::chrono::seconds(5), "c queued"));
  release = true;
  a.join();
  b.join();
  c.join();
  EXPECT_EQ(store->commits(), commits0 + 2);  // a's, then b and c together
  EXPECT_FALSE(b_committed);
  EXPECT_EQ(c_saw, "old");  // b's writes were undone before c ran
  std::string v;
  ASSERT_OK(store->Get("pre", &v));
  EXPECT_EQ(v, "old");
  EXPECT_CODE(store->Get("b", &v), kNotFound);
  ASSERT_OK(store->Get("c", &v));
  ASSERT_OK(store->Get("a", &v));
}

// Many writers: every successful mutation is there exactly once after a
// reopen, read-modify-write sequences never lose an update, and the commits
// are shared.
TEST(MetaStoreTest, ConcurrentMutatorsNeverLoseAnUpdate) {
  testing::TempDir dir;
  constexpr int kThreads = 16, kEach = 40;
  std::atomic<int> ok{0};
  int64_t commits = 0, mutations = 0;
  {
    std::unique_ptr<MetaStore> store;
    ASSERT_OK(MetaStore::Open(dir.path(), true, &store));
    ASSERT_OK(store->Mutate([](Txn& t) { return t.Put("count", "0"); }));
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i)
      threads.emplace_back([&, i] {
        for (int j = 0; j < kEach; ++j) {
          const bool fail = (i + j) % 3 == 0;
          Status s = store->Mutate([&](Txn& t) {
            std::string v;
            REPLFS_RETURN_IF_ERROR(t.Get("count", &v));
            REPLFS_RETURN_IF_ERROR(t.Put("count", std::to_string(std::stoi(v) + 1)));
            REPLFS_RETURN_IF_ERROR(t.Put("k/" + std::to_string(i) + "/" + std::to_string(j), "x"));
            return fail ? Status::Invalid("planned") : Status::OK();
          });
          EXPECT_EQ(s.ok(), !fail) << s.ToString();
          if (s.ok()) ++ok;
        }
      });
    for (auto& t : threads) t.join();
    commits = store->commits();
    mutations = store->mutations();
  }
  std::unique_ptr<MetaStore> store;
  ASSERT_OK(MetaStore::Open(dir.path(), true, &store));
  std::string v;
  ASSERT_OK(store->Get("count", &v));
  EXPECT_EQ(std::stoi(v), ok.load());
  int keys = 0;
  ASSERT_OK(store->Scan("k/", "", [&](std::string_view, std::string_view) { return ++keys > 0; }));
  EXPECT_EQ(keys, ok.load());
  EXPECT_EQ(mutations, ok.load() + 2);  // and the header and "count"
  EXPECT_LT(commits, mutations) << "no commit was shared";
  std::printf("FIGURE: %d threads, %lld successful mutations in %lld commits\n", kThreads,
              static_cast<long long>(mutations), static_cast<long long>(commits));
}

// Chunk records the API never writes (a damaged store; fuzz finding F4): an
// index whose offset overflows is counted as past the end, one past any
// int64 refuses the store.
TEST_F(StoreTest, ChunkIndexesPastAnyFileAreNoOverflow) {
  for (auto a : {"h:1", "h:2", "h:3"}) AddServer(a);
  Inode f = MkFile(kRootIno, "f");
  ChunkInfo c0;
  ASSERT_OK(core_->AllocChunk(f.ino, 0, &c0));
  auto raw = [&](int64_t index) {
    core_.reset();
    std::unique_ptr<MetaStore> store;
    ASSERT_OK(MetaStore::Open(dir_.path(), false, &store));
    ChunkInfo c = c0;
    c.id = c0.id + 1000 + static_cast<ChunkId>(index & 0xff);
    ASSERT_OK(store->Mutate([&](Txn& t) { return t.Put(ChunkKey(f.ino, index), EncodeChunk(c)); }));
  };
  raw(int64_t{1} << 45);  // * 64 MiB overflows
  Reopen();
  const int64_t chunk = TestConfig(dir_.path()).chunk_size;
  EXPECT_EQ(core_->chunks().AllocatedBytes(f.ino, 100, chunk), 100);
  EXPECT_EQ(core_->chunks().AllocatedBytes(f.ino, INT64_MAX, chunk), chunk);
  raw(-5);  // BE64 above INT64_MAX
  core_.reset();
  auto datad = std::make_unique<FakeDatad>();
  Status s = MetaCore::Open(TestConfig(dir_.path()), &clock_, std::move(datad), &core_);
  EXPECT_CODE(s, kCorruption);
  EXPECT_NE(s.message().find("past any file"), std::string::npos) << s.ToString();
}

// Reads see the overlay (keys changed since the last checkpoint) merged with
// the checkpointed records, across many small checkpoints, inside and
// outside mutations, and again after a reopen.
TEST(MetaStoreTest, ReadsMergeTheOverlayWithCheckpointedRecords) {
  testing::TempDir dir;
  MetaStoreOptions o;
  o.fsync = false;
  o.checkpoint_keys = 7;
  std::map<std::string, std::string> model;
  auto check = [&](MetaStore* store) {
    for (const std::string& from : {std::string(), std::string("p/03"), std::string("p/099")}) {
      std::vector<std::pair<std::string, std::string>> got, want;
      ASSERT_OK(store->Scan("p/", from, [&](std::string_view k, std::string_view v) {
        got.emplace_back(k, v);
        return true;
      }));
      for (auto it = model.lower_bound(from.empty() ? "p/" : from);
           it != model.end() && it->first.rfind("p/", 0) == 0; ++it)
        want.push_back(*it);
      ASSERT_EQ(got, want) << "from '" << from << "'";
    }
    for (int i = 0; i < 100; ++i) {
      const std::string k = "p/" + std::string(i < 10 ? "0" : "") + std::to_string(i);
      std::string v;
      Status s = store->Get(k, &v);
      if (model.count(k)) {
        ASSERT_OK(s);
        EXPECT_EQ(v, model[k]);
      } else {
        EXPECT_CODE(s, kNotFound) << k;
      }
    }
  };
  {
    std::unique_ptr<MetaStore> store;
    ASSERT_OK(MetaStore::Open(dir.path(), o, &store));
    for (int round = 0; round < 400; ++round) {
      const int i = (round * 37) % 100;
      const std::string k = "p/" + std::string(i < 10 ? "0" : "") + std::to_string(i);
      const bool del = round % 3 == 1;
      ASSERT_OK(store->Mutate([&](Txn& t) {
        if (del) return t.Delete(k);
        // A scan inside the mutation sees its own earlier write.
        REPLFS_RETURN_IF_ERROR(t.Put(k, "v" + std::to_string(round)));
        bool seen = false;
        REPLFS_RETURN_IF_ERROR(t.Scan("p/", k, [&](std::string_view key, std::string_view) {
          seen = key == k;
          return false;
        }));
        return seen ? Status::OK() : Status::Internal("own write not seen by Scan");
      }));
      if (del) {
        model.erase(k);
      } else {
        model[k] = "v" + std::to_string(round);
      }
      if (round % 50 == 0) check(store.get());
    }
    check(store.get());
    EXPECT_GT(store->checkpoints(), 20);
  }
  std::unique_ptr<MetaStore> store;
  ASSERT_OK(MetaStore::Open(dir.path(), o, &store));
  check(store.get());
}

// `kill -9` of a process that is committing mutations: every mutation it had
// been answered for is there after a reopen (the redo log was written to the
// kernel before Mutate returned), across checkpoints.
TEST(MetaStoreTest, KillNineLosesNoAnsweredMutation) {
  testing::TempDir dir;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    MetaStoreOptions o;
    o.fsync = false;  // what the kernel holds survives the kill either way
    o.checkpoint_keys = 64;
    std::unique_ptr<MetaStore> store;
    if (!MetaStore::Open(dir.path(), o, &store).ok()) _exit(3);
    for (uint32_t i = 0; i < 1000000; ++i) {
      Status s = store->Mutate([&](Txn& t) {
        REPLFS_RETURN_IF_ERROR(t.Put("k/" + std::to_string(i), std::to_string(i)));
        if (i % 5 == 0 && i >= 3) REPLFS_RETURN_IF_ERROR(t.Delete("k/" + std::to_string(i - 3)));
        return Status::OK();
      });
      if (!s.ok()) _exit(4);
      if (write(fds[1], &i, sizeof i) != sizeof i) _exit(5);  // answered
    }
    _exit(6);
  }
  close(fds[1]);
  uint32_t last = 0;
  for (int n = 0; n < 700; ++n) ASSERT_EQ(read(fds[0], &last, sizeof last), ssize_t{sizeof last});
  kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  std::unique_ptr<MetaStore> store;
  ASSERT_OK(MetaStore::Open(dir.path(), false, &store));
  for (uint32_t j = 0; j <= last; ++j) {
    const uint32_t deleter = j + 3;
    if (deleter == last + 1) continue;  // that mutation may or may not have committed
    const bool deleted = deleter % 5 == 0 && deleter <= last;
    std::string v;
    Status s = store->Get("k/" + std::to_string(j), &v);
    if (deleted) {
      EXPECT_CODE(s, kNotFound) << j;
    } else {
      ASSERT_TRUE(s.ok()) << s.ToString() << ": mutation " << j << " was answered (last answered " << last << ")";
      EXPECT_EQ(v, std::to_string(j));
    }
  }
}

// fsync: one log sync per group before Mutate returns, or (with an interval,
// for lazy mutations) later, in the background.
TEST(MetaStoreTest, CommitsAreSyncedPerGroupOrWithinTheInterval) {
  testing::TempDir dir;
  {
    std::unique_ptr<MetaStore> store;
    ASSERT_OK(MetaStore::Open(dir.path(), true, &store));
    const int64_t syncs0 = store->syncs();
    for (int i = 0; i < 10; ++i) ASSERT_OK(store->Mutate([&](Txn& t) { return t.Put("a", "1"); }));
    EXPECT_EQ(store->syncs(), syncs0 + 10);
  }
  MetaStoreOptions o;
  o.sync_interval_ms = 20;
  std::unique_ptr<MetaStore> store;
  ASSERT_OK(MetaStore::Open(dir.path(), o, &store));
  const int64_t syncs0 = store->syncs();
  for (int i = 0; i < 10; ++i)
    ASSERT_OK(store->Mutate([&](Txn& t) { return t.Put("b", "1"); }, Durability::kLazy));
  EXPECT_LE(store->syncs(), syncs0 + 1);  // one interval may have passed
  EXPECT_TRUE(testing::WaitFor([&] { return store->syncs() > syncs0; }, std::chrono::seconds(5),
                               "the background sync"));
}

// With an interval, a lazy mutation is answered unsynced; a kSync one, or
// Sync(), syncs it along with everything before it.
TEST(MetaStoreTest, LazyMutationsWaitForTheIntervalOrTheNextSyncedOne) {
  testing::TempDir dir;
  MetaStoreOptions o;
  o.sync_interval_ms = 60 * 1000;  // never within the test
  std::unique_ptr<MetaStore> store;
  ASSERT_OK(MetaStore::Open(dir.path(), o, &store));
  const int64_t syncs0 = store->syncs();
  for (int i = 0; i < 5; ++i)
    ASSERT_OK(store->Mutate([&](Txn& t) { return t.Put("lazy" + std::to_string(i), "1"); },
                            Durability::kLazy));
  EXPECT_EQ(store->syncs(), syncs0);
  ASSERT_OK(store->Mutate([&](Txn& t) { return t.Put("data", "1"); }));  // kSync
  EXPECT_EQ(store->syncs(), syncs0 + 1);
  ASSERT_OK(store->Sync());  // nothing new
  EXPECT_EQ(store->syncs(), syncs0 + 1);
  ASSERT_OK(store->Mutate([&](Txn& t) { return t.Put("lazy", "2"); }, Durability::kLazy));
  ASSERT_OK(store->Sync());
  EXPECT_EQ(store->syncs(), syncs0 + 2);
}

TEST(MetaStoreTest, DamagedRedoLogIsRefusedAndLeftUntouched) {
  testing::TempDir dir;
  {
    std::unique_ptr<MetaStore> store;
    ASSERT_OK(MetaStore::Open(dir.path(), false, &store));
  }
  const std::string path = dir.path() + "/meta.log";
  const std::string garbage = "this is not a redo log";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << garbage;
  }
  std::unique_ptr<MetaStore> store;
  Status s = MetaStore::Open(dir.path(), false, &store);
  EXPECT_CODE(s, kCorruption);
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_EQ(ReadFile(path), garbage);
}

TEST(RecordsTest, DecodersRejectMalformedValues) {
  Inode in;
  in.symlink_target = "t";
  in.xattrs = 3;
  std::string enc = EncodeInode(in);
  Inode out;
  ASSERT_OK(DecodeInode(enc, &out));
  EXPECT_EQ(out.xattrs, 3u);
  // A record from before the xattr count (its last 4 bytes): count unknown.
  const size_t old_format = enc.size() - 4;
  ASSERT_OK(DecodeInode(enc.substr(0, old_format), &out));
  EXPECT_EQ(out.xattrs, kXattrsUnknown);
  for (size_t n = 0; n < enc.size(); ++n) {
    if (n == old_format) continue;
    EXPECT_FALSE(DecodeInode(enc.substr(0, n), &out).ok()) << n;
  }
  EXPECT_FALSE(DecodeInode(enc + "x", &out).ok());
  ChunkInfo c;
  EXPECT_CODE(DecodeChunk("\x02garbage", &c), kCorruption);
}

}  // namespace
}  // namespace replfs::metad
