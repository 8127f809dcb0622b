// A MetaCore in a temp dir with a fake clock and a fake replica checker.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "daemons/metad/core.h"
#include "tests/util/test_util.h"

namespace replfs::metad {

class FakeChecker : public ReplicaChecker {
 public:
  ReplicaReport Check(const std::string& addr, ChunkId, uint64_t) override {
    return {addr, ReplicaState::kOk, "fake"};
  }
};

inline Config TestConfig(const std::string& dir) {
  Config c;
  c.metad_data_dir = dir;
  c.metad_fsync = false;
  c.metad_listen = "127.0.0.1:0";
  c.dead_after_ms = 5000;
  return c;
}

#define ASSERT_OK(expr)                       \
  do {                                        \
    ::replfs::Status _s = (expr);             \
    ASSERT_TRUE(_s.ok()) << _s.ToString();    \
  } while (0)
#define EXPECT_CODE(expr, c) EXPECT_EQ((expr).code(), ::replfs::Status::Code::c)

class CoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    core_.reset();
    ASSERT_OK(MetaCore::Open(TestConfig(dir_.path()), &clock_, std::make_unique<FakeChecker>(), &core_));
  }
  Namespace& ns() { return core_->ns(); }
  Inode MkFile(Ino parent, const std::string& name) {
    Inode in;
    Status s = ns().Mknod(parent, name, FileType::kRegular, 0644, 1, 2, 0, &in);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return in;
  }
  Inode MkDir(Ino parent, const std::string& name) {
    Inode in;
    Status s = ns().Mkdir(parent, name, 0755, 1, 2, &in);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return in;
  }
  Inode Attr(Ino ino) {
    Inode in;
    Status s = ns().GetAttr(ino, &in);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return in;
  }
  void AddServer(const std::string& addr, int64_t free_bytes = 1 << 30) {
    ServerUsage u;
    u.addr = addr;
    u.bytes_total = 1 << 30;
    u.bytes_free = free_bytes;
    u.block_size = static_cast<int32_t>(core_->config().block_size);
    ASSERT_OK(core_->servers().Register(u, {}));
  }

  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<MetaCore> core_;
};

}  // namespace replfs::metad
