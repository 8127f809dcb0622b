// The DataService handler through a real in-process RpcServer on port 0.
#include "daemons/datad/data_service.h"

#include <gtest/gtest.h>

#include "common/crc32c.h"
#include "daemons/datad/datad.h"
#include "tests/util/test_util.h"
#include "thrift/client_pool.h"
#include "thrift/server.h"

namespace replfs::datad {
namespace {

using Client = rpc::DataServiceClient;

net::RpcOptions FastOptions() {
  net::RpcOptions o;
  o.connect_timeout_ms = 500;
  o.rpc_timeout_ms = 5000;
  o.attempts = 1;
  o.budget_ms = 5000;
  return o;
}

class DataServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(BlockStore::Open(dir_.path(), 4096, &store_).ok());
    handler_ = std::make_shared<DataServiceHandler>(store_.get());
    handler_->set_advertised_addr("127.0.0.1:1234");
    net::ServerOptions so;
    so.listen = "127.0.0.1:0";
    so.allow_socket_activation = false;
    server_ = std::make_unique<net::RpcServer>(std::make_shared<rpc::DataServiceProcessor>(handler_), so);
    ASSERT_TRUE(server_->Start().ok());
    pool_ = std::make_unique<net::ClientPool<Client>>(HostPort{"127.0.0.1", server_->port()},
                                                      FastOptions());
  }
  void TearDown() override { server_->Stop(); }

  Status Call(const std::function<void(Client&)>& fn) {
    return pool_->Call("test", net::Idempotency::kIdempotent, fn);
  }
  Status Write(int64_t chunk, int64_t version, int64_t off, const std::string& data) {
    const auto crc = static_cast<int32_t>(Crc32c(data));
    return Call([&](Client& c) { c.Write(chunk, version, off, data, crc); });
  }

  testing::TempDir dir_{"datad-service"};
  std::unique_ptr<BlockStore> store_;
  std::shared_ptr<DataServiceHandler> handler_;
  std::unique_ptr<net::RpcServer> server_;
  std::unique_ptr<net::ClientPool<Client>> pool_;
};

TEST_F(DataServiceTest, WriteReadCheckUsage) {
  ASSERT_TRUE(Write(5, 1, 4000, std::string(200, 'q')).ok());
  std::vector<rpc::BlockData> blocks;
  ASSERT_TRUE(Call([&](Client& c) { c.Read(blocks, 5, 1, 0, 4); }).ok());
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
  Status s = Call([&](Client& c) { c.Read(blocks, 5, 1, 0, 1); });
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
}

TEST_F(DataServiceTest, BadPayloadChecksumStoresNothing) {
  Status s = Call([](Client& c) { c.Write(6, 1, 0, "hello", 12345); });
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
  const std::vector<std::function<void(Client&)>> calls = {
      [&](Client& c) { c.Write(0, 1, 0, d, crc); },
      [&](Client& c) { c.Write(-5, 1, 0, d, crc); },
      [&](Client& c) { c.Write(1, 0, 0, d, crc); },
      [&](Client& c) { c.Write(1, 1, -1, d, crc); },
      [&](Client& c) { c.Write(1, 1, (1ll << 30), d, crc); },
      [&](Client& c) { c.Write(1, 1, INT64_MAX, d, crc); },
      [&](Client& c) { c.Read(out, 1, 1, -1, 1); },
      [&](Client& c) { c.Read(out, 1, 1, 0, 0); },
      [&](Client& c) { c.Read(out, 1, 1, 0, 513); },
      [&](Client& c) { c.Read(out, 1, 1, INT32_MAX, 512); },
      [&](Client& c) { c.Read(out, 0, 1, 0, 1); },
      [&](Client& c) { c.Truncate(1, 1, -1); },
      [&](Client& c) { c.Truncate(1, -1, 0); },
      [&](Client& c) { c.DeleteChunk(0); },
      [&](Client& c) { c.CheckChunk(check, 1, 0); },
  };
  for (size_t i = 0; i < calls.size(); ++i) {
    Status s = Call(calls[i]);
    EXPECT_EQ(s.code(), Status::Code::kInvalid) << "call " << i << ": " << s.ToString();
  }
  // Too large a payload.
  const std::string big((16 << 20) + 1, 'b');
  Status s = Write(1, 1, 0, big);
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
