#include "ctl/mountinfo.h"

#include <gtest/gtest.h>

namespace replfs::ctl {
namespace {

constexpr char kMountInfo[] =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "40 22 0:35 / /mnt/replfs rw,nosuid,nodev,relatime shared:20 - fuse.replfs "
    "127.0.0.1:9190 rw,user_id=0,group_id=0,default_permissions\n"
    "41 22 0:36 / /mnt/my\\040fs rw,relatime - fuse.replfs 10.0.0.5:9190 rw\n"
    "42 40 0:37 / /mnt/replfs/tmp rw - tmpfs tmpfs rw\n"
    "43 22 0:38 / /mnt/other rw master:3 shared:4 - fuse.sshfs host:/x rw\n"
    "garbage line\n";

TEST(MountInfoTest, ParsesFieldsOptionalTagsAndEscapes) {
  std::vector<MountEntry> m = ParseMountInfo(kMountInfo);
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[1].mount_point, "/mnt/replfs");
  EXPECT_EQ(m[1].fs_type, "fuse.replfs");
  EXPECT_EQ(m[1].source, "127.0.0.1:9190");
  EXPECT_EQ(m[2].mount_point, "/mnt/my fs");
  EXPECT_EQ(m[4].fs_type, "fuse.sshfs"); // two optional fields before "-"
  EXPECT_EQ(m[4].source, "host:/x");
}

TEST(MountInfoTest, TranslatesPathsUnderAReplfsMount) {
  std::vector<MountEntry> m = ParseMountInfo(kMountInfo);
  FsTarget t = TranslatePath(m, "/mnt/replfs/dir/file");
  EXPECT_EQ(t.meta, "127.0.0.1:9190");
  EXPECT_EQ(t.fs_path, "/dir/file");
  t = TranslatePath(m, "/mnt/replfs");
  EXPECT_EQ(t.meta, "127.0.0.1:9190");
  EXPECT_EQ(t.fs_path, "/");
  t = TranslatePath(m, "/mnt/my fs/a");
  EXPECT_EQ(t.meta, "10.0.0.5:9190");
  EXPECT_EQ(t.fs_path, "/a");
}

TEST(MountInfoTest, PathsOutsideReplfsAreInFsPaths) {
  std::vector<MountEntry> m = ParseMountInfo(kMountInfo);
  // A prefix that is not a whole component does not count.
  FsTarget t = TranslatePath(m, "/mnt/replfsx/f");
  EXPECT_EQ(t.meta, "");
  EXPECT_EQ(t.fs_path, "/mnt/replfsx/f");
  // A tmpfs mounted inside the replfs mount hides it.
  t = TranslatePath(m, "/mnt/replfs/tmp/f");
  EXPECT_EQ(t.meta, "");
  t = TranslatePath(m, "/dir/file");
  EXPECT_EQ(t.meta, "");
  EXPECT_EQ(t.fs_path, "/dir/file");
}

TEST(MountInfoTest, LaterMountOnSamePointWins) {
  std::vector<MountEntry> m =
      ParseMountInfo("1 0 0:1 / /m rw - fuse.replfs a:1 rw\n"
                     "2 0 0:2 / /m rw - fuse.replfs b:2 rw\n");
  EXPECT_EQ(TranslatePath(m, "/m/x").meta, "b:2");
}

TEST(MountInfoTest, ResolvesRelativeAndUnnormalisedPaths) {
  std::vector<MountEntry> m = ParseMountInfo(kMountInfo);
  FsTarget t;
  // Neither path exists locally: normalised lexically.
  ASSERT_TRUE(ResolveTarget(m, "dir/../file/", "/mnt/replfs", &t).ok());
  EXPECT_EQ(t.meta, "127.0.0.1:9190");
  EXPECT_EQ(t.fs_path, "/file");
  ASSERT_TRUE(ResolveTarget(m, "/mnt/replfs//a/./b", "/", &t).ok());
  EXPECT_EQ(t.fs_path, "/a/b");
  EXPECT_FALSE(ResolveTarget(m, "", "/", &t).ok());
}

} // namespace
} // namespace replfs::ctl
