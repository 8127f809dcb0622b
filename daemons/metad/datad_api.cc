#include "daemons/metad/datad_api.h"

#include <algorithm>

#include "DataService.h"
#include "thrift/client_pool.h"

namespace replfs::metad {

struct RpcDatadApi::Pools {
  explicit Pools(net::RpcOptions opts) : normal(opts), quick(QuickOptions(opts)), push(PushOptions(opts)) {}
  // Creating, deleting or re-versioning a chunk touches one record, and a
  // client's metad call waits for it: a datad that is UP but unreachable
  // must cost that call a fraction of the client's own timeout, not all of
  // it. One try: each caller has a better fallback (another datad, the
  // next reconcile).
  static net::RpcOptions QuickOptions(net::RpcOptions o) {
    o.attempts = 1;
    o.rpc_timeout_ms = std::max<int64_t>(250, o.rpc_timeout_ms / 4);
    o.connect_timeout_ms = std::min(o.connect_timeout_ms, o.rpc_timeout_ms);
    o.budget_ms = o.rpc_timeout_ms + o.connect_timeout_ms;
    return o;
  }
  // A push copies a whole chunk datad -> datad before answering.
  static net::RpcOptions PushOptions(net::RpcOptions o) {
    o.rpc_timeout_ms = std::max<int64_t>(o.rpc_timeout_ms, 120000);
    o.budget_ms = std::max<int64_t>(o.budget_ms, o.rpc_timeout_ms);
    o.attempts = 1;
    return o;
  }
  net::PoolSet<rpc::DataServiceClient> normal;
  net::PoolSet<rpc::DataServiceClient> quick;
  net::PoolSet<rpc::DataServiceClient> push;
};

RpcDatadApi::RpcDatadApi(net::RpcOptions opts) : pools_(std::make_unique<Pools>(opts)) {}
RpcDatadApi::~RpcDatadApi() = default;

namespace {

Status CallOn(net::PoolSet<rpc::DataServiceClient>& set, const std::string& addr, const std::string& what,
              const std::function<void(rpc::DataServiceClient&)>& fn,
              net::Idempotency idem = net::Idempotency::kIdempotent) {
  std::shared_ptr<net::ClientPool<rpc::DataServiceClient>> pool;
  REPLFS_RETURN_IF_ERROR(set.Get(addr, &pool));
  return pool->Call(what, idem, fn);
}

ReplicaState FromWire(rpc::ReplicaState::type s) {
  switch (s) {
    case rpc::ReplicaState::OK: return ReplicaState::kOk;
    case rpc::ReplicaState::CORRUPT: return ReplicaState::kCorrupt;
    case rpc::ReplicaState::MISSING: return ReplicaState::kMissing;
    case rpc::ReplicaState::STALE: return ReplicaState::kStale;
    default: return ReplicaState::kUnreachable;
  }
}

}  // namespace

ReplicaReport RpcDatadApi::Check(const std::string& addr, ChunkId id, uint64_t version) {
  ReplicaReport r;
  r.addr = addr;
  rpc::ChunkCheck check;
  Status s = CallOn(pools_->normal, addr, "CheckChunk " + std::to_string(id), [&](rpc::DataServiceClient& c) {
    c.CheckChunk(check, static_cast<int64_t>(id), static_cast<int64_t>(version));
  });
  if (!s.ok()) {
    r.state = ReplicaState::kUnreachable;
    r.detail = s.ToString();
    return r;
  }
  r.state = FromWire(check.state);
  r.detail = check.detail;
  if (r.state == ReplicaState::kUnreachable)
    r.detail = "datad answered an unknown replica state " + std::to_string(check.state);
  if (r.state == ReplicaState::kCorrupt && r.detail.empty())
    r.detail = std::to_string(check.bad_blocks) + " of " + std::to_string(check.blocks) + " blocks bad";
  if (r.state == ReplicaState::kStale && r.detail.empty())
    r.detail = "holds version " + std::to_string(check.version) + ", expected " + std::to_string(version);
  return r;
}

Status RpcDatadApi::CreateChunk(const std::string& addr, ChunkId id, uint64_t version) {
  return CallOn(pools_->quick, addr, "CreateChunk " + std::to_string(id), [&](rpc::DataServiceClient& c) {
    c.CreateChunk(static_cast<int64_t>(id), static_cast<int64_t>(version));
  });
}

Status RpcDatadApi::DeleteChunk(const std::string& addr, ChunkId id) {
  return CallOn(pools_->quick, addr, "DeleteChunk " + std::to_string(id),
                [&](rpc::DataServiceClient& c) { c.DeleteChunk(static_cast<int64_t>(id)); });
}

Status RpcDatadApi::SetVersion(const std::string& addr, ChunkId id, uint64_t old_version, uint64_t new_version) {
  return CallOn(pools_->quick, addr, "SetVersion " + std::to_string(id), [&](rpc::DataServiceClient& c) {
    c.SetVersion(static_cast<int64_t>(id), static_cast<int64_t>(old_version), static_cast<int64_t>(new_version));
  });
}

Status RpcDatadApi::PushChunk(const std::string& source, ChunkId id, uint64_t version, const std::string& target,
                              uint64_t new_version) {
  return CallOn(pools_->push, source, "PushChunk " + std::to_string(id) + " to " + target,
                [&](rpc::DataServiceClient& c) {
                  c.PushChunk(static_cast<int64_t>(id), static_cast<int64_t>(version), target,
                              static_cast<int64_t>(new_version));
                });
}

Status RpcDatadApi::InjectFault(const std::string& addr, ChunkId id, int32_t block, FaultMode mode) {
  return CallOn(pools_->quick, addr, "InjectFault " + std::to_string(id), [&](rpc::DataServiceClient& c) {
    c.InjectFault(static_cast<int64_t>(id), block, static_cast<rpc::FaultMode::type>(mode));
  }, net::Idempotency::kNotIdempotent);  // a repeated FLIP would undo itself
}

Status RpcDatadApi::StartScrub(const std::string& addr) {
  return CallOn(pools_->quick, addr, "StartScrub", [&](rpc::DataServiceClient& c) { c.StartScrub(); });
}

}  // namespace replfs::metad
