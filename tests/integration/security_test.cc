// Hostile conditions (issue 6): full disks; mutual TLS, roles and refusals;
// the loopback-only default without TLS.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>

#include "tests/integration/cluster.h"
#include "tests/integration/fault_util.h"
#include "tests/integration/fs_util.h"

namespace replfs::testing {
namespace {

using std::chrono::seconds;

// Every datad on a 24 MiB disk.
class FullDiskTest : public ClusterTest {
 protected:
  Cluster::Options options() const override {
    Cluster::Options o = FaultOptions(3, 1 << 20);
    o.datad_store_mib = 24;
    return o;
  }
};

// Writes `size` bytes of PatternBytes(seed) to a new file; 0 or the errno
// of the first call that failed (write, fsync or close).
int TryWrite(const std::string& path, uint64_t seed, int64_t size) {
  const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  int err = 0;
  for (int64_t off = 0; off < size && err == 0; off += 256 << 10) {
    const std::string buf = PatternBytes(seed, static_cast<uint64_t>(off), 256 << 10);
    if (pwrite(fd, buf.data(), buf.size(), off) != static_cast<ssize_t>(buf.size())) err = errno;
  }
  if (err == 0 && fsync(fd) != 0) err = errno;
  if (close(fd) != 0 && err == 0) err = errno;
  return err;
}

TEST_F(FullDiskTest, FullDatadsGiveEnospcAndNothingWrittenIsLost) {
  const uint64_t seed = TestSeed();
  constexpr int64_t kFile = 1 << 20;
  std::vector<std::string> written;
  int err = 0;
  for (int i = 0; i < 100 && err == 0; ++i) {
    const std::string name = "f" + std::to_string(i);
    err = TryWrite(M(name), seed + static_cast<uint64_t>(i), kFile);
    if (err == 0) written.push_back(name);
  }
  std::cout << written.size() << " MiB written before: " << ErrnoText(err) << std::endl;
  EXPECT_EQ(err, ENOSPC) << ErrnoText(err) << "\n" << cluster().LogTails();
  EXPECT_GE(written.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(cluster().Running("datad" + std::to_string(i)));
  EXPECT_TRUE(cluster().Running("metad"));
  for (size_t i = 0; i < written.size(); ++i) {
    DropPageCache(M(written[i]));
    EXPECT_TRUE(VerifyPatternFile(M(written[i]), seed + i, kFile)) << written[i];
  }
  // Space freed (deletes reach the datads in heartbeat replies): writing
  // works again.
  for (size_t i = 0; i < written.size(); i += 2) ASSERT_EQ(unlink(M(written[i]).c_str()), 0);
  EXPECT_TRUE(WaitFor([&] { return TryWrite(M("again"), seed, kFile) == 0; }, seconds(60),
                      "a write after freeing space"));
  for (size_t i = 1; i < written.size(); i += 2) {
    DropPageCache(M(written[i]));
    EXPECT_TRUE(VerifyPatternFile(M(written[i]), seed + i, kFile)) << written[i];
  }
}

}  // namespace
}  // namespace replfs::testing
