// DataService handler: the Thrift edge of datad. The only place converting
// IDL types to BlockStore calls and Status to RpcError (net::ThrowIfError).
// Every argument is validated here; malformed input is INVALID, never a
// crash.
#pragma once

#include <cstdint>
#include <string>

#include "DataService.h"
#include "common/thread_annotations.h"
#include "daemons/datad/block_store.h"

namespace replfs::datad {

// Limits on what one call may ask for.
inline constexpr int64_t kMaxWriteBytes = 16ll << 20;
inline constexpr int32_t kMaxReadBlocks = 512;
inline constexpr int64_t kMaxReadBytes = 16ll << 20;

// StoreUsage as the wire's ServerUsage of the datad advertised as `addr`.
rpc::ServerUsage ToRpcUsage(const StoreUsage& u, const std::string& addr, int64_t block_size);

class DataServiceHandler : public rpc::DataServiceIf {
 public:
  // `store` outlives the handler. Thread-safe (the server calls it from one
  // thread per connection).
  explicit DataServiceHandler(BlockStore* store);

  // The address reported by Usage(); known once the server is bound.
  void set_advertised_addr(const std::string& addr);

  void Ping() override {}
  void Write(int64_t chunk_id, int64_t version, int64_t offset, const std::string& data,
             int32_t crc) override;
  void Read(std::vector<rpc::BlockData>& out, int64_t chunk_id, int64_t version,
            int32_t first_block, int32_t count) override;
  void Truncate(int64_t chunk_id, int64_t version, int64_t length) override;
  void DeleteChunk(int64_t chunk_id) override;
  void Sync() override;
  void CheckChunk(rpc::ChunkCheck& out, int64_t chunk_id, int64_t version) override;
  void Usage(rpc::ServerUsage& out) override;

 private:
  BlockStore* const store_;
  Mutex mu_;
  std::string addr_ GUARDED_BY(mu_);
};

}  // namespace replfs::datad
