#include "daemons/metad/data_checker.h"

namespace replfs::metad {

ReplicaReport RpcReplicaChecker::Check(const std::string& addr, ChunkId id, uint64_t version) {
  ReplicaReport r;
  r.addr = addr;
  std::shared_ptr<net::ClientPool<rpc::DataServiceClient>> pool;
  Status s = pools_.Get(addr, &pool);
  rpc::ChunkCheck check;
  if (s.ok()) {
    s = pool->Call("CheckChunk " + std::to_string(id), net::Idempotency::kIdempotent,
                   [&](rpc::DataServiceClient& c) {
                     c.CheckChunk(check, static_cast<int64_t>(id), static_cast<int64_t>(version));
                   });
  }
  if (!s.ok()) {
    r.state = ReplicaState::kUnreachable;
    r.detail = s.ToString();
    return r;
  }
  switch (check.state) {
    case rpc::ReplicaState::OK: r.state = ReplicaState::kOk; break;
    case rpc::ReplicaState::CORRUPT: r.state = ReplicaState::kCorrupt; break;
    case rpc::ReplicaState::MISSING: r.state = ReplicaState::kMissing; break;
    case rpc::ReplicaState::STALE: r.state = ReplicaState::kStale; break;
    default:
      r.state = ReplicaState::kUnreachable;
      r.detail = "datad answered an unknown replica state " + std::to_string(check.state);
      return r;
  }
  r.detail = check.detail;
  if (r.state == ReplicaState::kCorrupt && r.detail.empty())
    r.detail = std::to_string(check.bad_blocks) + " of " + std::to_string(check.blocks) + " blocks bad";
  if (r.state == ReplicaState::kStale && r.detail.empty())
    r.detail = "holds version " + std::to_string(check.version) + ", expected " + std::to_string(version);
  return r;
}

}  // namespace replfs::metad
