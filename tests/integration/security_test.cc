// Hostile conditions (issue 6): full disks; mutual TLS, roles and refusals;
// the loopback-only default without TLS.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>

#include "thrift/client_pool.h"
#include "thrift/tls.h"

#include "DataService.h"
#include "MetaService.h"
#include "ctl/ca.h"
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

// A cluster where every connection is mutual TLS: metad, datads, the mount
// and fsctl each with a certificate of the test CA.
class TlsTest : public ClusterTest {
 protected:
  Cluster::Options options() const override {
    Cluster::Options o = FaultOptions(3, 1 << 20);
    o.tls = true;
    return o;
  }
  // A certificate signed by the cluster CA with its own validity.
  void Issue(const std::string& name, const std::string& role, std::chrono::seconds from,
             std::chrono::seconds for_) {
    ctl::CertRequest req;
    req.dir = cluster().pki_dir();
    req.name = name;
    req.role = role;
    req.valid_from = from;
    req.valid_for = for_;
    std::string summary;
    ASSERT_TRUE(ctl::IssueCert(req, &summary).ok());
  }
  // fsctl status with certificate files `crt`/`key` (and the cluster CA).
  CommandResult StatusWith(const std::string& crt, const std::string& key) {
    return cluster().FsctlAs("", {"--set", "tls.cert=" + crt, "--set", "tls.key=" + key, "status"});
  }
};

TEST_F(TlsTest, EverythingWorksOverMutualTls) {
  const uint64_t seed = TestSeed();
  ASSERT_TRUE(WritePatternFile(M("f"), seed, 3 << 20));  // 3 chunks, forwarded to 2 secondaries each
  DropPageCache(M("f"));
  EXPECT_TRUE(VerifyPatternFile(M("f"), seed, 3 << 20));
  FsckResult r;
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/f", 3, cluster().datad_addrs(), seconds(60), &r));
  nlohmann::json j;
  int rc = -1;
  ASSERT_TRUE(cluster().StatusJson(&j, &rc));
  EXPECT_EQ(rc, 0) << j.dump();
  EXPECT_EQ(cluster().Fsctl({"scrub", "--wait", "--timeout", "60"}).exit_code, 0);
  // Repair between datads over TLS: corrupt a replica through fsctl (admin),
  // read around it, and see it repaired.
  CommandResult c = cluster().Fsctl({"corrupt", M("f"), "--block", "0"});
  ASSERT_EQ(c.exit_code, 0) << c.Describe();
  DropPageCache(M("f"));
  EXPECT_TRUE(VerifyPatternFile(M("f"), seed, 3 << 20));
  EXPECT_TRUE(WaitFsckHealthy(cluster(), "/f", 3, cluster().datad_addrs(), seconds(60), &r));
  EXPECT_NE(TailFile(cluster().dir() + "/metad.log", 200).find("mutual TLS as 'metad'"), std::string::npos);
  // A client certificate may follow the change feed (Identify, WatchChanges).
  EXPECT_TRUE(PollUntil([&] {
    return TailFile(cluster().ClientLog(0), 1000).find("following metad's change feed") != std::string::npos;
  }, seconds(10))) << TailFile(cluster().ClientLog(0), 20);
}

TEST_F(TlsTest, ClientsWithoutAGoodCertificateAreRefused) {
  const std::string pki = cluster().pki_dir();
  // No certificate at all: plain TCP against a TLS server.
  CommandResult plain = cluster().FsctlAs("", {"--set", "tls.ca=", "status"});
  EXPECT_EQ(plain.exit_code, 2) << plain.Describe();
  // A certificate of another CA.
  std::string summary;
  ASSERT_TRUE(ctl::InitCa(cluster().dir() + "/other-ca", &summary).ok());
  ctl::CertRequest req;
  req.dir = cluster().dir() + "/other-ca";
  req.name = "intruder";
  req.role = "admin";
  ASSERT_TRUE(ctl::IssueCert(req, &summary).ok());
  CommandResult foreign = StatusWith(req.dir + "/intruder.crt", req.dir + "/intruder.key");
  EXPECT_NE(foreign.exit_code, 0) << foreign.Describe();
  // An expired one of the right CA.
  Issue("expired", "admin", -std::chrono::hours(48), std::chrono::hours(24));
  CommandResult expired = StatusWith(pki + "/expired.crt", pki + "/expired.key");
  EXPECT_NE(expired.exit_code, 0) << expired.Describe();
  // The good admin certificate works.
  CommandResult good = StatusWith(pki + "/admin.crt", pki + "/admin.key");
  EXPECT_EQ(good.exit_code, 0) << good.Describe();
  // A mount without a certificate, and one with a datad's, fail at once
  // with a message.
  cluster().SetMountOptions(1, "tls.ca=");
  EXPECT_FALSE(cluster().Mount(1));
  cluster().SetMountOptions(2, "tls.cert=" + pki + "/datad0.crt,tls.key=" + pki + "/datad0.key");
  EXPECT_FALSE(cluster().Mount(2));
  EXPECT_NE(TailFile(cluster().ClientLog(2), 50).find("permission denied"), std::string::npos)
      << TailFile(cluster().ClientLog(2), 50);
}

TEST_F(TlsTest, RolesLimitWhatACertificateMayDo) {
  ASSERT_TRUE(WritePatternFile(M("f"), TestSeed(), 1 << 20));
  // A client certificate may read status but not inject faults, drain or heal.
  EXPECT_EQ(cluster().FsctlAs("client", {"status"}).exit_code, 0);
  for (const std::vector<std::string>& admin_only :
       {std::vector<std::string>{"corrupt", M("f")}, std::vector<std::string>{"drain", cluster().datad_addrs()[0]},
        std::vector<std::string>{"heal"}, std::vector<std::string>{"setrepl", M("f"), "2"}}) {
    CommandResult r = cluster().FsctlAs("client", admin_only);
    EXPECT_NE(r.exit_code, 0) << admin_only[0] << ": " << r.Describe();
    EXPECT_NE(r.err.find("admin only"), std::string::npos) << admin_only[0] << ": " << r.Describe();
  }
  // The refusal is logged at metad, naming the peer and the role.
  const std::string log = TailFile(cluster().dir() + "/metad.log", 400);
  EXPECT_NE(log.find("refused Corrupt from 127.0.0.1"), std::string::npos) << log;
  EXPECT_NE(log.find("role client"), std::string::npos);
  // A client certificate cannot register as a datad.
  std::shared_ptr<net::TlsContext> tls;
  const std::string pki = cluster().pki_dir();
  ASSERT_TRUE(net::TlsContext::Load(pki + "/ca.crt", pki + "/client.crt", pki + "/client.key", &tls).ok());
  net::RpcOptions o;
  o.tls = tls;
  o.attempts = 1;
  HostPort meta;
  ASSERT_TRUE(ParseHostPort(cluster().meta_addr(), &meta).ok());
  net::ClientPool<rpc::MetaServiceClient> pool(meta, o);
  rpc::ServerUsage u;
  u.addr = "127.0.0.1:1";
  u.block_size = 64 << 10;
  bool sent = false;
  Status s = pool.CallOnce([&](rpc::MetaServiceClient& c) { c.RegisterServer(u, {}); }, &sent);
  EXPECT_EQ(s.code(), Status::Code::kPermission) << s.ToString();
  EXPECT_NE(s.message().find("datad only"), std::string::npos) << s.ToString();
  // And a datad's certificate is refused as a metad: the client checks the
  // server's role (a datad posing as metad).
  net::ClientPool<rpc::DataServiceClient> wrong(meta, o);
  s = wrong.CallOnce([](rpc::DataServiceClient& c) { c.Ping(); }, &sent);
  EXPECT_EQ(s.code(), Status::Code::kPermission) << s.ToString();
  EXPECT_NE(s.message().find("expected datad"), std::string::npos) << s.ToString();
}

// What mutual TLS costs, measured side by side (figures for the record,
// no assertion on speed): 64 MiB written with fsync and read back cold,
// 300 small files created, on a plain and on a TLS cluster.
TEST(TlsCostTest, FiguresPlainVersusTls) {
  const std::string reason = IntegrationSkipReason();
  if (!reason.empty()) GTEST_SKIP() << reason;
  using Clock = std::chrono::steady_clock;
  const auto secs = [](Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  double w[2], r[2], c[2];
  for (int tls = 0; tls < 2; ++tls) {
    Cluster::Options o;
    o.tls = tls == 1;
    Cluster cluster(o);
    ASSERT_TRUE(cluster.Start());
    ASSERT_TRUE(cluster.Mount());
    const std::string f = cluster.mountpoint() + "/big";
    auto t0 = Clock::now();
    ASSERT_TRUE(WritePatternFile(f, 7, 64 << 20));
    w[tls] = 64 / secs(t0);
    DropPageCache(f);
    t0 = Clock::now();
    ASSERT_TRUE(VerifyPatternFile(f, 7, 64 << 20));
    r[tls] = 64 / secs(t0);
    t0 = Clock::now();
    for (int i = 0; i < 300; ++i) {
      const int fd = open((cluster.mountpoint() + "/s" + std::to_string(i)).c_str(), O_CREAT | O_WRONLY, 0644);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(write(fd, "x", 1), 1);
      ASSERT_EQ(close(fd), 0);
    }
    c[tls] = 300 / secs(t0);
    ASSERT_TRUE(cluster.Unmount());
  }
  std::cout << "FIGURE: TLS cost (3 datads on loopback): write+fsync " << w[0] << " -> " << w[1] << " MiB/s ("
            << w[1] / w[0] << "x), cold read " << r[0] << " -> " << r[1] << " MiB/s (" << r[1] / r[0]
            << "x), create+write+close " << c[0] << " -> " << c[1] << " files/s (" << c[1] / c[0] << "x)"
            << std::endl;
}

}  // namespace
}  // namespace replfs::testing
