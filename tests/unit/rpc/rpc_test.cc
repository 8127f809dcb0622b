// The RPC plumbing against an in-process server on a free loopback port.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "DataService.h"
#include "common/crc32c.h"
#include "thrift/client_pool.h"
#include "thrift/rpc_status.h"
#include "thrift/server.h"

namespace replfs::net {
namespace {

// A DataService that keeps nothing: counts bytes, fails on request.
class FakeData : public rpc::DataServiceIf {
 public:
  std::atomic<int64_t> bytes{0};
  std::atomic<int> sleep_ms{0};
  void Ping() override {
    if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
  }
  void Write(rpc::WriteReply&, int64_t, int64_t, int64_t, const std::string& data, int32_t crc,
             const std::vector<std::string>&) override {
    if (static_cast<uint32_t>(crc) != Crc32c(data))
      ThrowIfError(Status::Corruption("payload checksum mismatch"));
    bytes += static_cast<int64_t>(data.size());
  }
  void CreateChunk(int64_t, int64_t) override {}
  void SetVersion(int64_t, int64_t, int64_t) override {}
  void PushChunk(int64_t, int64_t, const std::string&, int64_t) override {}
  void InjectFault(int64_t, int32_t, rpc::FaultMode::type) override {}
  void StartScrub() override {}
  void Read(std::vector<rpc::BlockData>& out, int64_t, int64_t, int32_t first, int32_t count) override {
    for (int i = 0; i < count; ++i) {
      rpc::BlockData b;
      b.index = first + i;
      b.data.assign(1 << 20, 'r');
      b.crc = static_cast<int32_t>(Crc32c(b.data));
      out.push_back(std::move(b));
    }
  }
  void Truncate(int64_t, int64_t, int64_t) override {}
  void DeleteChunk(int64_t id) override {
    ThrowIfError(Status::NotFound("chunk " + std::to_string(id)));
  }
  void Sync() override {}
  void CheckChunk(rpc::ChunkCheck&, int64_t, int64_t) override {}
  void Usage(rpc::ServerUsage&) override {}
};

struct Served {
  std::shared_ptr<FakeData> handler = std::make_shared<FakeData>();
  std::unique_ptr<RpcServer> server;
  Served() {
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.allow_socket_activation = false;
    server = std::make_unique<RpcServer>(std::make_shared<rpc::DataServiceProcessor>(handler), o);
    Status s = server->Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  std::string addr() const { return "127.0.0.1:" + std::to_string(server->port()); }
};

RpcOptions FastOptions() {
  RpcOptions o;
  o.connect_timeout_ms = 500;
  o.rpc_timeout_ms = 2000;
  o.attempts = 3;
  o.backoff_ms = 5;
  o.budget_ms = 2000;
  return o;
}

TEST(RpcTest, PingAndApplicationErrorsKeepTheirCode) {
  Served srv;
  ASSERT_NE(srv.server->port(), 0);
  HostPort hp;
  ASSERT_TRUE(ParseHostPort(srv.addr(), &hp).ok());
  ClientPool<rpc::DataServiceClient> pool(hp, FastOptions());
  EXPECT_TRUE(pool.Call("Ping", Idempotency::kIdempotent, [](auto& c) { c.Ping(); }).ok());
  Status s = pool.Call("DeleteChunk", Idempotency::kIdempotent, [](auto& c) { c.DeleteChunk(7); });
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("chunk 7"), std::string::npos);
  // The connection survives an application error.
  EXPECT_TRUE(pool.Call("Ping", Idempotency::kIdempotent, [](auto& c) { c.Ping(); }).ok());
}

TEST(RpcTest, RefusedConnectionIsUnavailableAndNamesThePeer) {
  int port;
  {
    Served srv;  // learn a free port, then close it
    port = srv.server->port();
  }
  ClientPool<rpc::DataServiceClient> pool(HostPort{"127.0.0.1", port}, FastOptions());
  auto start = std::chrono::steady_clock::now();
  Status s = pool.Call("Ping", Idempotency::kNotIdempotent, [](auto& c) { c.Ping(); });
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("127.0.0.1:" + std::to_string(port)), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(RpcTest, SlowServerTimesOut) {
  Served srv;
  srv.handler->sleep_ms = 1500;
  HostPort hp{"127.0.0.1", srv.server->port()};
  RpcOptions o = FastOptions();
  o.rpc_timeout_ms = 200;
  o.attempts = 1;
  ClientPool<rpc::DataServiceClient> pool(hp, o);
  Status s = pool.Call("Ping", Idempotency::kIdempotent, [](auto& c) { c.Ping(); });
  EXPECT_EQ(s.code(), Status::Code::kTimedOut) << s.ToString();
  srv.handler->sleep_ms = 0;
  srv.server->Stop();
}

TEST(RpcTest, PooledConnectionSurvivesServerRestartForIdempotentCalls) {
  auto srv = std::make_unique<Served>();
  int port = srv->server->port();
  ClientPool<rpc::DataServiceClient> pool(HostPort{"127.0.0.1", port}, FastOptions());
  ASSERT_TRUE(pool.Call("Ping", Idempotency::kIdempotent, [](auto& c) { c.Ping(); }).ok());
  srv.reset();
  // Restart on the same port.
  auto handler = std::make_shared<FakeData>();
  ServerOptions so;
  so.listen = "127.0.0.1:" + std::to_string(port);
  so.allow_socket_activation = false;
  RpcServer again(std::make_shared<rpc::DataServiceProcessor>(handler), so);
  ASSERT_TRUE(again.Start().ok());
  EXPECT_TRUE(pool.Call("Ping", Idempotency::kNotIdempotent, [](auto& c) { c.Ping(); }).ok());
}

TEST(RpcTest, BadPayloadChecksumIsCorruption) {
  Served srv;
  ClientPool<rpc::DataServiceClient> pool(HostPort{"127.0.0.1", srv.server->port()}, FastOptions());
  Status s = pool.Call("Write", Idempotency::kIdempotent,
                       [](auto& c) {
                         rpc::WriteReply r;
                         c.Write(r, 1, 1, 0, "hello", 12345, {});
                       });
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
}

// Thrift 0.17 closes a connection after ~100 MiB of traffic unless the
// transport resets its byte count per message. Push > 1 GiB both ways over
// one connection.
TEST(RpcTest, MoreThanOneGiBOverOneConnection) {
  Served srv;
  RpcOptions o = FastOptions();
  o.attempts = 1;
  ClientPool<rpc::DataServiceClient> pool(HostPort{"127.0.0.1", srv.server->port()}, o);
  std::string payload(4 << 20, 'x');
  const int32_t crc = static_cast<int32_t>(Crc32c(payload));
  for (int i = 0; i < 160; ++i) {  // 640 MiB up
    Status s = pool.Call("Write", Idempotency::kIdempotent,
                         [&](auto& c) {
                           rpc::WriteReply r;
                           c.Write(r, 1, 1, 0, payload, crc, {});
                         });
    ASSERT_TRUE(s.ok()) << "after " << i * 4 << " MiB: " << s.ToString();
  }
  for (int i = 0; i < 110; ++i) {  // 440 MiB down
    std::vector<rpc::BlockData> blocks;
    Status s = pool.Call("Read", Idempotency::kIdempotent,
                         [&](auto& c) { c.Read(blocks, 1, 1, 0, 4); });
    ASSERT_TRUE(s.ok()) << "read " << i << ": " << s.ToString();
    ASSERT_EQ(blocks.size(), 4u);
  }
  EXPECT_EQ(srv.handler->bytes.load(), 160ll * (4 << 20));
  // One connection carried it all.
  EXPECT_EQ(srv.server->connections(), 1);
}

TEST(RpcTest, RetryCallStopsAtAttemptsAndHonoursIdempotency) {
  RpcOptions o = FastOptions();
  int calls = 0;
  Status s = RetryCall(o, Idempotency::kIdempotent, "t", [&](bool* sent) {
    ++calls;
    *sent = true;
    return Status::Unavailable("down");
  });
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable);
  calls = 0;
  s = RetryCall(o, Idempotency::kNotIdempotent, "t", [&](bool* sent) {
    ++calls;
    *sent = true;
    return Status::TimedOut("slow");
  });
  EXPECT_EQ(calls, 1);  // may have executed: never repeated
  calls = 0;
  s = RetryCall(o, Idempotency::kNotIdempotent, "t", [&](bool* sent) {
    ++calls;
    *sent = false;
    return Status::Unavailable("refused");
  });
  EXPECT_EQ(calls, 3);  // never left: safe to repeat
  calls = 0;
  s = RetryCall(o, Idempotency::kIdempotent, "t", [&](bool*) {
    ++calls;
    return Status::NotFound("x");
  });
  EXPECT_EQ(calls, 1);
}

TEST(RpcTest, ErrorCodesRoundTrip) {
  for (int i = 1; i < Status::kNumCodes; ++i) {
    auto code = static_cast<Status::Code>(i);
    Status back = FromRpcError(ToRpcError(Status(code, "m")));
    EXPECT_EQ(back.code(), code) << Status::CodeName(code);
    EXPECT_EQ(back.message(), "m");
  }
}

}  // namespace
}  // namespace replfs::net
