// The Thrift MetaApi against a fake MetaService on a loopback port: an error
// metad answers is told apart from a call that got no answer, and neither an
// answer nor a timed-out Fsck is silently repeated.
#include "ctl/meta_api.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "MetaService.h"
#include "ctl/commands.h"
#include "thrift/rpc_status.h"
#include "thrift/server.h"

namespace replfs::ctl {
namespace {

// (Its Status() hides replfs::Status inside the class: spelled out there.)
class FakeMeta : public rpc::MetaServiceNull {
public:
  void StartScrub(const std::string &server) override {
    ++scrub_calls;
    net::ThrowIfError(
        replfs::Status::Unavailable("datad " + server + " is down"));
  }
  void Fsck(rpc::FileReport &, const int64_t ino) override {
    ++fsck_calls;
    if (slow_fsck)
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    net::ThrowIfError(replfs::Status::TimedOut(
        "fsck of inode " + std::to_string(ino) + " checked 3 of 90 chunks"));
  }
  void Status(rpc::ClusterStatus &out) override {
    ++status_calls;
    out.replicas = 3;
  }

  std::atomic<int> scrub_calls{0}, fsck_calls{0}, status_calls{0};
  std::atomic<bool> slow_fsck{false};
};

class MetaApiTest : public ::testing::Test {
protected:
  void SetUp() override {
    net::ServerOptions so;
    so.listen = "127.0.0.1:0";
    so.allow_socket_activation = false;
    server_ = std::make_unique<net::RpcServer>(
        std::make_shared<rpc::MetaServiceProcessor>(fake_), so);
    ASSERT_TRUE(server_->Start().ok());
    net::RpcOptions o;
    o.connect_timeout_ms = 1000;
    o.rpc_timeout_ms = 300;
    o.attempts = 3; // room for retries that must not happen
    o.backoff_ms = 10;
    o.budget_ms = 5000;
    api_ = NewThriftMetaApi(HostPort{"127.0.0.1", server_->port()}, o);
  }

  std::shared_ptr<FakeMeta> fake_ = std::make_shared<FakeMeta>();
  std::unique_ptr<net::RpcServer> server_;
  std::unique_ptr<MetaApi> api_;
};

TEST_F(MetaApiTest, AnErrorMetadAnsweredIsItsAnswerAndIsNotRepeated) {
  Status s = api_->StartScrub("127.0.0.1:2222");
  EXPECT_EQ(s.code(), Status::Code::kUnavailable);
  EXPECT_EQ(s.message(), "datad 127.0.0.1:2222 is down");
  EXPECT_FALSE(IsNoAnswer(s));
  EXPECT_EQ(ExitCodeFor(s), kExitProblems);
  EXPECT_EQ(fake_->scrub_calls.load(), 1);

  // metad's fsck budget ran out: its answer, once.
  FileInfo f;
  s = api_->Fsck(7, &f);
  EXPECT_EQ(s.code(), Status::Code::kTimedOut);
  EXPECT_FALSE(IsNoAnswer(s));
  EXPECT_EQ(fake_->fsck_calls.load(), 1);

  // The connection is still good for the next call.
  ClusterStatus cs;
  ASSERT_TRUE(api_->GetStatus(&cs).ok());
  EXPECT_EQ(cs.replicas, 3);
}

TEST_F(MetaApiTest, AFsckWithoutAnAnswerInTimeIsNotRetried) {
  fake_->slow_fsck = true;
  FileInfo f;
  Status s = api_->Fsck(7, &f);
  EXPECT_EQ(s.code(), Status::Code::kTimedOut);
  EXPECT_TRUE(IsNoAnswer(s)) << s.ToString();
  EXPECT_NE(s.message().find("no answer from metad at 127.0.0.1:" +
                             std::to_string(server_->port()) +
                             " to Fsck within 0.3s"),
            std::string::npos)
      << s.ToString();
  EXPECT_EQ(ExitCodeFor(s), kExitUnavailable);
  EXPECT_EQ(fake_->fsck_calls.load(), 1);
}

TEST_F(MetaApiTest, NoServerIsNoAnswer) {
  server_->Stop();
  ClusterStatus cs;
  Status s = api_->GetStatus(&cs);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable);
  EXPECT_TRUE(IsNoAnswer(s)) << s.ToString();
  EXPECT_EQ(
      DescribeError(s, api_->addr())
          .rfind("fsctl: cannot reach metad at " + api_->addr() + ": ", 0),
      0u)
      << DescribeError(s, api_->addr());
  EXPECT_EQ(ExitCodeFor(s), kExitUnavailable);
  s = api_->StartScrub("127.0.0.1:2222");
  EXPECT_TRUE(IsNoAnswer(s)) << s.ToString();
  EXPECT_EQ(fake_->scrub_calls.load(), 0);
}

} // namespace
} // namespace replfs::ctl
