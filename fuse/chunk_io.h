// ChunkIo: the data path of the client. Moves file bytes between the caller
// and the datads holding a file's chunks, asking metad (through MetaClient)
// where chunks live and caching the answers per (inode, chunk index).
// PROTOCOL.md "Client write path" / "Client read path" is the contract.
//
//  - Write (chunk_write.cc): split at chunk boundaries and max_rpc_bytes; each
//    piece goes to the chunk's primary (first replica) with CRC32C(payload)
//    and forward = the other replicas. Secondaries that failed are reported
//    to metad (ReportBadReplicas), which drops them at a new version; the
//    piece is done when 1 + secondaries that applied it >= min_write_replicas.
//    A dead primary is reported and the piece retried on the new primary;
//    STALE refreshes the location; too few replicas, a damaged payload or an
//    unreachable metad are retried; NO_SPACE fails at once. All retries of a
//    piece go through net::RetryCall bounded by rpc.budget_ms (backoff capped
//    at max_backoff_ms); then the piece fails with IOError (EIO) and a log
//    line naming the chunk and its servers.
//  - Read (chunk_read.cc): clamped to the file size, widened to whole blocks;
//    each piece is read replica by replica (not recently failed ones first)
//    with a short per-replica timeout, verified end to end; on any failure
//    (unreachable, timeout, STALE, CORRUPTION, bad CRC) the next replica is
//    tried in the same call. When all fail the location is refreshed once and
//    every replica tried again with the full rpc timeout. Corrupt replicas,
//    and replicas still STALE at metad's current version, are reported to
//    metad in the background (a failed report never fails the read).
//  - TruncateTail: trims the partial last chunk on every replica (an
//    unreachable one is reported and dropped); the caller then tells metad
//    the new size (PROTOCOL.md "SetAttr with size").
//  - Sync: DataService.Sync on every current replica written since the last
//    Sync. A replica that cannot be synced is reported and dropped from the
//    chunk (its copy is then stale) instead of failing fsync, as long as
//    metad accepts the report.
//
// Thread-safe: the location cache and the written-server sets are guarded by
// mu_, never held across an RPC.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"
#include "fuse/layout.h"
#include "fuse/meta_client.h"
#include "fuse/replica_ranking.h"
#include "fuse/rpc_counters.h"
#include "fuse/thread_pool.h"
#include "fuse/types.h"
#include "thrift/rpc_options.h"

namespace replfs::client {

struct DataPathOptions {
  // Timeouts of datad calls. rpc.budget_ms bounds the time one write piece
  // spends retrying (rpc.retry_budget_ms; kHardBudgetMs for a hard mount).
  net::RpcOptions rpc;
  // Acknowledgements a write needs (ClusterInfo.min_write_replicas).
  int min_write_replicas = 1;
  // Timeout of one replica attempt in a read's first pass (capped by
  // rpc.rpc_timeout_ms): a hung datad costs this much, not a full rpc timeout.
  int64_t read_timeout_ms = 2000;
  // How long a datad that failed stays at the back of the read order.
  int64_t failed_memory_ms = 5000;
};

class ChunkIo {
 public:
  // `meta` outlives this object. `io_threads` bounds the threads used to fan
  // calls out to replicas and to send background reports. Starts threads:
  // construct after any fork.
  ChunkIo(MetaClient* meta, const Geometry& geometry, const DataPathOptions& opts,
          int io_threads);
  ~ChunkIo();  // waits for queued background reports
  ChunkIo(const ChunkIo&) = delete;
  ChunkIo& operator=(const ChunkIo&) = delete;

  const Geometry& geometry() const { return geometry_; }

  // Writes `data` at `offset` of inode `ino`. On failure some bytes may have
  // reached some replicas (writes are idempotent: the caller may retry).
  // NoSpace when a datad is full, IOError when the retry budget ran out.
  // `sync`: the replicas also make their stores durable before they answer
  // (Write's `sync`), so that a Sync after it has nothing left to call for
  // them; replicas that did not say `synced` are synced by Sync as usual.
  Status Write(uint64_t ino, int64_t offset, std::string_view data, bool sync = false);

  // Reads up to `size` bytes at `offset`, never past `file_size`; *out holds
  // exactly the bytes read (empty at or past EOF). *out is unspecified on
  // failure.
  Status Read(uint64_t ino, int64_t offset, int64_t size, int64_t file_size, std::string* out);

  // Drops every byte at or past `new_size` from the chunk holding it, on
  // every replica, and forgets cached locations from that chunk on.
  Status TruncateTail(uint64_t ino, int64_t new_size);

  // Makes every write to `ino` acknowledged so far durable on the current
  // replicas that received it (DataService.Sync on each).
  Status Sync(uint64_t ino);

  // Drops cached locations of `ino` (from chunk `from_index` on).
  void Invalidate(uint64_t ino, int64_t from_index = 0);
  // Caches locations metad sent along with something else (an Open).
  void Prime(uint64_t ino, const std::vector<ChunkLocation>& locations);

  // Calls sent to datads (attempts, by method), for statistics; shared, so
  // a reporter may outlive this object.
  std::shared_ptr<const RpcCounters> counters() const { return counters_; }

  // For tests: cached locations of `ino`; servers awaiting Sync for it.
  size_t CachedLocations(uint64_t ino);
  std::vector<std::string> ServersToSync(uint64_t ino);

 private:
  struct Pools;
  struct WriteState;
  using ReplicaFn = std::function<Status(const std::string& addr)>;

  // --- chunk_write.cc
  Status WritePiece(uint64_t ino, const Piece& piece, std::string_view payload, bool sync);
  // One try of a piece: retryable Status = try again (RetryCall decides).
  Status WriteAttempt(uint64_t ino, WriteState* w);
  Status OnPrimaryFailure(uint64_t ino, const ChunkLocation& loc, const Status& s,
                          WriteState* w);
  // The primary applied the write; `failed` secondaries did not (why).
  // `synced_upto` (set): every replica that applied it is durable with all
  // writes acknowledged up to that sequence number.
  Status FinishWrite(uint64_t ino, const ChunkLocation& loc, const std::vector<std::string>& failed,
                     Status::Code why, std::optional<uint64_t> synced_upto);
  // Acknowledgements a write of `loc` needs.
  int Quorum(const ChunkLocation& loc) const;

  // --- chunk_read.cc
  // `range` (length > 0): only that part of the piece's one block is
  // needed (SmallReadRange); dst still spans the whole block.
  Status ReadFailover(uint64_t ino, const Piece& piece, BlockRange range, int64_t first,
                      int64_t count, std::map<int64_t, ChunkLocation>* locs, char* dst);
  // Reads one piece (whole blocks of one chunk) into dst, replica by replica.
  // `last_pass`: full timeouts, and replicas still STALE are reported.
  Status ReadPiece(uint64_t ino, const ChunkLocation& loc, const Piece& piece, BlockRange range,
                   bool last_pass, char* dst);
  Status ReadReplica(const std::string& addr, const ChunkLocation& loc, int32_t first_block,
                     int32_t count, BlockRange range, bool last_pass, char* dst);

  // --- chunk_io.cc
  // The location of chunk `index` for writing: cached, else (or when
  // `refresh`) asked from metad, allocating the chunk if absent.
  Status LocateForWrite(uint64_t ino, int64_t index, bool refresh, ChunkLocation* out);
  // Fills `out` (index -> location) for chunks [first, first + count) that
  // exist; holes are absent. Uses the cache unless `refresh`.
  Status LocateForRead(uint64_t ino, int64_t first, int64_t count, bool refresh,
                       std::map<int64_t, ChunkLocation>* out);
  void CacheLocation(uint64_t ino, const ChunkLocation& loc);
  void CacheLocked(uint64_t ino, const ChunkLocation& loc) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ReportBadReplicas; caches the answer and stops waiting for `bad` at Sync.
  Status ReportBad(uint64_t ino, const ChunkLocation& loc, const std::vector<std::string>& bad,
                   Status::Code why, ChunkLocation* now);
  // ReportBad on a worker thread; failures are logged only.
  void ReportLater(uint64_t ino, const ChunkLocation& loc, std::vector<std::string> bad,
                   Status::Code why);
  // Runs fn on every replica in parallel (the first on the calling thread);
  // returns one Status per replica, in order.
  std::vector<Status> FanOut(const std::vector<std::string>& replicas, const ReplicaFn& fn);
  // Reports replicas of `loc` that failed `res` with a retryable code (dead);
  // returns the first other error, or the report's failure.
  Status DropDead(uint64_t ino, const ChunkLocation& loc, const std::vector<Status>& res);
  Status SyncFailed(uint64_t ino, const std::string& addr, const Status& s);
  void NoteWritten(uint64_t ino, int64_t index, const std::string& addr);
  // `addr` is durable with every write to it acknowledged up to `upto`.
  void NoteSynced(uint64_t ino, const std::string& addr, uint64_t upto);
  void ForgetSyncedLocked(uint64_t ino, const std::string& addr, uint64_t upto)
      EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t LastWriteSeq();

  // Constant after construction.
  MetaClient* const meta_;
  const Geometry geometry_;
  const DataPathOptions opts_;
  std::unique_ptr<Pools> pools_;  // thread-safe itself
  const std::shared_ptr<RpcCounters> counters_ = std::make_shared<RpcCounters>();
  ReplicaRanking ranking_;       // thread-safe itself

  Mutex mu_;  // protects everything below
  std::unordered_map<uint64_t, std::map<int64_t, ChunkLocation>> locations_ GUARDED_BY(mu_);
  // ino -> chunk index -> datad address -> sequence number of the last write
  // it acknowledged; a server leaves when synced or dropped from the chunk.
  std::unordered_map<uint64_t, std::map<int64_t, std::map<std::string, uint64_t>>> written_
      GUARDED_BY(mu_);
  uint64_t write_seq_ GUARDED_BY(mu_) = 0;

  // Last member: destroyed first, so queued reports finish while the rest
  // of this object is still alive.
  ThreadPool workers_;
};

}  // namespace replfs::client
