#include "fuse/release_queue.h"

#include <algorithm>
#include <mutex>

#include "common/log.h"

namespace replfs::client {

ReleaseQueue::ReleaseQueue(MetaClient* meta, int64_t session, std::chrono::microseconds linger)
    : meta_(meta), session_(session), linger_(linger), thread_([this] { Run(); }) {}

ReleaseQueue::~ReleaseQueue() { Stop(); }

void ReleaseQueue::Queue(uint64_t ino) {
  {
    MutexLock l(&mu_);
    if (!stop_) {
      queue_.push_back(ino);
      queued_++;
      // The first of a batch wakes the thread, which lingers; a full
      // batch ends the linger.
      if (queue_.size() != 1 && queue_.size() != kMaxBatch) return;
      cv_.notify_one();
      return;
    }
  }
  Send({ino});  // after Stop: nobody else will
}

void ReleaseQueue::Drain() NO_THREAD_SAFETY_ANALYSIS {
  std::unique_lock<std::mutex> l(mu_.native());
  const uint64_t target = queued_;
  draining_++;
  cv_.notify_all();
  sent_cv_.wait(l, [&]() NO_THREAD_SAFETY_ANALYSIS { return sent_ >= target; });
  draining_--;
}

void ReleaseQueue::Stop() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ReleaseQueue::Run() {
  std::unique_lock<std::mutex> l(mu_.native());
  for (;;) {
    cv_.wait(l, [this]() NO_THREAD_SAFETY_ANALYSIS { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything sent
    cv_.wait_for(l, linger_, [this]() NO_THREAD_SAFETY_ANALYSIS {
      return stop_ || draining_ > 0 || queue_.size() >= kMaxBatch;
    });
    const size_t n = std::min(queue_.size(), kMaxBatch);
    std::vector<uint64_t> batch(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    l.unlock();
    Send(batch);
    l.lock();
    sent_ += n;
    sent_cv_.notify_all();
  }
}

void ReleaseQueue::Send(const std::vector<uint64_t>& inos) {
  if (!one_by_one_) {
    Status s = meta_->ReleaseAll(inos, session_);
    if (s.ok()) return;
    // An older metad: without TLS it does not know the call, with TLS its
    // access policy refuses it before that. Either way nothing was
    // released, so the batch goes again, one Release each.
    if (s.code() != Status::Code::kNotSupported && s.code() != Status::Code::kPermission) {
      LOG(WARNING) << "release of " << inos.size() << " inode" << (inos.size() == 1 ? "" : "s")
                   << " (first " << inos.front() << ") failed: " << s.ToString();
      return;
    }
    LOG(INFO) << "metad refused ReleaseAll (" << s.ToString() << "): releasing one inode per call";
    one_by_one_ = true;
  }
  for (uint64_t ino : inos) {
    Status s = meta_->Release(ino, session_);
    if (!s.ok()) LOG(WARNING) << "release of inode " << ino << " failed: " << s.ToString();
  }
}

}  // namespace replfs::client
