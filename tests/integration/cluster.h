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

#include "tests/integration/net_emulator.h"
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
    // More settings, "section.key=value" each, written to the config file
    // that every process reads (metad, datads, the FUSE clients, fsctl).
    std::vector<std::string> sets;
    // Borrowed, outlives the cluster; null: everything on loopback. With a
    // network, every process runs in a host of its own (HostOf): metad on
    // "meta" port 9190, datad I on "dI" port 2222+I, mount I on "cI", and
    // fsctl on "meta" (the admin's shell). AddHosts() creates those hosts.
    EmulatedNetwork* network = nullptr;
    // > 0: every datad's data dir is a tmpfs of this many MiB (a small
    // disk that fills up), unmounted by the destructor.
    int64_t datad_store_mib = 0;
    // Mutual TLS: a CA in dir()/pki, a certificate per process (metad:
    // "metad", datad I: "datadI", every mount: "client", fsctl: "admin"),
    // tls.ca in the shared config and each process's own cert and key on
    // its command line.
    bool tls = false;
  };

  // Adds the hosts a cluster of `datads` datads and `clients` mounts uses
  // to `net` (before net->Start()).
  static ::testing::AssertionResult AddHosts(EmulatedNetwork* net, int datads, int clients);
  // The host a process runs on ("meta", "dI", "cI" for mount I); "" on
  // loopback.
  std::string HostOf(const std::string& name) const;

  explicit Cluster(Options opts);
  Cluster() : Cluster(Options()) {}
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Starts metad and the datads (fresh ports on first start; the same ports
  // and data dirs on later starts) and waits until fsctl reports every datad
  // up. Starting an already running daemon is a no-op.
  ::testing::AssertionResult Start();
  // Mounts the file system at mountpoint() (`replfs META MNT -f --config
  // CONF`) and waits for the fuse.replfs entry in /proc/self/mountinfo.
  ::testing::AssertionResult Mount() { return Mount(0); }
  // fusermount3 -u (falling back to -u -z) and waits for the client to exit.
  ::testing::AssertionResult Unmount() { return Unmount(0); }
  // The same for mount `i`: 0 is mountpoint(), 1.. are further mounts of the
  // same cluster by their own client processes (mountpoint(i) = DIR/mnt<i>).
  ::testing::AssertionResult Mount(size_t i);
  ::testing::AssertionResult Unmount(size_t i);

  // SIGTERM every daemon (not the client) and wait for each to exit cleanly.
  ::testing::AssertionResult StopAll();
  // SIGKILL every daemon.
  void Kill9All();
  // One daemon by name: "metad", "datad0".."datadN-1".
  ::testing::AssertionResult Stop(const std::string& name);
  ::testing::AssertionResult Kill9(const std::string& name);
  // Starts one stopped daemon again with its port and data dir and waits
  // until it accepts connections (not until metad counts it up: see
  // WaitServersUp). A no-op if it runs.
  ::testing::AssertionResult Restart(const std::string& name);
  // Whether the daemon's process is alive.
  bool Running(const std::string& name);
  // Deletes a stopped daemon's whole data dir (a lost disk).
  ::testing::AssertionResult WipeStore(const std::string& name);
  // Bit rot: stops datad `name` (SIGTERM), flips one byte of the data of
  // each block (chunk id, block index) in its blocks.kch (the stored CRC is
  // left alone, so the block no longer verifies) and starts it again. Fails
  // if a block is not stored there.
  ::testing::AssertionResult CorruptBlocks(const std::string& name,
                                           const std::vector<std::pair<int64_t, uint32_t>>& blocks);
  ::testing::AssertionResult CorruptBlock(const std::string& name, int64_t chunk_id,
                                          uint32_t block) {
    return CorruptBlocks(name, {{chunk_id, block}});
  }
  // "datadI" for the datad advertised as `addr` ("" if none).
  std::string DatadName(const std::string& addr) const;
  const std::string& data_dir(const std::string& name);

  // Polls `fsctl status --json` until `n` datads are up.
  ::testing::AssertionResult WaitServersUp(int n, std::chrono::milliseconds timeout);

  // Runs fsctl with --meta (and the cluster's --config) prepended.
  CommandResult Fsctl(const std::vector<std::string>& args);
  // The same with certificate `cert` of pki_dir() instead of "admin"
  // (TLS clusters); "" = no certificate at all.
  CommandResult FsctlAs(const std::string& cert, const std::vector<std::string>& args);
  // Where the TLS cluster's CA and certificates are.
  std::string pki_dir() const { return dir() + "/pki"; }
  // Extra -o options of mount `i` (before it is mounted), e.g. another
  // certificate.
  void SetMountOptions(size_t i, const std::string& opts) { ClientAt(i).options = opts; }
  // `fsctl status --json`, parsed; false if the output is not JSON.
  bool StatusJson(nlohmann::json* out, int* exit_code);
  // Sum of bytes_used over every datad, per fsctl status (-1 on failure).
  int64_t BytesUsed();

  const std::string& dir() const { return tmp_.path(); }
  const std::string& mountpoint() const { return clients_[0].mountpoint; }
  // Mount point of mount `i` (created on first use).
  const std::string& mountpoint(size_t i);
  const std::string& meta_addr() const { return meta_addr_; }
  std::vector<std::string> datad_addrs() const;
  const std::string& config_path() const { return config_path_; }
  bool mounted() const { return clients_[0].mounted; }
  // pid of mount `i`'s client process (0 if it is not running).
  pid_t ClientPid(size_t i) { return ClientAt(i).proc ? ClientAt(i).proc->pid() : 0; }
  // Path of mount `i`'s client log.
  std::string ClientLog(size_t i) const {
    return dir() + "/" + (i == 0 ? std::string("replfs") : "replfs" + std::to_string(i)) + ".log";
  }

  // The tail of every process log, for failure messages.
  std::string LogTails() const;
  // With $REPLFS_IT_KEEP_LOGS set, copies every log and the config to
  // $REPLFS_IT_KEEP_LOGS/<suite>.<test>-<pid>/ (the destructor does it when
  // the test failed, or always with REPLFS_IT_KEEP_ALL=1).
  void KeepLogs() const;

 private:
  struct Daemon {
    std::unique_ptr<ChildProcess> proc;
    int port = 0;
    std::string data_dir;
    std::string host;  // network host ("" on loopback)
  };
  // host:port a daemon listens on and is known by.
  std::string AddrOf(const Daemon& d) const;
  // The argv prefix that runs a command on `host` (empty on loopback).
  std::vector<std::string> On(const std::string& host) const;

  ::testing::AssertionResult StartMetad();
  ::testing::AssertionResult StartDatad(size_t i);
  // Starts `d` (built by `make_argv` for a port) and waits until it accepts
  // connections on its port; on an early exit caused by the port being taken
  // (first start only), retries with another port.
  ::testing::AssertionResult StartListening(Daemon* d, const std::string& name,
                                            bool may_change_port);
  std::vector<std::string> DaemonArgv(const std::string& name, const Daemon& d) const;
  Daemon* Find(const std::string& name);
  struct Client {
    std::unique_ptr<ChildProcess> proc;
    std::string mountpoint;
    bool mounted = false;
    std::string options;  // -o, when set (replaces the TLS defaults)
  };
  // "--set tls.cert=... --set tls.key=..." for certificate `name` (TLS).
  std::vector<std::string> CertArgs(const std::string& name) const;
  ::testing::AssertionResult MakePki();

  ::testing::AssertionResult Failure(const std::string& what) const;
  bool IsMounted(const std::string& mountpoint) const;
  Client& ClientAt(size_t i);

  const Options opts_;
  TempDir tmp_;
  std::string config_path_;
  std::string meta_addr_;
  Daemon metad_;
  std::vector<Daemon> datads_;
  std::vector<Client> clients_;  // [0] always exists
};

// What mount `i` has sent so far, from its SIGUSR1 statistics line:
// calls to metad and to the datads (attempts, by method).
struct RpcCount {
  int64_t meta = 0;
  int64_t data = 0;
  std::string line;
};
::testing::AssertionResult ClientRpcs(Cluster& cluster, size_t i, RpcCount* out);
// The calls to metad's `method` in `c`.
int64_t MetaCalls(const RpcCount& c, const std::string& method);

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
