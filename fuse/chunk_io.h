// ChunkIo: the data path of the client. Moves file bytes between the caller
// and the datads holding a file's chunks, asking metad (through MetaClient)
// where chunks live and caching the answers per (inode, chunk index).
//
//  - Write: split at chunk boundaries and max_rpc_bytes; each piece goes to
//    every replica in parallel with CRC32C(payload); it succeeds only when
//    all replicas acknowledge. Servers written are remembered per inode so
//    Sync() can make exactly those durable.
//  - Read: clamped to the file size, widened to whole blocks; each piece is
//    read from the first replica, verified end to end, and on any failure
//    (unreachable, timeout, STALE, CORRUPTION, bad CRC) read from the next.
//    Holes and short blocks read as zeros.
//  - TruncateTail: trims the partial last chunk on every replica; the caller
//    then tells metad the new size (PROTOCOL.md "SetAttr with size").
//
// Thread-safe: the location cache and the written-server sets are guarded by
// mu_, never held across an RPC.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"
#include "fuse/layout.h"
#include "fuse/meta_client.h"
#include "fuse/thread_pool.h"
#include "fuse/types.h"
#include "thrift/rpc_options.h"

namespace replfs::client {

class ChunkIo {
 public:
  // `meta` outlives this object. `io_threads` bounds the threads used to fan
  // writes out to replicas. Starts threads: construct after any fork.
  ChunkIo(MetaClient* meta, const Geometry& geometry, const net::RpcOptions& data_opts,
          int io_threads);
  ~ChunkIo();
  ChunkIo(const ChunkIo&) = delete;
  ChunkIo& operator=(const ChunkIo&) = delete;

  const Geometry& geometry() const { return geometry_; }

  // Writes `data` at `offset` of inode `ino`. On failure some bytes may have
  // reached some replicas (writes are idempotent: the caller may retry).
  Status Write(uint64_t ino, int64_t offset, std::string_view data);

  // Reads up to `size` bytes at `offset`, never past `file_size`; *out holds
  // exactly the bytes read (empty at or past EOF). *out is unspecified on
  // failure.
  Status Read(uint64_t ino, int64_t offset, int64_t size, int64_t file_size, std::string* out);

  // Drops every byte at or past `new_size` from the chunk holding it, on
  // every replica, and forgets cached locations from that chunk on.
  Status TruncateTail(uint64_t ino, int64_t new_size);

  // Makes every write to `ino` acknowledged so far durable on the datads
  // that received it (DataService.Sync on each).
  Status Sync(uint64_t ino);

  // Drops cached locations of `ino` (from chunk `from_index` on).
  void Invalidate(uint64_t ino, int64_t from_index = 0);

  // Number of cached locations (for tests).
  size_t CachedLocations(uint64_t ino);

 private:
  struct Pools;
  using ReplicaFn = std::function<Status(const std::string& addr)>;

  Status WritePiece(uint64_t ino, const Piece& piece, std::string_view payload);
  Status LocateForWrite(uint64_t ino, int64_t index, ChunkLocation* out);
  // Fills `out` (index -> location) for chunks [first, first + count) that
  // exist; holes are absent. Uses the cache unless `refresh`.
  Status LocateForRead(uint64_t ino, int64_t first, int64_t count, bool refresh,
                       std::map<int64_t, ChunkLocation>* out);
  // Reads one piece (whole blocks of one chunk) into dst, replica by replica.
  Status ReadPiece(const ChunkLocation& loc, const Piece& piece, char* dst, bool* stale);
  // Runs fn on every replica in parallel (the first on the calling thread);
  // returns one Status per replica, in order.
  std::vector<Status> FanOut(const std::vector<std::string>& replicas, const ReplicaFn& fn);
  void NoteWritten(uint64_t ino, const std::string& addr);

  // Constant after construction.
  MetaClient* const meta_;
  const Geometry geometry_;
  std::unique_ptr<Pools> pools_;  // thread-safe itself
  ThreadPool workers_;

  Mutex mu_;  // protects everything below
  std::unordered_map<uint64_t, std::map<int64_t, ChunkLocation>> locations_ GUARDED_BY(mu_);
  // ino -> datad address -> sequence number of the last write acknowledged.
  std::unordered_map<uint64_t, std::map<std::string, uint64_t>> written_ GUARDED_BY(mu_);
  uint64_t write_seq_ GUARDED_BY(mu_) = 0;
};

}  // namespace replfs::client
