// The DataService handler through a real in-process RpcServer on port 0.
#include "daemons/datad/data_service.h"

#include <gtest/gtest.h>

#include "common/crc32c.h"
#include "daemons/datad/datad.h"
#include "tests/unit/datad/test_node.h"
#include "tests/util/test_util.h"

namespace replfs::datad {
namespace {

using testnode::Client;
using testnode::TestNode;

class DataServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = std::make_unique<TestNode>(dir_.path(), 4096, "127.0.0.1:1234");
    ASSERT_TRUE(node_->status().ok()) << node_->status().ToString();
    store_ = node_->store();
  }

  Status Call(const std::function<void(Client&)>& fn) { return node_->Call(fn); }
  Status Write(int64_t chunk, int64_t version, int64_t off, const std::string& data) {
    return node_->Put(chunk, version, off, data);
  }

  ::replfs::testing::TempDir dir_{"datad-service"};
  std::unique_ptr<TestNode> node_;
  BlockStore* store_ = nullptr;
};

TEST_F(DataServiceTest, WriteReadCheckUsage) {
  ASSERT_TRUE(Write(5, 1, 4000, std::string(200, 'q')).ok());
  std::vector<rpc::BlockData> blocks;
  ASSERT_TRUE(Call([&](Client& c) { c.Read(blocks, 5, 1, 0, 4, 0, 0); }).ok());
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].index, 0);
  EXPECT_EQ(blocks[0].data, std::string(4000, '\0') + std::string(96, 'q'));
  EXPECT_EQ(static_cast<uint32_t>(blocks[1].crc), Crc32c(blocks[1].data));
  rpc::ChunkCheck check;
  ASSERT_TRUE(Call([&](Client& c) { c.CheckChunk(check, 5, 1); }).ok());
  EXPECT_EQ(check.state, rpc::ReplicaState::OK);
  EXPECT_EQ(check.blocks, 2);
  ASSERT_TRUE(Call([&](Client& c) { c.CheckChunk(check, 5, 2); }).ok());
  EXPECT_EQ(check.state, rpc::ReplicaState::STALE);
  ASSERT_TRUE(Call([](Client& c) { c.Sync(); }).ok());
  rpc::ServerUsage u;
  ASSERT_TRUE(Call([&](Client& c) { c.Usage(u); }).ok());
  EXPECT_EQ(u.addr, "127.0.0.1:1234");
  EXPECT_EQ(u.block_size, 4096);
  EXPECT_EQ(u.chunks, 1);
  EXPECT_EQ(u.bytes_used, 4200);
  ASSERT_TRUE(Call([](Client& c) { c.Truncate(5, 1, 10); }).ok());
  ASSERT_TRUE(Call([](Client& c) { c.DeleteChunk(5); }).ok());
  Status s = Call([&](Client& c) { c.Read(blocks, 5, 1, 0, 1, 0, 0); });
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
}

TEST_F(DataServiceTest, BadPayloadChecksumStoresNothing) {
  rpc::WriteReply r;
  Status s = Call([&](Client& c) { c.Write(r, 6, 1, 0, "hello", 12345, {}, false); });
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_TRUE(store_->Inventory().empty());
}

TEST_F(DataServiceTest, StaleVersionIsReported) {
  ASSERT_TRUE(Write(7, 2, 0, "abc").ok());
  EXPECT_EQ(Write(7, 1, 0, "abc").code(), Status::Code::kStale);
}

TEST_F(DataServiceTest, MalformedArgumentsAreInvalid) {
  const std::string d = "x";
  const auto crc = static_cast<int32_t>(Crc32c(d));
  std::vector<rpc::BlockData> out;
  rpc::ChunkCheck check;
  rpc::WriteReply r;
  const std::vector<std::string> none;
  const std::vector<std::function<void(Client&)>> calls = {
      [&](Client& c) { c.Write(r, 0, 1, 0, d, crc, none, false); },
      [&](Client& c) { c.Write(r, -5, 1, 0, d, crc, none, false); },
      [&](Client& c) { c.Write(r, 1, 0, 0, d, crc, none, false); },
      [&](Client& c) { c.Write(r, 1, 1, -1, d, crc, none, false); },
      [&](Client& c) { c.Write(r, 1, 1, (1ll << 30), d, crc, none, false); },
      [&](Client& c) { c.Write(r, 1, 1, INT64_MAX, d, crc, none, false); },
      [&](Client& c) { c.Read(out, 1, 1, -1, 1, 0, 0); },
      [&](Client& c) { c.Read(out, 1, 1, 0, 0, 0, 0); },
      [&](Client& c) { c.Read(out, 1, 1, 0, 513, 0, 0); },
      [&](Client& c) { c.Read(out, 1, 1, INT32_MAX, 512, 0, 0); },
      [&](Client& c) { c.Read(out, 0, 1, 0, 1, 0, 0); },
      [&](Client& c) { c.Read(out, 1, 1, 0, 2, 0, 4096); },         // a range of two blocks
      [&](Client& c) { c.Read(out, 1, 1, 0, 1, 4096, 0); },         // an empty range
      [&](Client& c) { c.Read(out, 1, 1, 0, 1, -1, 4096); },
      [&](Client& c) { c.Read(out, 1, 1, 0, 1, 65536 - 10, 11); },  // past the block
      [&](Client& c) { c.Read(out, 1, 1, 0, 1, INT32_MAX, INT32_MAX); },
      [&](Client& c) { c.Truncate(1, 1, -1); },
      [&](Client& c) { c.Truncate(1, -1, 0); },
      [&](Client& c) { c.DeleteChunk(0); },
      [&](Client& c) { c.CheckChunk(check, 1, 0); },
      [&](Client& c) { c.SetVersion(1, 2, 2); },
      [&](Client& c) { c.SetVersion(1, 3, 2); },
      [&](Client& c) { c.SetVersion(0, 1, 2); },
      [&](Client& c) { c.SetVersion(1, 0, 2); },
      [&](Client& c) { c.PushChunk(1, 1, "127.0.0.1:9", 1); },
      [&](Client& c) { c.PushChunk(1, 0, "127.0.0.1:9", 2); },
      [&](Client& c) { c.PushChunk(1, 1, "no-port", 2); },
      [&](Client& c) { c.PushChunk(1, 1, "127.0.0.1:1234", 2); },  // itself
      [&](Client& c) { c.Write(r, 1, 1, 0, d, crc, {"127.0.0.1:1234"}, false); },  // itself
      [&](Client& c) { c.Write(r, 1, 1, 0, d, crc, {"bad address"}, false); },
      [&](Client& c) { c.Write(r, 1, 1, 0, d, crc, {"127.0.0.1:7", "127.0.0.1:7"}, false); },
      [&](Client& c) {
        std::vector<std::string> many;
        for (int i = 0; i < 17; ++i) many.push_back("127.0.0.1:" + std::to_string(100 + i));
        c.Write(r, 1, 1, 0, d, crc, many, false);
      },
  };
  for (size_t i = 0; i < calls.size(); ++i) {
    Status s = Call(calls[i]);
    EXPECT_EQ(s.code(), Status::Code::kInvalid) << "call " << i << ": " << s.ToString();
  }
  // Too large a payload.
  const std::string big((16 << 20) + 1, 'b');
  Status s = node_->Write(1, 1, 0, big);
  EXPECT_EQ(s.code(), Status::Code::kInvalid) << s.ToString();
  EXPECT_TRUE(store_->Inventory().empty());
  EXPECT_TRUE(Call([](Client& c) { c.Ping(); }).ok());  // still serving
}

TEST(AdvertisedAddressTest, ReplacesWildcardsAndUsesTheBoundPort) {
  std::string a;
  ASSERT_TRUE(AdvertisedAddress("", "0.0.0.0:0", 4321, &a).ok());
  EXPECT_EQ(a, "127.0.0.1:4321");
  ASSERT_TRUE(AdvertisedAddress("", "[::]:2222", 2222, &a).ok());
  EXPECT_EQ(a, "127.0.0.1:2222");
  ASSERT_TRUE(AdvertisedAddress("", "10.1.2.3:2222", 2222, &a).ok());
  EXPECT_EQ(a, "10.1.2.3:2222");
  ASSERT_TRUE(AdvertisedAddress("node7:3333", "0.0.0.0:2222", 2222, &a).ok());
  EXPECT_EQ(a, "node7:3333");
}

TEST(ResolveDataDirTest, DefaultsToThePort) {
  Config c;
  c.datad_listen = "0.0.0.0:4444";
  ASSERT_TRUE(ResolveDataDir(&c).ok());
  EXPECT_EQ(c.datad_data_dir, "/var/lib/replfs/datad-4444");
  c.datad_data_dir = "/x";
  ASSERT_TRUE(ResolveDataDir(&c).ok());
  EXPECT_EQ(c.datad_data_dir, "/x");
}

}  // namespace
}  // namespace replfs::datad
