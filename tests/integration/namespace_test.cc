// Namespace semantics through the kernel: hard links, symlinks, xattrs,
// attributes (chmod/chown/utimens), rename cases, name length limits, ".."
// after renames, setgid directories, O_CREAT racing another mount's create,
// and another mount's changes reaching the kernel's cache (the change feed).
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <vector>

#include "tests/integration/cluster.h"
#include "tests/integration/fs_util.h"

namespace replfs::testing {
namespace {

class NamespaceTest : public ClusterTest {};

struct stat Stat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path << ": " << ErrnoText(errno);
  return st;
}

std::string Contents(const std::string& path) {
  std::string s;
  EXPECT_TRUE(ReadFile(path, &s));
  return s;
}

// errno of a call expected to fail, or 0 if it succeeded.
int ErrnoOf(int rc) { return rc == 0 ? 0 : errno; }

TEST_F(NamespaceTest, HardLinks) {
  ASSERT_TRUE(WriteFile(M("a"), "data"));
  ASSERT_EQ(link(M("a").c_str(), M("b").c_str()), 0) << ErrnoText(errno);
  ASSERT_EQ(mkdir(M("d").c_str(), 0755), 0) << ErrnoText(errno);
  ASSERT_EQ(link(M("a").c_str(), M("d/c").c_str()), 0) << ErrnoText(errno);
  struct stat a = Stat(M("a")), b = Stat(M("b")), c = Stat(M("d/c"));
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_ino, c.st_ino);
  EXPECT_EQ(a.st_nlink, 3u);
  EXPECT_EQ(b.st_nlink, 3u);

  // Data is shared: written through one name, read through another.
  ASSERT_TRUE(WriteFile(M("b"), "DATA through b"));
  EXPECT_EQ(Contents(M("a")), "DATA through b");
  EXPECT_EQ(Contents(M("d/c")), "DATA through b");

  ASSERT_EQ(unlink(M("a").c_str()), 0) << ErrnoText(errno);
  EXPECT_EQ(Stat(M("b")).st_nlink, 2u);
  EXPECT_EQ(Stat(M("d/c")).st_nlink, 2u);
  EXPECT_EQ(ErrnoOf(link(M("b").c_str(), M("d/c").c_str())), EEXIST);
  EXPECT_EQ(ErrnoOf(link(M("nope").c_str(), M("x").c_str())), ENOENT);
  EXPECT_EQ(ErrnoOf(link(M("d").c_str(), M("dlink").c_str())), EPERM);  // no dir hard links
  ASSERT_EQ(unlink(M("b").c_str()), 0);
  EXPECT_EQ(Stat(M("d/c")).st_nlink, 1u);
  EXPECT_EQ(Contents(M("d/c")), "DATA through b");
}

TEST_F(NamespaceTest, Symlinks) {
  ASSERT_TRUE(WriteFile(M("target"), "pointed at"));
  ASSERT_EQ(symlink("target", M("rel").c_str()), 0) << ErrnoText(errno);
  ASSERT_EQ(symlink(M("target").c_str(), M("abs").c_str()), 0) << ErrnoText(errno);
  ASSERT_EQ(symlink("does/not/exist", M("dangling").c_str()), 0) << ErrnoText(errno);
  const std::string long_target(1000, 'x');
  ASSERT_EQ(symlink(long_target.c_str(), M("long").c_str()), 0) << ErrnoText(errno);

  char buf[4096];
  ssize_t n = readlink(M("rel").c_str(), buf, sizeof(buf));
  ASSERT_EQ(n, 6) << ErrnoText(errno);
  EXPECT_EQ(std::string(buf, 6), "target");
  n = readlink(M("long").c_str(), buf, sizeof(buf));
  EXPECT_EQ(std::string(buf, static_cast<size_t>(std::max<ssize_t>(n, 0))), long_target);

  struct stat st = Stat(M("rel"));
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(st.st_size, 6);
  EXPECT_EQ(Contents(M("rel")), "pointed at");
  EXPECT_EQ(Contents(M("abs")), "pointed at");
  struct stat followed {};
  EXPECT_EQ(ErrnoOf(stat(M("dangling").c_str(), &followed)), ENOENT);
  EXPECT_EQ(ErrnoOf(symlink("x", M("rel").c_str())), EEXIST);
  EXPECT_EQ(ErrnoOf(readlink(M("target").c_str(), buf, sizeof(buf)) < 0 ? -1 : 0), EINVAL);
}

TEST_F(NamespaceTest, Xattrs) {
  const std::string f = M("x");
  ASSERT_TRUE(WriteFile(f, "x"));
  const std::string binary("v\0al\xff", 5);
  ASSERT_EQ(setxattr(f.c_str(), "user.one", "1", 1, 0), 0) << ErrnoText(errno);
  ASSERT_EQ(setxattr(f.c_str(), "user.bin", binary.data(), binary.size(), 0), 0)
      << ErrnoText(errno);
  ASSERT_EQ(setxattr(f.c_str(), "user.empty", "", 0, 0), 0) << ErrnoText(errno);

  char buf[256];
  ssize_t n = getxattr(f.c_str(), "user.bin", buf, sizeof(buf));
  ASSERT_EQ(n, 5) << ErrnoText(errno);
  EXPECT_EQ(std::string(buf, 5), binary);
  EXPECT_EQ(getxattr(f.c_str(), "user.bin", nullptr, 0), 5);  // size query
  EXPECT_EQ(getxattr(f.c_str(), "user.bin", buf, 2), -1);
  EXPECT_EQ(errno, ERANGE);
  EXPECT_EQ(getxattr(f.c_str(), "user.empty", buf, sizeof(buf)), 0);

  n = listxattr(f.c_str(), buf, sizeof(buf));
  ASSERT_GT(n, 0) << ErrnoText(errno);
  std::set<std::string> names;
  for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(std::strlen(buf + i)) + 1) {
    names.insert(buf + i);
  }
  EXPECT_EQ(names, (std::set<std::string>{"user.one", "user.bin", "user.empty"}));

  EXPECT_EQ(ErrnoOf(setxattr(f.c_str(), "user.one", "2", 1, XATTR_CREATE)), EEXIST);
  EXPECT_EQ(ErrnoOf(setxattr(f.c_str(), "user.none", "2", 1, XATTR_REPLACE)), ENODATA);
  ASSERT_EQ(setxattr(f.c_str(), "user.one", "22", 2, XATTR_REPLACE), 0) << ErrnoText(errno);
  EXPECT_EQ(getxattr(f.c_str(), "user.one", buf, sizeof(buf)), 2);
  EXPECT_EQ(std::string(buf, 2), "22");

  ASSERT_EQ(removexattr(f.c_str(), "user.one"), 0) << ErrnoText(errno);
  EXPECT_EQ(getxattr(f.c_str(), "user.one", buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, ENODATA);
  EXPECT_EQ(ErrnoOf(removexattr(f.c_str(), "user.one")), ENODATA);
  // The system.* namespace is not implemented: refused, not silently dropped.
  // (A system.posix_acl_* name would be parsed, and rejected, by the kernel.)
  EXPECT_EQ(ErrnoOf(setxattr(f.c_str(), "system.replfs_test", "x", 1, 0)), EOPNOTSUPP);
  // Directories carry xattrs too.
  ASSERT_EQ(mkdir(M("dx").c_str(), 0755), 0);
  EXPECT_EQ(setxattr(M("dx").c_str(), "user.d", "d", 1, 0), 0) << ErrnoText(errno);
  EXPECT_EQ(getxattr(M("dx").c_str(), "user.d", buf, sizeof(buf)), 1);
}

int64_t Ns(const timespec& t) { return t.tv_sec * 1'000'000'000ll + t.tv_nsec; }

int64_t NowNs() {
  timespec t{};
  clock_gettime(CLOCK_REALTIME, &t);
  return Ns(t);
}

TEST_F(NamespaceTest, ChmodChownUtimens) {
  const std::string f = M("attrs");
  ASSERT_TRUE(WriteFile(f, "attrs"));
  ASSERT_EQ(chmod(f.c_str(), 0640), 0) << ErrnoText(errno);
  EXPECT_EQ(Stat(f).st_mode & 07777, 0640u);
  ASSERT_EQ(chmod(f.c_str(), 04705), 0) << ErrnoText(errno);
  EXPECT_EQ(Stat(f).st_mode & 07777, 04705u);
  EXPECT_TRUE(S_ISREG(Stat(f).st_mode));

  ASSERT_EQ(chown(f.c_str(), 1234, 5678), 0) << ErrnoText(errno);
  struct stat st = Stat(f);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  ASSERT_EQ(chown(f.c_str(), static_cast<uid_t>(-1), 42), 0) << ErrnoText(errno);
  st = Stat(f);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 42u);

  // Explicit times, nanosecond precision.
  const timespec times[2] = {{1'000'000'000, 123'456'789}, {1'500'000'000, 987'654'321}};
  ASSERT_EQ(utimensat(AT_FDCWD, f.c_str(), times, 0), 0) << ErrnoText(errno);
  st = Stat(f);
  EXPECT_EQ(Ns(st.st_atim), Ns(times[0]));
  EXPECT_EQ(Ns(st.st_mtim), Ns(times[1]));

  // UTIME_OMIT keeps atime; UTIME_NOW sets mtime to the current time.
  const int64_t before = NowNs();
  const timespec now_omit[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  ASSERT_EQ(utimensat(AT_FDCWD, f.c_str(), now_omit, 0), 0) << ErrnoText(errno);
  const int64_t after = NowNs();
  st = Stat(f);
  EXPECT_EQ(Ns(st.st_atim), Ns(times[0])) << "UTIME_OMIT changed atime";
  EXPECT_GE(Ns(st.st_mtim), before - 1'000'000'000) << "UTIME_NOW";
  EXPECT_LE(Ns(st.st_mtim), after + 1'000'000'000) << "UTIME_NOW";
  EXPECT_GE(Ns(st.st_ctim), before - 1'000'000'000) << "ctime follows attribute changes";

  // The same through an open descriptor, and the other way round.
  const int fd = open(f.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0) << ErrnoText(errno);
  const timespec omit_now[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  const int64_t mtime_kept = Ns(st.st_mtim);
  ASSERT_EQ(futimens(fd, omit_now), 0) << ErrnoText(errno);
  close(fd);
  st = Stat(f);
  EXPECT_EQ(Ns(st.st_mtim), mtime_kept) << "UTIME_OMIT changed mtime";
  EXPECT_GE(Ns(st.st_atim), before - 1'000'000'000) << "UTIME_NOW atime";

  // Directories and symlinks (lchown) too.
  ASSERT_EQ(mkdir(M("dir").c_str(), 0700), 0);
  ASSERT_EQ(chmod(M("dir").c_str(), 0751), 0) << ErrnoText(errno);
  EXPECT_EQ(Stat(M("dir")).st_mode & 07777, 0751u);
  ASSERT_EQ(symlink("attrs", M("sl").c_str()), 0);
  ASSERT_EQ(lchown(M("sl").c_str(), 77, 88), 0) << ErrnoText(errno);
  EXPECT_EQ(Stat(M("sl")).st_uid, 77u);
  EXPECT_EQ(Stat(f).st_uid, 1234u) << "lchown followed the symlink";
}

TEST_F(NamespaceTest, RenameCases) {
  // Overwriting a file; the victim's other name sees its link count drop.
  ASSERT_TRUE(WriteFile(M("a"), "A"));
  ASSERT_TRUE(WriteFile(M("b"), "B"));
  ASSERT_EQ(link(M("b").c_str(), M("b2").c_str()), 0);
  EXPECT_EQ(Stat(M("b2")).st_nlink, 2u);
  ASSERT_EQ(rename(M("a").c_str(), M("b").c_str()), 0) << ErrnoText(errno);
  EXPECT_EQ(Contents(M("b")), "A");
  EXPECT_EQ(access(M("a").c_str(), F_OK), -1);
  EXPECT_EQ(Stat(M("b2")).st_nlink, 1u) << "stale cached nlink of the overwritten inode";
  EXPECT_EQ(Contents(M("b2")), "B");

  // RENAME_NOREPLACE.
  ASSERT_TRUE(WriteFile(M("c"), "C"));
  EXPECT_EQ(
      ErrnoOf(renameat2(AT_FDCWD, M("c").c_str(), AT_FDCWD, M("b").c_str(), RENAME_NOREPLACE)),
      EEXIST);
  EXPECT_EQ(Contents(M("b")), "A");
  ASSERT_EQ(renameat2(AT_FDCWD, M("c").c_str(), AT_FDCWD, M("e").c_str(), RENAME_NOREPLACE), 0)
      << ErrnoText(errno);
  EXPECT_EQ(Contents(M("e")), "C");

  // RENAME_EXCHANGE, also across directories and between a file and a dir.
  ASSERT_EQ(mkdir(M("d1").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(M("d1/y"), "Y"));
  ASSERT_EQ(renameat2(AT_FDCWD, M("e").c_str(), AT_FDCWD, M("d1/y").c_str(), RENAME_EXCHANGE), 0)
      << ErrnoText(errno);
  EXPECT_EQ(Contents(M("e")), "Y");
  EXPECT_EQ(Contents(M("d1/y")), "C");
  EXPECT_EQ(
      ErrnoOf(renameat2(AT_FDCWD, M("e").c_str(), AT_FDCWD, M("missing").c_str(), RENAME_EXCHANGE)),
      ENOENT);
  ASSERT_EQ(mkdir(M("d2").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(M("d2/inside"), "I"));
  ASSERT_EQ(renameat2(AT_FDCWD, M("e").c_str(), AT_FDCWD, M("d2").c_str(), RENAME_EXCHANGE), 0)
      << ErrnoText(errno);
  EXPECT_EQ(Contents(M("d2")), "Y");
  EXPECT_EQ(Contents(M("e/inside")), "I");

  // Directories: over a non-empty dir, over an empty one, over a file, into
  // its own subtree; a file over a directory.
  ASSERT_EQ(mkdir(M("src").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(M("src/f"), "F"));
  ASSERT_EQ(mkdir(M("full").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(M("full/g"), "G"));
  ASSERT_EQ(mkdir(M("empty").c_str(), 0755), 0);
  EXPECT_EQ(ErrnoOf(rename(M("src").c_str(), M("full").c_str())), ENOTEMPTY);
  EXPECT_EQ(ErrnoOf(rename(M("src").c_str(), M("b").c_str())), ENOTDIR);
  EXPECT_EQ(ErrnoOf(rename(M("b").c_str(), M("full").c_str())), EISDIR);
  ASSERT_EQ(mkdir(M("src/sub").c_str(), 0755), 0);
  EXPECT_EQ(ErrnoOf(rename(M("src").c_str(), M("src/sub/src").c_str())), EINVAL);
  const ino_t src_ino = Stat(M("src")).st_ino;
  ASSERT_EQ(rename(M("src").c_str(), M("empty").c_str()), 0) << ErrnoText(errno);
  EXPECT_EQ(Stat(M("empty")).st_ino, src_ino);
  EXPECT_EQ(Contents(M("empty/f")), "F");
  EXPECT_EQ(access(M("src").c_str(), F_OK), -1);
  // Moving a directory updates both parents' link counts.
  const nlink_t root_links = Stat(cluster().mountpoint()).st_nlink;
  ASSERT_EQ(rename(M("empty").c_str(), M("full/moved").c_str()), 0) << ErrnoText(errno);
  EXPECT_EQ(Stat(cluster().mountpoint()).st_nlink, root_links - 1);
  EXPECT_EQ(Stat(M("full")).st_nlink, 3u);
  EXPECT_EQ(Contents(M("full/moved/f")), "F");
  EXPECT_EQ(ErrnoOf(rmdir(M("full").c_str())), ENOTEMPTY);
}

TEST_F(NamespaceTest, NamesLongerThan255BytesAreRefused) {
  const std::string ok(255, 'n');
  const std::string too_long(256, 'n');
  ASSERT_TRUE(WriteFile(M(ok), "255"));
  EXPECT_EQ(Contents(M(ok)), "255");
  int fd = open(M(too_long).c_str(), O_CREAT | O_WRONLY, 0644);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, ENAMETOOLONG);
  if (fd >= 0) close(fd);
  EXPECT_EQ(ErrnoOf(mkdir(M(too_long).c_str(), 0755)), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(symlink("t", M(too_long).c_str())), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(link(M(ok).c_str(), M(too_long).c_str())), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(rename(M(ok).c_str(), M(too_long).c_str())), ENAMETOOLONG);
  struct stat st {};
  EXPECT_EQ(ErrnoOf(stat(M(too_long).c_str(), &st)), ENAMETOOLONG);
  EXPECT_EQ(access(M(ok).c_str(), F_OK), 0) << "the failed rename lost the source";
}

TEST_F(NamespaceTest, CommonErrnos) {
  ASSERT_TRUE(WriteFile(M("f"), "f"));
  ASSERT_EQ(mkdir(M("d").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(M("d/x"), "x"));
  struct stat st {};
  EXPECT_EQ(ErrnoOf(stat(M("nope").c_str(), &st)), ENOENT);
  EXPECT_EQ(ErrnoOf(mkdir(M("f").c_str(), 0755)), EEXIST);
  EXPECT_EQ(ErrnoOf(open(M("f").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644) < 0 ? -1 : 0), EEXIST);
  EXPECT_EQ(ErrnoOf(stat(M("f/x").c_str(), &st)), ENOTDIR);
  EXPECT_EQ(ErrnoOf(rmdir(M("d").c_str())), ENOTEMPTY);
  EXPECT_EQ(ErrnoOf(rmdir(M("f").c_str())), ENOTDIR);
  EXPECT_EQ(ErrnoOf(unlink(M("d").c_str())), EISDIR);
  ASSERT_EQ(unlink(M("d/x").c_str()), 0);
  EXPECT_EQ(rmdir(M("d").c_str()), 0) << ErrnoText(errno);
}

// The inode readdir reports for ".." of `dir` (0 if it has none).
ino_t DotDotOf(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  EXPECT_NE(d, nullptr) << dir << ": " << ErrnoText(errno);
  if (d == nullptr) return 0;
  ino_t ino = 0;
  while (dirent* e = readdir(d)) {
    if (std::string(e->d_name) == "..") ino = e->d_ino;
  }
  closedir(d);
  return ino;
}

TEST_F(NamespaceTest, DotDotFollowsRenamedDirectories) {
  ASSERT_EQ(mkdir(M("a").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(M("a/b").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(M("c").c_str(), 0755), 0);
  EXPECT_EQ(DotDotOf(M("a/b")), Stat(M("a")).st_ino);
  ASSERT_EQ(rename(M("a/b").c_str(), M("c/b").c_str()), 0) << ErrnoText(errno);
  EXPECT_EQ(DotDotOf(M("c/b")), Stat(M("c")).st_ino) << "'..' still names the old parent";
  // Renamed in place, then moved under the root.
  ASSERT_EQ(rename(M("c/b").c_str(), M("c/bb").c_str()), 0) << ErrnoText(errno);
  EXPECT_EQ(DotDotOf(M("c/bb")), Stat(M("c")).st_ino);
  ASSERT_EQ(rename(M("c/bb").c_str(), M("top").c_str()), 0) << ErrnoText(errno);
  EXPECT_EQ(DotDotOf(M("top")), Stat(cluster().mountpoint()).st_ino);

  // RENAME_EXCHANGE of two directories with different parents.
  ASSERT_EQ(mkdir(M("x").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(M("x/p").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(M("y").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(M("y/q").c_str(), 0755), 0);
  const ino_t p = Stat(M("x/p")).st_ino, q = Stat(M("y/q")).st_ino;
  ASSERT_EQ(renameat2(AT_FDCWD, M("x/p").c_str(), AT_FDCWD, M("y/q").c_str(), RENAME_EXCHANGE), 0)
      << ErrnoText(errno);
  ASSERT_EQ(Stat(M("y/q")).st_ino, p);
  ASSERT_EQ(Stat(M("x/p")).st_ino, q);
  EXPECT_EQ(DotDotOf(M("y/q")), Stat(M("y")).st_ino);
  EXPECT_EQ(DotDotOf(M("x/p")), Stat(M("x")).st_ino);

  // Over an empty directory: the survivor's ".." is the target's parent.
  ASSERT_EQ(mkdir(M("x/p/victim").c_str(), 0755), 0);
  ASSERT_EQ(rename(M("y/q").c_str(), M("x/p/victim").c_str()), 0) << ErrnoText(errno);
  EXPECT_EQ(Stat(M("x/p/victim")).st_ino, p);
  EXPECT_EQ(DotDotOf(M("x/p/victim")), Stat(M("x/p")).st_ino);
}

TEST_F(NamespaceTest, SetgidDirectoryHandsDownItsGroup) {
  constexpr gid_t kGroup = 4321;  // not the caller's (root's) group
  ASSERT_EQ(mkdir(M("shared").c_str(), 0775), 0);
  ASSERT_EQ(chown(M("shared").c_str(), 0, kGroup), 0) << ErrnoText(errno);
  ASSERT_EQ(chmod(M("shared").c_str(), 02775), 0) << ErrnoText(errno);
  ASSERT_TRUE(WriteFile(M("shared/f"), "f"));
  ASSERT_EQ(mkdir(M("shared/sub").c_str(), 0755), 0);
  ASSERT_EQ(symlink("f", M("shared/l").c_str()), 0);
  ASSERT_EQ(mkfifo(M("shared/p").c_str(), 0600), 0);
  for (const char* n : {"shared/f", "shared/sub", "shared/l", "shared/p"}) {
    EXPECT_EQ(Stat(M(n)).st_gid, kGroup) << n;
    EXPECT_EQ(Stat(M(n)).st_uid, 0u) << n;
  }
  EXPECT_EQ(Stat(M("shared/f")).st_mode & 07777, 0644u);
  EXPECT_EQ(Stat(M("shared/sub")).st_mode & 07777, 02755u) << "subdirectory lost S_ISGID";
  ASSERT_TRUE(WriteFile(M("shared/sub/deeper"), "d"));
  EXPECT_EQ(Stat(M("shared/sub/deeper")).st_gid, kGroup);
  // Elsewhere the caller's group.
  ASSERT_TRUE(WriteFile(M("plain"), "p"));
  EXPECT_EQ(Stat(M("plain")).st_gid, 0u);
}

// Two mounts; names stay cached for a minute, negative entries included.
class CreateRaceTest : public ClusterTest {
 protected:
  Cluster::Options options() const override {
    Cluster::Options o;
    // Negative entries cached for long, without the change feed that
    // would drop them: the kernel then sends a create for a name another
    // mount made (with the feed this is a race of a few milliseconds).
    o.sets = {"client.entry_timeout=60", "client.coherent_timeout=0"};
    return o;
  }
  std::string M1(const std::string& rel) { return cluster().mountpoint(1) + "/" + rel; }
};

TEST_F(CreateRaceTest, OpenWithCreateOpensWhatAnotherMountCreated) {
  ASSERT_TRUE(cluster().Mount(1));
  struct stat st {};
  // Mount 0 caches that these names do not exist.
  for (const char* n : {"late", "trunc", "excl", "dir"})
    ASSERT_EQ(ErrnoOf(stat(M(n).c_str(), &st)), ENOENT) << n;
  ASSERT_TRUE(WriteFile(M1("late"), "from mount 1"));
  ASSERT_TRUE(WriteFile(M1("trunc"), "to be truncated"));
  ASSERT_TRUE(WriteFile(M1("excl"), "x"));
  ASSERT_EQ(mkdir(M1("dir").c_str(), 0755), 0);
  const ino_t late = Stat(M1("late")).st_ino;

  // O_CREAT without O_EXCL opens the existing file (it used to be EEXIST).
  int fd = open(M("late").c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0) << ErrnoText(errno);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_ino, late);
  EXPECT_EQ(st.st_mode & 07777, 0644u) << "the existing file's mode, not the one asked";
  char buf[64] = {};
  EXPECT_EQ(pread(fd, buf, sizeof buf, 0), 12) << ErrnoText(errno);
  EXPECT_EQ(std::string(buf), "from mount 1");
  ASSERT_EQ(close(fd), 0);

  // O_TRUNC applies to the existing file.
  fd = open(M("trunc").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << ErrnoText(errno);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 0);
  ASSERT_EQ(write(fd, "new", 3), 3);
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(Contents(M("trunc")), "new");
  EXPECT_EQ(Contents(M1("trunc")), "new");

  // O_EXCL still fails, and a directory is still one.
  EXPECT_EQ(ErrnoOf(open(M("excl").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644) < 0 ? -1 : 0),
            EEXIST);
  EXPECT_EQ(ErrnoOf(open(M("dir").c_str(), O_WRONLY | O_CREAT, 0644) < 0 ? -1 : 0), EISDIR);
  EXPECT_EQ(Contents(M("excl")), "x");
}

// The change feed: with attr_timeout and entry_timeout 0, whatever mount 1
// caches it caches only because it follows metad's feed (coherent_timeout),
// and what mount 0 changes must reach mount 1's kernel through that feed
// well before the 600 s run out.
class CoherenceTest : public ClusterTest {
 protected:
  Cluster::Options options() const override {
    Cluster::Options o;
    o.sets = {"client.attr_timeout=0", "client.entry_timeout=0", "client.coherent_timeout=600"};
    return o;
  }
  std::string M1(const std::string& rel) { return cluster().mountpoint(1) + "/" + rel; }

  // Polls until mount 1 answers stats of `paths` from its kernel's cache
  // (no metad call for a second round); the first replies may predate the
  // moment its feed was followed.
  ::testing::AssertionResult CachedOnMount1(const std::vector<std::string>& paths) {
    std::string last;
    const bool ok = PollUntil([&] {
      struct stat st {};
      for (const std::string& p : paths) (void)stat(M1(p).c_str(), &st);
      RpcCount before, after;
      if (!ClientRpcs(cluster(), 1, &before)) return false;
      for (const std::string& p : paths) (void)stat(M1(p).c_str(), &st);
      if (!ClientRpcs(cluster(), 1, &after)) return false;
      last = before.line + "\n" + after.line;
      return after.meta == before.meta;
    }, std::chrono::seconds(20));
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "mount 1 keeps asking metad:\n" << last;
  }
};

TEST_F(CoherenceTest, AnotherMountsChangesReachTheKernelsCacheAtOnce) {
  ASSERT_TRUE(cluster().Mount(1));
  ASSERT_TRUE(WriteFile(M("f"), "12345"));
  ASSERT_EQ(mkdir(M("d").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(M("d/inner"), "x"));
  ASSERT_TRUE(WriteFile(M("gone"), "y"));
  // Mount 1 caches f's attributes, the names d, d/inner and gone, and that
  // "new" does not exist.
  ASSERT_TRUE(CachedOnMount1({"f", "d", "d/inner", "gone", "new"}));
  EXPECT_EQ(Stat(M1("f")).st_size, 5);
  EXPECT_EQ(Contents(M1("f")), "12345");

  ASSERT_EQ(chmod(M("f").c_str(), 0600), 0);
  const int fd = open(M("f").c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0) << ErrnoText(errno);
  ASSERT_EQ(write(fd, "678", 3), 3);
  ASSERT_EQ(close(fd), 0);
  ASSERT_TRUE(WriteFile(M("new"), "made by mount 0"));
  ASSERT_EQ(rename(M("d").c_str(), M("d2").c_str()), 0);
  ASSERT_EQ(unlink(M("gone").c_str()), 0);

  struct stat st {};
  EXPECT_TRUE(PollUntil([&] {
    return stat(M1("f").c_str(), &st) == 0 && (st.st_mode & 07777) == 0600 && st.st_size == 8;
  }, std::chrono::seconds(10))) << "mode " << std::oct << (st.st_mode & 07777) << std::dec << " size " << st.st_size;
  EXPECT_TRUE(PollUntil([&] { return stat(M1("new").c_str(), &st) == 0; }, std::chrono::seconds(10)))
      << "the cached negative entry of \"new\" stayed";
  EXPECT_TRUE(PollUntil([&] { return stat(M1("d").c_str(), &st) != 0 && errno == ENOENT; },
                        std::chrono::seconds(10)))
      << "the renamed directory is still there under its old name";
  EXPECT_TRUE(PollUntil([&] { return stat(M1("gone").c_str(), &st) != 0 && errno == ENOENT; },
                        std::chrono::seconds(10)))
      << "the removed file is still there";
  EXPECT_EQ(Contents(M1("f")), "12345678");
  EXPECT_EQ(Contents(M1("d2/inner")), "x");
  EXPECT_EQ(Contents(M1("new")), "made by mount 0");
  // Mount 0 is not told of its own changes: its cache still answers.
  EXPECT_TRUE(WriteFile(M("own"), "z"));
  RpcCount before, after;
  struct stat own {};
  ASSERT_EQ(stat(M("own").c_str(), &own), 0);
  ASSERT_EQ(stat(M("f").c_str(), &own), 0);  // the append made the kernel drop it
  ASSERT_TRUE(ClientRpcs(cluster(), 0, &before));
  ASSERT_EQ(stat(M("own").c_str(), &own), 0);
  ASSERT_EQ(stat(M("f").c_str(), &own), 0);
  ASSERT_TRUE(ClientRpcs(cluster(), 0, &after));
  // The Release of the close of "own" goes out batched, up to 2 ms later.
  EXPECT_EQ(after.meta - MetaCalls(after, "ReleaseAll"), before.meta - MetaCalls(before, "ReleaseAll"))
      << before.line << "\n" << after.line;
}

// A small file written whole through a mount is read back there from what
// the client kept (ContentCache), no datad call; another mount's rewrite
// is read at the next open, from the datads (while the mounts follow the
// change feed, which tells of it).
TEST_F(CoherenceTest, ASmallFileIsReadBackWhereItWasWrittenAndAnotherMountsRewriteShows) {
  ASSERT_TRUE(cluster().Mount(1));
  ASSERT_TRUE(WriteFile(M("f"), "x\n"));
  RpcCount before, after;
  // Only once mount 0 follows the change feed (just after it mounted).
  ASSERT_TRUE(PollUntil([&] {
    if (!ClientRpcs(cluster(), 0, &before)) return false;
    EXPECT_EQ(Contents(M("f")), "x\n");
    return ClientRpcs(cluster(), 0, &after) && after.data == before.data;
  }, std::chrono::seconds(20))) << before.line << "\n" << after.line;

  ASSERT_TRUE(WriteFile(M1("f"), "y\n"));  // same size
  EXPECT_EQ(Contents(M("f")), "y\n");
  ASSERT_TRUE(WriteFile(M1("f"), "longer\n"));
  EXPECT_EQ(Contents(M("f")), "longer\n");
  // Mount 0's own rewrite (O_TRUNC, then held again) is kept in turn, once
  // the feed's events of mount 1's writes have arrived (one heard while the
  // rewrite was on its way keeps nothing).
  ASSERT_TRUE(PollUntil([&] {
    EXPECT_TRUE(WriteFile(M("f"), "z\n"));
    if (!ClientRpcs(cluster(), 0, &before)) return false;
    EXPECT_EQ(Contents(M("f")), "z\n");
    return ClientRpcs(cluster(), 0, &after) && after.data == before.data;
  }, std::chrono::seconds(20))) << before.line << "\n" << after.line;
  EXPECT_EQ(Contents(M1("f")), "z\n");
}

TEST_F(CoherenceTest, LookupsOfMissingNamesInADirectoryMadeHereAskNoOne) {
  ASSERT_TRUE(cluster().Mount(1));
  ASSERT_TRUE(WriteFile(M("f"), "x"));
  ASSERT_TRUE(CachedOnMount1({"f"}));  // mount 1 follows the feed
  std::string d;
  int tries = 0;
  ASSERT_TRUE(PollUntil([&] {
    d = "d" + std::to_string(tries++);
    if (mkdir(M1(d).c_str(), 0755) != 0) return false;
    RpcCount before, after;
    if (!ClientRpcs(cluster(), 1, &before)) return false;
    struct stat st {};
    for (int i = 0; i < 20; ++i) (void)stat(M1(d + "/probe" + std::to_string(i)).c_str(), &st);
    if (!ClientRpcs(cluster(), 1, &after)) return false;
    // (The kernel may ask for the root's attributes once: the mkdir
    // changed it.)
    return MetaCalls(after, "Lookup") == MetaCalls(before, "Lookup");
  }, std::chrono::seconds(20))) << "lookups in a directory mount 1 made keep asking metad";

  // Creates there cost no Lookup either, and what mount 1 does it sees.
  RpcCount before, after;
  ASSERT_TRUE(ClientRpcs(cluster(), 1, &before));
  ASSERT_TRUE(WriteFile(M1(d + "/mine"), "1"));
  ASSERT_EQ(mkdir(M1(d + "/sub").c_str(), 0755), 0);
  ASSERT_EQ(symlink("mine", M1(d + "/link").c_str()), 0);
  ASSERT_EQ(link(M1(d + "/mine").c_str(), M1(d + "/hard").c_str()), 0);
  ASSERT_TRUE(ClientRpcs(cluster(), 1, &after));
  EXPECT_EQ(MetaCalls(after, "Lookup"), MetaCalls(before, "Lookup")) << before.line << "\n" << after.line;
  ASSERT_EQ(rename(M1(d + "/mine").c_str(), M1(d + "/renamed").c_str()), 0);
  ASSERT_EQ(unlink(M1(d + "/hard").c_str()), 0);
  struct stat st {};
  EXPECT_NE(stat(M1(d + "/mine").c_str(), &st), 0);
  EXPECT_EQ(Contents(M1(d + "/renamed")), "1");
  EXPECT_NE(stat(M1(d + "/hard").c_str(), &st), 0);
  EXPECT_EQ(open(M1(d + "/link").c_str(), O_RDONLY), -1) << "its target \"mine\" was renamed";
  EXPECT_EQ(errno, ENOENT);
  char target[16] = {};
  EXPECT_EQ(readlink(M1(d + "/link").c_str(), target, sizeof target - 1), 4);
  EXPECT_STREQ(target, "mine");
  EXPECT_EQ(Stat(M1(d + "/sub")).st_mode & S_IFMT, static_cast<mode_t>(S_IFDIR));
  // Mount 0 sees all of it...
  EXPECT_EQ(Contents(M(d + "/renamed")), "1");
  EXPECT_NE(stat(M(d + "/mine").c_str(), &st), 0);
  // ...and what mount 0 adds or removes there reaches mount 1, whose set
  // said "absent" and whose kernel cached "probe0" as absent.
  ASSERT_TRUE(WriteFile(M(d + "/probe0"), "theirs"));
  ASSERT_TRUE(WriteFile(M(d + "/new"), "theirs too"));
  ASSERT_EQ(unlink(M(d + "/renamed").c_str()), 0);
  EXPECT_TRUE(PollUntil([&] { return stat(M1(d + "/probe0").c_str(), &st) == 0; }, std::chrono::seconds(10)))
      << "mount 0's file stays invisible on mount 1";
  EXPECT_TRUE(PollUntil([&] { return stat(M1(d + "/new").c_str(), &st) == 0; }, std::chrono::seconds(10)));
  EXPECT_TRUE(PollUntil([&] { return stat(M1(d + "/renamed").c_str(), &st) != 0 && errno == ENOENT; },
                        std::chrono::seconds(10)));
  EXPECT_EQ(Contents(M1(d + "/probe0")), "theirs");
  // O_EXCL of a name another mount made: EEXIST, not a second file.
  const int fd = open(M1(d + "/new").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, EEXIST);
  if (fd >= 0) close(fd);
  EXPECT_EQ(Contents(M1(d + "/new")), "theirs too");
}

// Drops the kernel's unused dentries and inodes (all file systems'): its
// next lookups of those names reach the mounts.
void DropKernelNames() {
  sync();
  const int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
  ASSERT_GE(fd, 0) << ErrnoText(errno);
  ASSERT_EQ(write(fd, "2", 1), 1);
  close(fd);
}

// A mount keeps the names and attributes of files metad told it of after
// its kernel dropped them (KnownFiles): the lookup of such a name asks
// metad nothing, and yet another mount's changes, and its own, show.
TEST_F(CoherenceTest, FilesTheKernelDroppedAreLookedUpWithoutMetadAndStayCoherent) {
  ASSERT_TRUE(cluster().Mount(1));
  for (const char* f : {"a", "b", "c", "d"}) ASSERT_TRUE(WriteFile(M1(f), f));
  // Mount 1 follows its feed, made the files and committed their writes:
  // after the kernel forgets them, stats cost no Lookup.
  int lookups = -1;
  ASSERT_TRUE(PollUntil([&] {
    DropKernelNames();
    RpcCount before, after;
    if (!ClientRpcs(cluster(), 1, &before)) return false;
    struct stat st {};
    for (const char* f : {"a", "b", "c", "d"})
      if (stat(M1(f).c_str(), &st) != 0 || st.st_size != 1) return false;
    if (!ClientRpcs(cluster(), 1, &after)) return false;
    lookups = MetaCalls(after, "Lookup") - MetaCalls(before, "Lookup");
    return lookups == 0;
  }, std::chrono::seconds(20))) << lookups << " Lookups for 4 stats after the kernel forgot the files";
  EXPECT_EQ(Contents(M1("b")), "b");

  // Mount 0 changes them.
  ASSERT_EQ(chmod(M("a").c_str(), 0600), 0);
  const int fd = open(M("b").c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0) << ErrnoText(errno);
  ASSERT_EQ(write(fd, "bb", 2), 2);
  ASSERT_EQ(close(fd), 0);
  ASSERT_EQ(rename(M("c").c_str(), M("c2").c_str()), 0);
  ASSERT_EQ(unlink(M("d").c_str()), 0);
  struct stat st {};
  EXPECT_TRUE(PollUntil([&] {
    DropKernelNames();
    return stat(M1("a").c_str(), &st) == 0 && (st.st_mode & 07777) == 0600;
  }, std::chrono::seconds(10))) << "mode " << std::oct << (st.st_mode & 07777);
  EXPECT_TRUE(PollUntil([&] {
    DropKernelNames();
    return stat(M1("b").c_str(), &st) == 0 && st.st_size == 3;
  }, std::chrono::seconds(10))) << "size " << st.st_size;
  EXPECT_TRUE(PollUntil([&] {
    DropKernelNames();
    return stat(M1("c").c_str(), &st) != 0 && errno == ENOENT && stat(M1("d").c_str(), &st) != 0 &&
           errno == ENOENT;
  }, std::chrono::seconds(10))) << "a renamed or removed name is still there";
  EXPECT_EQ(Contents(M1("b")), "bbb");
  EXPECT_EQ(Contents(M1("c2")), "c");

  // Mount 1's own changes show at once.
  ASSERT_EQ(chmod(M1("a").c_str(), 0640), 0);
  ASSERT_TRUE(WriteFile(M1("b"), "rewritten"));
  ASSERT_EQ(link(M1("c2").c_str(), M1("c3").c_str()), 0);
  DropKernelNames();
  EXPECT_EQ(Stat(M1("a")).st_mode & 07777, 0640u);
  EXPECT_EQ(Stat(M1("b")).st_size, 9);
  EXPECT_EQ(Stat(M1("c2")).st_nlink, 2u);
  ASSERT_EQ(unlink(M1("c3").c_str()), 0);
  DropKernelNames();
  EXPECT_EQ(Stat(M1("c2")).st_nlink, 1u);
  EXPECT_NE(stat(M1("c3").c_str(), &st), 0);
}

TEST_F(CoherenceTest, AfterAMetadRestartTheFeedIsFollowedAgain) {
  ASSERT_TRUE(cluster().Mount(1));
  ASSERT_TRUE(WriteFile(M("f"), "12345"));
  ASSERT_TRUE(CachedOnMount1({"f"}));
  ASSERT_TRUE(cluster().Stop("metad"));
  ASSERT_TRUE(cluster().Restart("metad"));
  // Mount 1 follows the new metad's feed, and drops its caches (the old
  // feed's end may never have reached it)...
  EXPECT_TRUE(PollUntil([&] {
    return TailFile(cluster().ClientLog(1), 1000).find("missed changes on metad's change feed (metad restarted)") !=
           std::string::npos;
  }, std::chrono::seconds(20))) << TailFile(cluster().ClientLog(1), 20);
  // ...caches again...
  ASSERT_TRUE(CachedOnMount1({"f"}));
  // ...and a change is seen through the new feed.
  ASSERT_EQ(chmod(M("f").c_str(), 0640), 0);
  struct stat st {};
  EXPECT_TRUE(PollUntil([&] { return stat(M1("f").c_str(), &st) == 0 && (st.st_mode & 07777) == 0640; },
                        std::chrono::seconds(10)))
      << "mode " << std::oct << (st.st_mode & 07777);
}

}  // namespace
}  // namespace replfs::testing
