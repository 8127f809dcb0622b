// Placement: distinct servers, least full first, clear refusals.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "daemons/metad/placement.h"
#include "tests/unit/metad/metad_test_util.h"

namespace replfs::metad {
namespace {

TEST(PlacementTest, NeverTwoReplicasOnOneServerOverRandomClusters) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int round = 0; round < 5000; ++round) {
    std::vector<PlacementCandidate> up;
    const int n = std::uniform_int_distribution<int>(0, 12)(rng);
    for (int i = 0; i < n; ++i) {
      // Duplicates on purpose: the same address reported twice.
      std::string addr = "10.0.0." + std::to_string(std::uniform_int_distribution<int>(1, 8)(rng)) + ":2222";
      int64_t total = std::uniform_int_distribution<int64_t>(0, 1000)(rng);
      int64_t free = std::uniform_int_distribution<int64_t>(0, total)(rng);
      up.push_back({addr, total, free});
    }
    const int goal = std::uniform_int_distribution<int>(1, 6)(rng);
    const int min = std::uniform_int_distribution<int>(1, goal)(rng);
    std::vector<std::string> out;
    Status s = PlaceReplicas(up, goal, min, 1, &out);
    std::set<std::string> distinct(out.begin(), out.end());
    ASSERT_EQ(distinct.size(), out.size()) << "round " << round;
    ASSERT_LE(static_cast<int>(out.size()), goal);
    if (s.ok()) {
      ASSERT_GE(static_cast<int>(out.size()), min);
    } else {
      ASSERT_TRUE(out.empty());
      ASSERT_TRUE(s.code() == Status::Code::kUnavailable || s.code() == Status::Code::kNoSpace) << s.ToString();
    }
  }
}

TEST(PlacementTest, PrefersLeastFullWithDeterministicTieBreak) {
  std::vector<PlacementCandidate> up = {
      {"a:1", 100, 10}, {"b:1", 100, 90}, {"c:1", 1000, 500}, {"d:1", 10, 8}, {"e:1", 100, 90}};
  std::vector<std::string> out;
  ASSERT_TRUE(PlaceReplicas(up, 3, 2, 1, &out).ok());
  EXPECT_EQ(out, (std::vector<std::string>{"b:1", "e:1", "d:1"}));
  ASSERT_TRUE(PlaceReplicas(up, 10, 2, 1, &out).ok());
  EXPECT_EQ(out.size(), 5u);
  EXPECT_EQ(out.back(), "a:1");
}

TEST(PlacementTest, RefusalsSayWhy) {
  std::vector<std::string> out;
  EXPECT_EQ(PlaceReplicas({}, 3, 2, 1, &out).code(), Status::Code::kUnavailable);
  EXPECT_EQ(PlaceReplicas({{"a:1", 100, 50}}, 3, 2, 1, &out).code(), Status::Code::kUnavailable);
  std::vector<PlacementCandidate> full = {{"a:1", 100, 0}, {"b:1", 100, 0}, {"c:1", 100, 50}};
  EXPECT_EQ(PlaceReplicas(full, 3, 2, 1, &out).code(), Status::Code::kNoSpace);
  ASSERT_TRUE(PlaceReplicas({{"a:1", 100, 50}, {"b:1", 100, 40}}, 3, 2, 1, &out).ok());
  EXPECT_EQ(out.size(), 2u);  // under-replicated but writable
}


TEST(PlacementTest, TiesOnOneFilesystemGoToTheLeastUsedThenFewestChunks) {
  // Four datads on one filesystem: the same free ratio.
  std::vector<PlacementCandidate> up = {
      {"a:1", 100, 50, 10, 0}, {"b:1", 100, 50, 5, 3}, {"c:1", 100, 50, 5, 1}, {"d:1", 100, 50, 5, 1}};
  std::vector<std::string> out;
  ASSERT_TRUE(PlaceReplicas(up, 3, 1, 1, &out).ok());
  EXPECT_EQ(out, (std::vector<std::string>{"c:1", "d:1", "b:1"}));
}

}  // namespace

class PlacementSpreadTest : public CoreTest {};

TEST_F(PlacementSpreadTest, AllocationsSpreadEvenlyOverEqualServers) {
  for (auto a : {"h:1", "h:2", "h:3", "h:4"}) AddServer(a);
  std::map<std::string, int> per;
  for (int i = 0; i < 16; ++i) {
    Inode f = MkFile(kRootIno, "f" + std::to_string(i));
    ChunkInfo c;
    ASSERT_OK(core_->AllocChunk(f.ino, 0, &c));
    ASSERT_EQ(c.replicas.size(), 3u);
    for (auto& r : c.replicas) ++per[r];
  }
  ASSERT_EQ(per.size(), 4u);
  for (auto& [addr, n] : per) {
    EXPECT_GE(n, 11) << addr;
    EXPECT_LE(n, 13) << addr;
  }
}

namespace {

}  // namespace
}  // namespace replfs::metad
