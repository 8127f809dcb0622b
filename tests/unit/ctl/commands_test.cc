// fsctl's commands against a fake metad: what they ask for, print and return.
#include "ctl/commands.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fake_meta_api.h"
#include "test_status.h"

namespace replfs::ctl {
namespace {

struct Outcome {
  int code = -1;
  std::string out, err;
};

class CommandsTest : public ::testing::Test {
protected:
  CommandsTest() {
    file_ = api_.AddFile(1, "f", {});
    wait_.clock = &clock_;
    wait_.wait = true;
  }

  template <typename F> Outcome Capture(F f) {
    std::ostringstream out, err;
    Outcome r;
    r.code = f(out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  FakeMetaApi api_;
  FakeClock clock_;
  WaitOptions wait_;
  int64_t file_ = 0;
};

TEST_F(CommandsTest, StatusFormats) {
  api_.statuses = {HealthyStatus()};
  Outcome r = Capture([&](auto &o, auto &e) {
    return RunStatus(&api_, OutputFormat::kPrometheus, o, e);
  });
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(
      r.out.find(
          "# TYPE replfs_up gauge\nreplfs_up{meta=\"127.0.0.1:9190\"} 1\n"),
      std::string::npos)
      << r.out;
  EXPECT_EQ(api_.status_calls, 1u); // one RPC
  api_.unreachable = true;
  r = Capture([&](auto &o, auto &e) {
    return RunStatus(&api_, OutputFormat::kPrometheus, o, e);
  });
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("replfs_up{meta=\"127.0.0.1:9190\"} 0"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("cannot reach metad at 127.0.0.1:9190"),
            std::string::npos)
      << r.err;
}

TEST_F(CommandsTest, CorruptPrintsTheReplica) {
  api_.corrupt_result = {"127.0.0.1:3333", 77, 0, 4, 2};
  CorruptRequest req;
  req.block = 2;
  req.mode = FaultMode::kZero;
  Outcome r = Capture(
      [&](auto &o, auto &e) { return RunCorrupt(&api_, "/f", req, o, e); });
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "corrupted block 2 (chunk 77 index 0 block 2 v4) on "
                   "127.0.0.1:3333 (mode zero)\n");
  ASSERT_EQ(api_.corrupt_requests.size(), 1u);
  EXPECT_EQ(api_.corrupt_requests[0].ino, file_);
  EXPECT_EQ(api_.corrupt_requests[0].mode, FaultMode::kZero);
  EXPECT_EQ(api_.corrupt_requests[0].server, "");
}

TEST_F(CommandsTest, CorruptRefusalAndMissingPath) {
  api_.corrupt_answer = Status::Invalid("no other good replica of chunk 77");
  Outcome r = Capture(
      [&](auto &o, auto &e) { return RunCorrupt(&api_, "/f", {}, o, e); });
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find("corrupt refused: /f block 0: no other good replica"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;

  r = Capture(
      [&](auto &o, auto &e) { return RunCorrupt(&api_, "/nope", {}, o, e); });
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "fsctl: /nope: No such file or directory\n");
  EXPECT_EQ(api_.corrupt_requests.size(), 1u); // never asked

  api_.unreachable = true;
  r = Capture(
      [&](auto &o, auto &e) { return RunCorrupt(&api_, "/f", {}, o, e); });
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("127.0.0.1:9190"), std::string::npos) << r.err;
}

TEST_F(CommandsTest, ScrubWithoutWaitOnlyStarts) {
  api_.statuses = {HealthyStatus()};
  wait_.wait = false;
  Outcome r = Capture(
      [&](auto &o, auto &e) { return RunScrub(&api_, "", wait_, o, e); });
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(api_.scrub_servers, std::vector<std::string>{""});
  EXPECT_EQ(r.out, "scrub started on 3 datads\n");
}

TEST_F(CommandsTest, ScrubWaitsForEveryPassThenSummarises) {
  const int64_t start = clock_.now_ms;
  ClusterStatus before = HealthyStatus();
  for (ServerInfo &i : before.servers)
    i.scrub.last_full_pass_ms = start - 86'400'000;
  ClusterStatus half = before;
  half.servers[0].scrub = {true, 0.5, start - 86'400'000, 0, 1 << 20, 1};
  half.servers[1].scrub = {true, 0.2, start - 86'400'000, 0, 1 << 20, 0};
  // Server 2 still shows its old pass: not done yet.
  ClusterStatus done = before;
  done.servers[0].scrub = {false, 1, start + 5000, 0, 2 << 20, 1};
  done.servers[1].scrub = {false, 1, start + 6000, 0, 2 << 20, 0};
  done.servers[2].scrub = {false, 1, start + 7000, 0, 2 << 20, 0};
  done.repair_done = 1;
  // The corrupt block reached metad with the pass: dropped, then repaired.
  ClusterStatus dropped = done;
  dropped.chunks.corrupt_replicas = 1;
  dropped.repair_queued = 1;
  dropped.repair_done = 0;
  ClusterStatus repaired = done;
  repaired.repair_done = 1;
  api_.statuses = {before, half, half, dropped, dropped, repaired};
  Outcome r = Capture(
      [&](auto &o, auto &e) { return RunScrub(&api_, "", wait_, o, e); });
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(api_.status_calls, 6u); // waited for the repair
  EXPECT_NE(r.out.find("scrub:  23.3%, 0/3 datads done"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("127.0.0.1:2222: pass done, 1 corrupt blocks found"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("scrub: 1 corrupt blocks found; repaired 1 chunks; 0 "
                       "repairs queued, 0 corrupt replicas known"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find('\r'), std::string::npos);
}

TEST_F(CommandsTest, ScrubSummaryWaitIsBoundedAndSaysWhatIsLeft) {
  ClusterStatus before = HealthyStatus();
  ClusterStatus done = before;
  for (ServerInfo &i : done.servers)
    i.scrub = {false, 1, clock_.now_ms + 1, 0, 1 << 20, 0};
  done.servers[1].scrub.corrupt_found_pass = 2;
  done.chunks.corrupt_replicas = 2; // never repaired (no target)
  api_.statuses = {before, done};
  Outcome r = Capture(
      [&](auto &o, auto &e) { return RunScrub(&api_, "", wait_, o, e); });
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("2 corrupt replicas still wait for repair"),
            std::string::npos)
      << r.out;
  EXPECT_LE(clock_.sleeps, 61); // about a minute of polls, not the timeout
  EXPECT_GE(clock_.sleeps, 30);
}

TEST_F(CommandsTest, ScrubTracksDrainingServersToo) {
  ClusterStatus before = HealthyStatus();
  before.servers[2].state = ServerState::kDraining;
  ClusterStatus done = before;
  for (size_t i = 0; i < 2; ++i)
    done.servers[i].scrub.last_full_pass_ms = clock_.now_ms + 1;
  ClusterStatus all = done;
  all.servers[2].scrub.last_full_pass_ms = clock_.now_ms + 1;
  api_.statuses = {before, done, all};
  Outcome r = Capture(
      [&](auto &o, auto &e) { return RunScrub(&api_, "", wait_, o, e); });
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("scrub started on 3 datads"), std::string::npos)
      << r.out;
  EXPECT_EQ(api_.status_calls, 3u); // waited for the draining one
  EXPECT_NE(r.out.find("127.0.0.1:4444: pass done"), std::string::npos)
      << r.out;
}

TEST_F(CommandsTest, ScrubOfADownServerIsMetadsAnswerNotUnreachable) {
  api_.statuses = {HealthyStatus()};
  api_.action_answer = Status::Unavailable("datad 127.0.0.1:2222 is down");
  Outcome r = Capture([&](auto &o, auto &e) {
    return RunScrub(&api_, "127.0.0.1:2222", wait_, o, e);
  });
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("datad 127.0.0.1:2222 is down"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("cannot reach"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(CommandsTest, ScrubOneServerOnTtyAndSeenRunningCounts) {
  wait_.tty = true;
  ClusterStatus before = HealthyStatus();
  ClusterStatus running = before;
  running.servers[1].scrub = {true, 0.7, 0, 0, 0, 0};
  ClusterStatus stopped = before; // ended, but its clock is behind ours
  stopped.servers[1].scrub = {false, 1, clock_.now_ms - 1'000'000, 0, 0, 0};
  api_.statuses = {before, running, stopped};
  Outcome r = Capture([&](auto &o, auto &e) {
    return RunScrub(&api_, "127.0.0.1:3333", wait_, o, e);
  });
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(api_.scrub_servers, std::vector<std::string>{"127.0.0.1:3333"});
  EXPECT_NE(r.out.find("\rscrub [#####################.........]  70.0%"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("127.0.0.1:3333: pass done"), std::string::npos)
      << r.out;
}

TEST_F(CommandsTest, ScrubTimeoutUnknownServerAndServerDown) {
  ClusterStatus s = HealthyStatus();
  api_.statuses = {s};
  wait_.timeout_ms = 10'000;
  Outcome r = Capture(
      [&](auto &o, auto &e) { return RunScrub(&api_, "", wait_, o, e); });
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("scrub not finished after 10s"), std::string::npos)
      << r.err;

  api_.action_answer = Status::NotFound("no server h:9");
  r = Capture(
      [&](auto &o, auto &e) { return RunScrub(&api_, "h:9", wait_, o, e); });
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("h:9: unknown server"), std::string::npos) << r.err;

  api_.action_answer = Status::OK();
  ClusterStatus down = s;
  down.servers[0].state = ServerState::kDown;
  for (size_t i = 1; i < 3; ++i)
    down.servers[i].scrub.last_full_pass_ms = clock_.now_ms + 1;
  api_.statuses = {s, down};
  api_.status_calls = 0;
  r = Capture(
      [&](auto &o, auto &e) { return RunScrub(&api_, "", wait_, o, e); });
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("127.0.0.1:2222: went down"), std::string::npos)
      << r.out;
}

ClusterStatus Degraded(int64_t queued, int64_t under, int64_t done, bool heal) {
  ClusterStatus s = HealthyStatus();
  s.chunks.under_replicated = under;
  s.chunks.healthy = s.chunks.total - under;
  s.repair_queued = queued;
  s.repair_done = done;
  s.repair_bytes_queued = queued << 26;
  s.repair_bytes_per_s = 32 << 20;
  s.heal_running = heal;
  return s;
}

TEST_F(CommandsTest, HealWaitsUntilHealthy) {
  api_.statuses = {Degraded(4, 4, 10, false), Degraded(4, 4, 10, true),
                   Degraded(1, 1, 13, true), Degraded(0, 0, 14, false)};
  Outcome r =
      Capture([&](auto &o, auto &e) { return RunHeal(&api_, wait_, o, e); });
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(api_.heal_calls, 1);
  EXPECT_NE(r.out.find("heal started: 4 chunks under goal"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("heal:   0.0%, 4 queued (256.0 MiB), 32.0 MiB/s, ETA "
                       "8.0s, 0 repaired"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("heal: 4 chunks repaired in"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("cluster HEALTHY"), std::string::npos) << r.out;
}

// Like the real metad with 3 datads, goal 3 and one down: both chunks stay
// queued (the queue counts every chunk off goal), heal runs one round that
// finds no server to copy to, and stops.
TEST_F(CommandsTest, HealEndsStillDegradedWhenNothingMoves) {
  ClusterStatus healing = Degraded(2, 2, 0, true);
  healing.servers[0].state = ServerState::kDown;
  ClusterStatus stuck = healing;
  stuck.heal_running = false;
  api_.statuses = {stuck, healing, stuck};
  wait_.timeout_ms = 600'000;
  Outcome r =
      Capture([&](auto &o, auto &e) { return RunHeal(&api_, wait_, o, e); });
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err; // not a timeout
  EXPECT_NE(
      r.out.find(
          "still degraded: 1 of 3 datads down, 2 chunks under-replicated"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("why: 2 chunks below goal: only 2 datads up and not "
                       "draining for goal 3, so no server to copy to"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("why: down: 127.0.0.1:2222"), std::string::npos)
      << r.out;
  EXPECT_GE(clock_.sleeps, 3); // a short settle first
  EXPECT_LE(clock_.sleeps, 5); // and no more
}

TEST_F(CommandsTest, HealWaitsWhileRepairsStillFinishAfterHealStopped) {
  // metad's heal ended, the background rounds still repair one by one.
  api_.statuses = {Degraded(3, 3, 0, false), Degraded(3, 3, 0, false),
                   Degraded(2, 2, 1, false), Degraded(1, 1, 2, false),
                   Degraded(0, 0, 3, false)};
  Outcome r =
      Capture([&](auto &o, auto &e) { return RunHeal(&api_, wait_, o, e); });
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("heal: 3 chunks repaired"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cluster HEALTHY"), std::string::npos) << r.out;
}

TEST_F(CommandsTest, HealExplainsChunksWithNothingToCopyFrom) {
  ClusterStatus lost = Degraded(1, 0, 0, false);
  lost.chunks.unavailable = 1;
  lost.chunks.healthy = 4;
  lost.chunks.under_by_good = {{0, 1}};
  lost.servers[2].state = ServerState::kDown;
  api_.statuses = {lost};
  Outcome r =
      Capture([&](auto &o, auto &e) { return RunHeal(&api_, wait_, o, e); });
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.out.find("why: 1 chunk with no live replica: nothing to copy "
                       "from until a datad holding them comes back (down: "
                       "127.0.0.1:4444)"),
            std::string::npos)
      << r.out;
}

TEST_F(CommandsTest, HealTimeoutAndUnreachable) {
  api_.statuses = {Degraded(3, 3, 0, true)};
  wait_.timeout_ms = 5000;
  Outcome r =
      Capture([&](auto &o, auto &e) { return RunHeal(&api_, wait_, o, e); });
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("heal not finished after 5.0s"), std::string::npos)
      << r.err;
  api_.unreachable = true;
  r = Capture([&](auto &o, auto &e) { return RunHeal(&api_, wait_, o, e); });
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(api_.heal_calls, 1); // not called when metad is away
}

TEST_F(CommandsTest, Servers) {
  ClusterStatus s = HealthyStatus();
  s.servers[2].state = ServerState::kDraining;
  api_.statuses = {s};
  Outcome r =
      Capture([&](auto &o, auto &e) { return RunServers(&api_, false, o, e); });
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("ADDRESS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("draining"), std::string::npos) << r.out;
  r = Capture([&](auto &o, auto &e) { return RunServers(&api_, true, o, e); });
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["servers"].size(), 3u);
  EXPECT_EQ(j["servers"][2]["state"], "draining");
  EXPECT_TRUE(j["servers"][0]["scrub"].is_object());
}

TEST_F(CommandsTest, ServerOps) {
  Outcome r = Capture([&](auto &o, auto &e) {
    return RunServerOp(&api_, ServerOp::kDrain, "h:1", o, e);
  });
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("h:1: draining"), std::string::npos);
  r = Capture([&](auto &o, auto &e) {
    return RunServerOp(&api_, ServerOp::kUndrain, "h:1", o, e);
  });
  EXPECT_EQ(r.out, "h:1: back in service\n");
  EXPECT_EQ(api_.server_ops,
            (std::vector<std::string>{"drain h:1", "undrain h:1"}));

  api_.action_answer = Status::NotFound("h:2");
  r = Capture([&](auto &o, auto &e) {
    return RunServerOp(&api_, ServerOp::kDrain, "h:2", o, e);
  });
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "fsctl: h:2: unknown server (fsctl servers lists them)\n");

  api_.action_answer =
      Status::Invalid("3 chunks have their last live replica there");
  r = Capture([&](auto &o, auto &e) {
    return RunServerOp(&api_, ServerOp::kRemove, "h:1", o, e);
  });
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "fsctl: cannot remove h:1: 3 chunks have their last live "
                   "replica there\n");

  // metad's own Unavailable is an answer: exit 1, its words.
  api_.action_answer = Status::Unavailable("store is read-only");
  r = Capture([&](auto &o, auto &e) {
    return RunServerOp(&api_, ServerOp::kRemove, "h:1", o, e);
  });
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "fsctl: cannot remove h:1: store is read-only\n");

  // No answer at all: exit 2, naming metad.
  api_.action_answer = api_.NoAnswerError();
  r = Capture([&](auto &o, auto &e) {
    return RunServerOp(&api_, ServerOp::kRemove, "h:1", o, e);
  });
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("cannot reach metad at 127.0.0.1:9190"),
            std::string::npos)
      << r.err;
}

TEST(ErrorsTest, OnlyCallsWithoutAnAnswerAreUnreachable) {
  const Status refused =
      NoAnswer("m:1", "Status", 5000, Status::Unavailable("connect: refused"));
  const Status slow =
      NoAnswer("m:1", "Fsck", 120'000, Status::TimedOut("EAGAIN"));
  EXPECT_TRUE(IsNoAnswer(refused));
  EXPECT_TRUE(IsNoAnswer(slow));
  EXPECT_TRUE(IsNoAnswer(refused.WithContext("/f")));
  EXPECT_EQ(refused.code(), Status::Code::kUnavailable);
  EXPECT_EQ(slow.code(), Status::Code::kTimedOut);
  EXPECT_EQ(DescribeError(refused, "m:1"),
            "fsctl: cannot reach metad at m:1: connect: refused");
  EXPECT_EQ(
      DescribeError(slow, "m:1"),
      "fsctl: no answer from metad at m:1 to Fsck within 2m 00s (EAGAIN)");
  EXPECT_EQ(ExitCodeFor(refused), kExitUnavailable);
  EXPECT_EQ(ExitCodeFor(slow), kExitUnavailable);

  // What metad answered, retryable codes included.
  const Status down = Status::Unavailable("datad 127.0.0.1:2222 is down");
  const Status budget = Status::TimedOut("fsck of inode 5 checked 3 of 9");
  EXPECT_FALSE(IsNoAnswer(down));
  EXPECT_FALSE(IsNoAnswer(budget));
  EXPECT_EQ(ExitCodeFor(down), kExitProblems);
  EXPECT_EQ(ExitCodeFor(budget), kExitProblems);
  EXPECT_EQ(DescribeError(down, "m:1"),
            "fsctl: datad 127.0.0.1:2222 is down (metad m:1 answered "
            "Unavailable)");
  EXPECT_EQ(DescribeError(Status::NotFound("/x"), "m:1"),
            "fsctl: /x: No such file or directory");
}

TEST_F(CommandsTest, CorruptOnADirectoryOrAHoleSaysSo) {
  api_.AddDir(1, "d");
  Outcome r = Capture(
      [&](auto &o, auto &e) { return RunCorrupt(&api_, "/d", {}, o, e); });
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "fsctl: corrupt: /d: is a directory (only file blocks can "
                   "be damaged)\n");
  EXPECT_TRUE(api_.corrupt_requests.empty()); // never asked metad

  api_.corrupt_answer = Status::NotFound("block 9 is a hole (chunk 0 of the "
                                         "file is not allocated)");
  CorruptRequest req;
  req.block = 9;
  r = Capture(
      [&](auto &o, auto &e) { return RunCorrupt(&api_, "/f", req, o, e); });
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "fsctl: corrupt: /f: block 9 is a hole (chunk 0 of the "
                   "file is not allocated)\n");
  EXPECT_EQ(r.err.find("No such file"), std::string::npos);
}

TEST_F(CommandsTest, SetReplAndGetRepl) {
  const int64_t d = api_.AddDir(1, "d");
  Outcome r = Capture(
      [&](auto &o, auto &e) { return RunSetRepl(&api_, "/d", 2, true, o, e); });
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "/d: goal 2 (recursive), 7 inodes changed\n");
  EXPECT_TRUE(api_.set_goal_recursive);
  EXPECT_EQ(api_.goals[d], 2);
  r = Capture([&](auto &o, auto &e) { return RunGetRepl(&api_, "/d", o, e); });
  EXPECT_EQ(r.out, "/d: goal 2\n");
  r = Capture([&](auto &o, auto &e) { return RunGetRepl(&api_, "/f", o, e); });
  EXPECT_EQ(r.out, "/f: goal 3\n");
  r = Capture([&](auto &o, auto &e) {
    return RunSetRepl(&api_, "/x", 2, false, o, e);
  });
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "fsctl: /x: No such file or directory\n");
  api_.action_answer = Status::Invalid("goal 2: ...");
  r = Capture([&](auto &o, auto &e) {
    return RunSetRepl(&api_, "/f", 2, false, o, e);
  });
  EXPECT_EQ(r.code, 1);
}

} // namespace
} // namespace replfs::ctl
