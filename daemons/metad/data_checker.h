// ReplicaChecker over RPC: DataService.CheckChunk on the datad.
#pragma once

#include "DataService.h"
#include "daemons/metad/fsck.h"
#include "thrift/client_pool.h"

namespace replfs::metad {

class RpcReplicaChecker : public ReplicaChecker {
 public:
  explicit RpcReplicaChecker(net::RpcOptions opts) : pools_(opts) {}
  // Never fails: an RPC failure is kUnreachable with the error as detail.
  ReplicaReport Check(const std::string& addr, ChunkId id, uint64_t version) override;

 private:
  net::PoolSet<rpc::DataServiceClient> pools_;
};

}  // namespace replfs::metad
