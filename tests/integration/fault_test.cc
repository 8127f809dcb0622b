// Fault tolerance, the prototype's demos and crashes in the middle of work
// (issue 3, tests 1 and 2): a wiped store is refilled, rotten blocks are read
// around and repaired, a partial write into a block rotten on the primary
// lands on the good replicas, writes go on with a datad down, reads work
// with one replica left, kill -9 of a datad during a large write and of
// metad during a metadata workload lose nothing acknowledged. Every wait
// polls with a deadline; fsck and direct replica reads (DataService.Read)
// are the judges.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "tests/integration/cluster.h"
#include "tests/integration/fault_util.h"
#include "tests/integration/fs_util.h"

namespace replfs::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr int64_t kChunk = 4 << 20;  // several chunks per file without huge writes
constexpr int kGoal = 3;
constexpr auto kHealTimeout = seconds(90);

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct PatternFile {
  std::string rel;  // path relative to the mount
  uint64_t seed;
  int64_t size;
};

class FaultTest : public ClusterTest {
 protected:
  Cluster::Options options() const override { return FaultOptions(3, kChunk); }

  // A few files from one to three chunks plus small ones, all fsync'd.
  std::vector<PatternFile> WriteFiles(const std::string& prefix, uint64_t seed, int n) {
    std::mt19937_64 rng(seed);
    std::vector<PatternFile> files;
    for (int i = 0; i < n; ++i) {
      const int64_t size = i % 3 == 0 ? static_cast<int64_t>(rng() % (2 * kChunk)) + kChunk + 1
                                      : static_cast<int64_t>(rng() % 300000) + 1;
      PatternFile f{prefix + std::to_string(i), rng(), size};
      EXPECT_TRUE(WritePatternFile(M(f.rel), f.seed, f.size));
      files.push_back(f);
    }
    return files;
  }

  // Each file reads back correctly through the mount, from the datads (the
  // kernel's cached pages are dropped first).
  void VerifyFiles(const std::vector<PatternFile>& files, const std::string& when) {
    for (const PatternFile& f : files) {
      DropPageCache(M(f.rel));
      EXPECT_TRUE(VerifyPatternFile(M(f.rel), f.seed, f.size)) << when;
    }
  }

  // fsck of the whole tree until every chunk has 3 ok replicas, then the
  // replicas of every chunk compared byte for byte.
  void ExpectHealedAndIdentical(std::chrono::milliseconds timeout = kHealTimeout) {
    const auto start = Clock::now();
    FsckResult r;
    ASSERT_TRUE(WaitFsckHealthy(cluster(), "/", kGoal, cluster().datad_addrs(), timeout, &r))
        << cluster().LogTails();
    std::cout << "healed: fsck clean after " << SecondsSince(start) << " s" << std::endl;
    int64_t compared = 0;
    EXPECT_TRUE(ReplicasIdentical(cluster().meta_addr(), r, &compared));
    std::cout << "compared " << compared << " replicas byte for byte" << std::endl;
  }
};

// Prototype demo: one datad loses its disk. Reads never notice; the empty
// store is refilled until fsck shows every chunk with 3 ok replicas again.
TEST_F(FaultTest, WipedStoreIsRefilled) {
  const uint64_t seed = TestSeed();
  const auto files = WriteFiles("f", seed, 9);
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/", kGoal, {}, seconds(30)));

  ASSERT_TRUE(cluster().Stop("datad1"));
  ASSERT_TRUE(cluster().WipeStore("datad1"));
  ASSERT_TRUE(cluster().Restart("datad1"));
  ASSERT_TRUE(cluster().WaitServersUp(3, seconds(30)));

  VerifyFiles(files, "after datad1's store was wiped");
  ExpectHealedAndIdentical();
  VerifyFiles(files, "after the refill");
}

// Prototype demo (corrupt.py): block 0 of every file rots on every other
// server. Reads return the right bytes; the rotten replicas are repaired.
TEST_F(FaultTest, CorruptBlockZeroOnEveryOtherServerIsReadAroundAndRepaired) {
  const uint64_t seed = TestSeed();
  const auto files = WriteFiles("f", seed, 6);
  ASSERT_FALSE(HasFailure());
  FsckResult before;
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/", kGoal, {}, seconds(30), &before));

  const std::vector<std::string> addrs = cluster().datad_addrs();
  const std::vector<std::string> victims = {"datad0", "datad2"};
  int primaries_corrupted = 0;
  for (const std::string& victim : victims) {
    std::vector<std::pair<int64_t, uint32_t>> blocks;
    for (const FsckFile& f : before.files) {
      ASSERT_FALSE(f.chunks.empty()) << f.path;
      blocks.push_back({f.chunks[0].id, 0});
    }
    ASSERT_TRUE(cluster().CorruptBlocks(victim, blocks));
  }
  for (const FsckFile& f : before.files) {
    const std::string first = cluster().DatadName(f.chunks[0].replicas[0].addr);
    if (first == "datad0" || first == "datad2") ++primaries_corrupted;
  }
  ASSERT_TRUE(cluster().WaitServersUp(3, seconds(30)));

  // The injection worked: a direct read of block 0 from a victim fails.
  ClusterGeometry g;
  ASSERT_TRUE(GetGeometry(cluster().meta_addr(), &g));
  {
    const FsckChunk& c = before.files[0].chunks[0];
    std::string data;
    EXPECT_FALSE(ReadReplica(addrs[0], g, c.id, c.version, g.block_size, &data))
        << "datad0 served corrupted block 0 of chunk " << c.id;
  }
  std::cout << primaries_corrupted << " of " << before.files.size()
            << " files have their first replica on a corrupted server" << std::endl;

  VerifyFiles(files, "with block 0 corrupt on datad0 and datad2");
  ExpectHealedAndIdentical();
  VerifyFiles(files, "after repair");
}

// A partial write into a block that rotted on the chunk's primary: the
// primary refuses to merge into a block that fails its checksum (it never
// stores a valid-looking block built on bad bytes), reports it, and the
// write lands on the good replicas; the rotten one is then repaired.
TEST_F(FaultTest, PartialWriteOverABlockRottenOnThePrimaryLandsOnTheGoodReplicas) {
  const uint64_t seed = TestSeed();
  ClusterGeometry g;
  ASSERT_TRUE(GetGeometry(cluster().meta_addr(), &g));
  const int64_t size = 3 * g.block_size;
  ASSERT_TRUE(WritePatternFile(M("p"), seed, size));
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/", kGoal, {}, seconds(30)));

  CommandResult r = cluster().Fsctl({"corrupt", "/p", "--block", "1"});  // on the primary
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  std::string expect = PatternBytes(seed, 0, static_cast<size_t>(size));
  const std::string patch(100, 'P');
  const int64_t at = g.block_size + 700;  // inside block 1
  expect.replace(static_cast<size_t>(at), patch.size(), patch);
  const auto start = Clock::now();
  const int fd = open(M("p").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << ErrnoText(errno);
  EXPECT_EQ(pwrite(fd, patch.data(), patch.size(), at), static_cast<ssize_t>(patch.size()))
      << ErrnoText(errno) << cluster().LogTails();
  EXPECT_EQ(fsync(fd), 0) << ErrnoText(errno);
  ASSERT_EQ(close(fd), 0) << ErrnoText(errno);
  std::cout << "partial write over the rotten block took " << SecondsSince(start) << " s"
            << std::endl;

  DropPageCache(M("p"));
  std::string got;
  ASSERT_TRUE(ReadFile(M("p"), &got));
  EXPECT_TRUE(got == expect) << "file differs after the partial write";
  ExpectHealedAndIdentical();
  DropPageCache(M("p"));
  ASSERT_TRUE(ReadFile(M("p"), &got));
  EXPECT_TRUE(got == expect) << "file differs after repair";
}

// Prototype demo: a datad is down (kill -9) while files are written. The
// writes succeed on the two live replicas, reads are correct, and after the
// datad returns every chunk gets back to 3 good replicas.
TEST_F(FaultTest, WritesSucceedWithOneDatadDownAndHealAfterRestart) {
  const uint64_t seed = TestSeed();
  const auto before = WriteFiles("before", seed, 3);
  ASSERT_FALSE(HasFailure());

  ASSERT_TRUE(cluster().Kill9("datad2"));
  // Right away, before metad notices: the first writes meet a dead replica.
  const auto start = Clock::now();
  const auto during = WriteFiles("during", seed + 1, 6);
  std::cout << "6 files written with datad2 dead in " << SecondsSince(start) << " s" << std::endl;
  ASSERT_FALSE(HasFailure()) << cluster().LogTails();
  // An overwrite of a file that has a replica on the dead server.
  ASSERT_TRUE(WritePatternFile(M(before[0].rel), seed + 7, before[0].size));
  std::vector<PatternFile> all = before;
  all[0].seed = seed + 7;
  all.insert(all.end(), during.begin(), during.end());
  VerifyFiles(all, "with datad2 down");

  ASSERT_TRUE(cluster().Restart("datad2"));
  ASSERT_TRUE(cluster().WaitServersUp(3, seconds(30)));
  ExpectHealedAndIdentical();
  VerifyFiles(all, "after datad2 returned");
}

// Prototype demo: two of three datads die; every file is still read
// correctly from the one replica left, before and after metad notices.
TEST_F(FaultTest, ReadsWorkWithOnlyOneReplicaAlive) {
  const uint64_t seed = TestSeed();
  const auto files = WriteFiles("f", seed, 6);
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/", kGoal, {}, seconds(30)));

  ASSERT_TRUE(cluster().Kill9("datad0"));
  ASSERT_TRUE(cluster().Kill9("datad1"));
  auto start = Clock::now();
  VerifyFiles(files, "right after datad0 and datad1 were killed");
  std::cout << "read every file with 1 replica alive (metad not yet aware) in "
            << SecondsSince(start) << " s" << std::endl;

  nlohmann::json j;
  int rc = -1;
  ASSERT_TRUE(WaitFor(
      [&] {
        if (!cluster().StatusJson(&j, &rc) || !j.contains("servers")) return false;
        int down = 0;
        for (const auto& s : j["servers"]) down += s.value("state", "") == "down";
        return down == 2;
      },
      seconds(30), "metad to mark datad0 and datad1 down"))
      << j.dump();
  start = Clock::now();
  VerifyFiles(files, "with datad0 and datad1 down");
  std::cout << "read every file with 1 replica alive (servers marked down) in "
            << SecondsSince(start) << " s" << std::endl;

  ASSERT_TRUE(cluster().Restart("datad0"));
  ASSERT_TRUE(cluster().Restart("datad1"));
  ASSERT_TRUE(cluster().WaitServersUp(3, seconds(30)));
  ExpectHealedAndIdentical();
}

// kill -9 of the primary of the chunk being written, in the middle of a
// large write. The write goes on (2 replicas >= min_write_replicas); what
// was acknowledged and the rest are intact; after the restart fsck is clean.
TEST_F(FaultTest, KillNineOfADatadDuringALargeWrite) {
  const uint64_t seed = TestSeed();
  constexpr int64_t kSize = 192ll << 20;  // 48 chunks
  constexpr int64_t kSyncEvery = 16ll << 20;
  const std::string path = M("big");
  std::atomic<int64_t> acked{0};
  std::atomic<bool> done{false};
  std::string writer_error;
  std::thread writer([&] {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      writer_error = "open: " + ErrnoText(errno);
      done = true;
      return;
    }
    for (int64_t off = 0; off < kSize && writer_error.empty();) {
      const std::string buf = PatternBytes(seed, static_cast<uint64_t>(off), 1 << 20);
      const ssize_t w = pwrite(fd, buf.data(), buf.size(), off);
      if (w <= 0) {
        writer_error = "pwrite at " + std::to_string(off) + ": " + ErrnoText(errno);
        break;
      }
      off += w;
      if (off % kSyncEvery == 0) {
        if (fsync(fd) != 0) {
          writer_error = "fsync at " + std::to_string(off) + ": " + ErrnoText(errno);
        } else {
          acked = off;
        }
      }
    }
    if (close(fd) != 0 && writer_error.empty()) writer_error = "close: " + ErrnoText(errno);
    done = true;
  });
  JoinOnExit joiner(&writer, nullptr);

  ASSERT_TRUE(WaitFor([&] { return acked >= kSize / 4 || done; }, seconds(120),
                      "a quarter of the file acknowledged"));
  ASSERT_FALSE(done) << "the writer finished before the kill: " << writer_error;
  // The primary of the chunk being written now (the last one fsck lists).
  FsckResult r;
  ASSERT_TRUE(RunFsck(cluster(), "/big", &r));
  ASSERT_EQ(r.files.size(), 1u) << r.raw;
  ASSERT_FALSE(r.files[0].chunks.empty()) << r.raw;
  const FsckChunk& current = r.files[0].chunks.back();
  ASSERT_FALSE(current.replicas.empty()) << r.raw;
  const std::string victim = cluster().DatadName(current.replicas[0].addr);
  ASSERT_FALSE(victim.empty()) << r.raw;
  const int64_t acked_at_kill = acked;
  ASSERT_TRUE(cluster().Kill9(victim));
  const auto killed = Clock::now();
  std::cout << "killed " << victim << " (primary of chunk " << current.index << ") with "
            << (acked_at_kill >> 20) << " MiB acknowledged" << std::endl;

  ASSERT_TRUE(WaitFor([&] { return done.load(); }, seconds(150), "the writer to finish"))
      << cluster().LogTails();
  std::cout << "writer finished " << SecondsSince(killed) << " s after the kill" << std::endl;
  EXPECT_EQ(writer_error, "") << "2 of 3 replicas were alive (min_write_replicas 2)\n"
                              << cluster().LogTails();
  // What was acknowledged, and (the write having succeeded) everything.
  if (writer_error.empty()) {
    EXPECT_TRUE(VerifyPatternFile(path, seed, kSize));
  } else {
    std::string data;
    ASSERT_TRUE(ReadFile(path, &data));
    ASSERT_GE(static_cast<int64_t>(data.size()), acked.load());
    EXPECT_TRUE(data.substr(0, static_cast<size_t>(acked.load())) ==
                PatternBytes(seed, 0, static_cast<size_t>(acked.load())))
        << "the acknowledged " << acked.load() << " bytes are not intact";
  }

  ASSERT_TRUE(cluster().Restart(victim));
  ASSERT_TRUE(cluster().WaitServersUp(3, seconds(30)));
  ExpectHealedAndIdentical(seconds(120));
  DropPageCache(path);
  if (writer_error.empty()) {
    EXPECT_TRUE(VerifyPatternFile(path, seed, kSize));
  }
}

// A small new file's bytes wait in the client until the writer's close
// (write-behind), which then needs metad. A forked child closes its copy of
// the descriptor too, when it execs (O_CLOEXEC) or exits, and each close is
// a flush: with metad down, neither may wait for it on the parent's behalf
// (a test harness forks daemons just so). The parent's close, once metad is
// back, still makes the bytes durable.
TEST_F(FaultTest, ForkedChildrenDoNotWaitForMetadOverTheirParentsUnsentBytes) {
  const int fd = open(M("held").c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << ErrnoText(errno);
  const std::string text = "written before metad went down\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ASSERT_TRUE(cluster().Kill9("metad"));
  auto child_exits = [](bool exec) -> ::testing::AssertionResult {
    const pid_t pid = fork();
    if (pid < 0) return ::testing::AssertionFailure() << "fork: " << ErrnoText(errno);
    if (pid == 0) {
      if (exec) execl("/bin/true", "true", static_cast<char*>(nullptr));
      _exit(exec ? 127 : 0);
    }
    int status = -1;
    // Half the mount's retry budget (FaultOptions): a flush that waited for
    // metad would keep the child past it.
    const bool exited = WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; },
                                seconds(10), exec ? "the exec'ing child" : "the exiting child");
    if (!exited) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return ::testing::AssertionFailure() << "the child still closes the descriptor";
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return ::testing::AssertionFailure() << "child status " << status;
    return ::testing::AssertionSuccess();
  };
  EXPECT_TRUE(child_exits(/*exec=*/true));
  EXPECT_TRUE(child_exits(/*exec=*/false));
  ASSERT_TRUE(cluster().Restart("metad"));
  ASSERT_EQ(close(fd), 0) << ErrnoText(errno);  // sent, synced and committed now
  ASSERT_TRUE(cluster().Unmount());  // nothing cached: the restarted metad's word
  ASSERT_TRUE(cluster().Mount());
  std::string back;
  ASSERT_TRUE(ReadFile(M("held"), &back));
  EXPECT_EQ(back, text);
}

// kill -9 of metad (twice) in the middle of a create/write/rename/unlink
// workload, restarted at once on the same data dir. The workload continues
// (the client retries within rpc.retry_budget_ms); after a remount every
// acknowledged operation is reflected, and fsck is clean.
TEST_F(FaultTest, KillNineOfMetadDuringAMetadataWorkload) {
  const uint64_t seed = TestSeed();
  ASSERT_EQ(mkdir(M("w").c_str(), 0755), 0);
  struct Entry {
    uint64_t seed;
    int64_t size;
  };
  std::mutex mu;
  std::map<std::string, Entry> model;  // name in w/ -> content (acknowledged)
  std::set<std::string> uncertain;     // an op on it failed: either state is fine
  std::vector<std::string> failures;
  std::atomic<int> ops{0};
  std::atomic<bool> stop{false};

  std::thread worker([&] {
    std::mt19937_64 rng(seed);
    for (int i = 0; !stop && i < 100000; ++i) {
      std::string op, name, error;
      std::vector<std::string> live;
      {
        std::lock_guard<std::mutex> l(mu);
        for (const auto& [n, e] : model) {
          if (!uncertain.count(n)) live.push_back(n);
        }
      }
      const int kind = live.size() < 10 ? 0 : static_cast<int>(rng() % 4);
      if (kind <= 1) {  // create + write + close
        name = "f" + std::to_string(i);
        const Entry e{rng(), static_cast<int64_t>(rng() % 20000)};
        op = "create " + name;
        auto r = WritePatternFile(M("w/" + name), e.seed, e.size);
        std::lock_guard<std::mutex> l(mu);
        if (r) {
          model[name] = e;
        } else {
          error = r.message();
          uncertain.insert(name);
        }
      } else if (kind == 2) {  // rename to a new name
        const std::string from = live[rng() % live.size()];
        name = "r" + std::to_string(i);
        op = "rename " + from + " -> " + name;
        const int rc = rename(M("w/" + from).c_str(), M("w/" + name).c_str());
        std::lock_guard<std::mutex> l(mu);
        if (rc == 0) {
          model[name] = model[from];
          model.erase(from);
        } else {
          error = ErrnoText(errno);
          model[name] = model[from];  // either name may hold it now
          uncertain.insert(from);
          uncertain.insert(name);
        }
      } else {  // unlink
        name = live[rng() % live.size()];
        op = "unlink " + name;
        const int rc = unlink(M("w/" + name).c_str());
        std::lock_guard<std::mutex> l(mu);
        if (rc == 0) {
          model.erase(name);
        } else {
          error = ErrnoText(errno);
          uncertain.insert(name);
        }
      }
      if (!error.empty()) {
        std::lock_guard<std::mutex> l(mu);
        failures.push_back(op + ": " + error);
      }
      ++ops;
    }
  });
  JoinOnExit joiner(&worker, [&] { stop = true; });

  constexpr int kKills = 2;
  for (int k = 0; k < kKills; ++k) {
    const int target = ops + 150;
    ASSERT_TRUE(WaitFor([&] { return ops >= target; }, seconds(120), "150 more operations"))
        << cluster().LogTails();
    const auto kill_start = Clock::now();
    ASSERT_TRUE(cluster().Kill9("metad"));
    const int at_kill = ops;
    const auto killed = Clock::now();
    ASSERT_TRUE(cluster().Restart("metad"));
    std::cout << "metad killed at op " << at_kill << " (kill -9 and reap took "
              << SecondsSince(kill_start) - SecondsSince(killed) << " s) and listening again after "
              << SecondsSince(killed) << " s" << std::endl;
    ASSERT_TRUE(WaitFor([&] { return ops >= at_kill + 20; }, seconds(60),
                        "the workload to go on after metad's restart"))
        << cluster().LogTails();
    std::cout << "20 more operations done " << SecondsSince(killed) << " s after the kill"
              << std::endl;
  }
  const int target = ops + 100;
  ASSERT_TRUE(WaitFor([&] { return ops >= target; }, seconds(60), "100 more operations"));
  joiner.Join();

  std::cout << ops << " operations, " << failures.size() << " failed:" << std::endl;
  for (const std::string& f : failures) std::cout << "  " << f << std::endl;
  // The only excusable failure is the operation in flight at a kill.
  EXPECT_LE(failures.size(), static_cast<size_t>(kKills)) << cluster().LogTails();

  // A fresh client: nothing cached, everything from the restarted metad.
  ASSERT_TRUE(cluster().Unmount());
  ASSERT_TRUE(cluster().Mount());
  std::set<std::string> listed;
  CommandResult ls = RunCommand({"ls", "-1", M("w")});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  for (size_t p = 0; p < ls.out.size();) {
    const size_t nl = ls.out.find('\n', p);
    listed.insert(ls.out.substr(p, nl - p));
    p = nl == std::string::npos ? ls.out.size() : nl + 1;
  }
  for (const auto& [name, e] : model) {
    if (uncertain.count(name)) continue;
    EXPECT_TRUE(listed.count(name)) << "acknowledged w/" << name << " is gone";
    if (listed.count(name)) {
      EXPECT_TRUE(VerifyPatternFile(M("w/" + name), e.seed, e.size));
    }
  }
  for (const std::string& name : listed) {
    EXPECT_TRUE(model.count(name) || uncertain.count(name))
        << "w/" << name << " exists, but it was unlinked or renamed away (acknowledged)";
  }
  FsckResult r;
  EXPECT_TRUE(WaitFsckHealthy(cluster(), "/", kGoal, cluster().datad_addrs(), seconds(60), &r));
}

}  // namespace
}  // namespace replfs::testing
