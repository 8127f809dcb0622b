#include "common/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace replfs {
namespace {

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/replfs-config-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = tmpl;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  void Write(const std::string& text) {
    std::ofstream f(path_);
    f << text;
  }
  std::string path_;
};

TEST_F(ConfigFileTest, DefaultsWhenEmpty) {
  Write("");
  Config c;
  ASSERT_TRUE(LoadConfig(path_, {}, &c).ok());
  EXPECT_EQ(c.replicas, 3);
  EXPECT_EQ(c.chunk_size, 64ll << 20);
  EXPECT_EQ(c.block_size, 64 << 10);
  EXPECT_EQ(c.meta, "127.0.0.1:9190");
}

TEST_F(ConfigFileTest, ParsesEverySection) {
  Write(
      "# comment\n[cluster]\nreplicas = 2\nchunk_size = 1M\nblock_size = 4K\n"
      "[metad]\nlisten = 127.0.0.1:0\ndata_dir = /tmp/m\nfsync = false\n"
      "[datad]\nheartbeat_interval_ms = 250\n[rpc]\ntimeout_ms = 500\n"
      "[client]\nattr_timeout = 0.5\n[log]\nlevel = debug\n");
  Config c;
  Status s = LoadConfig(path_, {}, &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.replicas, 2);
  EXPECT_EQ(c.chunk_size, 1 << 20);
  EXPECT_EQ(c.block_size, 4096);
  EXPECT_EQ(c.metad_listen, "127.0.0.1:0");
  EXPECT_FALSE(c.metad_fsync);
  EXPECT_EQ(c.heartbeat_interval_ms, 250);
  EXPECT_EQ(c.rpc_timeout_ms, 500);
  EXPECT_DOUBLE_EQ(c.attr_timeout_s, 0.5);
  EXPECT_EQ(c.log_level, "debug");
}

TEST_F(ConfigFileTest, UnknownKeyIsAnErrorNamingFileLineAndKey) {
  Write("[cluster]\nreplicas = 3\nreplica = 2\n");
  Config c;
  Status s = LoadConfig(path_, {}, &c);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_NE(s.message().find(path_ + ":3"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("replica"), std::string::npos) << s.message();
}

TEST_F(ConfigFileTest, UnknownSectionIsAnError) {
  Write("[metadata]\nlisten = 1.2.3.4:5\n");
  Config c;
  Status s = LoadConfig(path_, {}, &c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unknown section [metadata]"), std::string::npos) << s.message();
}

TEST_F(ConfigFileTest, BadValuesAreErrors) {
  const char* bad[] = {
      "[cluster]\nreplicas = 0\n",          "[cluster]\nreplicas = three\n",
      "[cluster]\nchunk_size = 64X\n",      "[cluster]\nblock_size = 3000\n",
      "[metad]\nlisten = nohostport\n",     "[metad]\nlisten = host:99999\n",
      "[metad]\nfsync = maybe\n",           "[metad]\ndata_dir = relative/path\n",
      "[log]\nlevel = loud\n",              "replicas = 3\n",
      "[cluster]\nchunk_size = 100K\nblock_size = 64K\n",
      "[metad]\nfsync_interval_ms = -1\n",  "[metad]\nfsync_interval_ms = 60001\n",
  };
  for (const char* text : bad) {
    Write(text);
    Config c;
    Status s = LoadConfig(path_, {}, &c);
    EXPECT_FALSE(s.ok()) << "accepted: " << text;
    EXPECT_FALSE(s.message().empty());
  }
}

TEST_F(ConfigFileTest, CommandLineOverridesFile) {
  Write("[cluster]\nreplicas = 2\n");
  Config c;
  ASSERT_TRUE(LoadConfig(path_, {"cluster.replicas=4", "metad.listen = 127.0.0.1:7"}, &c).ok());
  EXPECT_EQ(c.replicas, 4);
  EXPECT_EQ(c.metad_listen, "127.0.0.1:7");
  Status s = LoadConfig(path_, {"cluster.nonsense=1"}, &c);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--set cluster.nonsense=1"), std::string::npos) << s.message();
}

TEST(ConfigTest, MissingExplicitFileIsAnError) {
  Config c;
  EXPECT_FALSE(LoadConfig("/nonexistent/replfs.conf", {}, &c).ok());
}

TEST(ConfigTest, ParseSize) {
  int64_t v;
  ASSERT_TRUE(ParseSize("65536", &v).ok());
  EXPECT_EQ(v, 65536);
  ASSERT_TRUE(ParseSize("64K", &v).ok());
  EXPECT_EQ(v, 65536);
  ASSERT_TRUE(ParseSize("2GiB", &v).ok());
  EXPECT_EQ(v, 2ll << 30);
  EXPECT_FALSE(ParseSize("", &v).ok());
  EXPECT_FALSE(ParseSize("-1", &v).ok());
  EXPECT_FALSE(ParseSize("1P", &v).ok());
}

TEST(ConfigTest, MinWriteReplicasIsClampedToReplicas) {
  Config c;
  c.replicas = 1;
  EXPECT_EQ(c.EffectiveMinWriteReplicas(), 1);
}

}  // namespace
}  // namespace replfs
