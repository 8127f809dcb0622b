#include "fuse/mount_options.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "fuse/meta_client.h"

namespace replfs::client {
namespace {

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(MountOptionsTest, StripsOursAddsFsnameAndSubtype) {
  MountArgs a;
  Status s = ParseMountArgs({"127.0.0.1:9190", "/mnt/r", "-o",
                             "rw,_netdev,allow_other,attr_timeout=2.5,nofail,x-systemd.automount,"
                             "rpc.retry_attempts=7,defaults,log_level=debug,max_threads=4",
                             "-f"},
                            &a);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(a.meta, "127.0.0.1:9190");
  EXPECT_EQ(a.mountpoint, "/mnt/r");
  EXPECT_TRUE(a.foreground);
  EXPECT_EQ(a.fuse_options, (std::vector<std::string>{"rw", "allow_other", "default_permissions",
                                                      "fsname=127.0.0.1:9190", "subtype=replfs"}));
  EXPECT_TRUE(Has(a.sets, "client.attr_timeout=2.5"));
  EXPECT_TRUE(Has(a.sets, "rpc.retry_attempts=7"));
  EXPECT_TRUE(Has(a.sets, "log.level=debug"));
  EXPECT_TRUE(Has(a.sets, "client.max_threads=4"));
  Config cfg;
  s = LoadMountConfig(a, &cfg);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_DOUBLE_EQ(cfg.attr_timeout_s, 2.5);
  EXPECT_EQ(cfg.retry_attempts, 7);
  EXPECT_EQ(cfg.client_max_threads, 4);
  EXPECT_EQ(cfg.meta, "127.0.0.1:9190");
  auto argv = FuseArgv("replfs", a);
  EXPECT_EQ(argv, (std::vector<std::string>{
                      "replfs", "-o",
                      "rw,allow_other,default_permissions,fsname=127.0.0.1:9190,subtype=replfs"}));
}

TEST(MountOptionsTest, MountHelperOrderAndAttachedOptions) {
  // mount.fuse3 style: options may come first and be attached to -o.
  MountArgs a;
  ASSERT_TRUE(ParseMountArgs({"-orw,nosuid,nodev", "h:1", "/m", "-d", "-s"}, &a).ok());
  EXPECT_TRUE(a.debug);
  EXPECT_TRUE(a.foreground);
  EXPECT_TRUE(a.single_thread);
  EXPECT_TRUE(Has(a.fuse_options, "nosuid"));
  EXPECT_TRUE(Has(a.fuse_options, "default_permissions"));
  auto argv = FuseArgv("replfs", a);
  EXPECT_EQ(argv.back(), "-d");
}

TEST(MountOptionsTest, UserFsnameKeptSubtypeForced) {
  MountArgs a;
  ASSERT_TRUE(ParseMountArgs({"h:1", "/m", "-o", "fsname=mine,subtype=other,default_permissions"}, &a).ok());
  EXPECT_TRUE(Has(a.fuse_options, "fsname=mine"));
  EXPECT_FALSE(Has(a.fuse_options, "subtype=other"));
  EXPECT_TRUE(Has(a.fuse_options, "subtype=replfs"));
  EXPECT_EQ(std::count(a.fuse_options.begin(), a.fuse_options.end(), "default_permissions"), 1);
}

TEST(MountOptionsTest, BadValuesAreClearErrors) {
  MountArgs a;
  ASSERT_TRUE(ParseMountArgs({"h:1", "/m", "-o", "attr_timeout=soon"}, &a).ok());
  Config cfg;
  Status s = LoadMountConfig(a, &cfg);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("attr_timeout"), std::string::npos) << s.message();

  ASSERT_TRUE(ParseMountArgs({"h:1", "/m", "-o", "client.nosuchkey=1"}, &a).ok());
  s = LoadMountConfig(a, &cfg);
  EXPECT_NE(s.message().find("nosuchkey"), std::string::npos) << s.message();

  ASSERT_TRUE(ParseMountArgs({"h:1", "/m", "-o", "max_threads=0"}, &a).ok());
  EXPECT_FALSE(LoadMountConfig(a, &cfg).ok());

  ASSERT_TRUE(ParseMountArgs({"not-an-address", "/m"}, &a).ok());
  s = LoadMountConfig(a, &cfg);
  EXPECT_FALSE(s.ok());

  s = ParseMountArgs({"h:1", "/m", "-o", "rpc_timeout_ms"}, &a);
  EXPECT_NE(s.message().find("rpc_timeout_ms"), std::string::npos);
  s = ParseMountArgs({"h:1"}, &a);
  EXPECT_FALSE(s.ok());
  s = ParseMountArgs({"h:1", "/m", "--bogus"}, &a);
  EXPECT_NE(s.message().find("--bogus"), std::string::npos);
  s = ParseMountArgs({"h:1", "/m", "-o"}, &a);
  EXPECT_FALSE(s.ok());
}

TEST(MountOptionsTest, HardSoftAndRetryBudget) {
  MountArgs a;
  ASSERT_TRUE(ParseMountArgs({"h:1", "/m", "-o", "hard,retry_budget_ms=500"}, &a).ok());
  EXPECT_TRUE(a.hard);
  for (const std::string& o : a.fuse_options) EXPECT_NE(o, "hard");
  Config cfg;
  ASSERT_TRUE(LoadMountConfig(a, &cfg).ok());
  EXPECT_EQ(cfg.retry_budget_ms, 500);
  EXPECT_EQ(MetaRpcOptions(net::RpcOptions::FromConfig(cfg), a.hard).budget_ms, kHardBudgetMs);
  ASSERT_TRUE(ParseMountArgs({"h:1", "/m", "-o", "hard,soft"}, &a).ok());
  EXPECT_FALSE(a.hard);
  EXPECT_EQ(MetaRpcOptions(net::RpcOptions::FromConfig(cfg), a.hard).budget_ms, 500);
}

}  // namespace
}  // namespace replfs::client
