#include "ctl/fsck.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "ctl/commands.h"
#include "fake_meta_api.h"

namespace replfs::ctl {
namespace {

ChunkInfo Chunk(int64_t index, std::vector<ReplicaState> states,
                std::vector<std::string> addrs = {"a:1", "b:2", "c:3"}) {
  ChunkInfo c;
  c.index = index;
  c.id = 100 + index;
  c.version = 1;
  for (size_t i = 0; i < states.size(); ++i)
    c.replicas.push_back({addrs[i], states[i], ""});
  return c;
}

constexpr ReplicaState kOk = ReplicaState::kOk;

TEST(JudgeChunkTest, CountsOkReplicasOnDistinctServers) {
  EXPECT_FALSE(JudgeChunk(Chunk(0, {kOk, kOk, kOk}), 3).below_goal);
  ChunkVerdict v = JudgeChunk(Chunk(0, {kOk, ReplicaState::kCorrupt, kOk}), 3);
  EXPECT_TRUE(v.below_goal);
  EXPECT_EQ(v.bad, 1);
  EXPECT_EQ(v.ok_distinct, 2);
  // Two replicas on one server count once.
  EXPECT_TRUE(JudgeChunk(Chunk(0, {kOk, kOk, kOk}, {"a:1", "a:1", "b:2"}), 3)
                  .below_goal);
  EXPECT_TRUE(JudgeChunk(Chunk(0, {kOk, kOk}), 3).below_goal);
  EXPECT_FALSE(JudgeChunk(Chunk(0, {kOk}), 0).below_goal);
  EXPECT_TRUE(JudgeChunk(Chunk(0, {}), 0).below_goal);
}

TEST(FsckTest, WalksATreeInNameOrderAcrossPages) {
  FakeMetaApi api;
  const int64_t d = api.AddDir(1, "d");
  for (int i = 0; i < 2500; ++i) {
    char name[16];
    std::snprintf(name, sizeof(name), "f%05d", i);
    api.AddFile(d, name, {Chunk(0, {kOk, kOk, kOk})});
  }
  api.AddFile(1, "a", {Chunk(0, {kOk, kOk, kOk}), Chunk(1, {kOk, kOk, kOk})});
  api.Symlink(1, "link");
  std::ostringstream out, err;
  EXPECT_EQ(RunFsck(&api, "/", /*json=*/true, out, err), kExitOk) << err.str();
  nlohmann::json j = nlohmann::json::parse(out.str());
  ASSERT_EQ(j["files"].size(), 2501u);
  EXPECT_EQ(j["files"][0]["path"], "/a");
  EXPECT_EQ(j["files"][1]["path"], "/d/f00000");
  EXPECT_EQ(j["files"][2500]["path"], "/d/f02499");
  EXPECT_EQ(j["summary"]["files"], 2501);
  EXPECT_EQ(j["summary"]["chunks"], 2502);
  EXPECT_EQ(j["summary"]["replicas_ok"], 3 * 2502);
  EXPECT_EQ(j["summary"]["ok"], true);
  EXPECT_GE(api.readdir_calls, 4); // 2500 entries need three pages of 1024
}

TEST(FsckTest, JsonShapeOfOneFile) {
  FakeMetaApi api;
  api.AddFile(1, "f", {Chunk(0, {kOk, ReplicaState::kStale, kOk})});
  std::ostringstream out, err;
  EXPECT_EQ(RunFsck(&api, "/f", true, out, err), kExitProblems);
  nlohmann::json j = nlohmann::json::parse(out.str());
  ASSERT_EQ(j["files"].size(), 1u);
  const nlohmann::json &f = j["files"][0];
  EXPECT_EQ(f["path"], "/f");
  EXPECT_TRUE(f["ino"].is_number_integer());
  EXPECT_TRUE(f["size"].is_number_integer());
  const nlohmann::json &c = f["chunks"][0];
  for (const char *k : {"index", "id", "version"})
    EXPECT_TRUE(c[k].is_number_integer()) << k;
  ASSERT_EQ(c["replicas"].size(), 3u);
  EXPECT_EQ(c["replicas"][0]["addr"], "a:1");
  EXPECT_EQ(c["replicas"][1]["state"], "stale");
  EXPECT_EQ(j["summary"]["replicas_bad"], 1);
  EXPECT_EQ(j["summary"]["chunks_below_goal"], 1);
  EXPECT_EQ(j["summary"]["ok"], false);
}

TEST(FsckTest, EmptyTreeIsValidJson) {
  FakeMetaApi api;
  std::ostringstream out, err;
  EXPECT_EQ(RunFsck(&api, "/", true, out, err), kExitOk);
  nlohmann::json j = nlohmann::json::parse(out.str());
  EXPECT_TRUE(j["files"].empty());
  EXPECT_EQ(j["summary"]["files"], 0);
}

TEST(FsckTest, TextOutputAndUnavailableChunk) {
  FakeMetaApi api;
  api.AddFile(1, "f",
              {Chunk(0, {kOk, kOk, kOk}),
               Chunk(1, {ReplicaState::kMissing, ReplicaState::kUnreachable,
                         ReplicaState::kCorrupt})});
  std::ostringstream out, err;
  EXPECT_EQ(RunFsck(&api, "/", false, out, err), kExitProblems);
  const std::string text = out.str();
  EXPECT_NE(text.find("/f  ino"), std::string::npos) << text;
  EXPECT_NE(text.find("chunk 1  id 101  v1  a:1 missing, b:2 missing "
                      "(unreachable, not checked), c:3 corrupt  [0/3 ok]"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("1 unavailable"), std::string::npos) << text;
  EXPECT_NE(text.find("PROBLEMS FOUND"), std::string::npos) << text;
}

TEST(FsckTest, MissingPathAndUnreachableMetadExitTwo) {
  FakeMetaApi api;
  std::ostringstream out, err;
  EXPECT_EQ(RunFsck(&api, "/nope", false, out, err), kExitUnavailable);
  EXPECT_NE(err.str().find("/nope"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("No such file or directory"), std::string::npos)
      << err.str();
  api.unreachable = true;
  std::ostringstream out2, err2;
  EXPECT_EQ(RunFsck(&api, "/", false, out2, err2), kExitUnavailable);
  EXPECT_NE(err2.str().find("cannot reach metad at 127.0.0.1:9190"),
            std::string::npos)
      << err2.str();
}

// DESIGN.md allows ok|corrupt|missing|stale: a replica metad could not
// check is "missing", and says why.
TEST(FsckTest, UnreachableReplicaIsMissingWithADetail) {
  FakeMetaApi api;
  ChunkInfo c = Chunk(0, {kOk, ReplicaState::kUnreachable, kOk});
  c.replicas[1].detail = "server is down";
  api.AddFile(1, "f", {c});
  std::ostringstream out, err;
  EXPECT_EQ(RunFsck(&api, "/f", true, out, err), kExitProblems);
  nlohmann::json j = nlohmann::json::parse(out.str());
  const nlohmann::json &r = j["files"][0]["chunks"][0]["replicas"][1];
  EXPECT_EQ(r["state"], "missing") << r.dump();
  EXPECT_EQ(r["detail"], "unreachable, not checked: server is down");
  EXPECT_EQ(r["unreachable"], true);
  EXPECT_FALSE(j["files"][0]["chunks"][0]["replicas"][0].contains("detail"));
  for (const auto &f : j["files"])
    for (const auto &ch : f["chunks"])
      for (const auto &rep : ch["replicas"])
        EXPECT_TRUE(rep["state"] == "ok" || rep["state"] == "corrupt" ||
                    rep["state"] == "missing" || rep["state"] == "stale")
            << rep.dump();
  std::ostringstream text;
  EXPECT_EQ(RunFsck(&api, "/f", false, text, err), kExitProblems);
  EXPECT_NE(
      text.str().find("b:2 missing (unreachable, not checked: server is down)"),
      std::string::npos)
      << text.str();
}

TEST(FsckTest, WalkFailingPartWayStillClosesTheJson) {
  FakeMetaApi api;
  const int64_t d = api.AddDir(1, "d");
  api.AddFile(1, "a", {Chunk(0, {kOk, kOk, kOk})});
  for (int i = 0; i < 1500; ++i)
    api.AddFile(d, "f" + std::to_string(10000 + i),
                {Chunk(0, {kOk, kOk, kOk})});
  api.readdir_fail_at = 3; // root, /d page 1, then no answer
  std::ostringstream out, err;
  EXPECT_EQ(RunFsck(&api, "/", true, out, err), kExitUnavailable);
  nlohmann::json j = nlohmann::json::parse(out.str(), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out.str().substr(out.str().size() - 300);
  EXPECT_EQ(j["complete"], false);
  EXPECT_NE(j["error"].get<std::string>().find("cannot reach metad"),
            std::string::npos)
      << j["error"];
  EXPECT_EQ(j["files"].size(), 1025u); // /a and the first page of /d
  EXPECT_EQ(j["summary"]["files"], 1025);
  EXPECT_EQ(j["summary"]["ok"], true); // what was seen was fine
  EXPECT_NE(err.str().find("cannot reach metad at 127.0.0.1:9190"),
            std::string::npos)
      << err.str();

  // Failing before the first file: still one JSON document.
  std::ostringstream out2, err2;
  EXPECT_EQ(RunFsck(&api, "/nope", true, out2, err2), kExitUnavailable);
  j = nlohmann::json::parse(out2.str(), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out2.str();
  EXPECT_TRUE(j["files"].empty());
  EXPECT_EQ(j["complete"], false);

  // The text form says it is incomplete.
  api.readdir_calls = 0;
  std::ostringstream text, err3;
  EXPECT_EQ(RunFsck(&api, "/", false, text, err3), kExitUnavailable);
  EXPECT_NE(text.str().find("summary: INCOMPLETE"), std::string::npos)
      << text.str().substr(text.str().size() - 300);
}

TEST(FsckTest, CompleteWalkSaysSo) {
  FakeMetaApi api;
  api.AddFile(1, "a", {Chunk(0, {kOk, kOk, kOk})});
  std::ostringstream out, err;
  EXPECT_EQ(RunFsck(&api, "/", true, out, err), kExitOk);
  EXPECT_EQ(nlohmann::json::parse(out.str())["complete"], true);
}

TEST(FsckTest, NamesThatAreNotUtf8DoNotAbortTheJson) {
  FakeMetaApi api;
  api.AddFile(1, std::string("caf\xe9-\xff\xfe"), {Chunk(0, {kOk, kOk, kOk})});
  api.AddFile(1, "z", {Chunk(0, {kOk, kOk, kOk})});
  std::ostringstream out, err;
  EXPECT_EQ(RunFsck(&api, "/", true, out, err), kExitOk) << err.str();
  nlohmann::json j = nlohmann::json::parse(out.str(), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out.str();
  ASSERT_EQ(j["files"].size(), 2u);
  const std::string path = j["files"][0]["path"];
  EXPECT_EQ(path.rfind("/caf", 0), 0u) << path;
  EXPECT_NE(path.find("\xef\xbf\xbd"), std::string::npos) << path; // U+FFFD
  EXPECT_EQ(j["files"][1]["path"], "/z");
}

// metad's budget ran out on one file: it is listed as not checked, the walk
// goes on, and the exit code says not everything is known to be fine.
TEST(FsckTest, FileMetadCouldNotCheckInTimeIsReportedAndTheWalkGoesOn) {
  FakeMetaApi api;
  const int64_t big = api.AddFile(1, "big", {Chunk(0, {kOk, kOk, kOk})});
  api.AddFile(1, "small", {Chunk(0, {kOk, kOk, kOk})});
  api.fsck_answers[big] = Status::TimedOut(
      "fsck of inode 2 checked 900 of 16384 chunks within metad's budget");
  std::ostringstream out, err;
  EXPECT_EQ(RunFsck(&api, "/", true, out, err), kExitProblems) << err.str();
  nlohmann::json j = nlohmann::json::parse(out.str());
  ASSERT_EQ(j["files"].size(), 2u);
  EXPECT_EQ(j["files"][0]["path"], "/big");
  EXPECT_NE(j["files"][0]["error"].get<std::string>().find("900 of 16384"),
            std::string::npos);
  EXPECT_EQ(j["files"][1]["path"], "/small");
  EXPECT_EQ(j["summary"]["unchecked"], 1);
  EXPECT_EQ(j["summary"]["ok"], false);
  EXPECT_EQ(j["complete"], true);
  std::ostringstream text;
  EXPECT_EQ(RunFsck(&api, "/", false, text, err), kExitProblems);
  EXPECT_NE(text.str().find("/big  ino 2  NOT CHECKED: fsck of inode 2"),
            std::string::npos)
      << text.str();
  EXPECT_NE(text.str().find("1 files not checked: PROBLEMS FOUND"),
            std::string::npos)
      << text.str();

  // No answer from metad to Fsck (fsctl's own timeout) stops the walk: it is
  // not the file's fault, and not something to skip over.
  api.fsck_answers[big] =
      NoAnswer("127.0.0.1:9190", "Fsck", 120'000, Status::TimedOut("EAGAIN"));
  std::ostringstream out2, err2;
  EXPECT_EQ(RunFsck(&api, "/", false, out2, err2), kExitUnavailable);
  EXPECT_NE(err2.str().find("no answer from metad at 127.0.0.1:9190 to Fsck "
                            "within 2m 00s"),
            std::string::npos)
      << err2.str();
}

TEST(FsckTest, FileVanishingDuringTheWalkIsSkipped) {
  FakeMetaApi api;
  api.AddFile(1, "a", {Chunk(0, {kOk, kOk, kOk})});
  const int64_t gone = api.AddFile(1, "b", {Chunk(0, {kOk, kOk, kOk})});
  api.Forget(gone); // listed, but Fsck says NotFound
  std::ostringstream out, err;
  EXPECT_EQ(RunFsck(&api, "/", true, out, err), kExitOk) << err.str();
  nlohmann::json j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["summary"]["files"], 1);
  EXPECT_EQ(j["summary"]["skipped"], 1);
}

} // namespace
} // namespace replfs::ctl
