#include "fuse/process_of.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>

namespace replfs::client {
namespace {

uint32_t Tid() { return static_cast<uint32_t>(syscall(SYS_gettid)); }

TEST(ProcessOfThreadTest, AThreadBelongsToItsProcess) {
  const auto self = static_cast<uint32_t>(getpid());
  EXPECT_EQ(ProcessOfThread(Tid()), self);
  uint32_t tid = 0, process = 0;
  std::thread t([&] {
    tid = Tid();
    process = ProcessOfThread(tid);
  });
  t.join();
  EXPECT_NE(tid, self);
  EXPECT_EQ(process, self);
}

TEST(ProcessOfThreadTest, UnknownThreadsAreZero) {
  EXPECT_EQ(ProcessOfThread(0), 0u);
  // kthreadd: kernel threads act for processes they do not name.
  EXPECT_EQ(ProcessOfThread(2), 0u);
  // Above pid_max (at most 2^22), so never a thread.
  EXPECT_EQ(ProcessOfThread(1u << 30), 0u);
}

}  // namespace
}  // namespace replfs::client
