// WorkerPool: a fixed number of threads that help run batches of short,
// independent tasks in parallel (datad: a primary forwarding one write to
// its secondaries; metad: one call to each replica's datad). Bounded: the
// pool never creates threads beyond the number it was built with, and a
// batch costs no thread creation (a thread start and join took 160-220 us
// on a 2-vCPU VM of the kind replfs is benchmarked on).
//
// Progress never depends on a free worker: the thread calling RunAll() runs
// tasks itself too, claiming any the workers have not started, so a batch
// completes even when every worker is busy (or the pool is stopped); workers
// only add parallelism.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "common/thread_annotations.h"

namespace replfs {

class WorkerPool {
 public:
  // Starts `threads` (>= 0) worker threads.
  explicit WorkerPool(int threads);
  ~WorkerPool();  // Stop()s
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs every task exactly once, in parallel as far as workers are free,
  // and returns when all have finished. Tasks must not throw (a throwing
  // task terminates the process) and must not call RunAll() themselves.
  // Thread-safe.
  void RunAll(std::vector<std::function<void()>> tasks);

  // Joins the workers after they finish the task at hand; later batches run
  // entirely on their callers. Idempotent.
  void Stop();

  int threads() const { return static_cast<int>(threads_.size()); }

 private:
  struct Batch;
  void Loop();

  std::vector<std::thread> threads_;  // written only by the constructor and Stop()

  Mutex mu_;  // protects everything below
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Batch>> queue_ GUARDED_BY(mu_);  // one entry per helper wanted
  bool stop_ GUARDED_BY(mu_) = false;
};

}  // namespace replfs
