// BlockStore: the blocks of every chunk replica this datad holds, in one
// Kyoto Cabinet HashDB `<dir>/blocks.kch`. No generated Thrift types here.
//
// On-disk format (binding, see thrift/PROTOCOL.md):
//   "M"                                 -> "RPLFSD01" + block_size (u32 LE)
//   "h" + chunk id (u64 BE)             -> version (u64 LE)
//   "b" + chunk id (u64 BE) + idx (u32 BE) -> crc32c(data) (u32 LE) + data
// A block record holds 0..block_size bytes; bytes past its end up to
// block_size read as zeros. Unwritten blocks (holes) have no record.
//
// Thread-safety: every method may be called concurrently. Operations on one
// chunk are serialised by a striped reader/writer lock (reads share it), so
// two read-modify-writes of one block never interleave; different chunks
// proceed in parallel.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"

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

enum class ReplicaState { kOk, kCorrupt, kMissing, kStale };

struct CheckResult {
  ReplicaState state = ReplicaState::kMissing;
  int64_t version = 0;  // version held, 0 when missing
  int32_t blocks = 0;   // blocks present
  int32_t bad_blocks = 0;
  std::string detail;   // human-readable: which blocks are bad
};

struct ChunkVersion {
  int64_t chunk_id = 0;
  int64_t version = 0;
  bool operator==(const ChunkVersion&) const = default;
};

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

  // Writes `data` at byte `offset` of the chunk, creating the chunk with
  // `version` if absent (also for empty `data`: a zero-length write creates
  // an empty chunk, which is how a repair copies a chunk without blocks). Partial blocks are read, verified, merged and
  // re-checksummed. STALE if the chunk exists with another version,
  // CORRUPTION if a partially overwritten block fails its checksum (that
  // block is then left unchanged), NO_SPACE if the disk is full.
  Status Write(int64_t chunk, int64_t version, int64_t offset, std::string_view data);
  // Appends the existing blocks among [first, first+count) to *out, each
  // verified. NOT_FOUND if the chunk is absent, STALE on another version,
  // CORRUPTION (naming chunk and block) on a checksum mismatch; then *out
  // holds no data from this call.
  Status Read(int64_t chunk, int64_t version, int64_t first, int64_t count,
              std::vector<Block>* out);
  // Drops every byte at or past `length`. An absent chunk is OK (nothing to
  // drop); STALE on another version.
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
  // Verifies every block of the chunk; *out says OK/CORRUPT/MISSING/STALE.
  Status Check(int64_t chunk, int64_t version, CheckResult* out);
  // Every chunk held with its version, sorted by chunk id.
  std::vector<ChunkVersion> Inventory() const;
  // Makes every write that returned before this call durable. Concurrent
  // callers share one synchronize: a caller returns once a sync that started
  // after its call has completed.
  Status Sync();
  Status Usage(StoreUsage* out) const;
  // Syncs and closes the database; later calls fail. Idempotent.
  Status Close();

  int64_t block_size() const { return block_size_; }
  const std::string& path() const { return path_; }

 private:
  struct ChunkInfo {
    int64_t version = 0;
    uint32_t end_block = 0;  // no block index >= end_block exists
  };
  static constexpr int kStripes = 64;

  BlockStore(std::string path, int64_t block_size, std::unique_ptr<kyotocabinet::HashDB> db);
  Status CheckHeader();
  Status LoadIndex();
  Status KcError(std::string_view what) const;
  SharedMutex* StripeFor(int64_t chunk) { return &stripes_[static_cast<uint64_t>(chunk) % kStripes]; }
  bool LookUp(int64_t chunk, ChunkInfo* out) const;
  void NoteBlocks(int64_t chunk, uint32_t end_block);
  // Reads block `idx` into *data and verifies it. *found=false for a hole.
  Status GetBlock(int64_t chunk, uint32_t idx, std::string* data, uint32_t* crc, bool* found);
  Status PutBlock(int64_t chunk, uint32_t idx, std::string_view data, int64_t old_size);
  Status WriteOneBlock(int64_t chunk, uint32_t idx, int64_t start, std::string_view piece);
  Status EnsureChunk(int64_t chunk, int64_t version);
  Status RemoveBlocks(int64_t chunk, uint32_t from, uint32_t to);
  Status Corrupt(int64_t chunk, uint32_t idx, std::string_view why);

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
  std::atomic<bool> closed_{false};

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
