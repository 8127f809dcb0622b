#include "ctl/status_report.h"

#include <gtest/gtest.h>

#include <sstream>

#include "test_status.h"

namespace replfs::ctl {
namespace {

ClusterStatus Healthy() { return HealthyStatus(); }

TEST(HealthTest, HealthyCluster) {
  HealthVerdict v = ClassifyHealth(Healthy());
  EXPECT_EQ(v.health, Health::kHealthy);
  EXPECT_TRUE(v.reasons.empty());
  EXPECT_EQ(HealthExitCode(v.health), 0);
}

TEST(HealthTest, DrainingAloneIsHealthy) {
  ClusterStatus s = Healthy();
  s.servers[0].state = ServerState::kDraining;
  EXPECT_EQ(ClassifyHealth(s).health, Health::kHealthy);
}

// Draining datads still serve every replica they hold: the data is
// readable, only new chunks have nowhere to go.
TEST(HealthTest, EveryDatadDrainingIsDegradedNotUnavailable) {
  ClusterStatus s = Healthy();
  for (ServerInfo &i : s.servers)
    i.state = ServerState::kDraining;
  s.chunks.healthy = 0;
  s.chunks.under_replicated = s.chunks.total; // no good replica left
  s.chunks.under_by_good = {{0, s.chunks.total}};
  HealthVerdict v = ClassifyHealth(s);
  EXPECT_EQ(v.health, Health::kDegraded);
  ASSERT_FALSE(v.reasons.empty());
  EXPECT_EQ(v.reasons[0],
            "every datad is draining: no new chunk can be placed");
  // One of them down too: still DEGRADED.
  s.servers[0].state = ServerState::kDown;
  EXPECT_EQ(ClassifyHealth(s).health, Health::kDegraded);
}

TEST(StatusTextTest, ServerWithoutAHeartbeatSinceMetadStartedSaysNever) {
  ClusterStatus s = Healthy();
  s.servers[2].state = ServerState::kDown;
  s.servers[2].last_heartbeat_ms = -1;
  std::ostringstream out;
  PrintServerTable(out, s);
  const std::string text = out.str();
  EXPECT_EQ(text.find("- ago"), std::string::npos) << text;
  const std::string row = text.substr(text.find("127.0.0.1:4444"));
  EXPECT_NE(row.find("never"), std::string::npos) << text;
  EXPECT_NE(text.find("0.1s ago"), std::string::npos) << text; // the others
}

TEST(HealthTest, DegradedCases) {
  ClusterStatus down = Healthy();
  down.servers[1].state = ServerState::kDown;
  ClusterStatus under = Healthy();
  under.chunks.healthy = 3;
  under.chunks.under_replicated = 2;
  ClusterStatus corrupt = Healthy();
  corrupt.chunks.corrupt_replicas = 1;
  ClusterStatus unexplained = Healthy();
  unexplained.chunks.healthy = 4;
  for (const ClusterStatus &s : {down, under, corrupt, unexplained}) {
    HealthVerdict v = ClassifyHealth(s);
    EXPECT_EQ(v.health, Health::kDegraded);
    EXPECT_EQ(HealthExitCode(v.health), 1);
    EXPECT_EQ(v.reasons.size(), 1u);
  }
  EXPECT_EQ(ClassifyHealth(down).reasons[0], "1 of 3 datads down");
  EXPECT_EQ(ClassifyHealth(under).reasons[0], "2 chunks under-replicated");
}

TEST(HealthTest, UnavailableCases) {
  ClusterStatus none = Healthy();
  none.servers.clear();
  ClusterStatus all_down = Healthy();
  for (ServerInfo &i : all_down.servers)
    i.state = ServerState::kDown;
  ClusterStatus lost = Healthy();
  lost.chunks.healthy = 4;
  lost.chunks.unavailable = 1;
  for (const ClusterStatus &s : {none, all_down, lost}) {
    HealthVerdict v = ClassifyHealth(s);
    EXPECT_EQ(v.health, Health::kUnavailable);
    EXPECT_EQ(HealthExitCode(v.health), 2);
  }
  // Unavailability is listed before the degradations that come with it.
  EXPECT_EQ(ClassifyHealth(all_down).reasons.front(), "no datad is up");
}

TEST(StatusJsonTest, HasTheContractFieldsWithTheirTypes) {
  ClusterStatus s = Healthy();
  s.servers[2].state = ServerState::kDown;
  nlohmann::json j = StatusToJson(s, ClassifyHealth(s), "127.0.0.1:9190");
  EXPECT_EQ(j["health"], "DEGRADED");
  ASSERT_TRUE(j["servers"].is_array());
  ASSERT_EQ(j["servers"].size(), 3u);
  for (const char *k : {"addr", "state"})
    EXPECT_TRUE(j["servers"][0][k].is_string()) << k;
  for (const char *k : {"chunks", "bytes_used", "bytes_free", "corrupt_found",
                        "last_heartbeat_ms"}) {
    EXPECT_TRUE(j["servers"][0][k].is_number_integer()) << k;
  }
  EXPECT_EQ(j["servers"][0]["state"], "up");
  EXPECT_EQ(j["servers"][2]["state"], "down");
  EXPECT_EQ(j["servers"][0]["bytes_used"], 300ll << 20);
  for (const char *k : {"total", "healthy", "under_replicated", "unavailable",
                        "corrupt_replicas"}) {
    EXPECT_TRUE(j["chunks"][k].is_number_integer()) << k;
  }
  EXPECT_TRUE(j["repair"]["queued"].is_number_integer());
  EXPECT_TRUE(j["repair"]["done"].is_number_integer());
  EXPECT_EQ(j["meta"]["addr"], "127.0.0.1:9190");
  EXPECT_EQ(j["uptime_ms"], 3'600'000);
  EXPECT_TRUE(j["reasons"].is_array());
}

TEST(StatusJsonTest, UnreachableShape) {
  nlohmann::json j = UnreachableJson("127.0.0.1:1", "Unavailable: refused");
  EXPECT_EQ(j["health"], "UNAVAILABLE");
  EXPECT_EQ(j["meta"]["addr"], "127.0.0.1:1");
  EXPECT_TRUE(j["error"].is_string());
}

TEST(StatusTextTest, ShowsHealthServersAndCounts) {
  ClusterStatus s = Healthy();
  s.servers[1].state = ServerState::kDown;
  s.servers[1].last_heartbeat_ms = 42'000;
  std::ostringstream out;
  PrintStatus(out, s, ClassifyHealth(s), "127.0.0.1:9190");
  const std::string text = out.str();
  EXPECT_NE(text.find("health:    DEGRADED"), std::string::npos) << text;
  EXPECT_NE(text.find("1 of 3 datads down"), std::string::npos) << text;
  EXPECT_NE(text.find("127.0.0.1:9190, up 1h 00m"), std::string::npos) << text;
  EXPECT_NE(text.find("datads: 3 total, 2 up, 1 down"), std::string::npos)
      << text;
  EXPECT_NE(text.find("42s ago"), std::string::npos) << text;
  EXPECT_NE(text.find("300.0 MiB"), std::string::npos) << text;
  EXPECT_NE(text.find("chunks: 5 total, 5 healthy, 0 under-replicated"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("repair: 0 queued (0 B), 0 B/s, ETA 0s, 0 done"),
            std::string::npos)
      << text;
}

TEST(StatusJsonTest, ScrubUnderByGoodStaleAndRepairRate) {
  ClusterStatus s = Healthy();
  s.servers[0].scrub = {true, 0.25, 1'700'000'000'000, 86'400'000, 1 << 20, 2};
  s.chunks.under_replicated = 4;
  s.chunks.under_by_good = {{1, 3}, {0, 1}};
  s.chunks.stale_replicas = 2;
  s.repair_queued = 4;
  s.repair_bytes_queued = 100 << 20;
  s.repair_bytes_per_s = 10 << 20;
  s.heal_running = true;
  nlohmann::json j = StatusToJson(s, ClassifyHealth(s), "m:1");
  const nlohmann::json &sc = j["servers"][0]["scrub"];
  EXPECT_EQ(sc["running"], true);
  EXPECT_DOUBLE_EQ(sc["progress"].get<double>(), 0.25);
  for (const char *k : {"last_full_pass_ms", "oldest_unverified_ms",
                        "bytes_verified", "corrupt_found_pass"}) {
    EXPECT_TRUE(sc[k].is_number_integer()) << k;
  }
  EXPECT_EQ(sc["corrupt_found_pass"], 2);
  EXPECT_EQ(j["chunks"]["under_by_good"]["2"], 0);
  EXPECT_EQ(j["chunks"]["under_by_good"]["1"], 3);
  EXPECT_EQ(j["chunks"]["under_by_good"]["0"], 1);
  EXPECT_EQ(j["chunks"]["stale_replicas"], 2);
  EXPECT_EQ(j["repair"]["bytes_queued"], 100 << 20);
  EXPECT_EQ(j["repair"]["bytes_per_s"], 10 << 20);
  EXPECT_EQ(j["repair"]["eta_s"], 10);
  EXPECT_EQ(j["repair"]["heal_running"], true);
  s.repair_bytes_per_s = 0;
  EXPECT_TRUE(
      StatusToJson(s, ClassifyHealth(s), "m:1")["repair"]["eta_s"].is_null());
}

TEST(StatusTextTest, ShowsScrubSplitAndRepairEta) {
  ClusterStatus s = Healthy();
  s.fetched_at_ms = 1'700'000'000'000;
  s.servers[0].scrub = {true, 0.42, 0, 3'600'000, 0, 0};
  s.servers[1].scrub = {false,     1.0, s.fetched_at_ms - 7'200'000,
                        7'200'000, 0,   0};
  s.chunks.healthy = 2;
  s.chunks.under_replicated = 3;
  s.chunks.under_by_good = {{2, 1}, {1, 1}, {0, 1}};
  s.chunks.corrupt_replicas = 1;
  s.chunks.stale_replicas = 4;
  s.repair_queued = 3;
  s.repair_bytes_queued = 600ll << 20;
  s.repair_bytes_per_s = 10ll << 20;
  s.heal_running = true;
  std::ostringstream out;
  PrintStatus(out, s, ClassifyHealth(s), "m:1");
  const std::string text = out.str();
  EXPECT_NE(text.find("SCRUB"), std::string::npos) << text;
  EXPECT_NE(text.find("42% running"), std::string::npos) << text;
  EXPECT_NE(text.find("done 2h 00m ago"), std::string::npos) << text;
  EXPECT_NE(text.find("never"), std::string::npos) << text;
  EXPECT_NE(
      text.find("under goal by good replicas: 2 good: 1, 1 good: 1, 0 good: 1"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("replicas: 1 corrupt known, 4 stale"), std::string::npos)
      << text;
  EXPECT_NE(text.find("repair: 3 queued (600.0 MiB), 10.0 MiB/s, ETA 1m 00s, 0 "
                      "done, heal running"),
            std::string::npos)
      << text;
}

TEST(StatusTextTest, DescribeScrub) {
  EXPECT_EQ(DescribeScrub({true, 0.5, 0, 0, 0, 0}, 1000), "50% running");
  EXPECT_EQ(DescribeScrub({false, 0, 0, 0, 0, 0}, 1000), "never");
  EXPECT_EQ(DescribeScrub({false, 1, 500, 0, 0, 0}, 0), "done");
  EXPECT_EQ(DescribeScrub({false, 1, 1'000, 0, 0, 0}, 43'000), "done 42s ago");
}

} // namespace
} // namespace replfs::ctl
