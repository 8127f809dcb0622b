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

  // Returns the chunk (ino, index), creating it if absent: new id, version
  // 1, the inode's goal replicas placed among `up` (see PlaceReplicas).
  // `ino` must be a regular file (IsDir / Invalid otherwise).
  Status Alloc(Ino ino, int64_t index, const std::vector<PlacementCandidate>& up, ChunkInfo* out);

  // Inside a namespace transaction: deletes the records of every chunk of
  // `ino` with index >= `from_index`; on commit they leave the index and
  // their replicas are queued for deletion.
  Status DropInTxn(Txn& txn, Ino ino, int64_t from_index);

  // Queues for deletion on `addr` every replica of `held` that metad does
  // not reference on that server (unknown id, or placed elsewhere).
  // Returns how many were queued.
  size_t Reconcile(const std::string& addr, const std::vector<ReplicaHeld>& held);

  // Removes and returns up to `max` queued deletions for `addr`.
  std::vector<ChunkId> TakeDeletes(const std::string& addr, size_t max);
  size_t PendingDeletes(const std::string& addr) const;

  // Health counts given the set of UP servers, and replicas per server.
  ChunkCounts Count(const std::set<std::string>& up, std::map<std::string, int64_t>* per_server) const;
  int64_t Total() const;

 private:
  void IndexChunk(const ChunkInfo& c) EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  MetaStore* const store_;
  const int min_write_replicas_;
  const int64_t min_free_bytes_;

  mutable Mutex mu_;  // protects everything below
  std::unordered_map<ChunkId, ChunkInfo> index_ GUARDED_BY(mu_);
  std::map<std::string, std::set<ChunkId>> deletes_ GUARDED_BY(mu_);
};

}  // namespace replfs::metad
