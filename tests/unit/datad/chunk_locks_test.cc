#include "daemons/datad/chunk_locks.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

namespace replfs::datad {
namespace {

TEST(ChunkLockTableTest, ExcludesPerChunkAndForgetsIdleEntries) {
  ChunkLockTable locks;
  int64_t counter = 0;  // protected by chunk 1's lock
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        ChunkLockTable::Guard g = locks.Lock(1);
        ChunkLockTable::Guard other = locks.Lock(2 + i % 3);  // different chunks nest freely
        ++counter;
      }
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(counter, 4000);
  EXPECT_EQ(locks.entries(), 0u);
}

}  // namespace
}  // namespace replfs::datad
