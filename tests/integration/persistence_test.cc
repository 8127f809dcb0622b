// Everything acknowledged survives: unmount, restart every daemon (SIGTERM,
// and separately kill -9), remount, compare the whole tree.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <random>

#include "tests/integration/cluster.h"
#include "tests/integration/fs_util.h"

namespace replfs::testing {
namespace {

class PersistenceTest : public ClusterTest {
 protected:
  // Directories, small and multi-chunk files, a sparse file, a hard link, a
  // symlink, xattrs, modes, owners and explicit times; each file fsync'd.
  void Populate() {
    const uint64_t seed = TestSeed();
    std::mt19937_64 rng(seed);
    ASSERT_EQ(mkdir(M("a").c_str(), 0755), 0);
    ASSERT_EQ(mkdir(M("a/b").c_str(), 0700), 0);
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(WriteFile(M("a/f" + std::to_string(i)), RandomBytes(rng, rng() % 100000)));
    }
    ASSERT_TRUE(WriteFile(M("a/b/big"), RandomBytes(rng, (70 << 20) + 333)));  // 2 chunks
    const int fd = open(M("sparse").c_str(), O_WRONLY | O_CREAT, 0600);
    ASSERT_GE(fd, 0) << ErrnoText(errno);
    ASSERT_EQ(pwrite(fd, "end", 3, 200ll << 20), 3);
    ASSERT_EQ(fsync(fd), 0);
    ASSERT_EQ(close(fd), 0);
    ASSERT_EQ(link(M("a/f1").c_str(), M("hard").c_str()), 0) << ErrnoText(errno);
    ASSERT_EQ(symlink("a/b/big", M("sym").c_str()), 0) << ErrnoText(errno);
    ASSERT_EQ(setxattr(M("a/f2").c_str(), "user.k", "v", 1, 0), 0) << ErrnoText(errno);
    ASSERT_EQ(chmod(M("a/f3").c_str(), 0604), 0);
    ASSERT_EQ(chown(M("a/f4").c_str(), 4321, 8765), 0);
    const timespec t[2] = {{1'234'567'890, 1}, {1'234'567'891, 2}};
    ASSERT_EQ(utimensat(AT_FDCWD, M("a/f5").c_str(), t, 0), 0);
    ASSERT_TRUE(WriteFile(M("renamed-from"), "moved"));
    ASSERT_EQ(rename(M("renamed-from").c_str(), M("a/renamed-to").c_str()), 0);
    ASSERT_TRUE(WriteFile(M("gone"), "gone"));
    ASSERT_EQ(unlink(M("gone").c_str()), 0);
  }

  void ExpectSameTree(const std::map<std::string, std::string>& before) {
    const std::map<std::string, std::string> after = SnapshotTree(cluster().mountpoint());
    for (const auto& [path, rec] : before) {
      auto it = after.find(path);
      if (it == after.end()) {
        ADD_FAILURE() << path << " is gone";
      } else {
        EXPECT_EQ(it->second, rec) << path;
      }
    }
    for (const auto& [path, rec] : after) {
      EXPECT_TRUE(before.count(path)) << path << " appeared: " << rec;
    }
  }
};

TEST_F(PersistenceTest, GracefulRestartOfEveryDaemon) {
  Populate();
  ASSERT_FALSE(HasFatalFailure());
  const auto before = SnapshotTree(cluster().mountpoint());
  ASSERT_GT(before.size(), 55u);
  ASSERT_TRUE(cluster().Unmount());
  ASSERT_TRUE(cluster().StopAll());
  ASSERT_TRUE(cluster().Start());
  ASSERT_TRUE(cluster().Mount());
  ExpectSameTree(before);
}

TEST_F(PersistenceTest, KillNineOfEveryDaemon) {
  Populate();
  ASSERT_FALSE(HasFatalFailure());
  const auto before = SnapshotTree(cluster().mountpoint());
  ASSERT_GT(before.size(), 55u);
  cluster().Kill9All();
  ASSERT_TRUE(cluster().Unmount());
  ASSERT_TRUE(cluster().Start());
  ASSERT_TRUE(cluster().Mount());
  ExpectSameTree(before);
}

}  // namespace
}  // namespace replfs::testing
