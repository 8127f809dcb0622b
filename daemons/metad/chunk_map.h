// ChunkMap: the chunk records of the store (`c` + ino + index) plus an
// in-memory index of every chunk (id -> ino, index, version, replicas) loaded
// at start, and the per-datad queues of replicas to delete (handed out in
// heartbeat replies; in memory only: after a restart, inventory
// reconciliation at registration finds the leftovers again).
//
// Thread-safe. Lock order: the store's lock, then mu_ (OnCommit callbacks
// update the index); mu_ is never held while calling the store.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"
#include "daemons/metad/meta_store.h"
#include "daemons/metad/placement.h"
#include "daemons/metad/types.h"

namespace replfs::metad {

class ChunkMap {
 public:
  // `store` outlives this object.
  ChunkMap(MetaStore* store, int min_write_replicas, int64_t min_free_bytes);

  // Loads the index from the store. Call once before serving.
  Status Load();

  // The existing chunks of `ino` among indices [first, first + count), in
  // index order (holes absent). An absent inode is NotFound.
  Status GetChunks(Ino ino, int64_t first, int64_t count, std::vector<ChunkInfo>* out) const;

  // Step 1 of allocating chunk (ino, index): if it exists, *exists and *out
  // is its record. Else *out is the plan of a new chunk: a fresh id (ids are
  // never reused), version 1, the inode's goal, replicas placed among `up`
  // (see PlaceReplicas); nothing is stored. `ino` must be a regular file
  // (IsDir / Invalid otherwise).
  Status PlanAlloc(Ino ino, int64_t index, const std::vector<PlacementCandidate>& up, ChunkInfo* out,
                   bool* exists);
  // Step 2, once the planned chunk exists on `c.replicas`: stores its
  // record, unless a record of (ino, index) appeared meanwhile (a
  // concurrent allocation won): then *out is that one and *won false.
  Status CommitNew(const ChunkInfo& c, ChunkInfo* out, bool* won);

  // Inside a namespace transaction: deletes the records of every chunk of
  // `ino` with index >= `from_index`; on commit they leave the index and
  // their replicas are queued for deletion.
  Status DropInTxn(Txn& txn, Ino ino, int64_t from_index);

  // The indexed chunk `id` (NotFound if metad does not know it).
  Status Get(ChunkId id, ChunkInfo* out) const;
  // A copy of every indexed chunk (repair scans, reconciliation).
  std::vector<ChunkInfo> Snapshot() const;
  // Chunks allocated for `ino`.
  int64_t CountOf(Ino ino) const;
  // Attr.allocated_bytes: the bytes of [0, size) that fall in allocated
  // chunks (a sparse file with one chunk at 5 GiB costs at most that chunk's
  // share of the file). O(chunks of the file).
  int64_t AllocatedBytes(Ino ino, int64_t size, int64_t chunk_size) const;

  // Replaces the record of chunk `next.id` at (next.ino, next.index) by
  // `next` (version, replicas) in one transaction, only if the stored record
  // is still that chunk at `expected_version`: else Stale (changed
  // meanwhile) or NotFound (dropped by unlink/truncate). On commit the index
  // follows, pending deletes of `next.id` on its members are cancelled and
  // `drop` (replicas leaving the set) are queued for deletion (of copies at
  // versions <= expected_version) if `delete_dropped`. Callers serialise
  // changes of one chunk (ReplicaManager).
  Status Commit(const ChunkInfo& next, uint64_t expected_version, const std::vector<std::string>& drop,
                bool delete_dropped);

  // Any version: a delete of every copy, whatever its version.
  static constexpr uint64_t kAnyVersion = INT64_MAX;
  // Queues replica `id` on `addr` for deletion (heartbeat replies): the
  // datad deletes its copy only if it holds a version <= max_version, so a
  // newer copy placed there meanwhile survives. `stale`: the replica is an
  // out-of-date copy (counted in Status until handed out).
  void QueueDelete(const std::string& addr, ChunkId id, uint64_t max_version, bool stale = false);
  // Queued deletions of stale replicas: (addr, chunk).
  std::set<std::pair<std::string, ChunkId>> StaleQueued() const;
  // Forgets every queued deletion of `addr` (RemoveServer).
  void ForgetServer(const std::string& addr);
  // Inside a transaction: sets the goal of every chunk record of `ino`.
  Status SetGoalInTxn(Txn& txn, Ino ino, int32_t goal);
  // Test hook: indexes `c` in memory only (no store record).
  void IndexForTest(const ChunkInfo& c);

  // Removes and returns up to `max` queued deletions for `addr`: each chunk
  // with the highest version to delete.
  std::vector<ReplicaHeld> TakeDeletes(const std::string& addr, size_t max);
  size_t PendingDeletes(const std::string& addr) const;

  // Health counts and replicas per server; O(chunks), no store access.
  // corrupt_replicas and stale_replicas are left 0 (ReplicaManager).
  // `good`: UP servers that are not draining (their replicas count toward
  // the goal); live = members on `up` servers.
  ChunkCounts Count(const std::set<std::string>& up, const std::set<std::string>& good,
                    std::map<std::string, int64_t>* per_server) const;
  int64_t Total() const;
  // Sets `chunks` of each candidate: replicas indexed on it (placement
  // tie-break; counts new allocations at once, unlike heartbeats).
  void FillChunkCounts(std::vector<PlacementCandidate>* cands) const;

 private:
  void IndexChunk(const ChunkInfo& c) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnindexChunk(ChunkId id) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void QueueDeleteLocked(const std::string& addr, ChunkId id, uint64_t max_version)
      EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A fresh chunk id. Ids are handed out from blocks of kIdBlock reserved
  // by one store commit each, so allocating a chunk costs no commit for its
  // id; a restart skips the rest of a block (ids are never reused).
  Status NextId(ChunkId* out);
  static constexpr uint64_t kIdBlock = 1024;

  // Constant after construction.
  MetaStore* const store_;
  const int min_write_replicas_;
  const int64_t min_free_bytes_;

  mutable Mutex mu_;  // protects everything below
  std::unordered_map<ChunkId, ChunkInfo> index_ GUARDED_BY(mu_);
  std::unordered_map<Ino, std::set<int64_t>> per_ino_ GUARDED_BY(mu_);  // chunk indices per inode
  // addr -> chunk -> delete copies at versions <= this.
  std::map<std::string, std::map<ChunkId, uint64_t>> deletes_ GUARDED_BY(mu_);
  std::set<std::pair<std::string, ChunkId>> stale_deletes_ GUARDED_BY(mu_);  // subset of deletes_
  std::unordered_map<std::string, int64_t> replicas_on_ GUARDED_BY(mu_);  // indexed replicas per server

  Mutex id_mu_;  // protects the two below (taken without mu_; may commit)
  uint64_t next_id_ GUARDED_BY(id_mu_) = 0;      // 0: not loaded yet
  uint64_t reserved_end_ GUARDED_BY(id_mu_) = 0;  // ids < this are reserved in the store
};

}  // namespace replfs::metad
