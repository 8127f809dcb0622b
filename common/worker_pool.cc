#include "common/worker_pool.h"

#include <atomic>

namespace replfs {

// One RunAll() call. Tasks are claimed by index, so each runs exactly once
// on whichever thread (caller or worker) claims it first.
struct WorkerPool::Batch {
  std::vector<std::function<void()>> tasks;
  std::atomic<size_t> next{0};  // the next unclaimed task
  std::mutex mu;                // protects finished
  std::condition_variable cv;
  size_t finished = 0;

  // Runs unclaimed tasks until none is left.
  void Help() {
    for (size_t i = next.fetch_add(1); i < tasks.size(); i = next.fetch_add(1)) {
      tasks[i]();
      std::lock_guard<std::mutex> l(mu);
      if (++finished == tasks.size()) cv.notify_all();
    }
  }
};

WorkerPool::WorkerPool(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Stop() {
  {
    MutexLock l(&mu_);
    if (stop_) return;
    stop_ = true;
    queue_.clear();  // their callers run those tasks themselves
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void WorkerPool::RunAll(std::vector<std::function<void()>> tasks) {
  if (tasks.empty()) return;
  auto batch = std::make_shared<Batch>();
  batch->tasks = std::move(tasks);
  const size_t helpers = batch->tasks.size() - 1;  // the caller is one runner
  if (helpers > 0) {
    {
      MutexLock l(&mu_);
      if (!stop_) {
        for (size_t i = 0; i < helpers; ++i) queue_.push_back(batch);
      }
    }
    cv_.notify_all();
  }
  batch->Help();
  std::unique_lock<std::mutex> l(batch->mu);
  batch->cv.wait(l, [&] { return batch->finished == batch->tasks.size(); });
}

// Uses the native mutex for the condition variable, hence no analysis.
void WorkerPool::Loop() NO_THREAD_SAFETY_ANALYSIS {
  std::unique_lock<std::mutex> l(mu_.native());
  for (;;) {
    cv_.wait(l, [this]() NO_THREAD_SAFETY_ANALYSIS { return stop_ || !queue_.empty(); });
    if (stop_) return;
    std::shared_ptr<Batch> batch = std::move(queue_.front());
    queue_.pop_front();
    l.unlock();
    batch->Help();  // a no-op when the caller already claimed everything
    l.lock();
  }
}

}  // namespace replfs
