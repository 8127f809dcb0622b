// DataService handler: the Thrift edge of datad. The only place converting
// IDL types to BlockStore calls and Status to RpcError (net::ThrowIfError).
// Every argument is validated here; malformed input is INVALID, never a
// crash. Operations that change a chunk go through the Replicator (under the
// chunk's write lock); Read, CheckChunk, Sync and Usage go straight to the
// store.
//
// Reads do not take the chunk's write lock: a read must not wait behind a
// primary's forwards to slow secondaries. It still never sees a torn block:
// BlockStore serialises a chunk's readers against its writers (striped
// reader/writer lock) and each block is one Kyoto Cabinet record whose
// get/set is atomic, so a read racing a write of the same block returns the
// whole old or the whole new block.
#pragma once

#include <cstdint>
#include <string>

#include "DataService.h"
#include "common/thread_annotations.h"
#include "daemons/datad/block_store.h"
#include "daemons/datad/replicator.h"

namespace replfs::datad {

// Limits on what one call may ask for.
inline constexpr int64_t kMaxWriteBytes = 16ll << 20;
inline constexpr int32_t kMaxReadBlocks = 512;
inline constexpr int64_t kMaxReadBytes = 16ll << 20;
inline constexpr size_t kMaxForward = 16;  // secondaries in one Write's forward list

// StoreUsage as the wire's ServerUsage of the datad advertised as `addr`.
rpc::ServerUsage ToRpcUsage(const StoreUsage& u, const std::string& addr, int64_t block_size);

class DataServiceHandler : public rpc::DataServiceIf {
 public:
  // `store` and `replicator` (working on that store) outlive the handler.
  // Thread-safe (the server calls it from one thread per connection).
  DataServiceHandler(BlockStore* store, Replicator* replicator);

  // The address reported by Usage() and refused in `forward` and PushChunk
  // targets (a datad never forwards to itself); known once the server is
  // bound. Until set, no address counts as this datad's own.
  void set_advertised_addr(const std::string& addr);

  void Ping() override {}
  // `forward`: at most kMaxForward distinct host:port addresses, none this
  // datad's own, else INVALID (nothing stored).
  void Write(rpc::WriteReply& out, int64_t chunk_id, int64_t version, int64_t offset,
             const std::string& data, int32_t crc,
             const std::vector<std::string>& forward) override;
  void SetVersion(int64_t chunk_id, int64_t old_version, int64_t new_version) override;
  // `target` must be a host:port other than this datad, new_version >
  // version, else INVALID.
  void PushChunk(int64_t chunk_id, int64_t version, const std::string& target,
                 int64_t new_version) override;
  void Read(std::vector<rpc::BlockData>& out, int64_t chunk_id, int64_t version,
            int32_t first_block, int32_t count) override;
  void Truncate(int64_t chunk_id, int64_t version, int64_t length) override;
  void DeleteChunk(int64_t chunk_id) override;
  void Sync() override;
  void CheckChunk(rpc::ChunkCheck& out, int64_t chunk_id, int64_t version) override;
  void Usage(rpc::ServerUsage& out) override;

 private:
  // Checks a peer address given by a caller: parses, is not this datad.
  Status CheckPeer(const std::string& addr, const std::string& what);

  // Constant after construction.
  BlockStore* const store_;
  Replicator* const replicator_;

  Mutex mu_;
  std::string addr_ GUARDED_BY(mu_);
};

}  // namespace replfs::datad
