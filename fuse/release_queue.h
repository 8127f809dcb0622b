// ReleaseQueue: the metad half of close(2), off the requests' threads and
// batched. The kernel sends RELEASE after close(2) has returned, and metad
// needs it only to know when an unlinked inode may go, so nothing waits
// for it: a thread of its own sends what was queued as one ReleaseAll,
// lingering up to `linger` after the first close for more (a create or a
// small-file write costs one call less, and a burst of closes one call).
// Like every Release it is sent once, never retried: a failed one is
// logged, and metad keeps the unlinked inode until it restarts (a leak,
// never a loss); one failed call can leak a whole batch. A metad that
// does not know ReleaseAll, or refuses it (an older one's access policy,
// with TLS), gets one Release per inode. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <thread>
#include <vector>

#include "common/thread_annotations.h"
#include "fuse/meta_client.h"

namespace replfs::client {

class ReleaseQueue {
 public:
  static constexpr std::chrono::microseconds kLinger{2000};
  static constexpr size_t kMaxBatch = 1024;  // metad takes up to 4,096

  // `meta` outlives this.
  ReleaseQueue(MetaClient* meta, int64_t session, std::chrono::microseconds linger = kLinger);
  ~ReleaseQueue();  // Stop()s
  ReleaseQueue(const ReleaseQueue&) = delete;
  ReleaseQueue& operator=(const ReleaseQueue&) = delete;

  void Queue(uint64_t ino) LOCKS_EXCLUDED(mu_);
  // Returns when everything queued before the call was sent (at once,
  // without lingering), successfully or not.
  void Drain() LOCKS_EXCLUDED(mu_);
  // Sends everything queued (without lingering), then ends the thread.
  // Idempotent; a Queue after it sends at once, on the caller's thread.
  void Stop() LOCKS_EXCLUDED(mu_);

 private:
  void Run() NO_THREAD_SAFETY_ANALYSIS;  // waits on cv_ through mu_.native()
  void Send(const std::vector<uint64_t>& inos);

  MetaClient* const meta_;
  const int64_t session_;
  const std::chrono::microseconds linger_;
  std::atomic<bool> one_by_one_{false};  // metad has no ReleaseAll
  Mutex mu_;  // protects everything below
  std::condition_variable_any cv_;    // for the thread: something to send
  std::condition_variable_any sent_cv_;  // for Drain: sent_ moved
  std::vector<uint64_t> queue_ GUARDED_BY(mu_);
  uint64_t queued_ GUARDED_BY(mu_) = 0;  // releases queued so far
  uint64_t sent_ GUARDED_BY(mu_) = 0;    // of which sent
  int draining_ GUARDED_BY(mu_) = 0;     // Drain calls waiting
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started when everything above exists
};

}  // namespace replfs::client
