// RepairScheduler: brings every chunk back to its goal without a human step
// (thrift/PROTOCOL.md "metad: repair"). Each round scans the chunk index for
// chunks whose live replicas (members on UP servers) are below or above the
// goal, orders them by danger (fewest live first), and runs at most
// max_concurrent repairs at once, rate-limited on chunk bytes by a token
// bucket. Rounds run every scan_period_ms, whenever Wake() is called
// (server up/down, bad replica report, reconciliation), and back to back
// while a round repaired something and more is queued; nothing runs before
// metad has been up start_delay_ms (datads re-register after a restart).
//
// Thread-safe. Owned by Metad (one thread) or driven by tests through
// RunOnce() with a fake clock and fake datad layer.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"
#include "daemons/metad/clock.h"
#include "daemons/metad/namespace.h"
#include "daemons/metad/replica_manager.h"

namespace replfs::metad {

class RepairScheduler {
 public:
  struct Options {
    int max_concurrent = 2;         // repairs at once (>= 1)
    int64_t rate_bytes_s = 200 << 20;  // chunk bytes per second; 0 = unlimited
    int64_t start_delay_ms = 10000;  // dead_after_ms: wait for re-registrations
    // After a datad comes up, copies onto other servers wait this long:
    // more may be about to return (metad's own link came back, a switch
    // rebooted), and a copy made meanwhile is trimmed again right after.
    // Trims and heals do not wait.
    int64_t return_hold_ms = 1000;
    int64_t scan_period_ms = 1000;
    int64_t chunk_size = 64 << 20;   // for the byte estimate of a chunk
    int64_t block_size = 64 << 10;   // a target needs at least this free
    // A chunk whose repair failed waits backoff_min_ms before the next try,
    // doubling per consecutive failure up to backoff_max_ms (reset on
    // success); other queued chunks run meanwhile.
    int64_t backoff_min_ms = 1000;
    int64_t backoff_max_ms = 60000;
    // A failing chunk is logged at WARNING on its first failure and every
    // this many consecutive failures after.
    int warn_every = 10;
  };
  // `replicas`, `ns` and `clock` outlive this object.
  RepairScheduler(ReplicaManager* replicas, const Namespace* ns, const Clock* clock, Options opts);
  ~RepairScheduler();  // Stop()s
  RepairScheduler(const RepairScheduler&) = delete;
  RepairScheduler& operator=(const RepairScheduler&) = delete;

  // Starts the background thread. Stop() ends it: immediate between rounds;
  // a round in progress finishes its running repairs (each bounded by RPC
  // timeouts). Idempotent.
  void Start();
  void Stop();
  // Asks for a round now.
  void Wake();
  // A server came up, went down or registered: what failed before may work
  // now, so every chunk's backoff is forgotten; then Wake().
  void ServersChanged();
  // A server registered or came back up: starts the return hold.
  void ServerCameUp();
  // Heal (PROTOCOL.md): rounds run back to back with the throttle off (no
  // rate limit, 4 x max_concurrent) until the queue is empty or a round can
  // do nothing more; healing() is true meanwhile.
  void Heal();
  bool healing() const { return heal_.load(); }

  // One round, synchronously: scan, order by danger, run what the
  // concurrency and rate limits allow. Returns how many chunks were
  // repaired or trimmed in this round.
  int RunOnce();

  int64_t queued() const { return queued_.load(); }  // chunks off goal at the last scan
  int64_t done() const { return done_.load(); }      // chunks brought to goal since start
  // Chunk bytes copied per second over the last 10 s.
  int64_t BytesPerSecond() const;
  // Estimate of the bytes the queue still has to copy (at the last scan).
  int64_t bytes_queued() const { return bytes_queued_.load(); }

 private:
  struct Item {
    int live = 0;       // members on UP servers (draining ones included)
    int good = 0;       // members on UP servers that are not draining
    bool over = false;  // above goal or holding a draining replica (trim), else below (copy)
    ChunkInfo chunk;
  };
  std::vector<Item> Scan() const;
  // Copies chunk `id` to one more server (or drops a corrupt source).
  Status AddReplica(ChunkId id);
  // Drops the extra live members of chunk `id` (fullest servers first).
  Status Trim(ChunkId id);
  Status RunItem(const Item& it);
  // Backoff: true if chunk `id` may be tried at `now`; NoteResult records
  // the outcome of a try (and logs failures).
  bool Due(ChunkId id, int64_t now) const;
  void NoteResult(ChunkId id, const Status& s);
  // Members on UP, non-draining servers; whether any member is draining.
  int GoodCount(const std::vector<std::string>& members) const;
  bool HoldsDraining(const std::vector<std::string>& members) const;
  // Token bucket: true (and consumed) if `bytes` may start now.
  bool TakeTokens(int64_t bytes);
  int64_t EstimateBytes(const ChunkInfo& c) const;
  int64_t EstimateQueued(const std::vector<Item>& items) const;
  void NoteCopied(int64_t bytes);
  void Loop();

  // Constant after construction.
  ReplicaManager* const replicas_;
  const Namespace* const ns_;
  const Clock* const clock_;
  const Options opts_;
  const int64_t start_ms_;

  std::atomic<int64_t> queued_{0}, done_{0}, bytes_queued_{0};
  std::atomic<bool> heal_{false};

  mutable Mutex mu_;  // protects everything below
  double tokens_ GUARDED_BY(mu_) = 0;
  int64_t hold_until_ms_ GUARDED_BY(mu_) = 0;  // ServerCameUp
  int64_t refill_ms_ GUARDED_BY(mu_) = 0;
  std::set<ChunkId> no_target_logged_ GUARDED_BY(mu_);
  struct Backoff {
    int failures = 0;      // consecutive
    int64_t next_ms = 0;   // no try before (clock time)
  };
  std::unordered_map<ChunkId, Backoff> backoff_ GUARDED_BY(mu_);
  mutable std::deque<std::pair<int64_t, int64_t>> copied_ GUARDED_BY(mu_);  // (ms, bytes), last 10 s

  // std::mutex: used with the condition variable. Protects stop_, wake_.
  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool stop_ = false;
  bool wake_ = false;
  std::thread thread_;
};

}  // namespace replfs::metad
