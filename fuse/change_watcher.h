// Follows metad's change feed (WatchChanges) so that the kernel may cache
// attributes and names for long: every change another mount makes is
// handed to `changed` (which invalidates it in the kernel) within a round
// trip of its commit. `lost` runs when changes were missed: metad restarted
// (the end of the old feed may never have been sent) or this mount fell
// further behind than metad's ring holds. Both run with the epoch's
// advance, inside the exclusive lock (below), so that no reply is checked
// against what they change half-way through: they must not block or take
// a ReplySection.
//
// A request handler asks Coherent(start) whether the reply it is about to
// send may carry the long timeouts: only while the feed is followed, and
// only if no change arrived since the request began (Epoch() then), since
// the answer may be older than that change. The check and the reply are
// made under a ReplySection, and the watcher advances the epoch under the
// same lock, held exclusively: a change either finds the reply already sent
// (and invalidates it after) or makes it short. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <thread>

#include "common/thread_annotations.h"
#include "fuse/meta_client.h"
#include "fuse/types.h"

namespace replfs::client {

class ChangeWatcher {
 public:
  struct Callbacks {
    std::function<void(const NsChange&)> changed;
    std::function<void()> lost;
    // Optional: the feed is followed for the first time. What was learned
    // from metad before may have missed changes the feed will never bring
    // (it starts from metad's current position).
    std::function<void()> started;
  };
  // `meta` outlives this. Each poll waits up to `wait` at metad.
  ChangeWatcher(MetaClient* meta, int64_t session, std::chrono::milliseconds wait, Callbacks cb);
  ~ChangeWatcher();  // Stop()s
  ChangeWatcher(const ChangeWatcher&) = delete;
  ChangeWatcher& operator=(const ChangeWatcher&) = delete;

  // Ends the thread, cancelling a poll in flight. Idempotent.
  void Stop();

  uint64_t Epoch() const { return epoch_.load(std::memory_order_acquire); }
  // Call inside a ReplySection.
  bool Coherent(uint64_t start) const {
    return live_.load(std::memory_order_acquire) && Epoch() == start;
  }
  bool live() const { return live_.load(std::memory_order_acquire); }
  std::shared_lock<std::shared_mutex> ReplySection() { return std::shared_lock(section_); }

 private:
  void Run();
  // Bumps the epoch, with no reply half-way between its check and its
  // send; runs `also` (if any) under the same lock.
  void Advance(const std::function<void()>& also = nullptr);
  void SetLive(bool live);
  bool Stopping();
  void Pause(std::chrono::milliseconds d);

  MetaClient* const meta_;
  const int64_t session_;
  const std::chrono::milliseconds wait_;
  const Callbacks cb_;
  std::atomic<uint64_t> epoch_{0};
  std::atomic<bool> live_{false};
  std::shared_mutex section_;
  const std::unique_ptr<net::CallCanceller> cancel_;  // ends the poll in flight
  Mutex mu_;  // protects stop_
  std::condition_variable_any cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started when everything above exists
};

}  // namespace replfs::client
