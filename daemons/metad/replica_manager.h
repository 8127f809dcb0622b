// ReplicaManager: every change of a chunk's replica set after allocation
// (thrift/PROTOCOL.md "Failures, versions and repair"): version changes,
// ReportBadReplicas, inventory reconciliation, and the per-chunk guard that
// lets one change run per chunk at a time. RepairScheduler builds on it.
//
// Thread-safe. No lock of this class (or the store's) is held across an
// RPC: the per-chunk guard is a logical ownership token (an entry in busy_),
// taken and released under guard_mu_ for an instant only.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"
#include "common/worker_pool.h"
#include "daemons/metad/chunk_map.h"
#include "daemons/metad/clock.h"
#include "daemons/metad/datad_api.h"
#include "daemons/metad/server_registry.h"
#include "daemons/metad/types.h"

namespace replfs::metad {

class ReplicaManager {
 public:
  // Threads helping CallEach: a chunk's replicas for a few concurrent
  // allocations or version changes; more callers run their calls
  // themselves (WorkerPool).
  static constexpr int kCallThreads = 8;

  struct Options {
    // A member missing a chunk changed (allocated, re-versioned) less than
    // this long ago is not taken for a wiped store: a block report may have
    // been built before the chunk's first write. Chunks loaded at start
    // count as changed at start.
    int64_t missing_grace_ms = 10000;
    // How long GetChunks/AllocChunk and a report wait for a running change
    // of a chunk (a repair copy may hold it for a while); below the clients'
    // RPC timeout, so a waiting handler answers before its caller gives up.
    int64_t wait_change_ms = 5000;
  };

  // Exclusive right to change one chunk; released on destruction.
  class Guard {
   public:
    Guard() = default;
    Guard(Guard&& o) noexcept : owner_(o.owner_), id_(o.id_) { o.owner_ = nullptr; }
    Guard& operator=(Guard&& o) noexcept;
    ~Guard() { Release(); }
    bool held() const { return owner_ != nullptr; }

   private:
    friend class ReplicaManager;
    Guard(ReplicaManager* owner, ChunkId id) : owner_(owner), id_(id) {}
    void Release();
    ReplicaManager* owner_ = nullptr;
    ChunkId id_ = 0;
  };

  // All pointees outlive this object.
  ReplicaManager(ChunkMap* chunks, ServerRegistry* servers, DatadApi* datad, const Clock* clock, Options opts);

  // Called (no lock held) after anything that may leave chunks below or
  // above their goal: wakes the repair scheduler. Set once before serving.
  void SetWake(std::function<void()> fn) { wake_ = std::move(fn); }

  // Blocks until no other change of `id` runs, then owns it.
  Guard Acquire(ChunkId id);
  // The same, waiting at most wait_change_ms: Unavailable (retryable) if
  // the change running meanwhile did not end.
  Status AcquireBounded(ChunkId id, Guard* out);
  // Owns `id` if no change runs (*out held), else leaves *out empty.
  void TryAcquire(ChunkId id, Guard* out);
  // Waits until no change of any of `ids` runs, at most wait_change_ms.
  // True if any was busy (the caller re-reads the records).
  bool WaitIdle(const std::vector<ChunkId>& ids);
  // Marks `id` as just changed (missing_grace_ms starts again).
  void Touch(ChunkId id);

  // A chunk planned for allocation (`c`, version 1, not recorded yet):
  // CreateChunk on every planned replica in parallel. Returns those that
  // created it, in placement order (failures are logged).
  std::vector<std::string> CreateOnDatads(const ChunkInfo& c);

  // The version change V -> V+1, for a caller holding the guard of cur.id:
  // SetVersion on keep[0] (the new primary) first, then on the rest of
  // `keep` in parallel; members on DOWN servers and failed calls (NotFound:
  // the replica was lost) are dropped. Commits {V+1, keep that succeeded}
  // and queues `to_delete` for deletion; Unavailable (nothing committed) if
  // no member took V+1. *out: the committed record.
  Status ChangeVersionLocked(const ChunkInfo& cur, const std::vector<std::string>& keep,
                             const std::vector<std::string>& to_delete, ChunkInfo* out);

  // SetVersion(cur.version -> cur.version + 1) on every member of `addrs`
  // in parallel; true where it worked (members on DOWN servers: false,
  // without a call).
  std::vector<bool> SetVersionAll(const std::vector<std::string>& addrs, const ChunkInfo& cur);
  // The same, with each member's answer (Unavailable without a call for a
  // member on a DOWN server).
  std::vector<Status> SetVersionEach(const std::vector<std::string>& addrs, const ChunkInfo& cur);
  // fn(addr) for every UP member of `addrs` in parallel, one answer each
  // (Unavailable without a call for a member on a DOWN server). The calls
  // run on the caller and callers_ (no thread is created per call); fn must
  // not call CallEach itself.
  std::vector<Status> CallEach(const std::vector<std::string>& addrs,
                               const std::function<Status(const std::string&)>& fn);

  // MetaService.ReportBadReplicas (contract in replfs.thrift): *out is the
  // current location (unchanged if `version` is not current). Addresses in
  // `bad` that are not members (any more: reconciliation drops members
  // without a version change) are ignored; none left: OK with the current
  // location. All members bad: nothing dropped, Unavailable. A chunk that is
  // not (ino, index): NotFound.
  Status ReportBad(Ino ino, int64_t index, ChunkId id, uint64_t version, const std::vector<std::string>& bad,
                   Status::Code why, const std::string& reporter, ChunkInfo* out);

  // Inventory reconciliation of `addr` (RegisterServer, BlockReport; see
  // PROTOCOL.md): unknown/unreferenced replicas queued for deletion, stale
  // members dropped and deleted, a higher version adopted, members missing
  // the chunk dropped (never the last member, and only in favour of another
  // member on an UP server not known to miss it too). Chunks being changed are
  // skipped (the next report sees them). Wakes repair.
  void Reconcile(const std::string& addr, const std::vector<ReplicaHeld>& held);

  // A datad found its replica of `id` at `version` corrupt (heartbeat
  // corrupt_chunks, fsck): dropped as CORRUPTION through the version change
  // if it is still a member at that version, else nothing. Wakes repair.
  Status DropCorrupt(const std::string& addr, ChunkId id, uint64_t version, const std::string& reporter);

  // Replicas dropped since the chunk was last at its goal (PROTOCOL.md
  // "What fsck shows"), in memory only. `state`: kCorrupt, kStale (also a
  // server DOWN during a write) or kMissing.
  struct Dropped {
    std::string addr;
    ReplicaState state = ReplicaState::kStale;
    std::string why;
  };
  void NoteDropped(ChunkId id, const std::string& addr, ReplicaState state, const std::string& why);
  // The chunk is back at its goal: forget what was dropped.
  void ClearDropped(ChunkId id);
  std::vector<Dropped> DroppedOf(ChunkId id) const;
  // Remembered corrupt and stale replicas; `stale_queued` (addr, chunk) are
  // queued deletions of stale replicas, counted when not remembered too.
  void CountDropped(const std::set<std::pair<std::string, ChunkId>>& stale_queued, int64_t* corrupt,
                    int64_t* stale) const;

  ChunkMap& chunks() { return *chunks_; }
  ServerRegistry& servers() { return *servers_; }
  DatadApi& datad() { return *datad_; }
  void Wake() {
    if (wake_) wake_();
  }

 private:
  void ReleaseGuard(ChunkId id);
  // Reconciles one chunk of `addr`: `held_version` is meaningful if `holds`.
  void ReconcileOne(const std::string& addr, ChunkId id, bool holds, uint64_t held_version);
  // True during metad's startup grace or while `id` was touched recently.
  bool InGrace(ChunkId id);
  // True while `id` was touched recently (not the startup grace).
  bool RecentlyTouched(ChunkId id);
  // Members that reported chunk `id` missing (reconciliation), in memory:
  // NoteMissing adds `addr` and returns the noted members; ForgetMissing
  // removes `addr` (it reported the chunk held).
  std::vector<std::string> NoteMissing(ChunkId id, const std::string& addr);
  void ForgetMissing(ChunkId id, const std::string& addr);
  // Constant after construction.
  ChunkMap* const chunks_;
  ServerRegistry* const servers_;
  DatadApi* const datad_;
  const Clock* const clock_;
  const Options opts_;
  const int64_t start_ms_;
  std::function<void()> wake_;  // set before serving
  // Helps CallEach run its calls in parallel; thread-safe itself.
  WorkerPool callers_{kCallThreads};

  // std::mutex (not Mutex): used with a condition variable. Protects busy_.
  std::mutex guard_mu_;
  std::condition_variable guard_cv_;
  std::set<ChunkId> busy_;

  mutable Mutex mu_;  // protects everything below
  std::unordered_map<ChunkId, int64_t> touched_ms_ GUARDED_BY(mu_);
  std::unordered_map<ChunkId, std::vector<Dropped>> dropped_ GUARDED_BY(mu_);
  std::unordered_map<ChunkId, std::vector<std::string>> missing_ GUARDED_BY(mu_);
};

// Members of `set` not in `remove`, in order.
std::vector<std::string> Without(const std::vector<std::string>& set, const std::vector<std::string>& remove);
bool Contains(const std::vector<std::string>& set, const std::string& addr);

}  // namespace replfs::metad
