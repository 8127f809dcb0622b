// BlockStore: the blocks of every chunk replica this datad holds, in one
// Kyoto Cabinet HashDB `<dir>/blocks.kch`. No generated Thrift types here.
//
// On-disk format (binding, see thrift/PROTOCOL.md):
//   "M"                                 -> "RPLFSD01" + block_size (u32 LE)
//   "h" + chunk id (u64 BE)             -> version (u64 LE) + 0x01 + bitmap
//   "b" + chunk id (u64 BE) + idx (u32 BE) -> crc32c(data) (u32 LE) + data
// A block record holds 0..block_size bytes; bytes past its end up to
// block_size read as zeros. Unwritten blocks (holes) have no record.
// The chunk header's bitmap marks the blocks ever written (and not
// truncated away); a block marked but without a record was lost and is
// corrupt, never a hole (details in store_format.h). The written set is
// loaded as bitmap ∪ blocks present, so an 8-byte header of an older store
// (no bitmap) means "the blocks present", and a crash between a block's
// record and its header update loses nothing.
//
// Corruption reporting: every corrupt block found (Read, Check, Verify, or a
// partial Write/Truncate reading an old block) counts in corrupt_found and
// puts its chunk (with the version held) in a set of chunks to report to
// metad (CorruptChunks); the corruption listener is called when a chunk
// enters that set.
//
// Thread-safety: every method may be called concurrently. Operations on one
// chunk are serialised by a striped reader/writer lock (reads share it), so
// two read-modify-writes of one block never interleave; different chunks
// proceed in parallel.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"
#include "daemons/datad/store_format.h"

namespace kyotocabinet {
class HashDB;
}

namespace replfs::datad {

// One verified block as returned by Read().
struct Block {
  int32_t index = 0;  // within the chunk
  std::string data;   // <= block_size bytes; zeros follow up to block_size
  uint32_t crc = 0;   // CRC32C of data
};

// Part of one verified block, as a ranged Read returns it.
struct BlockPart {
  int32_t index = 0;          // within the chunk
  int32_t offset = 0;         // where `data` starts in the block
  int32_t stored_length = 0;  // bytes the block holds; zeros follow
  std::string data;           // the stored bytes of the range asked for
  uint32_t crc = 0;           // CRC32C of the whole stored block
  uint32_t prefix_crc = 0;    // of the stored bytes before `data`
  uint32_t suffix_crc = 0;    // of the stored bytes after it
};

enum class ReplicaState { kOk, kCorrupt, kMissing, kStale };

struct CheckResult {
  ReplicaState state = ReplicaState::kMissing;
  int64_t version = 0;  // version held, 0 when missing
  int32_t blocks = 0;   // blocks present
  int32_t bad_blocks = 0;
  std::string detail;   // human-readable: which blocks are bad
};

// What Verify() saw of a range of block slots.
struct VerifyResult {
  int32_t blocks = 0;      // blocks present or marked written
  int32_t bad_blocks = 0;  // checksum mismatch, malformed, or written but absent
  int64_t bytes = 0;       // data bytes read
  std::string detail;      // "bad blocks: 3 7" when bad_blocks > 0
};

struct ChunkVersion {
  int64_t chunk_id = 0;
  int64_t version = 0;
  bool operator==(const ChunkVersion&) const = default;
  auto operator<=>(const ChunkVersion&) const = default;
};

// Fault injection (DataService.InjectFault).
enum class FaultMode {
  kFlip,    // flip one bit of the block's data, checksum untouched
  kZero,    // zero the block's data (same length), checksum untouched
  kDelete,  // remove the block record; the bitmap keeps it marked written
};
const char* FaultModeName(FaultMode m);

// What the store holds of one chunk (see BlockStore::Stat).
struct ChunkStat {
  int64_t version = 0;
  int64_t end_block = 0;  // no block index >= end_block exists
};

struct StoreUsage {
  int64_t bytes_total = 0;    // file system holding the store (statvfs)
  int64_t bytes_free = 0;     // available to us (f_bavail)
  int64_t bytes_used = 0;     // block data bytes stored
  int64_t chunks = 0;
  int64_t corrupt_found = 0;  // blocks found corrupt since open
};

class BlockStore {
 public:
  static constexpr char kFileName[] = "blocks.kch";
  static constexpr char kMagic[] = "RPLFSD01";
  // Offsets and lengths inside a chunk stay below this (block indices fit u32
  // for every block size).
  static constexpr int64_t kMaxChunkBytes = 1ll << 30;

  // Opens (creating if absent) `<dir>/blocks.kch` for `block_size`-byte
  // blocks. Refuses, with a message naming the file, a store that cannot be
  // opened, is locked by another process, has a bad header or another
  // block_size; it is then left as it was. On failure *out is untouched.
  static Status Open(const std::string& dir, int64_t block_size, std::unique_ptr<BlockStore>* out);
  ~BlockStore();  // Close()s; errors are logged
  BlockStore(const BlockStore&) = delete;
  BlockStore& operator=(const BlockStore&) = delete;

  // Creates an empty chunk at `version` (no blocks, empty bitmap). Already
  // held at `version`: OK; held at another version: STALE.
  Status Create(int64_t chunk, int64_t version);
  // Writes `data` at byte `offset` of the chunk held at `version`. Partial
  // blocks are read, verified, merged and re-checksummed. Marks the blocks
  // written in the chunk's bitmap. NOT_FOUND if the chunk is absent (only
  // Create makes one: a replica that lost a chunk must not come back holding
  // a part of it), STALE if it is held at another version, CORRUPTION if a partially
  // overwritten block fails its checksum or is marked written but missing
  // (that block is then left unchanged; blocks before it are written),
  // NO_SPACE if the disk is full.
  Status Write(int64_t chunk, int64_t version, int64_t offset, std::string_view data);
  // Appends the existing blocks among [first, first+count) to *out, each
  // verified. NOT_FOUND if the chunk is absent, STALE on another version,
  // CORRUPTION (naming chunk and block) on a checksum mismatch or a block
  // marked written but missing; then *out holds no data from this call.
  Status Read(int64_t chunk, int64_t version, int64_t first, int64_t count,
              std::vector<Block>* out);
  // Bytes [offset, offset + length) of block `index`, the block verified as
  // a whole all the same (the CRC32C of its three parts combined), so that
  // a small read does not carry the whole block. *found = false for a hole.
  // Errors as Read().
  Status ReadPart(int64_t chunk, int64_t version, int32_t index, int32_t offset, int32_t length,
                  BlockPart* out, bool* found);
  // Drops every byte at or past `length` (blocks past it leave the bitmap,
  // the block holding `length` keeps its mark). An absent chunk is OK
  // (nothing to drop); STALE on another version.
  Status Truncate(int64_t chunk, int64_t version, int64_t length);
  // Changes the chunk's version from `old_version` to `new_version`, then
  // syncs the whole store (group commit, outside the chunk's stripe lock) so
  // that the change survives kill -9 and power loss before OK is returned.
  // INVALID unless new_version > old_version > 0. Held at old_version: set;
  // already at new_version: OK (idempotent, also synced); absent: NOT_FOUND;
  // any other version: STALE. On failure the version is unchanged, except
  // that a failed sync leaves the new version in memory and in the file (not
  // known to be durable) and returns the sync error.
  Status SetVersion(int64_t chunk, int64_t old_version, int64_t new_version);
  // The version and block extent of a chunk. NOT_FOUND if absent; *out is
  // then untouched.
  Status Stat(int64_t chunk, ChunkStat* out) const;
  // Removes the chunk and its blocks. Absent is OK.
  Status DeleteChunk(int64_t chunk);
  // Removes the chunk only if the version held is <= max_version (a delete
  // metad queued for an old copy; a newer copy stays). *deleted (may be
  // null) says whether it was removed. Absent is OK.
  Status DeleteChunkUpTo(int64_t chunk, int64_t max_version, bool* deleted);
  // Verifies every block of the chunk; *out says OK/CORRUPT/MISSING/STALE
  // (CORRUPT: bad_blocks > 0, counting written blocks that are absent).
  Status Check(int64_t chunk, int64_t version, CheckResult* out);
  // The scrubber's unit of work: verifies block slots [first, first+count)
  // of the chunk held at `version` like Check, under the chunk's stripe lock
  // (shared) for this range only. NOT_FOUND if absent, STALE on another
  // version, INVALID for a bad range; *out is reset first.
  Status Verify(int64_t chunk, int64_t version, int64_t first, int64_t count, VerifyResult* out);
  // Damages block `block` of the chunk (whatever version it holds) as `mode`
  // says, for tests of detection and repair. INVALID for a block index
  // outside a chunk, or zeroing data that is already all zeros (it would not
  // be damaged) or flipping a bit of an empty block. NOT_FOUND if the chunk
  // is absent, or the block has no record (FLIP, ZERO) or is not marked
  // written (DELETE; deleting a block already deleted is OK). Logged at
  // WARNING.
  Status InjectFault(int64_t chunk, int64_t block, FaultMode mode);
  // Every chunk held with its version, sorted by chunk id.
  std::vector<ChunkVersion> Inventory() const;
  // A bounded step (`steps` records) of Kyoto Cabinet's incremental
  // defragmentation: records move into the holes deleted chunks left and the
  // file is truncated, so the disk space of deleted blocks returns to the
  // file system (and to the free space datad reports; metad places chunks by
  // it). Blocks the store while it runs (a step reads a record, and rewrites
  // it if it moves).
  // Nothing else defragments: Kyoto Cabinet's automatic defragmentation,
  // which moved two records inside every eighth remove or relocation, is off.
  Status Compact(int64_t steps);
  // Steps of Compact still needed for one pass over the whole file since
  // the last hole appeared (a record removed or moved because it grew) or
  // since Open (of a store with chunks); 0 when that pass is done. Updated
  // by Compact.
  int64_t CompactionBacklog() const;
  // Makes every write that returned before this call durable. Concurrent
  // callers share one synchronize: a caller returns once a sync that started
  // after its call has completed.
  Status Sync();
  // Synchronizes of the store completed so far (tests, statistics).
  int64_t SyncsCompleted();
  Status Usage(StoreUsage* out) const;

  // Chunks with a corrupt block found since they were last reported
  // (ForgetCorrupt), sorted, at most kMaxCorruptPending.
  std::vector<ChunkVersion> CorruptChunks() const;
  // Removes entries that have been reported to metad. Entries added since
  // the CorruptChunks() call that returned `reported` stay.
  void ForgetCorrupt(const std::vector<ChunkVersion>& reported);
  // `fn` (may be empty) is called, with no store lock held, whenever a chunk
  // enters the corrupt set; it must be cheap and must not call back into the
  // store. Thread-safe; the last one set wins.
  void SetCorruptionListener(std::function<void()> fn);
  static constexpr size_t kMaxCorruptPending = 65536;
  // Syncs and closes the database; later calls fail. Idempotent.
  Status Close();

  int64_t block_size() const { return block_size_; }
  const std::string& path() const { return path_; }

 private:
  struct ChunkInfo {
    int64_t version = 0;
    format::Bitmap written;  // blocks written; a superset of those present
    uint32_t end_block() const { return written.End(); }  // no block at or past it
  };
  static constexpr int kStripes = 64;

  BlockStore(std::string path, int64_t block_size, std::unique_ptr<kyotocabinet::HashDB> db);
  Status CheckHeader();
  Status LoadIndex();
  Status KcError(std::string_view what) const;
  static std::string ChunkName(int64_t chunk);
  // INVALID unless both are > 0.
  static Status CheckIds(int64_t chunk, int64_t version);
  static Status StaleError(int64_t chunk, int64_t asked, int64_t held);
  SharedMutex* StripeFor(int64_t chunk) { return &stripes_[static_cast<uint64_t>(chunk) % kStripes]; }
  bool LookUp(int64_t chunk, ChunkInfo* out) const;
  // NoSpace unless `bytes` more data leaves the reserve free.
  Status CheckSpace(int64_t bytes) const;
  // Rewrites the chunk's header from `info` and stores `info` in the index.
  Status PutHeader(int64_t chunk, const ChunkInfo& info);
  // Reads block `idx` into *data and verifies it. *found=false for a hole.
  Status GetBlock(int64_t chunk, uint32_t idx, std::string* data, uint32_t* crc, bool* found);
  // The record of block `idx` as stored (checksum, then data), its size
  // checked; *stored_crc from it. *found=false for a hole.
  Status GetRecord(int64_t chunk, uint32_t idx, std::string* value, uint32_t* stored_crc,
                   bool* found);
  Status PutBlock(int64_t chunk, uint32_t idx, std::string_view data, int64_t old_size);
  // `marked`: the bitmap says the block was written (so it must exist).
  Status WriteOneBlock(int64_t chunk, uint32_t idx, int64_t start, std::string_view piece,
                       bool marked);
  Status RemoveBlocks(int64_t chunk, uint32_t from, uint32_t to);
  // Records a corrupt block (counter, corrupt set, listener); returns the
  // CORRUPTION status naming it.
  Status Corrupt(int64_t chunk, uint32_t idx, std::string_view why);
  // Verify()'s loop over [first, end) for a chunk held as `info`; the
  // caller holds the stripe lock.
  Status VerifyRange(int64_t chunk, const ChunkInfo& info, uint32_t first, uint32_t end,
                     VerifyResult* out);
  Status DamageBlock(int64_t chunk, uint32_t idx, FaultMode mode);

  // Constant after construction.
  const std::string path_;
  const std::string dir_;
  const int64_t block_size_;
  const std::unique_ptr<kyotocabinet::HashDB> db_;  // internally thread-safe

  SharedMutex stripes_[kStripes];  // per-chunk serialisation, see class comment

  mutable Mutex index_mu_;  // protects index_ (held briefly, never across I/O)
  std::unordered_map<int64_t, ChunkInfo> index_ GUARDED_BY(index_mu_);

  std::atomic<int64_t> bytes_used_{0};
  std::atomic<int64_t> corrupt_found_{0};
  // A write Kyoto Cabinet cannot finish (ENOSPC) can leave a torn record
  // at the end of the file, so datad never lets it get that far: writes are
  // refused (NO_SPACE) while less than the reserve would stay free. Set by
  // Open: 1% of the file system, at least 2 blocks + 1 MiB, at most 256 MiB.
  int64_t reserve_bytes_ = 0;
  std::atomic<bool> compact_failed_{false};  // logged once; no more compaction
  mutable Mutex compact_mu_;                  // protects the two below
  int64_t holes_ GUARDED_BY(compact_mu_) = 0;      // seen since the last full pass
  int64_t pass_left_ GUARDED_BY(compact_mu_) = 0;  // steps of the current pass
  std::atomic<bool> closed_{false};

  mutable Mutex corrupt_mu_;  // protects the two below; never held while calling out
  std::set<ChunkVersion> corrupt_pending_ GUARDED_BY(corrupt_mu_);
  std::function<void()> corrupt_listener_ GUARDED_BY(corrupt_mu_);

  // Group commit state.
  Mutex sync_mu_;
  std::condition_variable sync_cv_;
  bool syncing_ GUARDED_BY(sync_mu_) = false;
  int64_t sync_started_ GUARDED_BY(sync_mu_) = 0;    // syncs begun
  int64_t sync_completed_ GUARDED_BY(sync_mu_) = 0;  // highest sync finished
  Status sync_status_ GUARDED_BY(sync_mu_);          // result of that sync
};

const char* ReplicaStateName(ReplicaState s);

}  // namespace replfs::datad
