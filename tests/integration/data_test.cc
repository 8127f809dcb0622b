// File data end to end: a real tree copied in and compared, a 300 MiB file
// written sequentially and at random offsets, sparse files, O_APPEND,
// truncation, unlinked-but-open files (also across a metad restart), a
// writer's size after another mount truncated the file.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <random>

#include "tests/integration/cluster.h"
#include "tests/integration/fault_util.h"
#include "tests/integration/fs_util.h"

namespace replfs::testing {
namespace {

using std::chrono::seconds;

class DataTest : public ClusterTest {
 protected:
  // Writes 1 MiB of random bytes (`data`) to a new file "doomed", fsyncs it
  // and unlinks it, leaving it open as `fd`.
  void WriteThenUnlink(std::string* data, int* fd) {
    std::mt19937_64 rng(TestSeed());
    *data = RandomBytes(rng, 1 << 20);
    const std::string path = M("doomed");
    *fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0644);
    ASSERT_GE(*fd, 0) << ErrnoText(errno);
    ASSERT_EQ(write(*fd, data->data(), data->size()), static_cast<ssize_t>(data->size()));
    ASSERT_EQ(fsync(*fd), 0) << ErrnoText(errno);
    ASSERT_EQ(unlink(path.c_str()), 0) << ErrnoText(errno);
  }
};

int CountFiles(const std::string& dir) {
  CommandResult r = RunShell("find '" + dir + "' -type f | wc -l");
  return r.exit_code == 0 ? std::atoi(r.out.c_str()) : -1;
}

// Listing of type, mode, owner and symlink target of every entry (sizes and
// contents are diff -r's job; directory sizes differ between file systems).
std::string Listing(const std::string& dir) {
  CommandResult r =
      RunShell("cd '" + dir + "' && find . -printf '%y %m %U %G %p -> %l\\n' | LC_ALL=C sort");
  return r.exit_code == 0 ? r.out : "find failed: " + r.Describe();
}

TEST_F(DataTest, CopyRealTreeAndDiff) {
  TempDir local("replfs-it-src");
  const std::string src = local.path() + "/tree";
  CommandResult r = RunShell("cp -a /usr/share/doc '" + src + "'");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  // A few thousand files: top up with generated ones where /usr/share/doc is thin.
  const int have = CountFiles(src);
  ASSERT_GE(have, 0);
  if (have < 3000) {
    const uint64_t seed = TestSeed();
    std::mt19937_64 rng(seed);
    const std::string gen = src + "/generated";
    ASSERT_EQ(mkdir(gen.c_str(), 0755), 0);
    for (int i = 0; i < 3000 - have; ++i) {
      const std::string sub = gen + "/d" + std::to_string(i / 100);
      if (i % 100 == 0) {
        ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
      }
      const size_t size = rng() % 3 == 0 ? rng() % 200000 : rng() % 4000;
      ASSERT_TRUE(WriteFile(sub + "/f" + std::to_string(i), RandomBytes(rng, size)));
    }
  }
  const int files = CountFiles(src);
  std::cout << "copying " << files << " files" << std::endl;
  ASSERT_GE(files, 2000);

  r = RunShell("cp -a '" + src + "' '" + M("tree") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  r = RunShell("diff -r --no-dereference '" + src + "' '" + M("tree") + "'");
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(Listing(src), Listing(M("tree")));
  EXPECT_EQ(CountFiles(M("tree")), files);
}

TEST_F(DataTest, LargeFileSequentialAndRandomOffsets) {
  constexpr size_t kSize = 300u << 20;
  const uint64_t seed = TestSeed();
  std::mt19937_64 rng(seed);
  std::string data = RandomBytes(rng, kSize);
  const std::string path = M("big");

  // Sequential: 1 MiB writes, then read back by sha256sum through the mount.
  ASSERT_TRUE(WriteFile(path, data));
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0) << ErrnoText(errno);
  EXPECT_EQ(static_cast<size_t>(st.st_size), kSize);
  EXPECT_EQ(Sha256Sum(path), Sha256Hex(data));

  // Random offsets: unaligned pwrites of up to 1 MiB mirrored in memory,
  // then preads at random positions compared with the mirror.
  const int fd = open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << ErrnoText(errno);
  for (int i = 0; i < 100; ++i) {
    const size_t off = rng() % kSize;
    const size_t len = std::min<size_t>(1 + rng() % (1 << 20), kSize - off);
    const std::string piece = RandomBytes(rng, len);
    ASSERT_EQ(pwrite(fd, piece.data(), len, static_cast<off_t>(off)), static_cast<ssize_t>(len))
        << "pwrite at " << off << ": " << ErrnoText(errno);
    data.replace(off, len, piece);
  }
  ASSERT_EQ(fsync(fd), 0) << ErrnoText(errno);
  std::string buf;
  for (int i = 0; i < 200; ++i) {
    const size_t off = rng() % kSize;
    const size_t len = std::min<size_t>(1 + rng() % (2 << 20), kSize - off);
    buf.resize(len);
    ASSERT_EQ(pread(fd, buf.data(), len, static_cast<off_t>(off)), static_cast<ssize_t>(len))
        << "pread at " << off << ": " << ErrnoText(errno);
    ASSERT_TRUE(std::memcmp(buf.data(), data.data() + off, len) == 0)
        << "bytes differ in [" << off << ", " << off + len << ")";
  }
  ASSERT_EQ(close(fd), 0) << ErrnoText(errno);
  const std::string want = Sha256Hex(data);
  EXPECT_EQ(Sha256Sum(path), want);

  // A fresh mount has no page cache: the bytes come from the datads.
  ASSERT_TRUE(cluster().Unmount());
  ASSERT_TRUE(cluster().Mount());
  EXPECT_EQ(Sha256Sum(path), want);
}

TEST_F(DataTest, SparseFileAtFiveGiB) {
  constexpr off_t kOffset = 5ll << 30;
  const std::string path = M("sparse");
  const int64_t used_before = cluster().BytesUsed();
  ASSERT_GE(used_before, 0);

  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0644);
  ASSERT_GE(fd, 0) << ErrnoText(errno);
  ASSERT_EQ(pwrite(fd, "hello", 5, kOffset), 5) << ErrnoText(errno);
  ASSERT_EQ(fsync(fd), 0) << ErrnoText(errno);
  ASSERT_EQ(close(fd), 0) << ErrnoText(errno);

  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0) << ErrnoText(errno);
  EXPECT_EQ(st.st_size, kOffset + 5);
  // du: the holes occupy nothing (one 5-byte block at most, per replica).
  EXPECT_LT(st.st_blocks * 512, 4ll << 20) << "st_blocks " << st.st_blocks;

  fd = open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0) << ErrnoText(errno);
  std::string buf(1 << 20, 'x');
  const std::string zeros(1 << 20, '\0');
  for (off_t off : {off_t{0}, off_t{1} << 30, (off_t{4} << 30) + 12345, kOffset - (1 << 20)}) {
    ASSERT_EQ(pread(fd, buf.data(), buf.size(), off), static_cast<ssize_t>(buf.size()))
        << "pread at " << off << ": " << ErrnoText(errno);
    EXPECT_TRUE(buf == zeros) << "hole at " << off << " does not read as zeros";
  }
  char tail[16] = {};
  ASSERT_EQ(pread(fd, tail, sizeof(tail), kOffset - 3), 8) << ErrnoText(errno);
  EXPECT_EQ(std::string(tail, 8), std::string("\0\0\0hello", 8));
  ASSERT_EQ(close(fd), 0);

  // Storage: one short block on each replica, not 5 GiB. bytes_used arrives
  // with the datads' heartbeats, so wait for it to move at all first.
  int64_t used_after = -1;
  ASSERT_TRUE(WaitFor(
      [&] {
        used_after = cluster().BytesUsed();
        return used_after > used_before;
      },
      seconds(20), "bytes_used to reflect the write"));
  EXPECT_LT(used_after - used_before, 4ll << 20)
      << "a 5-byte write at 5 GiB used " << used_after - used_before << " bytes";
}

TEST_F(DataTest, AppendModeAlwaysWritesAtTheEnd) {
  const std::string path = M("log");
  ASSERT_TRUE(WriteFile(path, "abc"));
  const int a = open(path.c_str(), O_WRONLY | O_APPEND);
  const int b = open(path.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(a, 0) << ErrnoText(errno);
  ASSERT_GE(b, 0) << ErrnoText(errno);
  ASSERT_EQ(write(a, "def", 3), 3);
  ASSERT_EQ(write(b, "ghi", 3), 3);
  ASSERT_EQ(write(a, "jkl", 3), 3);
  ASSERT_EQ(pwrite(b, "mno", 3, 0), 3);  // O_APPEND wins over the offset on Linux
  ASSERT_EQ(close(a), 0);
  ASSERT_EQ(close(b), 0);
  std::string got;
  ASSERT_TRUE(ReadFile(path, &got));
  EXPECT_EQ(got, "abcdefghijklmno");
}

// Pages written through a shared mapping reach the datads as write-backs
// from a kernel worker, not from the process: its close still commits them.
TEST_F(DataTest, SharedMappingWritesAreCommittedAtClose) {
  const std::string path = M("mapped");
  const int fd = open(path.c_str(), O_CREAT | O_EXCL | O_RDWR, 0644);
  ASSERT_GE(fd, 0) << ErrnoText(errno);
  constexpr size_t kSize = 3 * 4096;
  ASSERT_EQ(ftruncate(fd, kSize), 0) << ErrnoText(errno);
  void* p = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(p, MAP_FAILED) << ErrnoText(errno);
  std::string want(kSize, '\0');
  for (size_t i = 0; i < kSize; ++i) want[i] = static_cast<char>('a' + i % 26);
  std::memcpy(p, want.data(), kSize);
  ASSERT_EQ(munmap(p, kSize), 0) << ErrnoText(errno);
  ASSERT_EQ(close(fd), 0) << ErrnoText(errno);
  ASSERT_TRUE(cluster().Unmount());  // nothing cached: what metad and the datads have
  ASSERT_TRUE(cluster().Mount());
  std::string got;
  ASSERT_TRUE(ReadFile(path, &got));
  EXPECT_TRUE(got == want) << "read " << got.size() << " bytes back";
}

TEST_F(DataTest, TruncateShrinkAndGrowReadsZeros) {
  const uint64_t seed = TestSeed();
  std::mt19937_64 rng(seed);
  const std::string data = RandomBytes(rng, 3 << 20);
  const std::string path = M("t");
  ASSERT_TRUE(WriteFile(path, data));
  ASSERT_EQ(truncate(path.c_str(), 100000), 0) << ErrnoText(errno);
  ASSERT_EQ(truncate(path.c_str(), 2 << 20), 0) << ErrnoText(errno);
  std::string got;
  ASSERT_TRUE(ReadFile(path, &got));
  ASSERT_EQ(got.size(), size_t{2} << 20);
  EXPECT_TRUE(got.compare(0, 100000, data, 0, 100000) == 0);
  EXPECT_TRUE(got.substr(100000) == std::string((2 << 20) - 100000, '\0'))
      << "bytes past the truncation point reappeared";
}

TEST_F(DataTest, UnlinkedButOpenFileStaysReadable) {
  std::string data;
  int fd = -1;
  ASSERT_NO_FATAL_FAILURE(WriteThenUnlink(&data, &fd));
  const std::string path = M("doomed");

  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);
  ASSERT_EQ(fstat(fd, &st), 0) << ErrnoText(errno);
  EXPECT_EQ(st.st_nlink, 0u);
  std::string buf(data.size(), '\0');
  ASSERT_EQ(pread(fd, buf.data(), buf.size(), 0), static_cast<ssize_t>(buf.size()))
      << ErrnoText(errno);
  EXPECT_TRUE(buf == data);
  // Still writable too.
  ASSERT_EQ(pwrite(fd, "tail", 4, static_cast<off_t>(data.size())), 4) << ErrnoText(errno);
  char back[4];
  ASSERT_EQ(pread(fd, back, 4, static_cast<off_t>(data.size())), 4) << ErrnoText(errno);
  EXPECT_EQ(std::string(back, 4), "tail");
  ASSERT_EQ(close(fd), 0) << ErrnoText(errno);
  EXPECT_EQ(stat(path.c_str(), &st), -1);
}

TEST_F(DataTest, UnlinkedButOpenFileSurvivesAMetadRestart) {
  std::string data;
  int fd = -1;
  ASSERT_NO_FATAL_FAILURE(WriteThenUnlink(&data, &fd));
  const std::string path = M("doomed");

  // metad forgets every open handle; the orphan is kept for its grace
  // period, and the client announces its open inodes again meanwhile.
  ASSERT_TRUE(cluster().Kill9("metad"));
  ASSERT_TRUE(cluster().Restart("metad"));
  ASSERT_TRUE(cluster().WaitServersUp(3, seconds(60)));

  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0) << ErrnoText(errno);
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_EQ(st.st_size, static_cast<off_t>(data.size()));
  std::string buf(data.size(), '\0');
  ASSERT_EQ(pread(fd, buf.data(), buf.size(), 0), static_cast<ssize_t>(buf.size()))
      << ErrnoText(errno);
  EXPECT_TRUE(buf == data);
  ASSERT_EQ(pwrite(fd, "tail", 4, static_cast<off_t>(data.size())), 4) << ErrnoText(errno);
  ASSERT_EQ(fsync(fd), 0) << ErrnoText(errno);
  ASSERT_EQ(fstat(fd, &st), 0) << ErrnoText(errno);
  EXPECT_EQ(st.st_size, static_cast<off_t>(data.size() + 4));
  char back[4];
  ASSERT_EQ(pread(fd, back, 4, static_cast<off_t>(data.size())), 4) << ErrnoText(errno);
  EXPECT_EQ(std::string(back, 4), "tail");
  ASSERT_EQ(close(fd), 0) << ErrnoText(errno);
}

TEST_F(DataTest, SmallWriteAfterAnotherMountTruncatedDoesNotRegrowTheFile) {
  ASSERT_TRUE(cluster().Mount(1));
  const std::string path = M("shared"), other = cluster().mountpoint(1) + "/shared";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0644);
  ASSERT_GE(fd, 0) << ErrnoText(errno);
  const std::string big(1 << 20, 'b');
  ASSERT_EQ(write(fd, big.data(), big.size()), static_cast<ssize_t>(big.size()));
  ASSERT_EQ(fsync(fd), 0) << ErrnoText(errno);
  ASSERT_EQ(truncate(other.c_str(), 0), 0) << ErrnoText(errno);
  ASSERT_EQ(pwrite(fd, "abc", 3, 0), 3) << ErrnoText(errno);
  ASSERT_EQ(fsync(fd), 0) << ErrnoText(errno);
  ASSERT_EQ(close(fd), 0) << ErrnoText(errno);
  // Mount 1 cached size 0 from its truncate for attr_timeout: wait for it
  // to ask metad again.
  struct stat st {};
  ASSERT_TRUE(PollUntil([&] { return stat(other.c_str(), &st) == 0 && st.st_size != 0; },
                        seconds(30)))
      << "mount 1 never saw the write";
  EXPECT_EQ(st.st_size, 3) << "the writer's old high-water mark came back";
  // The writer's location of the chunk metad dropped at the truncation is
  // stale: metad deleted that chunk on its datads first, so the write got
  // NOT_FOUND and went into a new chunk.
  std::string got;
  DropPageCache(other);
  ASSERT_TRUE(ReadFile(other, &got));
  EXPECT_EQ(got, "abc") << "acknowledged bytes lost";
  DropPageCache(path);
  ASSERT_TRUE(ReadFile(path, &got));
  EXPECT_EQ(got, "abc");
}

}  // namespace
}  // namespace replfs::testing
