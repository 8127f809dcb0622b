// fsctl against a live cluster: fsck replica reports, status health and its
// exit codes as datads and metad go away.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>
#include <set>

#include "tests/integration/cluster.h"
#include "tests/integration/fs_util.h"

namespace replfs::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int64_t kChunk = 4 << 20;

class FsctlTest : public ClusterTest {
 protected:
  Cluster::Options options() const override {
    Cluster::Options o;
    o.chunk_size = kChunk;  // several chunks without writing hundreds of MiB
    return o;
  }

  nlohmann::json ParseOrFail(const CommandResult& r) {
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.Describe();
    return j;
  }

  // Every chunk of `file` (a fsck --json file object) has exactly 3 replicas,
  // on distinct servers of this cluster, all ok.
  void ExpectThreeGoodReplicas(const nlohmann::json& file, int64_t chunks) {
    const std::vector<std::string> ours = cluster().datad_addrs();
    ASSERT_EQ(static_cast<int64_t>(file["chunks"].size()), chunks) << file.dump(1);
    for (int64_t i = 0; i < chunks; ++i) {
      const nlohmann::json& c = file["chunks"][static_cast<size_t>(i)];
      EXPECT_EQ(c["index"], i);
      EXPECT_GT(c["version"].get<int64_t>(), 0);
      ASSERT_EQ(c["replicas"].size(), 3u) << c.dump();
      std::set<std::string> addrs;
      for (const nlohmann::json& r : c["replicas"]) {
        addrs.insert(r["addr"].get<std::string>());
        EXPECT_EQ(r["state"], "ok") << c.dump();
        EXPECT_NE(std::find(ours.begin(), ours.end(), r["addr"]), ours.end()) << c.dump();
      }
      EXPECT_EQ(addrs.size(), 3u) << "two replicas on one server: " << c.dump();
    }
  }
};

TEST_F(FsctlTest, FsckShowsThreeDistinctGoodReplicasPerChunk) {
  const uint64_t seed = TestSeed();
  std::mt19937_64 rng(seed);
  ASSERT_EQ(mkdir(M("dir").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(M("dir/f"), RandomBytes(rng, 4 * kChunk + 12345)));  // 5 chunks
  ASSERT_TRUE(WriteFile(M("small"), "small"));

  // A path under the mount: the metad address comes from the mount table.
  CommandResult r = RunCommand({BinaryPath("fsctl"), "fsck", M("dir/f"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  nlohmann::json j = ParseOrFail(r);
  ASSERT_EQ(j["files"].size(), 1u) << r.out;
  EXPECT_EQ(j["files"][0]["path"], "/dir/f");
  EXPECT_EQ(j["files"][0]["size"], 4 * kChunk + 12345);
  ExpectThreeGoodReplicas(j["files"][0], 5);
  EXPECT_EQ(j["summary"]["ok"], true);
  EXPECT_EQ(j["summary"]["replicas_ok"], 15);

  // The same file by its path inside the file system.
  r = cluster().Fsctl({"fsck", "/dir/f", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ExpectThreeGoodReplicas(ParseOrFail(r)["files"][0], 5);

  // The whole tree, from a relative path (cwd = the mount point).
  r = RunShell("cd '" + cluster().mountpoint() + "' && '" + BinaryPath("fsctl") +
               "' fsck . --json");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  j = ParseOrFail(r);
  ASSERT_EQ(j["files"].size(), 2u) << r.out;
  EXPECT_EQ(j["files"][0]["path"], "/dir/f");
  EXPECT_EQ(j["files"][1]["path"], "/small");
  ExpectThreeGoodReplicas(j["files"][1], 1);

  // Human output, and a path that does not exist.
  r = cluster().Fsctl({"fsck", "/dir/f"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("summary: 1 files, 5 chunks, 15 replicas (15 ok, 0 bad)"), std::string::npos)
      << r.out;
  r = cluster().Fsctl({"fsck", "/no/such/file", "--json"});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos) << r.err;
}

TEST_F(FsctlTest, FsckOfASparseFileListsOnlyWrittenChunks) {
  const std::string path = M("sparse");
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0) << ErrnoText(errno);
  ASSERT_EQ(pwrite(fd, "x", 1, 3 * kChunk + 7), 1) << ErrnoText(errno);
  ASSERT_EQ(fsync(fd), 0);
  ASSERT_EQ(close(fd), 0);
  CommandResult r = RunCommand({BinaryPath("fsctl"), "fsck", path, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  nlohmann::json j = ParseOrFail(r);
  ASSERT_EQ(j["files"][0]["chunks"].size(), 1u) << r.out;
  EXPECT_EQ(j["files"][0]["chunks"][0]["index"], 3);
}

// Names are bytes: one that is not UTF-8 must not break fsck --json.
TEST_F(FsctlTest, FsckJsonSurvivesANameThatIsNotUtf8) {
  const std::string bad = "caf\xe9-\xff";
  ASSERT_TRUE(WriteFile(M(bad), "latin-1 name"));
  ASSERT_TRUE(WriteFile(M("plain"), "x"));
  CommandResult r = cluster().Fsctl({"fsck", "/", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  nlohmann::json j = ParseOrFail(r);
  ASSERT_EQ(j["files"].size(), 2u) << r.out;
  EXPECT_EQ(j["files"][0]["path"].get<std::string>().rfind("/caf", 0), 0u) << r.out;
  EXPECT_EQ(j["files"][1]["path"], "/plain");
  EXPECT_EQ(j["complete"], true);
  // The human form prints the name as it is.
  r = cluster().Fsctl({"fsck", "/"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("/" + bad + "  ino"), std::string::npos) << r.out;
}

// corrupt names what is wrong with the target instead of ENOENT.
TEST_F(FsctlTest, CorruptOfADirectoryOrAHoleSaysWhy) {
  ASSERT_EQ(mkdir(M("d").c_str(), 0755), 0);
  CommandResult r = cluster().Fsctl({"corrupt", "/d"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("/d: is a directory"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("No such file"), std::string::npos) << r.err;

  // One byte at 3 chunks + 7: chunks 0..2 are holes.
  const int fd = open(M("sparse").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0) << ErrnoText(errno);
  ASSERT_EQ(pwrite(fd, "x", 1, 3 * kChunk + 7), 1) << ErrnoText(errno);
  ASSERT_EQ(close(fd), 0);
  r = cluster().Fsctl({"corrupt", "/sparse", "--block", "0"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("block 0 is a hole"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("No such file"), std::string::npos) << r.err;
  r = cluster().Fsctl({"corrupt", "/sparse", "--block", "1000000"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("block 1000000 is beyond the end of the file"), std::string::npos) << r.err;
  // A path that really does not exist still says so (exit 2).
  r = cluster().Fsctl({"corrupt", "/nope"});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos) << r.err;
}

TEST_F(FsctlTest, StatusExitCodesFollowHealth) {
  ASSERT_TRUE(WriteFile(M("f"), std::string(100000, 'f')));

  CommandResult r = cluster().Fsctl({"status"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("HEALTHY"), std::string::npos) << r.out;
  nlohmann::json j;
  int rc = -1;
  ASSERT_TRUE(WaitFor([&] { return cluster().StatusJson(&j, &rc) && rc == 0; }, seconds(20),
                      "status HEALTHY with the file's chunk counted"));
  EXPECT_EQ(j["health"], "HEALTHY");
  EXPECT_EQ(j["servers"].size(), 3u);
  EXPECT_GE(j["chunks"]["total"].get<int64_t>(), 1);
  EXPECT_EQ(j["chunks"]["healthy"], j["chunks"]["total"]);
  for (const auto& s : j["servers"]) EXPECT_EQ(s["state"], "up") << j.dump();

  // One datad dies: once metad notices (dead_after_ms), DEGRADED and exit 1.
  const std::string victim = cluster().datad_addrs()[2];
  ASSERT_TRUE(cluster().Kill9("datad2"));
  ASSERT_TRUE(WaitFor(
      [&] {
        if (!cluster().StatusJson(&j, &rc) || rc != 1) return false;
        for (const auto& s : j["servers"]) {
          if (s["addr"] == victim) return s["state"] == "down";
        }
        return false;
      },
      seconds(30), "status to report " + victim + " down with exit 1"))
      << j.dump(1);
  EXPECT_EQ(j["health"], "DEGRADED");
  r = cluster().Fsctl({"status"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.out.find("DEGRADED"), std::string::npos) << r.out;

  // metad stops: UNAVAILABLE, exit 2, one line on stderr naming it, quickly.
  ASSERT_TRUE(cluster().Stop("metad"));
  const auto start = std::chrono::steady_clock::now();
  r = cluster().Fsctl({"status"});
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_NE(r.err.find("cannot reach metad at " + cluster().meta_addr()), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_LT(took, seconds(10));
  r = cluster().Fsctl({"status", "--json"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(ParseOrFail(r)["health"], "UNAVAILABLE");
}

}  // namespace
}  // namespace replfs::testing
