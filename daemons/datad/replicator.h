// Replicator: the operations of DataService that change a chunk, each under
// the chunk's write lock (ChunkLockTable), and the two that talk to other
// datads: a primary's forwarding of a write to its secondaries, and
// PushChunk (repair copy to another datad). Arguments are validated by the
// caller (DataServiceHandler); the store re-checks ranges and ids.
//
// Ordering (thrift/PROTOCOL.md, "Data path"): the primary holds a chunk's
// lock from its local write until every secondary has answered, so the
// secondaries receive that chunk's writes one at a time in the primary's
// order. Secondaries take their own lock too (briefly: no RPC), which orders
// forwarded writes against Truncate, SetVersion and PushChunk there.
//
// Thread-safety: every method may be called concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "DataService.h"
#include "common/status.h"
#include "daemons/datad/block_store.h"
#include "daemons/datad/chunk_locks.h"
#include "common/worker_pool.h"
#include "thrift/client_pool.h"

namespace replfs::datad {

using PeerPools = net::PoolSet<rpc::DataServiceClient>;

// A secondary that did not apply a forwarded write.
struct ForwardFailure {
  std::string addr;
  Status status;
};

class Replicator {
 public:
  // Bytes of file data in one Write a PushChunk sends (max_rpc_bytes).
  static constexpr int64_t kPushRunBytes = 8ll << 20;

  // All three outlive the replicator. `peers` carries the RPC timeouts used
  // for forwards and pushes.
  Replicator(BlockStore* store, PeerPools* peers, WorkerPool* workers);
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // Writes of at most this many bytes are forwarded by the calling thread
  // alone: it sends every request, then reads the answers. The request fits
  // in a new TCP connection's send buffer (16 KiB by default), so sending it
  // does not block even towards a hung secondary, and later secondaries
  // still get theirs at once. Larger writes go out on worker threads, one
  // per secondary.
  static constexpr size_t kSmallForwardBytes = 8 << 10;

  // Applies the write locally (`crc` = CRC32C of `data`, already verified);
  // if that fails, returns the error and forwards nothing. Then forwards it
  // with an empty forward list to every address of `forward` in parallel,
  // within one peer RPC timeout, each tried once (a retry would hold the
  // chunk's lock past the client's own timeout; a failed secondary is
  // reported and dropped by metad instead). *failed receives one entry per
  // secondary that failed, in `forward` order; it is cleared first. Returns
  // OK whenever the local write succeeded.
  //
  // With `sync` the forwards ask for it too, and the local store is synced
  // while they run; a failed local sync fails the call. *synced: this store
  // and every secondary that applied the write answered synced.
  Status Write(int64_t chunk, int64_t version, int64_t offset, const std::string& data,
               uint32_t crc, const std::vector<std::string>& forward, bool sync,
               std::vector<ForwardFailure>* failed, bool* synced);
  Status Truncate(int64_t chunk, int64_t version, int64_t length);
  // BlockStore::Create / DeleteChunk under the chunk's lock.
  Status Create(int64_t chunk, int64_t version);
  Status DeleteChunk(int64_t chunk);
  // BlockStore::SetVersion under the chunk's lock (durable before OK).
  Status SetVersion(int64_t chunk, int64_t old_version, int64_t new_version);
  // BlockStore::InjectFault under the chunk's lock.
  Status InjectFault(int64_t chunk, int64_t block, FaultMode mode);
  // Copies this replica (held at `version`, else STALE; absent: NOT_FOUND)
  // to the datad at `target` as `new_version`: target.DeleteChunk, then
  // target.CreateChunk, then every present block, verified here first, in
  // Writes of contiguous runs of at most kPushRunBytes (holes stay holes),
  // then target.Sync, then this replica's own
  // version becomes `new_version`. A bad block here: CORRUPTION, this
  // replica unchanged (the target's partial copy is deleted, best effort).
  // Target calls follow the RPC retry policy (all are idempotent). Errors
  // name the chunk and the target. Holds the chunk's lock throughout.
  Status PushChunk(int64_t chunk, int64_t version, const std::string& target,
                   int64_t new_version);

  ChunkLockTable* locks() { return &locks_; }

 private:
  using Pool = net::ClientPool<rpc::DataServiceClient>;

  // What one forwarded write came to.
  struct Forwarded {
    Status status;
    bool synced = false;  // the secondary answered `synced`
  };
  // A write as the primary forwards it.
  struct ForwardedWrite {
    int64_t chunk;
    int64_t version;
    int64_t offset;
    const std::string& data;
    int32_t crc;
    bool sync;
  };

  Forwarded Forward(const std::string& addr, const ForwardedWrite& w);
  // Forward() of a write of at most kSmallForwardBytes to all of `forward`
  // at once from this thread; (*results)[i] is the outcome for forward[i].
  // `meanwhile` runs after every request is sent, before the answers are
  // read.
  void ForwardSmall(const std::vector<std::string>& forward, const ForwardedWrite& w,
                    const std::function<void()>& meanwhile, std::vector<Forwarded>* results);
  // PushChunk's copy of blocks [0, end_block) to `target`.
  Status CopyBlocks(Pool* target, int64_t chunk, int64_t version, int64_t new_version,
                    int64_t end_block);
  Status PushRun(Pool* target, int64_t chunk, int64_t new_version, int64_t first_block,
                 const std::string& data);

  // Constant after construction.
  BlockStore* const store_;
  PeerPools* const peers_;
  WorkerPool* const workers_;

  ChunkLockTable locks_;  // internally synchronised
};

}  // namespace replfs::datad
