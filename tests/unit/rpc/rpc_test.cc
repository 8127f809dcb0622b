// The RPC plumbing against an in-process server on a free loopback port,
// and the daemons' health check of their own server (RpcServer::serving(),
// SelfProbe, the WatchdogPinger that pings only while the probe passes).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "DataService.h"
#include "common/crc32c.h"
#include "common/daemon.h"
#include "thrift/client_pool.h"
#include "thrift/rpc_status.h"
#include "tests/util/test_util.h"
#include "thrift/server.h"

namespace replfs::net {
namespace {

using replfs::testing::WaitFor;
using std::chrono::milliseconds;

// A DataService that keeps nothing: counts bytes, fails on request.
class FakeData : public rpc::DataServiceIf {
 public:
  std::atomic<int64_t> bytes{0};
  std::atomic<int> sleep_ms{0};
  // With `meet` set, a Ping waits (up to 5 s) until `meet` Pings have
  // arrived, so they are served at once; `met` counts those that saw it.
  std::atomic<int> meet{0}, arrived{0}, met{0};
  void Ping() override {
    if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    if (meet > 0) {
      ++arrived;
      if (replfs::testing::PollUntil([&] { return arrived.load() >= meet.load(); },
                                     std::chrono::seconds(5)))
        ++met;
    }
  }
  void Write(rpc::WriteReply&, int64_t, int64_t, int64_t, const std::string& data, int32_t crc,
             const std::vector<std::string>&, bool) override {
    if (static_cast<uint32_t>(crc) != Crc32c(data))
      ThrowIfError(Status::Corruption("payload checksum mismatch"));
    bytes += static_cast<int64_t>(data.size());
  }
  void CreateChunk(int64_t, int64_t) override {}
  void SetVersion(int64_t, int64_t, int64_t) override {}
  void PushChunk(int64_t, int64_t, const std::string&, int64_t) override {}
  void InjectFault(int64_t, int32_t, rpc::FaultMode::type) override {}
  void StartScrub() override {}
  void Read(std::vector<rpc::BlockData>& out, int64_t, int64_t, int32_t first, int32_t count, int32_t,
            int32_t) override {
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

TEST(RpcTest, OnePeerCannotHoldMoreThanItsShareOfConnections) {
  auto handler = std::make_shared<FakeData>();
  ServerOptions so;
  so.listen = "127.0.0.1:0";
  so.allow_socket_activation = false;
  so.max_connections_per_peer = 2;
  RpcServer server(std::make_shared<rpc::DataServiceProcessor>(handler), so);
  ASSERT_TRUE(server.Start().ok());
  RpcOptions o = FastOptions();
  o.attempts = 1;
  const HostPort hp{"127.0.0.1", server.port()};
  // Two connections held open (pooled clients that finished a call)...
  std::vector<Connection> held(2);
  for (Connection& c : held) {
    ASSERT_TRUE(Connection::Open(hp, o, Role::kNone, &c).ok());
    rpc::DataServiceClient client(c.protocol);
    EXPECT_NO_THROW(client.Ping());
  }
  // ...and a third is closed at once.
  Connection third;
  ASSERT_TRUE(Connection::Open(hp, o, Role::kNone, &third).ok());  // TCP connects, then the server closes it
  rpc::DataServiceClient refused(third.protocol);
  EXPECT_THROW(refused.Ping(), std::exception);
  // A slot given back is usable again.
  held[0].transport->close();
  EXPECT_TRUE(replfs::testing::PollUntil(
      [&] {
        Connection c;
        if (!Connection::Open(hp, o, Role::kNone, &c).ok()) return false;
        try {
          rpc::DataServiceClient(c.protocol).Ping();
          return true;
        } catch (const std::exception&) {
          return false;
        }
      },
      std::chrono::milliseconds(5000)));
}

// A raw Write call whose argument `field` (Thrift type `type`) starts with
// `claim`, the bytes declaring its length, and then nothing: the bytes an
// attacker needs to make a server allocate what the length says.
std::string WriteCallClaiming(int16_t field, uint8_t type, const std::string& claim) {
  auto be32 = [](uint32_t v) {
    uint32_t n = htonl(v);
    return std::string(reinterpret_cast<const char*>(&n), 4);
  };
  std::string m = be32(0x80010001u) + be32(5) + "Write" + be32(1);
  m += static_cast<char>(type);
  m += static_cast<char>(field >> 8);
  m += static_cast<char>(field & 0xff);
  return m + claim;
}

// Sends `msg` on a fresh connection and says whether the server closed it
// within `wait` (true) or kept waiting for the bytes the message claims.
bool ServerDropsConnection(int port, const std::string& msg, std::chrono::milliseconds wait) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  struct FdCloser {
    int fd;
    ~FdCloser() { close(fd); }
  } closer{fd};
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return false;
  if (send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size())) return false;
  timeval tv{static_cast<time_t>(wait.count() / 1000), static_cast<suseconds_t>(wait.count() % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char c;
  return recv(fd, &c, 1, 0) == 0;  // EOF; -1 with EAGAIN: still waiting
}

TEST(RpcTest, RequestsClaimingHugeStringsOrListsAreDroppedBeforeAllocating) {
  Served s;
  const auto be32 = [](uint32_t v) {
    uint32_t n = htonl(v);
    return std::string(reinterpret_cast<const char*>(&n), 4);
  };
  // Write's `data` (binary) claiming 64 MiB, and its `forward`
  // (list<string>) claiming a million entries: 17 and 18 bytes. Without
  // limits the server allocates the claim and waits for the rest.
  EXPECT_TRUE(ServerDropsConnection(s.server->port(), WriteCallClaiming(4, 11, be32(64u << 20)),
                                    milliseconds(3000)));
  std::string list_claim = std::string(1, '\x0b') + be32(1u << 20);
  EXPECT_TRUE(ServerDropsConnection(s.server->port(), WriteCallClaiming(6, 15, list_claim),
                                    milliseconds(3000)));
  // The server goes on serving.
  Connection c;
  ASSERT_TRUE(Connection::Open(HostPort{"127.0.0.1", s.server->port()}, FastOptions(), Role::kNone, &c).ok());
  EXPECT_NO_THROW(rpc::DataServiceClient(c.protocol).Ping());
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

// One thread can have calls in flight to several servers: both requests
// are being served at the same time before either answer is read.
TEST(RpcTest, SplitCallsAreInFlightTogetherAndGiveTheConnectionBack) {
  auto shared = std::make_shared<FakeData>();
  shared->meet = 2;
  std::vector<std::unique_ptr<RpcServer>> servers;
  std::vector<std::unique_ptr<ClientPool<rpc::DataServiceClient>>> pools;
  for (int i = 0; i < 2; ++i) {
    ServerOptions so;
    so.listen = "127.0.0.1:0";
    so.allow_socket_activation = false;
    servers.push_back(
        std::make_unique<RpcServer>(std::make_shared<rpc::DataServiceProcessor>(shared), so));
    ASSERT_TRUE(servers.back()->Start().ok());
    pools.push_back(std::make_unique<ClientPool<rpc::DataServiceClient>>(
        HostPort{"127.0.0.1", servers.back()->port()}, FastOptions()));
  }
  using Pending = ClientPool<rpc::DataServiceClient>::PendingCall;
  Pending calls[2];
  for (int i = 0; i < 2; ++i) {
    bool sent = false;
    ASSERT_TRUE(pools[i]->Send([](auto& c) { c.send_Ping(); }, &calls[i], &sent).ok());
    EXPECT_TRUE(sent);
  }
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(2000);
  for (int i = 0; i < 2; ++i) {
    Status s = calls[i].Finish([](auto& c) { c.recv_Ping(); }, deadline);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  EXPECT_EQ(shared->met.load(), 2);
  shared->meet = 0;
  // An application error comes back with its code; the connection stays good.
  Pending del;
  bool sent = false;
  ASSERT_TRUE(pools[0]->Send([](auto& c) { c.send_DeleteChunk(7); }, &del, &sent).ok());
  Status s = del.Finish([](auto& c) { c.recv_DeleteChunk(); }, deadline);
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.ToString();
  EXPECT_TRUE(pools[0]->Call("Ping", Idempotency::kIdempotent, [](auto& c) { c.Ping(); }).ok());
  // Finishing twice, or a call never sent, is refused.
  EXPECT_EQ(del.Finish([](auto& c) { c.recv_Ping(); }, deadline).code(), Status::Code::kInternal);
  for (auto& srv : servers) srv->Stop();
}

// Finish waits no later than its deadline, shorter than the RPC timeout; a
// timed-out or abandoned call never leaves its unread answer in the pool.
TEST(RpcTest, SplitCallHonoursItsDeadlineAndAbandonedCallsAreNotReused) {
  Served srv;
  srv.handler->sleep_ms = 1500;
  RpcOptions o = FastOptions();
  o.rpc_timeout_ms = 5000;
  ClientPool<rpc::DataServiceClient> pool(HostPort{"127.0.0.1", srv.server->port()}, o);
  using Pending = ClientPool<rpc::DataServiceClient>::PendingCall;
  {
    Pending call;
    bool sent = false;
    ASSERT_TRUE(pool.Send([](auto& c) { c.send_Ping(); }, &call, &sent).ok());
    const auto start = std::chrono::steady_clock::now();
    Status s = call.Finish([](auto& c) { c.recv_Ping(); }, start + milliseconds(100));
    EXPECT_EQ(s.code(), Status::Code::kTimedOut) << s.ToString();
    EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));
  }
  {
    Pending dropped;  // sent, never finished
    bool sent = false;
    ASSERT_TRUE(pool.Send([](auto& c) { c.send_Ping(); }, &dropped, &sent).ok());
  }
  srv.handler->sleep_ms = 0;
  // Each call gets its own answer, not one left over on a reused connection.
  Status s = pool.Call("DeleteChunk", Idempotency::kIdempotent, [](auto& c) { c.DeleteChunk(9); });
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("chunk 9"), std::string::npos) << s.ToString();
  srv.server->Stop();
}

// A call blocked on a slow server ends as soon as another thread cancels
// it, and later calls with that token fail unsent. A pool's greeting runs
// once on each connection it opens.
TEST(RpcTest, CancelEndsABlockedCallAndGreetingsRunOncePerConnection) {
  Served srv;
  RpcOptions o = FastOptions();
  o.rpc_timeout_ms = 10000;
  ClientPool<rpc::DataServiceClient> pool(HostPort{"127.0.0.1", srv.server->port()}, o);
  std::atomic<int> greetings{0};
  pool.SetGreeting([&](rpc::DataServiceClient& c) {
    ++greetings;
    c.Ping();
  });
  bool sent = false;
  ASSERT_TRUE(pool.CallOnce([](auto& c) { c.Ping(); }, &sent).ok());
  ASSERT_TRUE(pool.CallOnce([](auto& c) { c.Ping(); }, &sent).ok());
  EXPECT_EQ(greetings.load(), 1) << "the idle connection is reused without a new greeting";

  srv.handler->arrived = 0;
  srv.handler->meet = 2;  // the next Ping waits 5 s for a second one
  CallCanceller cancel;
  Status got;
  std::atomic<bool> done{false};
  std::thread caller([&] {
    bool s = false;
    got = pool.CallOnce([](auto& c) { c.Ping(); }, &s, &cancel);
    done = true;
  });
  ASSERT_TRUE(replfs::testing::PollUntil([&] { return srv.handler->arrived.load() == 1; },
                                         std::chrono::seconds(5)));
  const auto start = std::chrono::steady_clock::now();
  cancel.Cancel();
  EXPECT_TRUE(replfs::testing::PollUntil([&] { return done.load(); }, std::chrono::seconds(4)))
      << "the call outlived its cancellation";
  caller.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
  EXPECT_FALSE(got.ok());
  EXPECT_NE(got.message().find("cancelled"), std::string::npos) << got.ToString();
  sent = true;
  Status again = pool.CallOnce([](auto& c) { c.Ping(); }, &sent, &cancel);
  EXPECT_FALSE(again.ok());
  EXPECT_FALSE(sent);
  // The cancelled connection is gone: the next call greets a new one.
  srv.handler->meet = 0;
  ASSERT_TRUE(pool.CallOnce([](auto& c) { c.Ping(); }, &sent).ok());
  EXPECT_EQ(greetings.load(), 2);
  srv.server->Stop();
}

TEST(RpcTest, BadPayloadChecksumIsCorruption) {
  Served srv;
  ClientPool<rpc::DataServiceClient> pool(HostPort{"127.0.0.1", srv.server->port()}, FastOptions());
  Status s = pool.Call("Write", Idempotency::kIdempotent,
                       [](auto& c) {
                         rpc::WriteReply r;
                         c.Write(r, 1, 1, 0, "hello", 12345, {}, false);
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
                           c.Write(r, 1, 1, 0, payload, crc, {}, false);
                         });
    ASSERT_TRUE(s.ok()) << "after " << i * 4 << " MiB: " << s.ToString();
  }
  for (int i = 0; i < 110; ++i) {  // 440 MiB down
    std::vector<rpc::BlockData> blocks;
    Status s = pool.Call("Read", Idempotency::kIdempotent,
                         [&](auto& c) { c.Read(blocks, 1, 1, 0, 4, 0, 0); });
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


// --- the daemons' health check ------------------------------------------------

SelfProbe::PingFn DataPing() { return SelfProbe::PingWith<rpc::DataServiceClient>(); }

TEST(ServerHealthTest, ServingFromStartUntilStop) {
  Served srv;
  EXPECT_TRUE(srv.server->serving());
  EXPECT_NE(srv.server->address().find("127.0.0.1:0 (port "), std::string::npos)
      << srv.server->address();
  srv.server->Stop();
  EXPECT_FALSE(srv.server->serving());
}

TEST(ServerHealthTest, SelfProbeFindsTheListenerAndPingsIt) {
  Served srv;
  std::unique_ptr<SelfProbe> probe;
  Status s = SelfProbe::Find(srv.server->port(), DataPing(), &probe);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(probe->address(), srv.addr());
  EXPECT_EQ(probe->dial(), (HostPort{"127.0.0.1", srv.server->port()}));
  EXPECT_TRUE(probe->Listening());
  EXPECT_TRUE(probe->Healthy(1000));
  // A server that answers no Ping in time is not healthy, though it listens.
  srv.handler->sleep_ms = 1500;
  EXPECT_FALSE(probe->Healthy(200));
  srv.handler->sleep_ms = 0;
  srv.server->Stop();
  EXPECT_FALSE(probe->Listening());
  EXPECT_FALSE(probe->Healthy(200));
  EXPECT_EQ(SelfProbe::Find(srv.server->port(), DataPing(), &probe).code(),
            Status::Code::kNotFound);
}

TEST(ServerHealthTest, WildcardListenerIsDialledOnLoopback) {
  auto handler = std::make_shared<FakeData>();
  ServerOptions o;
  o.listen = "0.0.0.0:0";
  o.allow_socket_activation = false;
  RpcServer server(std::make_shared<rpc::DataServiceProcessor>(handler), o);
  ASSERT_TRUE(server.Start().ok());
  std::unique_ptr<SelfProbe> probe;
  ASSERT_TRUE(SelfProbe::Find(server.port(), DataPing(), &probe).ok());
  EXPECT_EQ(probe->dial().host, "127.0.0.1") << probe->address();
  EXPECT_TRUE(probe->Healthy(1000));
}

// The real cause of an accept loop ending on its own: no descriptor left
// for the next connection (EMFILE). The server then stops serving, says so
// and closes its socket, and the probe sees it.
TEST(ServerHealthTest, AcceptFailureEndsServingAndClosesTheListener) {
  Served srv;
  std::unique_ptr<SelfProbe> probe;
  ASSERT_TRUE(SelfProbe::Find(srv.server->port(), DataPing(), &probe).ok());
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  // No descriptor free from here on: the server's accept() gets EMFILE.
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  const int lowest_free = ::dup(0);
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(lowest_free);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(srv.server->port()));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int rc = ::connect(client, reinterpret_cast<sockaddr*>(&to), sizeof to);
  const bool stopped = WaitFor([&] { return !srv.server->serving(); }, milliseconds(10000),
                               "the accept loop ends");
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ::close(client);
  ASSERT_EQ(rc, 0);
  ASSERT_TRUE(stopped);
  EXPECT_FALSE(probe->Listening());
  EXPECT_FALSE(probe->Healthy(200));
}

// A systemd-style listening socket at descriptor 3 with LISTEN_PID/LISTEN_FDS.
class FakeSystemdSocket {
 public:
  FakeSystemdSocket() {
    saved3_ = ::fcntl(3, F_DUPFD_CLOEXEC, 10);  // whatever used descriptor 3
    // Kept away from descriptor 3, which the server adopts and closes.
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    listener_ = ::fcntl(s, F_DUPFD_CLOEXEC, 10);
    ::close(s);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(::listen(listener_, 16), 0);
    EXPECT_EQ(::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
    EXPECT_EQ(::dup2(listener_, 3), 3);
    setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
    setenv("LISTEN_FDS", "1", 1);
  }
  ~FakeSystemdSocket() {
    unsetenv("LISTEN_PID");  // if the server did not take them
    unsetenv("LISTEN_FDS");
    ::close(listener_);
    if (saved3_ >= 0) {
      ::dup2(saved3_, 3);
      ::close(saved3_);
    }
  }
  int port() const { return port_; }
  int listener() const { return listener_; }  // "systemd's" own descriptor

 private:
  int saved3_ = -1;
  int listener_ = -1;
  int port_ = 0;
};

TEST(ServerHealthTest, AdoptsTheSystemdSocketAndLeavesItListening) {
  FakeSystemdSocket systemd;
  auto handler = std::make_shared<FakeData>();
  ServerOptions o;
  o.listen = "127.0.0.1:1";  // ignored: systemd passed a socket
  RpcServer server(std::make_shared<rpc::DataServiceProcessor>(handler), o);
  Status s = server.Start();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(server.socket_activated());
  EXPECT_EQ(server.port(), systemd.port());
  EXPECT_EQ(getenv("LISTEN_FDS"), nullptr);  // not passed on
  std::unique_ptr<SelfProbe> probe;
  ASSERT_TRUE(SelfProbe::Find(systemd.port(), DataPing(), &probe).ok());
  EXPECT_TRUE(probe->Healthy(1000));
  server.Stop();
  EXPECT_FALSE(server.serving());
  // Our copy is gone, systemd's socket still listens.
  int accepting = 0;
  socklen_t len = sizeof accepting;
  ASSERT_EQ(getsockopt(systemd.listener(), SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len), 0);
  EXPECT_EQ(accepting, 1);
}

// The pinger with an injected probe and notify: pings while the probe
// passes, none while it fails, again when it passes.
TEST(WatchdogTest, PingsOnlyWhileTheProbePasses) {
  std::atomic<bool> healthy{true};
  std::atomic<int> probes{0}, pings{0};
  WatchdogPinger pinger(
      [&] {
        ++probes;
        return healthy.load();
      },
      milliseconds(2), [&] { ++pings; });
  ASSERT_TRUE(WaitFor([&] { return pings >= 3; }, milliseconds(10000), "pings while healthy"));
  healthy = false;
  // A probe that began before the switch may still ping once.
  const int switched = probes;
  ASSERT_TRUE(WaitFor([&] { return probes >= switched + 2; }, milliseconds(10000), "probes"));
  const int pings_failing = pings;
  ASSERT_TRUE(WaitFor([&] { return probes >= switched + 12; }, milliseconds(10000), "probes"));
  EXPECT_EQ(pings.load(), pings_failing) << "pinged while the probe failed";
  healthy = true;
  EXPECT_TRUE(WaitFor([&] { return pings > pings_failing; }, milliseconds(10000), "pings resume"));
}

// The default notify path: real sd_notify datagrams to $NOTIFY_SOCKET, a
// probe every WATCHDOG_USEC/4, WATCHDOG=1 only while the server's probe
// passes.
TEST(WatchdogTest, SystemdPingsStopWhenTheServerStopsServing) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/notify";
  const int sock = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof un.sun_path);
  std::memcpy(un.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&un), sizeof un), 0);
  struct Env {
    explicit Env(const std::string& path) {
      setenv("NOTIFY_SOCKET", path.c_str(), 1);
      setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
      setenv("WATCHDOG_USEC", "200000", 1);  // a probe every 50 ms
    }
    ~Env() {
      unsetenv("NOTIFY_SOCKET");
      unsetenv("WATCHDOG_PID");
      unsetenv("WATCHDOG_USEC");
    }
  } env(path);
  auto received = [sock] {
    int n = 0;
    char buf[256];
    for (ssize_t r; (r = ::recv(sock, buf, sizeof buf - 1, 0)) > 0;) {
      buf[r] = '\0';
      if (std::string(buf) == "WATCHDOG=1") ++n;
    }
    return n;
  };
  Served srv;
  std::unique_ptr<SelfProbe> probe;
  ASSERT_TRUE(SelfProbe::Find(srv.server->port(), DataPing(), &probe).ok());
  std::atomic<int> probes{0};
  int pings = 0;
  {
    WatchdogPinger pinger([&] {
      ++probes;
      return probe->Healthy(1000);
    });
    ASSERT_TRUE(WaitFor([&] { return (pings += received()) >= 2; }, milliseconds(10000),
                        "WATCHDOG=1 while serving"));
    srv.server->Stop();
    const int stopped = probes;
    ASSERT_TRUE(WaitFor([&] { return probes >= stopped + 2; }, milliseconds(10000), "probes"));
    received();  // from a probe that ran before Stop()
    const int after = probes;
    ASSERT_TRUE(WaitFor([&] { return probes >= after + 3; }, milliseconds(10000), "probes"));
    EXPECT_EQ(received(), 0) << "WATCHDOG=1 sent while nothing listened";
  }
  ::close(sock);
}

}  // namespace
}  // namespace replfs::net
