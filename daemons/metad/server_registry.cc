#include "daemons/metad/server_registry.h"

#include "common/log.h"
#include "daemons/metad/records.h"

namespace replfs::metad {

ServerRegistry::ServerRegistry(MetaStore* store, ChunkMap* chunks, const Clock* clock, Options opts)
    : store_(store), chunks_(chunks), clock_(clock), opts_(opts) {}

namespace {
constexpr uint64_t kDrainingFlag = 1;  // server record flags (FORMAT.md)
}  // namespace

Status ServerRegistry::Load() {
  std::vector<std::pair<std::string, uint64_t>> addrs;
  Status bad;
  REPLFS_RETURN_IF_ERROR(store_->Scan(std::string(1, kServerTag), "", [&](std::string_view k, std::string_view v) {
    uint64_t flags = 0;
    bad = DecodeU64(v, &flags);
    if (!bad.ok()) return false;
    addrs.emplace_back(std::string(k.substr(1)), flags);
    return true;
  }));
  if (!bad.ok()) return bad.WithContext("loading the server records");
  MutexLock l(&mu_);
  for (const auto& [a, flags] : addrs) {
    servers_[a].usage.addr = a;
    servers_[a].draining = (flags & kDrainingFlag) != 0;
  }
  LOG(INFO) << addrs.size() << " known datad(s), all down until they register";
  return Status::OK();
}

Status ServerRegistry::Register(const ServerUsage& usage) {
  if (usage.addr.empty()) return Status::Invalid("datad registered without an address");
  if (usage.block_size != opts_.block_size)
    return Status::Invalid("datad " + usage.addr + " uses block_size " + std::to_string(usage.block_size) +
                           " but the cluster uses " + std::to_string(opts_.block_size) +
                           "; fix cluster.block_size in its config");
  bool known = false;
  {
    MutexLock l(&mu_);
    known = servers_.count(usage.addr) > 0;
  }
  if (!known) {
    REPLFS_RETURN_IF_ERROR(store_->Mutate([&](Txn& t) { return t.Put(ServerKey(usage.addr), EncodeU64(0)); }));
  }
  {
    MutexLock l(&mu_);
    Server& s = servers_[usage.addr];
    s.usage = usage;
    s.up = true;
    s.registered = true;
    s.last_heartbeat_ms = clock_->NowMs();
  }
  LOG(INFO) << "datad " << usage.addr << " registered (up)";
  if (on_change_) on_change_();
  if (on_up_) on_up_();
  return Status::OK();
}

bool ServerRegistry::IsRegistered(const std::string& addr) const {
  MutexLock l(&mu_);
  auto it = servers_.find(addr);
  return it != servers_.end() && it->second.registered;
}

Status ServerRegistry::Heartbeat(const ServerUsage& usage, std::vector<ReplicaHeld>* deletes) {
  deletes->clear();
  bool came_back = false;
  {
    MutexLock l(&mu_);
    auto it = servers_.find(usage.addr);
    if (it == servers_.end() || !it->second.registered)
      return Status::NotFound("datad " + usage.addr + " is not registered; register again");
    Server& s = it->second;
    const int32_t block_size = s.usage.block_size;
    s.usage = usage;
    s.usage.block_size = block_size;
    s.usage.corrupt_chunks.clear();  // handled by the caller (MetaCore::Heartbeat)
    s.last_heartbeat_ms = clock_->NowMs();
    came_back = !s.up;
    s.up = true;
  }
  if (came_back) {
    LOG(INFO) << "datad " << usage.addr << " is up again";
    if (on_change_) on_change_();
    if (on_up_) on_up_();
  }
  *deletes = chunks_->TakeDeletes(usage.addr, opts_.max_deletes_per_reply);
  return Status::OK();
}

int ServerRegistry::CheckLiveness() {
  std::vector<std::string> down;
  {
    MutexLock l(&mu_);
    const int64_t now = clock_->NowMs();
    for (auto& [addr, s] : servers_) {
      if (s.up && now - s.last_heartbeat_ms >= opts_.dead_after_ms) {
        s.up = false;
        down.push_back(addr);
      }
    }
  }
  for (const auto& a : down)
    LOG(WARNING) << "datad " << a << " is down: no heartbeat for " << opts_.dead_after_ms << " ms";
  if (!down.empty() && on_change_) on_change_();
  return static_cast<int>(down.size());
}

std::vector<PlacementCandidate> ServerRegistry::UpServers() const {
  MutexLock l(&mu_);
  std::vector<PlacementCandidate> out;
  for (const auto& [addr, s] : servers_)
    if (s.up) out.push_back({addr, s.usage.bytes_total, s.usage.bytes_free, s.usage.bytes_used, 0});
  return out;
}

std::vector<PlacementCandidate> ServerRegistry::PlacementServers() const {
  MutexLock l(&mu_);
  std::vector<PlacementCandidate> out;
  for (const auto& [addr, s] : servers_)
    if (s.up && !s.draining) out.push_back({addr, s.usage.bytes_total, s.usage.bytes_free, s.usage.bytes_used, 0});
  return out;
}

std::set<std::string> ServerRegistry::GoodAddrs() const {
  MutexLock l(&mu_);
  std::set<std::string> out;
  for (const auto& [addr, s] : servers_)
    if (s.up && !s.draining) out.insert(addr);
  return out;
}

std::set<std::string> ServerRegistry::DrainingAddrs() const {
  MutexLock l(&mu_);
  std::set<std::string> out;
  for (const auto& [addr, s] : servers_)
    if (s.draining) out.insert(addr);
  return out;
}

bool ServerRegistry::IsDraining(const std::string& addr) const {
  MutexLock l(&mu_);
  auto it = servers_.find(addr);
  return it != servers_.end() && it->second.draining;
}

bool ServerRegistry::IsKnown(const std::string& addr) const {
  MutexLock l(&mu_);
  return servers_.count(addr) > 0;
}

Status ServerRegistry::SetDraining(const std::string& addr, bool draining) {
  if (!IsKnown(addr)) return Status::NotFound("unknown datad " + addr);
  // Persisted before the state changes: a restart never forgets a drain.
  // Register/Forget of the same address racing with this is not expected
  // (operator actions on one server are serial).
  REPLFS_RETURN_IF_ERROR(store_->Mutate(
      [&](Txn& t) { return t.Put(ServerKey(addr), EncodeU64(draining ? kDrainingFlag : 0)); }));
  {
    MutexLock l(&mu_);
    auto it = servers_.find(addr);
    if (it == servers_.end()) return Status::NotFound("unknown datad " + addr);
    it->second.draining = draining;
  }
  LOG(INFO) << "datad " << addr << (draining ? " is draining" : " is no longer draining");
  if (on_change_) on_change_();
  return Status::OK();
}

Status ServerRegistry::Forget(const std::string& addr) {
  if (!IsKnown(addr)) return Status::NotFound("unknown datad " + addr);
  REPLFS_RETURN_IF_ERROR(store_->Mutate([&](Txn& t) { return t.Delete(ServerKey(addr)); }));
  {
    MutexLock l(&mu_);
    servers_.erase(addr);
  }
  LOG(INFO) << "datad " << addr << " removed";
  return Status::OK();
}

std::set<std::string> ServerRegistry::UpAddrs() const {
  MutexLock l(&mu_);
  std::set<std::string> out;
  for (const auto& [addr, s] : servers_)
    if (s.up) out.insert(addr);
  return out;
}

bool ServerRegistry::IsUp(const std::string& addr) const {
  MutexLock l(&mu_);
  auto it = servers_.find(addr);
  return it != servers_.end() && it->second.up;
}

std::vector<ServerStatus> ServerRegistry::List(const std::map<std::string, int64_t>& per_server) const {
  MutexLock l(&mu_);
  const int64_t now = clock_->NowMs();
  std::vector<ServerStatus> out;
  for (const auto& [addr, s] : servers_) {
    ServerStatus st;
    st.addr = addr;
    st.state = !s.up ? ServerState::kDown : s.draining ? ServerState::kDraining : ServerState::kUp;
    auto it = per_server.find(addr);
    st.chunks = it == per_server.end() ? 0 : it->second;
    st.bytes_used = s.usage.bytes_used;
    st.bytes_free = s.usage.bytes_free;
    st.bytes_total = s.usage.bytes_total;
    st.corrupt_found = s.usage.corrupt_found;
    st.last_heartbeat_ms = s.registered ? now - s.last_heartbeat_ms : -1;
    st.scrub = s.usage.scrub;
    out.push_back(std::move(st));
  }
  return out;
}

FsStat ServerRegistry::Totals() const {
  MutexLock l(&mu_);
  FsStat f;
  for (const auto& [addr, s] : servers_) {
    if (!s.up) continue;
    f.bytes_total += s.usage.bytes_total;
    f.bytes_free += s.usage.bytes_free;
    f.bytes_used += s.usage.bytes_used;
  }
  return f;
}

}  // namespace replfs::metad
