// Chaos and concurrency (issue 3, tests 3 and 4): a writer and a verifier
// run on the mount while datads are killed and restarted at random (seeded,
// never more than replicas-1 down); two mounts overwrite the same region of
// one file at once and every chunk's replicas must end byte-identical.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <memory>
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

constexpr int kGoal = 3;
constexpr uint64_t kDefaultChaosSeed = 20240603;
constexpr size_t kMaxFiles = 100;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoll(v, nullptr, 0) : fallback;
}

// What the writer has acknowledged for one file. `mu` is held while the
// file is being changed or verified.
struct ChaosFile {
  std::mutex mu;
  std::string rel;
  uint64_t seed = 0;
  int64_t size = 0;
  bool known = false;  // false after a failed write: contents undefined
};

class ChaosTest : public ClusterTest {
 protected:
  Cluster::Options options() const override { return FaultOptions(3, 1 << 20); }
};

TEST_F(ChaosTest, WriterAndVerifierSurviveRandomDatadKills) {
  const uint64_t seed = SeedFromEnv("REPLFS_CHAOS_SEED", kDefaultChaosSeed);
  const auto duration = seconds(EnvInt("REPLFS_CHAOS_SECONDS", 60));
  const int datads = static_cast<int>(cluster().datad_addrs().size());
  constexpr int kMaxDown = kGoal - 1;
  std::cout << "chaos: " << duration.count() << " s, " << datads << " datads, at most " << kMaxDown
            << " down" << std::endl;

  std::mutex files_mu;
  std::vector<std::shared_ptr<ChaosFile>> files;  // guarded by files_mu
  std::mutex log_mu;
  std::vector<std::string> write_failures, verify_failures;  // guarded by log_mu
  std::atomic<int> created{0}, overwritten{0}, verified{0};
  std::atomic<bool> stop{false};

  std::thread writer([&] {
    std::mt19937_64 rng(seed);
    for (int i = 0; !stop; ++i) {
      std::shared_ptr<ChaosFile> f;
      bool create = true;
      {
        // At most kMaxFiles (~150 MiB), then only overwrites: bounded space.
        std::lock_guard<std::mutex> l(files_mu);
        if (files.size() >= kMaxFiles || (files.size() >= 8 && rng() % 10 < 3)) {
          f = files[rng() % files.size()];
          create = false;
        }
      }
      const uint64_t content = rng();
      if (create) {
        f = std::make_shared<ChaosFile>();
        f->rel = "c" + std::to_string(i);
        f->size = static_cast<int64_t>(rng() % (3 << 20)) + 1;
        std::lock_guard<std::mutex> fl(f->mu);
        auto r = WritePatternFile(M(f->rel), content, f->size, 256 << 10);
        f->seed = content;
        f->known = static_cast<bool>(r);
        if (r) {
          ++created;
        } else {
          std::lock_guard<std::mutex> l(log_mu);
          write_failures.push_back(r.message());
        }
        std::lock_guard<std::mutex> l(files_mu);
        files.push_back(f);
      } else {
        std::lock_guard<std::mutex> fl(f->mu);
        auto r = OverwritePatternFile(M(f->rel), content, f->size, 256 << 10);
        f->seed = content;
        if (r) {
          ++overwritten;
        } else {
          f->known = false;
          std::lock_guard<std::mutex> l(log_mu);
          write_failures.push_back(r.message());
        }
      }
    }
  });
  JoinOnExit join_writer(&writer, [&] { stop = true; });

  std::thread verifier([&] {
    std::mt19937_64 rng(seed ^ 0x5eed);
    while (!stop) {
      std::shared_ptr<ChaosFile> f;
      {
        std::lock_guard<std::mutex> l(files_mu);
        if (!files.empty()) f = files[rng() % files.size()];
      }
      if (f == nullptr) {
        std::this_thread::yield();
        continue;
      }
      std::lock_guard<std::mutex> fl(f->mu);
      if (!f->known) {
        std::this_thread::yield();
        continue;
      }
      DropPageCache(M(f->rel));
      auto r = VerifyPatternFile(M(f->rel), f->seed, f->size);
      ++verified;
      if (!r) {
        std::lock_guard<std::mutex> l(log_mu);
        verify_failures.push_back(r.message());
      }
    }
  });
  JoinOnExit join_verifier(&verifier, [&] { stop = true; });

  // The chaos monkey. A kill is allowed only while every chunk keeps an ok
  // replica on a server that stays up (else a chunk could be unavailable,
  // which "replicas-1 down" alone does not exclude: a chunk may be down to
  // one replica with every server up, e.g. while a restarted one refills).
  std::mt19937_64 rng(seed + 1);
  std::set<int> down;
  int kills = 0, restarts = 0, refused = 0;
  std::mutex pace_mu;
  std::condition_variable pace;
  const auto start = Clock::now();
  const auto all_addrs = cluster().datad_addrs();
  while (Clock::now() - start < duration) {
    {
      std::unique_lock<std::mutex> l(pace_mu);
      pace.wait_for(l, milliseconds(1000 + rng() % 2500));  // random pacing, not a wait for state
    }
    const bool kill =
        down.empty() || (static_cast<int>(down.size()) < kMaxDown && rng() % 2 == 0);
    if (kill) {
      std::vector<int> up;
      for (int i = 0; i < datads; ++i) {
        if (!down.count(i)) up.push_back(i);
      }
      const int victim = up[rng() % up.size()];
      {
        FsckResult r;
        bool safe = RunFsck(cluster(), "/", &r);
        for (const FsckFile& f : r.files) {
          for (const FsckChunk& c : f.chunks) {
            bool survives = false;
            for (const FsckReplica& rep : c.replicas) {
              const auto it = std::find(all_addrs.begin(), all_addrs.end(), rep.addr);
              const int idx = static_cast<int>(it - all_addrs.begin());
              if (rep.state == "ok" && idx != victim && !down.count(idx)) survives = true;
            }
            safe = safe && survives;
          }
        }
        if (!safe) {
          ++refused;
          continue;
        }
      }
      const std::string name = "datad" + std::to_string(victim);
      const bool nine = rng() % 5 != 0;
      std::cout << "chaos t=" << SecondsSince(start) << " s: " << (nine ? "kill -9 " : "SIGTERM ")
                << name << std::endl;
      if (nine) {
        ASSERT_TRUE(cluster().Kill9(name));
      } else {
        EXPECT_TRUE(cluster().Stop(name));  // (it is SIGKILLed if it ignores SIGTERM)
      }
      down.insert(victim);
      ++kills;
    } else {
      auto it = down.begin();
      std::advance(it, static_cast<long>(rng() % down.size()));
      const std::string name = "datad" + std::to_string(*it);
      std::cout << "chaos t=" << SecondsSince(start) << " s: restart " << name << std::endl;
      ASSERT_TRUE(cluster().Restart(name));
      down.erase(it);
      ++restarts;
    }
  }
  for (int i : down) ASSERT_TRUE(cluster().Restart("datad" + std::to_string(i)));
  ASSERT_TRUE(cluster().WaitServersUp(datads, seconds(30)));
  join_writer.Join();
  join_verifier.Join();

  std::cout << "chaos: " << kills << " kills, " << restarts << " restarts, " << refused
            << " kills skipped as unsafe; " << created << " files created, " << overwritten
            << " overwritten, " << verified << " verifications; " << write_failures.size()
            << " write failures, " << verify_failures.size() << " verification failures"
            << std::endl;
  for (const std::string& m : write_failures) std::cout << "  write failure: " << m << std::endl;
  for (const std::string& m : verify_failures) std::cout << "  VERIFY FAILURE: " << m << std::endl;
  EXPECT_EQ(verify_failures.size(), 0u) << "seed " << seed << "\n" << cluster().LogTails();
  EXPECT_EQ(write_failures.size(), 0u)
      << "writes failed although at most " << kMaxDown << " datads were down (seed " << seed << ")";
  EXPECT_GT(verified.load(), 0);
  EXPECT_GT(kills, 0);

  // Convergence: every chunk back to 3 ok replicas, status HEALTHY (exit 0).
  const auto heal_start = Clock::now();
  FsckResult r;
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/", kGoal, all_addrs, seconds(120), &r))
      << "seed " << seed << "\n" << cluster().LogTails();
  nlohmann::json j;
  int rc = -1;
  EXPECT_TRUE(WaitFor([&] { return cluster().StatusJson(&j, &rc) && rc == 0; }, seconds(60),
                      "fsctl status to exit 0 (HEALTHY)"))
      << j.dump();
  std::cout << "chaos: converged " << SecondsSince(heal_start) << " s after the last restart"
            << std::endl;
  int64_t compared = 0;
  EXPECT_TRUE(ReplicasIdentical(cluster().meta_addr(), r, &compared));
  // Everything acknowledged, once more, with every server back.
  std::lock_guard<std::mutex> l(files_mu);
  for (const auto& f : files) {
    if (!f->known) continue;
    DropPageCache(M(f->rel));
    EXPECT_TRUE(VerifyPatternFile(M(f->rel), f->seed, f->size));
  }
}

// Two mounts (two client processes) overwrite overlapping ranges of one
// file at the same time, aligned and unaligned, so the datads run
// read-modify-write of the same blocks concurrently. The replicas of every
// chunk must end byte-identical, and both mounts read what the replicas hold.
TEST_F(ChaosTest, TwoMountsWritingTheSameRegionLeaveIdenticalReplicas) {
  const uint64_t seed = TestSeed();
  ASSERT_TRUE(cluster().Mount(1));
  constexpr int64_t kSize = 6 << 20;  // 6 chunks of 1 MiB
  ASSERT_TRUE(WritePatternFile(M("shared"), seed, kSize));

  std::atomic<int> ready{0};
  std::string errors[2];
  auto writer = [&](int k) {
    const std::string path = cluster().mountpoint(static_cast<size_t>(k)) + "/shared";
    std::mt19937_64 rng(seed + 1 + static_cast<uint64_t>(k));
    const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      errors[k] = "open " + path + ": " + ErrnoText(errno);
      ++ready;
      return;
    }
    ++ready;
    while (ready < 2) std::this_thread::yield();  // start together
    for (int i = 0; i < 300 && errors[k].empty(); ++i) {
      // Both writers hit the same 2 MiB region (chunks 1 and 2 and the
      // boundary between them) most of the time.
      const bool hot = rng() % 4 != 0;
      int64_t off = hot ? (1 << 20) + static_cast<int64_t>(rng() % (2 << 20))
                        : static_cast<int64_t>(rng() % kSize);
      int64_t len = static_cast<int64_t>(rng() % (192 << 10)) + 1;
      if (rng() % 2 == 0) {  // block-aligned half of the time
        off &= ~int64_t{4095};
        len = (len + 4095) & ~int64_t{4095};
      }
      len = std::min(len, kSize - off);
      const std::string buf =
          PatternBytes(seed * 31 + static_cast<uint64_t>(k * 1000 + i), 0, static_cast<size_t>(len));
      if (pwrite(fd, buf.data(), buf.size(), off) != static_cast<ssize_t>(buf.size())) {
        errors[k] = "pwrite at " + std::to_string(off) + ": " + ErrnoText(errno);
      } else if (i % 50 == 49 && fsync(fd) != 0) {
        errors[k] = "fsync: " + ErrnoText(errno);
      }
    }
    if (close(fd) != 0 && errors[k].empty()) errors[k] = "close: " + ErrnoText(errno);
  };
  std::thread a(writer, 0), b(writer, 1);
  a.join();
  b.join();
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");

  FsckResult r;
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/shared", kGoal, cluster().datad_addrs(), seconds(60), &r));
  ASSERT_EQ(r.files.size(), 1u);
  ASSERT_EQ(r.files[0].chunks.size(), 6u) << r.raw;
  int64_t compared = 0;
  EXPECT_TRUE(ReplicasIdentical(cluster().meta_addr(), r, &compared));
  EXPECT_EQ(compared, 18);

  // What the mounts read is what the replicas hold.
  ClusterGeometry g;
  ASSERT_TRUE(GetGeometry(cluster().meta_addr(), &g));
  std::string replicas;
  for (const FsckChunk& c : r.files[0].chunks) {
    std::string data;
    ASSERT_TRUE(ReadReplica(c.replicas[0].addr, g, c.id, c.version, g.chunk_size, &data));
    replicas += data;
  }
  for (size_t k = 0; k < 2; ++k) {
    const std::string path = cluster().mountpoint(k) + "/shared";
    DropPageCache(path);
    std::string via_mount;
    ASSERT_TRUE(ReadFile(path, &via_mount));
    EXPECT_TRUE(via_mount == replicas) << "mount " << k << " reads other bytes than the replicas hold";
  }
}

}  // namespace
}  // namespace replfs::testing
