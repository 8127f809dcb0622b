#include "fuse/change_watcher.h"

#include <algorithm>
#include <mutex>

#include "common/log.h"
#include "thrift/client_pool.h"

namespace replfs::client {

ChangeWatcher::ChangeWatcher(MetaClient* meta, int64_t session, std::chrono::milliseconds wait,
                             Callbacks cb)
    : meta_(meta),
      session_(session),
      wait_(wait),
      cb_(std::move(cb)),
      cancel_(std::make_unique<net::CallCanceller>()),
      thread_([this] { Run(); }) {}

ChangeWatcher::~ChangeWatcher() { Stop(); }

void ChangeWatcher::Stop() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  cancel_->Cancel();
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ChangeWatcher::Stopping() {
  MutexLock l(&mu_);
  return stop_;
}

// std::condition_variable_any waits on the std::mutex itself.
void ChangeWatcher::Pause(std::chrono::milliseconds d) NO_THREAD_SAFETY_ANALYSIS {
  std::unique_lock<std::mutex> l(mu_.native());
  cv_.wait_for(l, d, [this]() NO_THREAD_SAFETY_ANALYSIS { return stop_; });
}

void ChangeWatcher::Advance(const std::function<void()>& also) {
  std::unique_lock l(section_);
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  if (also) also();
}

void ChangeWatcher::SetLive(bool live) {
  std::unique_lock l(section_);
  live_.store(live, std::memory_order_release);
  epoch_.fetch_add(1, std::memory_order_acq_rel);
}

void ChangeWatcher::Run() {
  constexpr auto kMinPause = std::chrono::milliseconds(100);
  constexpr auto kMaxPause = std::chrono::milliseconds(2000);
  uint64_t generation = 0;
  int64_t after = -1;  // not following yet
  auto pause = kMinPause;
  while (!Stopping()) {
    ChangeBatch b;
    Status s =
        meta_->WatchChanges(generation, after, session_, static_cast<int32_t>(wait_.count()), cancel_.get(), &b);
    if (Stopping()) break;
    if (!s.ok() && !s.IsRetryable()) {
      // Refused, not unreachable: a metad without the feed, or a
      // certificate whose role may not use it.
      LOG(WARNING) << "metad's change feed is not available (" << s.ToString()
                   << "); the kernel caches for attr_timeout/entry_timeout only from now on";
      if (live()) {
        // What was cached for long is no longer looked after.
        SetLive(false);
        Advance(cb_.lost);
      }
      break;
    }
    if (!s.ok()) {
      if (live()) {
        SetLive(false);
        LOG(WARNING) << "lost metad's change feed (" << s.ToString()
                     << "); new replies are cached for attr_timeout until it is back";
      }
      Pause(pause);
      pause = std::min(pause * 2, kMaxPause);
      continue;
    }
    pause = kMinPause;
    if (after < 0) {
      generation = b.generation;
      after = b.last;
      if (cb_.started) Advance(cb_.started);
      SetLive(true);
      LOG(INFO) << "following metad's change feed from position " << after;
      continue;
    }
    if (b.lost || b.generation != generation) {
      LOG(WARNING) << "missed changes on metad's change feed ("
                   << (b.generation != generation ? "metad restarted" : "fell behind")
                   << "): dropping the kernel's cached attributes";
      Advance(cb_.lost);
    }
    if (!b.changes.empty()) {
      Advance([&] {
        for (const NsChange& c : b.changes) cb_.changed(c);
      });
    }
    generation = b.generation;
    after = b.last;
    if (!live()) {
      SetLive(true);
      LOG(INFO) << "following metad's change feed again";
    }
  }
  SetLive(false);
}

}  // namespace replfs::client
