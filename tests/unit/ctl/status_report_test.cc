#include "ctl/status_report.h"

#include <gtest/gtest.h>

#include <sstream>

namespace replfs::ctl {
namespace {

ClusterStatus Healthy() {
  ClusterStatus s;
  for (int p : {2222, 3333, 4444}) {
    ServerInfo i;
    i.addr = "127.0.0.1:" + std::to_string(p);
    i.chunks = 5;
    i.bytes_used = 300ll << 20;
    i.bytes_free = 50ll << 30;
    i.bytes_total = 60ll << 30;
    i.last_heartbeat_ms = 150;
    s.servers.push_back(i);
  }
  s.chunks.total = s.chunks.healthy = 5;
  s.uptime_ms = 3'600'000;
  s.files = 2;
  s.directories = 1;
  s.replicas = 3;
  return s;
}

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
  for (const ClusterStatus& s : {down, under, corrupt, unexplained}) {
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
  for (ServerInfo& i : all_down.servers) i.state = ServerState::kDown;
  ClusterStatus lost = Healthy();
  lost.chunks.healthy = 4;
  lost.chunks.unavailable = 1;
  for (const ClusterStatus& s : {none, all_down, lost}) {
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
  for (const char* k : {"addr", "state"}) EXPECT_TRUE(j["servers"][0][k].is_string()) << k;
  for (const char* k :
       {"chunks", "bytes_used", "bytes_free", "corrupt_found", "last_heartbeat_ms"}) {
    EXPECT_TRUE(j["servers"][0][k].is_number_integer()) << k;
  }
  EXPECT_EQ(j["servers"][0]["state"], "up");
  EXPECT_EQ(j["servers"][2]["state"], "down");
  EXPECT_EQ(j["servers"][0]["bytes_used"], 300ll << 20);
  for (const char* k :
       {"total", "healthy", "under_replicated", "unavailable", "corrupt_replicas"}) {
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
  EXPECT_NE(text.find("datads: 3 total, 2 up, 1 down"), std::string::npos) << text;
  EXPECT_NE(text.find("42s ago"), std::string::npos) << text;
  EXPECT_NE(text.find("300.0 MiB"), std::string::npos) << text;
  EXPECT_NE(text.find("chunks: 5 total, 5 healthy, 0 under-replicated"), std::string::npos) << text;
  EXPECT_NE(text.find("repair: 0 queued, 0 done"), std::string::npos) << text;
}

}  // namespace
}  // namespace replfs::ctl
