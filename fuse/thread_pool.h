// A small fixed pool of worker threads for fanning RPCs out to replicas.
// Bounded thread count; the queue is bounded in practice by the number of
// FUSE worker threads that can wait on it. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <thread>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"

namespace replfs::client {

class ThreadPool {
 public:
  // Starts `threads` workers (at least 1).
  explicit ThreadPool(int threads);
  ~ThreadPool();  // runs what is queued, then joins
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Queues `fn`; the future yields its Status. A task must not wait on
  // another task of the same pool (it could deadlock when all workers wait).
  std::future<Status> Submit(std::function<Status()> fn);

 private:
  // Locks mu_ through native() to wait on cv_, which the analysis cannot see.
  void Run() NO_THREAD_SAFETY_ANALYSIS;

  Mutex mu_;  // protects everything below
  std::condition_variable_any cv_;
  std::deque<std::packaged_task<Status()>> queue_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;  // constant after construction
};

}  // namespace replfs::client
