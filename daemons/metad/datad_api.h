// DatadApi: the calls metad makes to datads (replica checks for fsck,
// version changes and repair copies). An interface so unit tests inject a
// fake datad layer; RpcDatadApi is the real one over DataService.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "daemons/metad/types.h"
#include "thrift/rpc_options.h"

namespace replfs::metad {

// Implementations must be thread-safe and bounded in time (every call has a
// timeout). Callers hold no lock while calling.
class DatadApi {
 public:
  virtual ~DatadApi() = default;
  // Never fails: state is kOk/kCorrupt/kMissing/kStale, or kUnreachable with
  // the error as detail.
  virtual ReplicaReport Check(const std::string& addr, ChunkId id, uint64_t version) = 0;
  // DataService.CreateChunk: an empty replica at `version` (tried once: a
  // datad that cannot create it is left out of the chunk). OK if it now
  // holds the chunk at `version`.
  virtual Status CreateChunk(const std::string& addr, ChunkId id, uint64_t version) = 0;
  // DataService.DeleteChunk, tried once (absent is OK).
  virtual Status DeleteChunk(const std::string& addr, ChunkId id) = 0;
  // DataService.SetVersion: OK if the replica is now at new_version; Stale
  // (other version), NotFound (absent) or a transport error otherwise.
  virtual Status SetVersion(const std::string& addr, ChunkId id, uint64_t old_version,
                            uint64_t new_version) = 0;
  // DataService.PushChunk on `source`: copies its replica at `version` to
  // `target` as new_version and moves its own copy to new_version.
  // Corruption: a block of the source is bad (nothing changed there).
  virtual Status PushChunk(const std::string& source, ChunkId id, uint64_t version,
                           const std::string& target, uint64_t new_version) = 0;
  // DataService.InjectFault: damages block `block` of the replica on `addr`.
  virtual Status InjectFault(const std::string& addr, ChunkId id, int32_t block, FaultMode mode) = 0;
  // DataService.StartScrub: an immediate full scrub pass on `addr`.
  virtual Status StartScrub(const std::string& addr) = 0;
};

// The real datad layer: pooled DataService clients, one pool per address.
class RpcDatadApi : public DatadApi {
 public:
  explicit RpcDatadApi(net::RpcOptions opts);
  ~RpcDatadApi() override;
  ReplicaReport Check(const std::string& addr, ChunkId id, uint64_t version) override;
  Status CreateChunk(const std::string& addr, ChunkId id, uint64_t version) override;
  Status DeleteChunk(const std::string& addr, ChunkId id) override;
  Status SetVersion(const std::string& addr, ChunkId id, uint64_t old_version,
                    uint64_t new_version) override;
  // Uses a receive timeout long enough to copy a whole chunk.
  Status PushChunk(const std::string& source, ChunkId id, uint64_t version, const std::string& target,
                   uint64_t new_version) override;
  Status InjectFault(const std::string& addr, ChunkId id, int32_t block, FaultMode mode) override;
  Status StartScrub(const std::string& addr) override;

 private:
  struct Pools;
  std::unique_ptr<Pools> pools_;
};

}  // namespace replfs::metad
