#include "common/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/util/test_util.h"

namespace replfs {
namespace {

using std::chrono::milliseconds;

std::vector<std::function<void()>> Counting(std::atomic<int>* n, int tasks) {
  std::vector<std::function<void()>> out;
  for (int i = 0; i < tasks; ++i) out.emplace_back([n] { n->fetch_add(1); });
  return out;
}

TEST(WorkerPoolTest, RunsEveryTaskOnceAlsoWithoutWorkers) {
  for (int threads : {0, 1, 4}) {
    WorkerPool pool(threads);
    std::atomic<int> n{0};
    pool.RunAll(Counting(&n, 10));
    EXPECT_EQ(n.load(), 10) << threads << " threads";
    pool.RunAll({});
    pool.Stop();
    pool.RunAll(Counting(&n, 3));  // after Stop the caller runs everything
    EXPECT_EQ(n.load(), 13);
  }
}

TEST(WorkerPoolTest, TasksRunInParallel) {
  WorkerPool pool(2);
  std::atomic<int> started{0};
  std::vector<std::function<void()>> tasks;
  // Each task waits until all three have started: only possible in parallel
  // (two workers plus the caller).
  for (int i = 0; i < 3; ++i) {
    tasks.emplace_back([&] {
      started.fetch_add(1);
      EXPECT_TRUE(::replfs::testing::WaitFor([&] { return started.load() == 3; },
                                             milliseconds(10000), "all tasks running"));
    });
  }
  pool.RunAll(std::move(tasks));
  EXPECT_EQ(started.load(), 3);
}

TEST(WorkerPoolTest, ConcurrentBatches) {
  WorkerPool pool(3);
  std::atomic<int> n{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 8; ++c)
    callers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) pool.RunAll(Counting(&n, 3));
    });
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(n.load(), 8 * 50 * 3);
}

}  // namespace
}  // namespace replfs
