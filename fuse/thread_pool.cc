#include "fuse/thread_pool.h"

namespace replfs::client {

ThreadPool::ThreadPool(int threads) {
  if (threads < 1) threads = 1;
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

ThreadPool::~ThreadPool() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

std::future<Status> ThreadPool::Submit(std::function<Status()> fn) {
  std::packaged_task<Status()> task(std::move(fn));
  std::future<Status> f = task.get_future();
  {
    MutexLock l(&mu_);
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return f;
}

void ThreadPool::Run() {
  for (;;) {
    std::packaged_task<Status()> task;
    {
      std::unique_lock<std::mutex> l(mu_.native());
      cv_.wait(l, [this]() NO_THREAD_SAFETY_ANALYSIS { return stop_ || !queue_.empty(); });
      // Drain the queue before stopping so no submitter waits forever.
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace replfs::client
