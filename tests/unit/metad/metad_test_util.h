// A MetaCore in a temp dir with a fake clock and a fake datad layer.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "daemons/metad/core.h"
#include "tests/util/test_util.h"

namespace replfs::metad {

// Every replica checks OK; SetVersion/PushChunk succeed unless told
// otherwise, and every call is recorded in order. Thread-safe.
class FakeDatad : public DatadApi {
 public:
  ReplicaReport Check(const std::string& addr, ChunkId, uint64_t) override {
    MutexLock l(&mu_);
    auto it = check_.find(addr);
    return {addr, it == check_.end() ? ReplicaState::kOk : it->second, "fake"};
  }
  Status InjectFault(const std::string& addr, ChunkId id, int32_t block, FaultMode mode) override {
    MutexLock l(&mu_);
    calls_.push_back("InjectFault " + addr + " " + std::to_string(id) + " b" + std::to_string(block) + " m" +
                     std::to_string(static_cast<int>(mode)));
    return Status::OK();
  }
  Status StartScrub(const std::string& addr) override {
    MutexLock l(&mu_);
    calls_.push_back("StartScrub " + addr);
    return Status::OK();
  }
  // What Check answers for replicas on `addr` (default OK).
  void SetCheck(const std::string& addr, ReplicaState st) {
    MutexLock l(&mu_);
    check_[addr] = st;
  }
  Status CreateChunk(const std::string& addr, ChunkId id, uint64_t version) override {
    std::function<void(const std::string&, ChunkId, uint64_t)> after;
    {
      MutexLock l(&mu_);
      calls_.push_back("CreateChunk " + addr + " " + std::to_string(id) + " v" + std::to_string(version));
      if (fail_.count(addr)) return Status::Unavailable("fake: " + addr + " fails");
      after = after_create_;
    }
    if (after) after(addr, id, version);
    return Status::OK();
  }
  // Called (outside the fake's lock) after each successful CreateChunk,
  // e.g. to deliver a block report that already lists the new copy.
  void AfterCreate(std::function<void(const std::string&, ChunkId, uint64_t)> fn) {
    MutexLock l(&mu_);
    after_create_ = std::move(fn);
  }
  Status DeleteChunk(const std::string& addr, ChunkId id) override {
    MutexLock l(&mu_);
    calls_.push_back("DeleteChunk " + addr + " " + std::to_string(id));
    if (fail_.count(addr)) return Status::Unavailable("fake: " + addr + " fails");
    return Status::OK();
  }
  Status SetVersion(const std::string& addr, ChunkId id, uint64_t from, uint64_t to) override {
    MutexLock l(&mu_);
    calls_.push_back("SetVersion " + addr + " " + std::to_string(id) + " " + std::to_string(from) + "->" +
                     std::to_string(to));
    if (fail_.count(addr)) return Status::Unavailable("fake: " + addr + " fails");
    if (missing_.count(addr)) return Status::NotFound("fake: chunk " + std::to_string(id) + " is not held here");
    return Status::OK();
  }
  Status PushChunk(const std::string& source, ChunkId id, uint64_t, const std::string& target,
                   uint64_t to) override {
    MutexLock l(&mu_);
    calls_.push_back("PushChunk " + source + "->" + target + " " + std::to_string(id) + " v" + std::to_string(to));
    if (corrupt_.count(source)) return Status::Corruption("fake: bad block on " + source);
    if (missing_.count(source)) return Status::NotFound("fake: PushChunk: not held on " + source);
    if (fail_chunks_.count(id)) return Status::Unavailable("fake: push of chunk fails");
    if (fail_.count(source) || fail_.count(target)) return Status::Unavailable("fake: push fails");
    return Status::OK();
  }
  void Fail(const std::string& addr) {
    MutexLock l(&mu_);
    fail_.insert(addr);
  }
  // Replicas on `addr` are absent: SetVersion and PushChunk from it answer NotFound.
  void Missing(const std::string& addr) {
    MutexLock l(&mu_);
    missing_.insert(addr);
  }
  // Every PushChunk of chunk `id` fails (Unavailable).
  void FailChunk(ChunkId id) {
    MutexLock l(&mu_);
    fail_chunks_.insert(id);
  }
  void Corrupt(const std::string& addr) {
    MutexLock l(&mu_);
    corrupt_.insert(addr);
  }
  std::vector<std::string> Calls() {
    MutexLock l(&mu_);
    return calls_;
  }
  void ClearCalls() {
    MutexLock l(&mu_);
    calls_.clear();
  }

 private:
  Mutex mu_;
  std::vector<std::string> calls_ GUARDED_BY(mu_);
  std::set<std::string> fail_ GUARDED_BY(mu_), corrupt_ GUARDED_BY(mu_), missing_ GUARDED_BY(mu_);
  std::set<ChunkId> fail_chunks_ GUARDED_BY(mu_);
  std::map<std::string, ReplicaState> check_ GUARDED_BY(mu_);
  std::function<void(const std::string&, ChunkId, uint64_t)> after_create_ GUARDED_BY(mu_);
};

// The chunk ids of deletions handed to a datad, in order.
inline std::vector<ChunkId> Ids(const std::vector<ReplicaHeld>& deletes) {
  std::vector<ChunkId> out;
  for (const ReplicaHeld& d : deletes) out.push_back(d.id);
  return out;
}

inline Config TestConfig(const std::string& dir) {
  Config c;
  c.metad_data_dir = dir;
  c.metad_fsync = false;
  c.metad_listen = "127.0.0.1:0";
  c.dead_after_ms = 5000;
  c.rpc_timeout_ms = 1000;  // a report waits at most half of it for a running change
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
    auto datad = std::make_unique<FakeDatad>();
    datad_ = datad.get();
    ASSERT_OK(MetaCore::Open(TestConfig(dir_.path()), &clock_, std::move(datad), &core_));
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
    ASSERT_OK(core_->RegisterServer(u, {}));
  }

  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<MetaCore> core_;
  FakeDatad* datad_ = nullptr;  // owned by core_
};

}  // namespace replfs::metad
