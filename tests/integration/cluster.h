// A whole replfs cluster on loopback for integration tests: metad, N datads
// and optionally a FUSE mount, each a real process with its log in the
// cluster's temp dir. Everything is torn down by the destructor, even when a
// test fails half-way: lazy unmount, SIGTERM then SIGKILL every child, reap,
// remove the temp dir. Safe under `ctest -j2`: ports come from the kernel
// (port 0) and every path lives in the cluster's own temp dir.
//
// Binaries are looked up in $REPLFS_TEST_BIN_PATH (colon-separated
// directories, first match wins), then in the build's bin dir.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/process.h"
#include "tests/util/test_util.h"

namespace replfs::testing {

// Why integration tests cannot run here ("" if they can).
std::string IntegrationSkipReason();

// Full path of a replfs binary ("metad", "datad", "replfs", "fsctl").
std::string BinaryPath(const std::string& name);

class Cluster {
 public:
  struct Options {
    int datads = 3;
    int64_t dead_after_ms = 2000;  // short, so "down" is observable quickly
    int64_t heartbeat_interval_ms = 200;
    bool metad_fsync = true;  // the durability tests need it
    int64_t chunk_size = 0;   // 0 = the cluster default
  };

  explicit Cluster(Options opts);
  Cluster() : Cluster(Options()) {}
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Starts metad and the datads (fresh ports on first start; the same ports
  // and data dirs on later starts) and waits until fsctl reports every datad
  // up. Starting an already running daemon is a no-op.
  ::testing::AssertionResult Start();
  // Mounts the file system at mountpoint() (`replfs META MNT -f`) and waits
  // for the fuse.replfs entry in /proc/self/mountinfo.
  ::testing::AssertionResult Mount();
  // fusermount3 -u (falling back to -u -z) and waits for the client to exit.
  ::testing::AssertionResult Unmount();

  // SIGTERM every daemon (not the client) and wait for each to exit cleanly.
  ::testing::AssertionResult StopAll();
  // SIGKILL every daemon.
  void Kill9All();
  // One daemon by name: "metad", "datad0".."datadN-1".
  ::testing::AssertionResult Stop(const std::string& name);
  ::testing::AssertionResult Kill9(const std::string& name);

  // Polls `fsctl status --json` until `n` datads are up.
  ::testing::AssertionResult WaitServersUp(int n, std::chrono::milliseconds timeout);

  // Runs fsctl with --meta (and the cluster's --config) prepended.
  CommandResult Fsctl(const std::vector<std::string>& args);
  // `fsctl status --json`, parsed; false if the output is not JSON.
  bool StatusJson(nlohmann::json* out, int* exit_code);
  // Sum of bytes_used over every datad, per fsctl status (-1 on failure).
  int64_t BytesUsed();

  const std::string& dir() const { return tmp_.path(); }
  const std::string& mountpoint() const { return mountpoint_; }
  const std::string& meta_addr() const { return meta_addr_; }
  std::vector<std::string> datad_addrs() const;
  const std::string& config_path() const { return config_path_; }
  bool mounted() const { return mounted_; }

  // The tail of every process log, for failure messages.
  std::string LogTails() const;

 private:
  struct Daemon {
    std::unique_ptr<ChildProcess> proc;
    int port = 0;
    std::string data_dir;
  };

  ::testing::AssertionResult StartMetad();
  ::testing::AssertionResult StartDatad(size_t i);
  // Starts `d` (built by `make_argv` for a port) and waits until it accepts
  // connections on its port; on an early exit caused by the port being taken
  // (first start only), retries with another port.
  ::testing::AssertionResult StartListening(Daemon* d, const std::string& name,
                                            bool may_change_port);
  std::vector<std::string> DaemonArgv(const std::string& name, int port,
                                      const std::string& data_dir) const;
  Daemon* Find(const std::string& name);
  ::testing::AssertionResult Failure(const std::string& what) const;
  bool IsMounted() const;

  const Options opts_;
  TempDir tmp_;
  std::string config_path_;
  std::string mountpoint_;
  std::string meta_addr_;
  Daemon metad_;
  std::vector<Daemon> datads_;
  std::unique_ptr<ChildProcess> client_;
  bool mounted_ = false;
};

// Fixture: a started cluster mounted at cluster().mountpoint(); skips when
// FUSE cannot be used here. Override options() to change the cluster.
class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  virtual Cluster::Options options() const { return {}; }

  Cluster& cluster() { return *cluster_; }
  // Absolute path of `rel` inside the mount.
  std::string M(const std::string& rel) const { return cluster_->mountpoint() + "/" + rel; }

  std::unique_ptr<Cluster> cluster_;
};

}  // namespace replfs::testing
