// Scrubber: re-reads every block this datad stores and verifies its CRC32C
// (and that every block the chunk's bitmap marks written exists), in key
// order, one background thread (thrift/PROTOCOL.md, "Scrubber").
//
// - Background passes: at most `rate_bytes_per_s` (token bucket, empty at
//   the start of a pass, so a pass over N bytes takes at least N / rate); a
//   new one starts when `interval_ms` has passed since the previous one
//   started (at once if that pass took longer). The first starts at Start().
// - On-demand passes (StartPass, from DataService.StartScrub): not
//   rate-limited. If a pass is running, no new one starts; the running pass
//   loses its rate limit instead (so `fsctl scrub --wait` does not wait for a
//   throttled pass).
// - Both yield to client I/O: before each batch, while the IoActivity shows
//   requests in flight, the scrubber pauses (at most max_yield_ms per batch,
//   so that a server busy all the time is still scrubbed).
// - Corrupt blocks found are recorded by the store (corrupt set, heartbeat);
//   the pass counts them.
// - The time each chunk was last verified is kept in memory, for the age of
//   the least recently verified data (chunks never verified count from the
//   scrubber's construction).
//
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common/status.h"
#include "common/thread_annotations.h"
#include "daemons/datad/block_store.h"
#include "daemons/datad/io_activity.h"

namespace replfs::datad {

struct ScrubStatus {
  bool running = false;
  double progress = 0;               // 0..1 of the current (or last) pass
  int64_t last_full_pass_ms = 0;     // wall clock (epoch ms) at the end of the last pass; 0 = never
  int64_t oldest_unverified_ms = 0;  // age of the least recently verified chunk's data
  int64_t bytes_verified = 0;        // in the current (or last) pass
  int64_t corrupt_found_pass = 0;    // corrupt blocks found in the current (or last) pass
  int64_t passes = 0;                // passes completed since construction
  int64_t last_pass_duration_ms = 0; // of the last completed pass, on the scrubber's clock
};

// Time as the scrubber sees it; tests inject a fake one.
class ScrubClock {
 public:
  virtual ~ScrubClock() = default;
  virtual int64_t MonotonicMs() = 0;
  virtual int64_t WallMs() = 0;  // epoch ms
  // Waits on `cv` (`lock` held on entry and on return) until `done()` is
  // true or `ms` ms have passed on this clock.
  virtual void WaitFor(std::condition_variable* cv, std::unique_lock<std::mutex>* lock,
                       int64_t ms, const std::function<bool()>& done) = 0;
};

// The steady/system clocks; stateless, lives for the whole process.
ScrubClock* RealScrubClock();

struct ScrubOptions {
  int64_t rate_bytes_per_s = 50ll << 20;  // background passes; <= 0: unlimited
  int64_t interval_ms = 7ll * 24 * 3600 * 1000;  // between background pass starts
  int64_t max_batch_bytes = 1ll << 20;  // verified per store call (one stripe lock hold)
  int64_t yield_ms = 5;                 // pause step while client I/O is in flight
  int64_t max_yield_ms = 200;           // longest pause per batch
  ScrubClock* clock = nullptr;          // nullptr: RealScrubClock(); else outlives the scrubber
};

class Scrubber {
 public:
  // `store` and `activity` (may be nullptr: never yield) outlive the scrubber.
  Scrubber(BlockStore* store, const IoActivity* activity, ScrubOptions opts);
  ~Scrubber();  // Stop()s
  Scrubber(const Scrubber&) = delete;
  Scrubber& operator=(const Scrubber&) = delete;

  // Starts the thread (the first background pass begins at once). Call once.
  void Start();
  // Wakes and joins the thread; a pass in progress ends after its current
  // batch (at most max_batch_bytes of reading). Idempotent.
  void Stop();
  // Requests an unthrottled pass now (see the class comment).
  void StartPass();
  ScrubStatus Info() const;

 private:
  void Loop();
  void RunPass(bool on_demand);
  // Verifies one chunk in batches; false when stopping.
  bool ScrubChunk(const ChunkVersion& cv, size_t index, size_t total);
  // Pays for `bytes` read (background passes); false when stopping.
  bool Throttle(int64_t bytes);
  // Pauses while client I/O is in flight (bounded); false when stopping.
  bool YieldToClients();
  // Waits `ms` on the clock unless stopped (or, with `until_unlimited`,
  // StartPass() lifts the rate limit); false when stopping.
  bool Pause(int64_t ms, bool until_unlimited = false);
  int64_t BatchBlocks(bool limited) const;

  // Constant after construction.
  BlockStore* const store_;
  const IoActivity* const activity_;
  const ScrubOptions opts_;
  ScrubClock* const clock_;
  const int64_t start_ms_;  // monotonic; "verified" time of chunks never verified

  // Token bucket of background passes, touched only by the scrubber thread.
  double tokens_ = 0;
  int64_t refilled_ms_ = 0;

  mutable Mutex mu_;  // protects everything below; never held across store calls
  std::condition_variable cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  bool demand_ GUARDED_BY(mu_) = false;     // StartPass() while idle
  bool unlimited_ GUARDED_BY(mu_) = false;  // the running pass is on demand
  ScrubStatus status_ GUARDED_BY(mu_);
  std::unordered_map<int64_t, int64_t> verified_ms_ GUARDED_BY(mu_);  // chunk -> monotonic ms
  std::thread thread_;
};

}  // namespace replfs::datad
