// ChunkLockTable: one exclusive "write lock" per chunk id, created on first
// use and dropped when nobody holds or waits for it, so writes to different
// chunks never contend (unlike BlockStore's striped locks, this lock is held
// across RPCs: a primary forwarding a write, a replica pushing a repair copy).
//
// What it orders: every operation of DataService that changes a chunk
// (Write, Truncate, DeleteChunk, SetVersion, PushChunk) runs under the
// chunk's lock, so a primary applies and forwards a chunk's writes one at a
// time, in one order, and a version change or repair copy never interleaves
// with a write. Reads do not take it (see data_service.h).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "common/thread_annotations.h"

namespace replfs::datad {

class ChunkLockTable {
 public:
  // Holds one chunk's lock from construction to destruction. Move-only.
  class Guard {
   public:
    Guard(Guard&& other) noexcept : table_(other.table_), chunk_(other.chunk_) {
      other.table_ = nullptr;
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    Guard& operator=(Guard&&) = delete;
    ~Guard();

   private:
    friend class ChunkLockTable;
    Guard(ChunkLockTable* table, int64_t chunk) : table_(table), chunk_(chunk) {}
    ChunkLockTable* table_;
    int64_t chunk_;
  };

  ChunkLockTable() = default;
  ChunkLockTable(const ChunkLockTable&) = delete;
  ChunkLockTable& operator=(const ChunkLockTable&) = delete;

  // Blocks until the calling thread holds `chunk`'s lock. Not reentrant: a
  // thread must not lock a chunk it already holds. Thread-safe.
  Guard Lock(int64_t chunk);

  // Chunks whose lock is currently held or awaited (for tests).
  size_t entries() const;

 private:
  struct Entry {
    std::mutex mu;  // the chunk's lock itself
    int users = 0;  // holders + waiters; guarded by the table's mu_
  };
  void Unlock(int64_t chunk);

  mutable Mutex mu_;  // protects entries_ and every Entry::users; never held while waiting
  std::unordered_map<int64_t, std::unique_ptr<Entry>> entries_ GUARDED_BY(mu_);
};

}  // namespace replfs::datad
