// DataService.InjectFault: each mode is detected by Read and CheckChunk, and
// damaged data is never returned.
#include <gtest/gtest.h>

#include "daemons/datad/data_service.h"
#include "tests/unit/datad/test_node.h"
#include "tests/util/test_util.h"

namespace replfs::datad {
namespace {

using testnode::Client;
using testnode::TestNode;

constexpr int64_t kBs = 4096;

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = std::make_unique<TestNode>(dir_.path(), kBs);
    ASSERT_TRUE(node_->status().ok()) << node_->status().ToString();
  }
  Status Inject(int64_t chunk, int32_t block, rpc::FaultMode::type mode) {
    return node_->Call([&](Client& c) { c.InjectFault(chunk, block, mode); });
  }

  ::replfs::testing::TempDir dir_{"datad-fault"};
  std::unique_ptr<TestNode> node_;
};

class FaultModeTest : public FaultTest,
                      public ::testing::WithParamInterface<rpc::FaultMode::type> {};

TEST_P(FaultModeTest, ReadAndCheckDetectTheDamage) {
  const std::string data(3 * kBs, 'd');
  ASSERT_TRUE(node_->Put(7, 2, 0, data).ok());
  ASSERT_TRUE(node_->Put(8, 1, 0, data).ok());  // a healthy neighbour
  ASSERT_TRUE(Inject(7, 1, GetParam()).ok());

  std::vector<rpc::BlockData> blocks;
  Status s = node_->Call([&](Client& c) { c.Read(blocks, 7, 2, 0, 3, 0, 0); });
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("block 1"), std::string::npos) << s.message();
  s = node_->Call([&](Client& c) { c.Read(blocks, 7, 2, 1, 1, 0, 0); });
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  // The undamaged blocks still read, and what is returned is right.
  ASSERT_TRUE(node_->Call([&](Client& c) { c.Read(blocks, 7, 2, 2, 1, 0, 0); }).ok());
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].data, std::string(kBs, 'd'));

  rpc::ChunkCheck check;
  ASSERT_TRUE(node_->Call([&](Client& c) { c.CheckChunk(check, 7, 2); }).ok());
  EXPECT_EQ(check.state, rpc::ReplicaState::CORRUPT);
  EXPECT_EQ(check.bad_blocks, 1);
  ASSERT_TRUE(node_->Call([&](Client& c) { c.CheckChunk(check, 8, 1); }).ok());
  EXPECT_EQ(check.state, rpc::ReplicaState::OK);

  rpc::ServerUsage u;
  ASSERT_TRUE(node_->Call([&](Client& c) { c.Usage(u); }).ok());
  ASSERT_EQ(u.corrupt_chunks.size(), 1u);
  EXPECT_EQ(u.corrupt_chunks[0].chunk_id, 7);
  EXPECT_EQ(u.corrupt_chunks[0].version, 2);
  EXPECT_EQ(u.corrupt_found, 3);
}

INSTANTIATE_TEST_SUITE_P(Modes, FaultModeTest,
                         ::testing::Values(rpc::FaultMode::FLIP, rpc::FaultMode::ZERO,
                                           rpc::FaultMode::DELETE),
                         [](const auto& info) -> std::string {
                           switch (info.param) {
                             case rpc::FaultMode::FLIP: return "Flip";
                             case rpc::FaultMode::ZERO: return "Zero";
                             default: return "Delete";
                           }
                         });

TEST_F(FaultTest, ArgumentsAreValidated) {
  ASSERT_TRUE(node_->Put(9, 1, 2 * kBs, std::string(10, 'x')).ok());  // blocks 0, 1: holes
  EXPECT_EQ(Inject(10, 0, rpc::FaultMode::FLIP).code(), Status::Code::kNotFound);  // no chunk
  EXPECT_EQ(Inject(9, 0, rpc::FaultMode::FLIP).code(), Status::Code::kNotFound);   // a hole
  EXPECT_EQ(Inject(9, 1, rpc::FaultMode::ZERO).code(), Status::Code::kNotFound);
  EXPECT_EQ(Inject(9, 0, rpc::FaultMode::DELETE).code(), Status::Code::kNotFound);
  EXPECT_EQ(Inject(9, -1, rpc::FaultMode::FLIP).code(), Status::Code::kInvalid);
  EXPECT_EQ(Inject(9, static_cast<int32_t>(BlockStore::kMaxChunkBytes / kBs),
                   rpc::FaultMode::FLIP).code(),
            Status::Code::kInvalid);
  EXPECT_EQ(Inject(0, 0, rpc::FaultMode::FLIP).code(), Status::Code::kInvalid);
  EXPECT_EQ(Inject(9, 2, static_cast<rpc::FaultMode::type>(42)).code(), Status::Code::kInvalid);
  // Zeroing zeros would damage nothing: refused, so the caller knows.
  ASSERT_TRUE(node_->Put(11, 1, 0, std::string(100, '\0')).ok());
  EXPECT_EQ(Inject(11, 0, rpc::FaultMode::ZERO).code(), Status::Code::kInvalid);
  // Deleting twice is fine: the block stays lost.
  ASSERT_TRUE(Inject(9, 2, rpc::FaultMode::DELETE).ok());
  ASSERT_TRUE(Inject(9, 2, rpc::FaultMode::DELETE).ok());
  std::vector<rpc::BlockData> blocks;
  EXPECT_TRUE(node_->Call([&](Client& c) { c.Read(blocks, 9, 1, 0, 3, 0, 0); }).IsCorruption());
}

TEST_F(FaultTest, PushChunkRefusesACorruptSourceAndReportsIt) {
  ::replfs::testing::TempDir dir2{"datad-fault-target"};
  TestNode target(dir2.path(), kBs);
  ASSERT_TRUE(target.status().ok());
  ASSERT_TRUE(node_->Put(12, 1, 0, std::string(2 * kBs, 'p')).ok());
  ASSERT_TRUE(Inject(12, 1, rpc::FaultMode::DELETE).ok());
  Status s = node_->Call([&](Client& c) { c.PushChunk(12, 1, target.addr(), 2); });
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ(node_->store()->CorruptChunks(), (std::vector<ChunkVersion>{{12, 1}}));
}

TEST_F(FaultTest, PushChunkCopiesTheBitmap) {
  ::replfs::testing::TempDir dir2{"datad-fault-target"};
  TestNode target(dir2.path(), kBs);
  ASSERT_TRUE(target.status().ok());
  ASSERT_TRUE(node_->Put(13, 1, kBs, std::string(kBs + 7, 'h')).ok());  // blocks 1, 2
  ASSERT_TRUE(node_->Call([&](Client& c) { c.PushChunk(13, 1, target.addr(), 2); }).ok());
  // On the copy, block 0 is a hole and block 2 is written: deleting it is detected.
  EXPECT_EQ(target.Call([&](Client& c) { c.InjectFault(13, 0, rpc::FaultMode::DELETE); }).code(),
            Status::Code::kNotFound);
  ASSERT_TRUE(target.Call([&](Client& c) { c.InjectFault(13, 2, rpc::FaultMode::DELETE); }).ok());
  rpc::ChunkCheck check;
  ASSERT_TRUE(target.Call([&](Client& c) { c.CheckChunk(check, 13, 2); }).ok());
  EXPECT_EQ(check.state, rpc::ReplicaState::CORRUPT);
  EXPECT_EQ(check.blocks, 2);
}

TEST_F(FaultTest, StartScrubWithoutAScrubberIsUnavailable) {
  EXPECT_EQ(node_->Call([](Client& c) { c.StartScrub(); }).code(), Status::Code::kUnavailable);
}

}  // namespace
}  // namespace replfs::datad
