// The operator's commands against a live cluster and mount (issue 4, "Tests
// that must exist and pass in CI"): fsck replica states (ok, corrupt via
// `fsctl corrupt`, missing after a wiped store, stale after a server was down
// during a write), `scrub --wait` finding rot on a file nobody read, `corrupt`
// refusing the last good replica, the corrupt-then-cat demo, drain / undrain /
// remove, setrepl 2 and 4 and directory inheritance, `status --json` fields,
// `status --prometheus` syntax and `heal --wait` after a datad died.
// Status exit codes for healthy / datad down / metad down are covered by
// fsctl_test.cc (FsctlTest.StatusExitCodesFollowHealth); here only the way
// back (datad restarted -> exit 0) and the Prometheus form of "unreachable".
//
// Every wait polls with a deadline (WaitFor / WaitFsckHealthy); timings are
// short (FaultOptions: dead_after 2 s, heartbeats 200 ms, block reports 1 s).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/integration/cluster.h"
#include "tests/integration/fault_util.h"
#include "tests/integration/fs_util.h"

namespace replfs::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int64_t kChunk = 1 << 20;  // several chunks from a few MiB
constexpr int64_t kFileSize = 3 * kChunk + 12345;  // 4 chunks
constexpr auto kHealTimeout = seconds(60);

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The datad named in `fsctl corrupt`'s output: "... on ADDR (mode flip)".
std::string CorruptedAddr(const std::string& out) {
  const size_t on = out.rfind(" on ");
  const size_t mode = out.rfind(" (mode ");
  if (on == std::string::npos || mode == std::string::npos || mode < on) return "";
  return out.substr(on + 4, mode - on - 4);
}

// Every replica (addr, state) fsck listed for chunk `index` of `path`.
std::vector<FsckReplica> ReplicasOf(const FsckResult& r, const std::string& path, int64_t index) {
  const FsckFile* f = r.File(path);
  if (f == nullptr) return {};
  for (const FsckChunk& c : f->chunks) {
    if (c.index == index) return c.replicas;
  }
  return {};
}

// One Prometheus text-format sample line: `name{l="v",...} value` (labels
// optional, values escaped with \\, \" and \n). *name gets the metric name.
bool ParsePromSample(const std::string& line, std::string* name) {
  const auto name_char = [](char c, bool first) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
           (!first && std::isdigit(static_cast<unsigned char>(c)));
  };
  size_t i = 0;
  while (i < line.size() && name_char(line[i], i == 0)) ++i;
  if (i == 0) return false;
  *name = line.substr(0, i);
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      const size_t start = i;
      while (i < line.size() && (name_char(line[i], i == start) && line[i] != ':')) ++i;
      if (i == start || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') return false;
      i += 2;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\') {
          if (i + 1 >= line.size() || std::string("\\\"n").find(line[i + 1]) == std::string::npos)
            return false;
          ++i;
        }
        ++i;
      }
      if (i >= line.size()) return false;
      ++i;  // closing quote
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return false;
    ++i;  // '}'
  }
  if (i >= line.size() || line[i] != ' ') return false;
  const std::string value = line.substr(i + 1);
  if (value == "NaN" || value == "+Inf" || value == "-Inf") return true;
  if (value.empty()) return false;
  char* end = nullptr;
  std::strtod(value.c_str(), &end);
  return end != nullptr && *end == '\0';
}

class OperatorTest : public ClusterTest {
 protected:
  virtual int datads() const { return 3; }
  virtual std::vector<std::string> extra_sets() const { return {}; }
  Cluster::Options options() const override {
    Cluster::Options o = FaultOptions(datads(), kChunk);
    for (const std::string& s : extra_sets()) o.sets.push_back(s);
    return o;
  }

  // `fsctl status --json` of one server ({} if not listed).
  nlohmann::json ServerJson(const std::string& addr, int* rc = nullptr) {
    nlohmann::json j;
    int code = -1;
    if (!cluster().StatusJson(&j, &code) || !j.is_object() || !j.contains("servers")) {
      return nlohmann::json::object();
    }
    if (rc != nullptr) *rc = code;
    for (const auto& s : j["servers"]) {
      if (s.value("addr", "") == addr) return s;
    }
    return nlohmann::json::object();
  }

  ::testing::AssertionResult WaitServerState(const std::string& addr, const std::string& state,
                                             std::chrono::milliseconds timeout) {
    nlohmann::json last;
    if (WaitFor(
            [&] {
              last = ServerJson(addr);
              return last.value("state", "") == state;
            },
            timeout, addr + " " + state)) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "last: " << last.dump();
  }

  void WriteAndSettle(const std::string& rel, uint64_t seed, int goal = 3) {
    ASSERT_TRUE(WritePatternFile(M(rel), seed, kFileSize));
    ASSERT_TRUE(WaitFsckHealthy(cluster(), "/" + rel, goal, {}, seconds(30)))
        << cluster().LogTails();
  }

  void Verify(const std::string& rel, uint64_t seed, const std::string& when) {
    DropPageCache(M(rel));
    EXPECT_TRUE(VerifyPatternFile(M(rel), seed, kFileSize)) << when;
  }
};

// ---- fsck states ---------------------------------------------------------------

// ok, then corrupt (injected by `fsctl corrupt`, reported by the first fsck,
// which also hands it to repair), then clean again.
TEST_F(OperatorTest, FsckShowsOkThenCorruptReplicaFromFsctlCorruptThenClean) {
  const uint64_t seed = TestSeed();
  WriteAndSettle("f", seed);
  FsckResult r;
  ASSERT_TRUE(RunFsck(cluster(), "/f", &r));
  EXPECT_EQ(r.exit_code, 0) << r.raw;
  ASSERT_NE(r.File("/f"), nullptr) << r.raw;
  EXPECT_EQ(r.File("/f")->chunks.size(), 4u) << r.raw;
  EXPECT_EQ(ChunkProblems(r, 3, cluster().datad_addrs()), "") << r.raw;

  // Block 17 lies in chunk 1 when the block size is 64 KiB (any size works:
  // the output says which chunk was hit).
  CommandResult c = cluster().Fsctl({"corrupt", "/f", "--block", "17"});
  ASSERT_EQ(c.exit_code, 0) << c.Describe();
  const std::string victim = CorruptedAddr(c.out);
  ASSERT_FALSE(victim.empty()) << c.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(c.out, m, std::regex(R"(index (\d+) block)"))) << c.out;
  const int64_t index = std::stoll(m[1]);

  // Nobody read the file: the first fsck meets the damage.
  ASSERT_TRUE(RunFsck(cluster(), "/f", &r));
  EXPECT_EQ(r.exit_code, 1) << r.raw;
  bool seen = false;
  for (const FsckReplica& rep : ReplicasOf(r, "/f", index)) {
    if (rep.addr == victim) {
      EXPECT_EQ(rep.state, "corrupt") << r.raw;
      seen = rep.state == "corrupt";
    }
  }
  EXPECT_TRUE(seen) << victim << " not listed as corrupt for chunk " << index << ":\n" << r.raw;
  EXPECT_EQ(r.summary.value("ok", true), false) << r.raw;
  EXPECT_GE(r.summary.value("replicas_bad", 0), 1) << r.raw;
  // Human output names it too.
  CommandResult human = cluster().Fsctl({"fsck", "/f"});
  EXPECT_TRUE(human.exit_code == 0 || Contains(human.out, "corrupt")) << human.Describe();

  // fsck handed it to repair: clean again, contents intact.
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/f", 3, cluster().datad_addrs(), kHealTimeout, &r))
      << cluster().LogTails();
  EXPECT_TRUE(ReplicasIdentical(cluster().meta_addr(), r));
  Verify("f", seed, "after the corrupt replica was repaired");
}

// A datad loses its store and comes back empty: its replicas are "missing"
// (or already dropped from the set) until repair refills them, then clean.
// Repair is throttled to 1 MiB/s so the window lasts a few seconds; if repair
// still wins every race, the assertion below explains what was seen.
class MissingTest : public OperatorTest {
 protected:
  std::vector<std::string> extra_sets() const override { return {"metad.repair_rate_mb_s=1"}; }
};

TEST_F(MissingTest, FsckShowsMissingAfterAWipedStoreThenConverges) {
  const uint64_t seed = TestSeed();
  WriteAndSettle("f", seed);
  const std::string addr = cluster().datad_addrs()[1];

  ASSERT_TRUE(cluster().Stop("datad1"));
  ASSERT_TRUE(cluster().WipeStore("datad1"));
  ASSERT_TRUE(cluster().Restart("datad1"));

  std::map<std::string, int> states;  // datad1's replica states seen
  int dropped = 0;                    // reports with datad1 absent from a chunk
  FsckResult r;
  ASSERT_TRUE(WaitFor(
      [&] {
        if (!RunFsck(cluster(), "/f", &r)) return false;
        const FsckFile* f = r.File("/f");
        if (f == nullptr) return false;
        for (const FsckChunk& c : f->chunks) {
          bool listed = false;
          for (const FsckReplica& rep : c.replicas) {
            if (rep.addr == addr) {
              ++states[rep.state];
              listed = true;
            }
          }
          dropped += listed ? 0 : 1;
        }
        return r.exit_code == 0 && ChunkProblems(r, 3, cluster().datad_addrs()).empty();
      },
      kHealTimeout, "fsck clean after datad1's store was wiped"))
      << r.raw << cluster().LogTails();
  std::ostringstream seen;
  for (const auto& [s, n] : states) seen << s << ":" << n << " ";
  std::cout << "datad1 replica states seen: " << seen.str() << "; chunks without it: " << dropped
            << std::endl;
  EXPECT_TRUE(states["missing"] > 0 || dropped > 0)
      << "never saw datad1's wiped replicas missing or dropped (seen: " << seen.str() << ")";
  EXPECT_TRUE(ReplicasIdentical(cluster().meta_addr(), r));
  Verify("f", seed, "after the refill");
}

// A datad is down while the file is overwritten: with 3 datads and goal 3
// nothing can replace it, so fsck shows its replica stale (dropped as DOWN
// during the write, or at the old version once it is back); after it returns,
// repair brings the chunks back to 3 ok replicas.
TEST_F(OperatorTest, FsckShowsStaleReplicaOfAServerDownDuringAWriteThenConverges) {
  const uint64_t seed = TestSeed();
  WriteAndSettle("f", seed);
  const std::string addr = cluster().datad_addrs()[2];

  ASSERT_TRUE(cluster().Kill9("datad2"));
  // In place: a truncating rewrite would get new chunks placed without it.
  ASSERT_TRUE(OverwritePatternFile(M("f"), seed + 1, kFileSize)) << cluster().LogTails();
  Verify("f", seed + 1, "with datad2 down");

  std::map<std::string, int> before, after;  // datad2's replica states seen
  FsckResult r;
  const auto record = [&](std::map<std::string, int>* seen) {
    if (!RunFsck(cluster(), "/f", &r) || r.File("/f") == nullptr) return false;
    for (const FsckChunk& c : r.File("/f")->chunks) {
      for (const FsckReplica& rep : c.replicas) {
        if (rep.addr == addr) ++(*seen)[rep.state];
      }
    }
    return true;
  };
  // While it is down: stale (the expected form) within a few seconds.
  WaitFor([&] { return record(&before) && before.count("stale") > 0; }, seconds(10),
          "fsck to list " + addr + " stale while it is down");
  EXPECT_EQ(r.exit_code, 1) << r.raw;

  ASSERT_TRUE(cluster().Restart("datad2"));
  ASSERT_TRUE(WaitFor(
      [&] {
        return record(&after) && r.exit_code == 0 &&
               ChunkProblems(r, 3, cluster().datad_addrs()).empty();
      },
      kHealTimeout, "fsck clean after datad2 returned"))
      << r.raw << cluster().LogTails();
  std::ostringstream seen;
  for (const auto& [s, n] : before) seen << "down " << s << ":" << n << " ";
  for (const auto& [s, n] : after) seen << "back " << s << ":" << n << " ";
  std::cout << "datad2 replica states seen: " << seen.str() << std::endl;
  EXPECT_TRUE(before.count("stale") > 0 || after.count("stale") > 0)
      << "never saw " << addr << " stale: " << seen.str();
  EXPECT_TRUE(ReplicasIdentical(cluster().meta_addr(), r));
  Verify("f", seed + 1, "after datad2 returned");
}

// ---- scrub, corrupt, the demo ------------------------------------------------------

TEST_F(OperatorTest, ScrubWaitFindsCorruptionOnAFileNobodyReadAndItIsRepaired) {
  const uint64_t seed = TestSeed();
  WriteAndSettle("f", seed);
  // Damage a non-primary replica of block 0, without restarting anything.
  FsckResult r;
  ASSERT_TRUE(RunFsck(cluster(), "/f", &r));
  const std::string victim = r.File("/f")->chunks[0].replicas[1].addr;
  CommandResult c = cluster().Fsctl({"corrupt", "/f", "--server", victim, "--mode", "zero"});
  ASSERT_EQ(c.exit_code, 0) << c.Describe();
  EXPECT_EQ(CorruptedAddr(c.out), victim) << c.out;

  c = cluster().Fsctl({"scrub", "--wait", "--timeout", "90"});
  ASSERT_EQ(c.exit_code, 0) << c.Describe() << cluster().LogTails();
  std::cout << c.out << std::endl;
  EXPECT_TRUE(Contains(c.out, "scrub started on 3 datads")) << c.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(c.out, m, std::regex(R"(scrub: (\d+) corrupt blocks found)")))
      << c.out;
  EXPECT_GE(std::stoll(m[1]), 1) << c.out;
  EXPECT_TRUE(std::regex_search(c.out, std::regex(victim + R"(: pass done, [1-9]\d* corrupt)")))
      << "the victim's line should count the block: " << c.out;

  // Reported and repaired without anybody reading the file.
  ASSERT_TRUE(WaitFor([&] { return ServerJson(victim).value("corrupt_found", 0) >= 1; },
                      seconds(10), victim + " corrupt_found >= 1"));
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/f", 3, cluster().datad_addrs(), kHealTimeout, &r))
      << cluster().LogTails();
  EXPECT_TRUE(ReplicasIdentical(cluster().meta_addr(), r));
  Verify("f", seed, "after scrub repair");
}

// The prototype's demo through fsctl: corrupt, `cat` returns the right
// bytes, fsck shows the replica repaired shortly after.
TEST_F(OperatorTest, DemoCorruptThenCatReturnsRightBytesAndFsckShowsItRepaired) {
  const uint64_t seed = TestSeed();
  WriteAndSettle("demo", seed);
  DropPageCache(M("demo"));
  // Default replica: the primary, so the read meets the damage.
  CommandResult c = RunCommand({BinaryPath("fsctl"), "corrupt", M("demo")});
  ASSERT_EQ(c.exit_code, 0) << c.Describe();
  EXPECT_TRUE(Contains(c.out, "corrupted block 0")) << c.out;

  CommandResult cat = RunCommand({"cat", M("demo")});
  ASSERT_EQ(cat.exit_code, 0) << cat.Describe();
  ASSERT_EQ(cat.out.size(), static_cast<size_t>(kFileSize));
  EXPECT_TRUE(cat.out == PatternBytes(seed, 0, kFileSize)) << "cat returned wrong bytes";

  const auto start = std::chrono::steady_clock::now();
  FsckResult r;
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/demo", 3, cluster().datad_addrs(), seconds(30), &r))
      << cluster().LogTails();
  std::cout << "fsck clean " << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " s after the cat" << std::endl;
  EXPECT_TRUE(ReplicasIdentical(cluster().meta_addr(), r));
}

// A mount that caches the file (a small one it wrote keeps its content;
// the kernel keeps the pages of others) meets `fsctl corrupt`'s damage at
// its next read without dropping caches: the corrupt goes out on metad's
// change feed. The read returns the right bytes and reports the replica.
TEST_F(OperatorTest, TheNextReadOfAMountThatCachedTheFileMeetsAnInjectedFault) {
  ASSERT_TRUE(WriteFile(M("small"), "hello\n"));
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/small", 3, {}, seconds(30))) << cluster().LogTails();
  std::string got;
  ASSERT_TRUE(ReadFile(M("small"), &got));
  ASSERT_EQ(got, "hello\n");
  RpcCount before, after;
  ASSERT_TRUE(ClientRpcs(cluster(), 0, &before));
  // Default replica: the primary, so the read meets the damage.
  CommandResult c = RunCommand({BinaryPath("fsctl"), "corrupt", M("small")});
  ASSERT_EQ(c.exit_code, 0) << c.Describe();
  EXPECT_TRUE(PollUntil([&] {
    EXPECT_TRUE(ReadFile(M("small"), &got));
    EXPECT_EQ(got, "hello\n");
    return ClientRpcs(cluster(), 0, &after) &&
           MetaCalls(after, "ReportBadReplicas") > MetaCalls(before, "ReportBadReplicas");
  }, seconds(10))) << "no read met the damage:\n" << before.line << "\n" << after.line;
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/small", 3, cluster().datad_addrs(), seconds(30)))
      << cluster().LogTails();
}

// Goal 1 leaves a single replica: a plain corrupt refuses it, --force does it.
TEST_F(OperatorTest, CorruptRefusesTheLastGoodReplicaUnlessForced) {
  const uint64_t seed = TestSeed();
  WriteAndSettle("f", seed);
  CommandResult c = cluster().Fsctl({"setrepl", "/f", "1"});
  ASSERT_EQ(c.exit_code, 0) << c.Describe();
  FsckResult r;
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/f", 1, {}, kHealTimeout, &r)) << cluster().LogTails();

  c = cluster().Fsctl({"corrupt", "/f"});
  EXPECT_EQ(c.exit_code, 1) << c.Describe();
  EXPECT_TRUE(Contains(c.err, "corrupt refused")) << c.err;
  EXPECT_TRUE(Contains(c.err, "last good replica")) << c.err;
  EXPECT_TRUE(Contains(c.err, "--force")) << c.err;
  // Nothing was damaged.
  ASSERT_TRUE(RunFsck(cluster(), "/f", &r));
  EXPECT_EQ(r.exit_code, 0) << r.raw;
  Verify("f", seed, "after the refused corrupt");

  c = cluster().Fsctl({"corrupt", "/f", "--force"});
  EXPECT_EQ(c.exit_code, 0) << c.Describe();
  EXPECT_TRUE(Contains(c.out, "corrupted block 0")) << c.out;
  ASSERT_TRUE(RunFsck(cluster(), "/f", &r));
  EXPECT_EQ(r.exit_code, 1) << "the only replica was damaged: " << r.raw;
}

// ---- drain / undrain / remove ------------------------------------------------------

class FourDatadTest : public OperatorTest {
 protected:
  int datads() const override { return 4; }
};

TEST_F(FourDatadTest, DrainEmptiesAServerWhileDataStaysReadableThenUndrainAndRemove) {
  const uint64_t seed = TestSeed();
  for (int i = 0; i < 3; ++i) WriteAndSettle("f" + std::to_string(i), seed + i);
  // The victim: the datad holding the most replicas (placement need not use
  // all four for 12 chunks).
  const std::vector<std::string> addrs = cluster().datad_addrs();
  std::string victim;
  ASSERT_TRUE(WaitFor(
      [&] {
        int64_t most = 0;
        for (const std::string& a : addrs) {
          const int64_t n = ServerJson(a).value("chunks", int64_t{0});
          if (n > most) {
            most = n;
            victim = a;
          }
        }
        return most > 0;
      },
      seconds(15), "a datad holding chunks"));
  std::vector<std::string> others;
  for (const std::string& a : addrs) {
    if (a != victim) others.push_back(a);
  }
  std::cout << "draining " << victim << " (" << ServerJson(victim).value("chunks", int64_t{0})
            << " chunks)" << std::endl;

  // Up and not drained: remove is refused.
  CommandResult c = cluster().Fsctl({"remove", victim});
  EXPECT_EQ(c.exit_code, 1) << c.Describe();
  EXPECT_TRUE(Contains(c.err, "cannot remove")) << c.err;

  c = cluster().Fsctl({"drain", victim});
  ASSERT_EQ(c.exit_code, 0) << c.Describe();
  EXPECT_TRUE(Contains(c.out, "draining")) << c.out;
  EXPECT_TRUE(WaitServerState(victim, "draining", seconds(10)));
  CommandResult human = cluster().Fsctl({"status"});
  EXPECT_TRUE(Contains(human.out, "draining")) << human.out;
  ASSERT_TRUE(WaitFor([&] { return ServerJson(victim).value("chunks", -1) == 0; }, kHealTimeout,
                      victim + " empty"))
      << ServerJson(victim).dump() << cluster().LogTails();
  EXPECT_EQ(ServerJson(victim).value("state", ""), "draining");
  for (int i = 0; i < 3; ++i) Verify("f" + std::to_string(i), seed + i, "after the drain");
  FsckResult r;
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/", 3, others, seconds(30), &r));
  // New chunks avoid it.
  WriteAndSettle("new", seed + 10);
  ASSERT_TRUE(RunFsck(cluster(), "/new", &r));
  EXPECT_EQ(ChunkProblems(r, 3, others), "") << r.raw;

  // Undrain: back in service.
  c = cluster().Fsctl({"undrain", victim});
  ASSERT_EQ(c.exit_code, 0) << c.Describe();
  EXPECT_TRUE(WaitServerState(victim, "up", seconds(10)));
  int rc = -1;
  nlohmann::json j;
  EXPECT_TRUE(WaitFor([&] { return cluster().StatusJson(&j, &rc) && rc == 0; }, seconds(20),
                      "HEALTHY after undrain"))
      << j.dump(1);

  // Drained again (nothing new on it), then removed.
  ASSERT_EQ(cluster().Fsctl({"drain", victim}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return ServerJson(victim).value("chunks", -1) == 0; }, kHealTimeout,
                      victim + " empty again"));
  c = cluster().Fsctl({"remove", victim});
  ASSERT_EQ(c.exit_code, 0) << c.Describe();
  EXPECT_TRUE(Contains(c.out, "removed")) << c.out;
  c = cluster().Fsctl({"servers", "--json"});
  EXPECT_EQ(c.exit_code, 0) << c.Describe();
  EXPECT_FALSE(Contains(c.out, victim)) << c.out;
  for (int i = 0; i < 3; ++i) Verify("f" + std::to_string(i), seed + i, "after the remove");
  Verify("new", seed + 10, "after the remove");
}

// A server holding the last replica (goal 1) cannot be removed while down;
// once back and drained, it can.
TEST_F(OperatorTest, RemoveIsRefusedWhileAServerHoldsTheLastReplicaAndWorksAfterDrain) {
  const uint64_t seed = TestSeed();
  WriteAndSettle("f", seed);
  ASSERT_EQ(cluster().Fsctl({"setrepl", "/f", "1"}).exit_code, 0);
  FsckResult r;
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/f", 1, {}, kHealTimeout, &r));
  // The server of chunk 0's single replica.
  const std::string holder = r.File("/f")->chunks[0].replicas[0].addr;
  const std::string name = cluster().DatadName(holder);
  ASSERT_FALSE(name.empty()) << holder;

  ASSERT_TRUE(cluster().Kill9(name));
  ASSERT_TRUE(WaitServerState(holder, "down", seconds(20)));
  CommandResult c = cluster().Fsctl({"remove", holder});
  EXPECT_EQ(c.exit_code, 1) << c.Describe();
  EXPECT_TRUE(Contains(c.err, "last live replica")) << c.err;

  ASSERT_TRUE(cluster().Restart(name));
  ASSERT_TRUE(cluster().WaitServersUp(3, seconds(30)));
  ASSERT_EQ(cluster().Fsctl({"drain", holder}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return ServerJson(holder).value("chunks", -1) == 0; }, kHealTimeout,
                      holder + " drained"))
      << cluster().LogTails();
  c = cluster().Fsctl({"remove", holder});
  EXPECT_EQ(c.exit_code, 0) << c.Describe();
  Verify("f", seed, "after the holder was drained and removed");
  std::vector<std::string> rest;
  for (const std::string& a : cluster().datad_addrs()) {
    if (a != holder) rest.push_back(a);
  }
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/f", 1, rest, seconds(30), &r));
}

// ---- goals -------------------------------------------------------------------------

TEST_F(FourDatadTest, SetreplTwoAndFourConvergeAndDirectoriesAreInherited) {
  const uint64_t seed = TestSeed();
  WriteAndSettle("f", seed);
  CommandResult c = cluster().Fsctl({"getrepl", "/f"});
  EXPECT_EQ(c.exit_code, 0) << c.Describe();
  EXPECT_TRUE(Contains(c.out, "goal 3")) << c.out;

  c = cluster().Fsctl({"setrepl", "/f", "2"});
  ASSERT_EQ(c.exit_code, 0) << c.Describe();
  c = RunCommand({BinaryPath("fsctl"), "getrepl", M("f")});
  EXPECT_EQ(c.exit_code, 0) << c.Describe();
  EXPECT_TRUE(Contains(c.out, "goal 2")) << c.out;
  FsckResult r;
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/f", 2, {}, kHealTimeout, &r)) << cluster().LogTails();
  EXPECT_EQ(r.File("/f")->goal, 2) << r.raw;
  Verify("f", seed, "at goal 2");

  c = cluster().Fsctl({"setrepl", "/f", "4"});
  ASSERT_EQ(c.exit_code, 0) << c.Describe();
  EXPECT_TRUE(Contains(cluster().Fsctl({"getrepl", "/f"}).out, "goal 4"));
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/f", 4, cluster().datad_addrs(), kHealTimeout, &r))
      << cluster().LogTails();
  EXPECT_EQ(r.File("/f")->goal, 4) << r.raw;
  int64_t compared = 0;
  EXPECT_TRUE(ReplicasIdentical(cluster().meta_addr(), r, &compared));
  EXPECT_EQ(compared, 16);
  Verify("f", seed, "at goal 4");

  // A directory's goal is inherited by files (and directories) created in it.
  ASSERT_EQ(mkdir(M("d").c_str(), 0755), 0) << ErrnoText(errno);
  c = cluster().Fsctl({"setrepl", "/d", "2"});
  ASSERT_EQ(c.exit_code, 0) << c.Describe();
  ASSERT_EQ(mkdir(M("d/sub").c_str(), 0755), 0) << ErrnoText(errno);
  ASSERT_TRUE(WritePatternFile(M("d/sub/new"), seed + 1, kFileSize));
  EXPECT_TRUE(Contains(cluster().Fsctl({"getrepl", "/d"}).out, "goal 2"));
  EXPECT_TRUE(Contains(cluster().Fsctl({"getrepl", "/d/sub"}).out, "goal 2"));
  EXPECT_TRUE(Contains(cluster().Fsctl({"getrepl", "/d/sub/new"}).out, "goal 2"));
  ASSERT_TRUE(WaitFsckHealthy(cluster(), "/d", 2, {}, seconds(30), &r)) << r.raw;
  EXPECT_EQ(r.File("/d/sub/new")->goal, 2) << r.raw;
  // Files elsewhere keep the default.
  ASSERT_TRUE(WriteFile(M("other"), "x"));
  EXPECT_TRUE(Contains(cluster().Fsctl({"getrepl", "/other"}).out, "goal 3"));
  // Unknown path and a bad goal.
  c = cluster().Fsctl({"getrepl", "/nope"});
  EXPECT_EQ(c.exit_code, 2) << c.Describe();
  EXPECT_TRUE(Contains(c.err, "No such file or directory")) << c.err;
  c = cluster().Fsctl({"setrepl", "/f", "17"});
  EXPECT_NE(c.exit_code, 0) << c.Describe();
}

// ---- status --json, --prometheus ---------------------------------------------------

TEST_F(OperatorTest, StatusJsonHasTheDocumentedFieldsAndPrometheusParses) {
  const uint64_t seed = TestSeed();
  WriteAndSettle("f", seed);
  nlohmann::json j;
  int rc = -1;
  // HEALTHY, and every datad's usage counts the file (usage may lag the
  // chunk counts by a heartbeat or a store sync).
  ASSERT_TRUE(WaitFor(
      [&] {
        if (!cluster().StatusJson(&j, &rc) || rc != 0 || !j.contains("servers")) return false;
        for (const auto& s : j["servers"]) {
          if (!s.contains("bytes_used") || !s["bytes_used"].is_number_integer() ||
              s["bytes_used"].get<int64_t>() <= 0) {
            return false;
          }
        }
        return true;
      },
      seconds(20), "status HEALTHY with bytes_used > 0 on every datad"))
      << j.dump(1);

  const auto is_int = [](const nlohmann::json& v) { return v.is_number_integer(); };
  ASSERT_TRUE(j.contains("health") && j["health"].is_string()) << j.dump(1);
  EXPECT_EQ(j["health"], "HEALTHY");
  ASSERT_TRUE(j.contains("servers") && j["servers"].is_array()) << j.dump(1);
  ASSERT_EQ(j["servers"].size(), 3u) << j.dump(1);
  std::set<std::string> addrs;
  for (const auto& s : j["servers"]) {
    ASSERT_TRUE(s.contains("addr") && s["addr"].is_string()) << s.dump();
    addrs.insert(s["addr"].get<std::string>());
    ASSERT_TRUE(s.contains("state") && s["state"].is_string()) << s.dump();
    EXPECT_EQ(s["state"], "up") << s.dump();
    for (const char* k : {"chunks", "bytes_used", "bytes_free", "corrupt_found",
                          "last_heartbeat_ms"}) {
      ASSERT_TRUE(s.contains(k) && is_int(s[k])) << k << " in " << s.dump();
      EXPECT_GE(s[k].get<int64_t>(), 0) << k << " in " << s.dump();
    }
    EXPECT_EQ(s["chunks"], 4) << "goal 3 on 3 datads: every chunk everywhere: " << s.dump();
    EXPECT_GT(s["bytes_used"].get<int64_t>(), 0) << s.dump();
    EXPECT_GT(s["bytes_free"].get<int64_t>(), 0) << s.dump();
    EXPECT_EQ(s["corrupt_found"], 0) << s.dump();
    EXPECT_LT(s["last_heartbeat_ms"].get<int64_t>(), 2000) << s.dump();
  }
  const std::vector<std::string> ours = cluster().datad_addrs();
  EXPECT_EQ(addrs, std::set<std::string>(ours.begin(), ours.end()));
  ASSERT_TRUE(j.contains("chunks") && j["chunks"].is_object()) << j.dump(1);
  for (const char* k : {"total", "healthy", "under_replicated", "unavailable", "corrupt_replicas"}) {
    ASSERT_TRUE(j["chunks"].contains(k) && is_int(j["chunks"][k])) << k << " in " << j.dump(1);
  }
  EXPECT_EQ(j["chunks"]["total"], 4);
  EXPECT_EQ(j["chunks"]["healthy"], 4);
  EXPECT_EQ(j["chunks"]["under_replicated"], 0);
  EXPECT_EQ(j["chunks"]["unavailable"], 0);
  EXPECT_EQ(j["chunks"]["corrupt_replicas"], 0);
  ASSERT_TRUE(j.contains("repair") && j["repair"].is_object()) << j.dump(1);
  for (const char* k : {"queued", "done"}) {
    ASSERT_TRUE(j["repair"].contains(k) && is_int(j["repair"][k])) << k << " in " << j.dump(1);
    EXPECT_GE(j["repair"][k].get<int64_t>(), 0);
  }

  // Prometheus: every sample line `name{labels} value`, HELP and TYPE for
  // every family, the same counts as --json.
  CommandResult p = cluster().Fsctl({"status", "--prometheus"});
  ASSERT_EQ(p.exit_code, 0) << p.Describe();
  const std::regex help(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$)");
  const std::regex type(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter|histogram|summary|untyped)$)");
  std::set<std::string> helped, typed, sampled;
  std::map<std::string, std::string> values;  // "name{labels}" -> value
  std::istringstream in(p.out);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::smatch m;
    if (line[0] == '#') {
      if (std::regex_match(line, m, help)) {
        helped.insert(m[1]);
      } else if (std::regex_match(line, m, type)) {
        EXPECT_EQ(sampled.count(m[1]), 0u) << "TYPE after samples: " << line;
        typed.insert(m[1]);
      }
      continue;
    }
    std::string name;
    ASSERT_TRUE(ParsePromSample(line, &name)) << "not a sample: '" << line << "'";
    sampled.insert(name);
    values[line.substr(0, line.rfind(' '))] = line.substr(line.rfind(' ') + 1);
    ++samples;
  }
  EXPECT_GT(samples, 10) << p.out;
  for (const std::string& name : sampled) {
    EXPECT_EQ(helped.count(name), 1u) << "no HELP for " << name;
    EXPECT_EQ(typed.count(name), 1u) << "no TYPE for " << name;
  }
  EXPECT_EQ(values["replfs_up{meta=\"" + cluster().meta_addr() + "\"}"], "1") << p.out;
  EXPECT_EQ(values["replfs_health{state=\"healthy\"}"], "1") << p.out;
  EXPECT_EQ(values["replfs_chunks_known"], "4") << p.out;
  // Prometheus naming (promtool check metrics): "_total" exactly on counters.
  for (const std::string& tline : {std::string("counter"), std::string("gauge")}) {
    std::istringstream types(p.out);
    std::string l;
    while (std::getline(types, l)) {
      std::smatch tm;
      if (!std::regex_match(l, tm, type) || tm[2] != tline) continue;
      const std::string n = tm[1];
      const bool total = n.size() > 6 && n.compare(n.size() - 6, 6, "_total") == 0;
      EXPECT_EQ(total, tline == "counter") << l;
    }
  }
  for (const std::string& a : cluster().datad_addrs()) {
    bool found = false;
    for (const auto& [k, v] : values) {
      if (k.rfind("replfs_server_up{", 0) == 0 && Contains(k, "\"" + a + "\"")) {
        EXPECT_EQ(v, "1") << k;
        found = true;
      }
    }
    EXPECT_TRUE(found) << "no replfs_server_up sample for " << a << ":\n" << p.out;
  }

  // A datad down and back: exit 1, then 0 again (the down and metad-down
  // cases themselves are FsctlTest.StatusExitCodesFollowHealth).
  ASSERT_TRUE(cluster().Kill9("datad1"));
  EXPECT_TRUE(WaitFor([&] { return cluster().StatusJson(&j, &rc) && rc == 1; }, seconds(20),
                      "status exit 1 with datad1 down"));
  EXPECT_EQ(j["health"], "DEGRADED");
  p = cluster().Fsctl({"status", "--prometheus"});
  EXPECT_EQ(p.exit_code, 1) << p.Describe();
  EXPECT_TRUE(Contains(p.out, "replfs_health{state=\"degraded\"} 1")) << p.out;
  ASSERT_TRUE(cluster().Restart("datad1"));
  EXPECT_TRUE(WaitFor([&] { return cluster().StatusJson(&j, &rc) && rc == 0; }, seconds(30),
                      "status exit 0 after datad1 returned"))
      << j.dump(1);

  // metad unreachable: exit 2 and replfs_up 0 in Prometheus form.
  ASSERT_TRUE(cluster().Stop("metad"));
  p = cluster().Fsctl({"status", "--prometheus"});
  EXPECT_EQ(p.exit_code, 2) << p.Describe();
  EXPECT_TRUE(Contains(p.out, "replfs_up{meta=\"" + cluster().meta_addr() + "\"} 0")) << p.out;
  EXPECT_TRUE(Contains(p.out, "replfs_health{state=\"unavailable\"} 1")) << p.out;
}

// ---- heal --------------------------------------------------------------------------

// 3 datads, goal 3, one killed: there is no server to copy to. `heal --wait`
// ends as soon as metad stops healing (not at its timeout), says what is
// left and why, and exits 1. The same state shows an error metad answers
// (scrub of the down datad) reported as metad's answer, not "cannot reach
// metad", and fsck listing the down server's replicas as missing.
TEST_F(OperatorTest, HealWaitWithNoServerToCopyToEndsPromptlyAndSaysWhy) {
  const uint64_t seed = TestSeed();
  WriteAndSettle("f", seed);
  const std::string victim = cluster().datad_addrs()[2];
  ASSERT_TRUE(cluster().Kill9("datad2"));
  ASSERT_TRUE(WaitServerState(victim, "down", seconds(20)));

  const auto start = std::chrono::steady_clock::now();
  CommandResult c = cluster().Fsctl({"heal", "--wait", "--timeout", "120"});
  const auto took = std::chrono::steady_clock::now() - start;
  std::cout << c.out << std::endl;
  EXPECT_EQ(c.exit_code, 1) << c.Describe() << cluster().LogTails();
  EXPECT_LT(took, seconds(30)) << "heal --wait waited for nothing: " << c.Describe();
  EXPECT_TRUE(Contains(c.out, "heal started")) << c.out;
  EXPECT_TRUE(Contains(c.out, "still degraded")) << c.out;
  EXPECT_TRUE(Contains(c.out, "chunks below goal: only 2 datads up and not draining for goal 3, "
                              "so no server to copy to"))
      << c.out;
  EXPECT_TRUE(Contains(c.out, "why: down: " + victim)) << c.out;
  EXPECT_FALSE(Contains(c.err, "not finished")) << c.err;

  // metad answers "datad X is down": exit 1 with its words, not exit 2.
  c = cluster().Fsctl({"scrub", "--server", victim});
  EXPECT_EQ(c.exit_code, 1) << c.Describe();
  EXPECT_TRUE(Contains(c.err, "datad " + victim + " is down")) << c.err;
  EXPECT_FALSE(Contains(c.err, "cannot reach metad")) << c.err;

  // fsck: the replicas on the down server are "missing", saying why.
  c = cluster().Fsctl({"fsck", "/f", "--json"});
  EXPECT_EQ(c.exit_code, 1) << c.Describe();
  nlohmann::json j = nlohmann::json::parse(c.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << c.out;
  int listed = 0;
  for (const auto& chunk : j["files"][0]["chunks"]) {
    for (const auto& r : chunk["replicas"]) {
      const std::string state = r.value("state", "");
      EXPECT_TRUE(state == "ok" || state == "corrupt" || state == "missing" || state == "stale") << r.dump();
      if (r.value("addr", "") != victim) continue;
      ++listed;
      EXPECT_EQ(state, "missing") << r.dump();
      EXPECT_TRUE(Contains(r.value("detail", ""), "down")) << r.dump();
      EXPECT_EQ(r.value("unreachable", false), true) << r.dump();
    }
  }
  EXPECT_GE(listed, 1) << c.out;
  Verify("f", seed, "with one of three datads down");
}

TEST_F(FourDatadTest, HealWaitAfterADatadWasKilledEndsHealthy) {
  const uint64_t seed = TestSeed();
  for (int i = 0; i < 3; ++i) WriteAndSettle("f" + std::to_string(i), seed + i);
  // Placement picks 3 of the 4 for each file (least full first): the one
  // killed must be one that holds chunks, which need not be datad0.
  std::string dead;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const std::string& a : cluster().datad_addrs())
          if (ServerJson(a).value("chunks", 0) > 0) {
            dead = a;
            return true;
          }
        return false;
      },
      seconds(15), "a datad holding chunks"));
  std::vector<std::string> rest;
  for (const std::string& a : cluster().datad_addrs())
    if (a != dead) rest.push_back(a);

  ASSERT_TRUE(cluster().Kill9(cluster().DatadName(dead)));
  ASSERT_TRUE(WaitServerState(dead, "down", seconds(20)));

  CommandResult c = cluster().Fsctl({"heal", "--wait", "--timeout", "120"});
  std::cout << c.out << std::endl;
  EXPECT_TRUE(Contains(c.out, "heal started")) << c.Describe();
  ASSERT_TRUE(std::regex_search(c.out, std::regex(R"(heal: \d+ chunks repaired in)")))
      << c.Describe() << cluster().LogTails();
  // Every chunk is back at goal on the live servers the moment heal returns;
  // only the dead server keeps the cluster DEGRADED (exit 1).
  EXPECT_EQ(c.exit_code, 1) << c.Describe();
  EXPECT_TRUE(Contains(c.out, "datads down")) << c.out;
  FsckResult r;
  ASSERT_TRUE(RunFsck(cluster(), "/", &r));
  EXPECT_EQ(ChunkProblems(r, 3, rest), "") << r.raw;
  EXPECT_EQ(r.exit_code, 0) << r.raw;

  // The dead server forgotten: heal --wait ends HEALTHY, exit 0.
  c = cluster().Fsctl({"remove", dead});
  ASSERT_EQ(c.exit_code, 0) << c.Describe();
  c = cluster().Fsctl({"heal", "--wait", "--timeout", "60"});
  EXPECT_EQ(c.exit_code, 0) << c.Describe();
  EXPECT_TRUE(Contains(c.out, "cluster HEALTHY")) << c.out;
  nlohmann::json j;
  int rc = -1;
  ASSERT_TRUE(cluster().StatusJson(&j, &rc));
  EXPECT_EQ(rc, 0) << j.dump(1);
  EXPECT_EQ(j["chunks"]["under_replicated"], 0);
  for (int i = 0; i < 3; ++i) Verify("f" + std::to_string(i), seed + i, "after heal");
}

}  // namespace
}  // namespace replfs::testing
