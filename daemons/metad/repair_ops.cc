// RepairScheduler: the two repairs of one chunk (copy to one more server,
// trim extra members).
#include <algorithm>

#include "common/log.h"
#include "daemons/metad/placement.h"
#include "daemons/metad/repair.h"

namespace replfs::metad {
namespace {

double FreeRatio(const PlacementCandidate& c) {
  return c.bytes_total <= 0 ? 0.0 : static_cast<double>(c.bytes_free) / static_cast<double>(c.bytes_total);
}

}  // namespace

Status RepairScheduler::AddReplica(ChunkId id) {
  ReplicaManager::Guard g;
  replicas_->TryAcquire(id, &g);
  if (!g.held()) return Status::Unavailable("chunk is being changed");
  ChunkInfo c;
  REPLFS_RETURN_IF_ERROR(replicas_->chunks().Get(id, &c));
  std::vector<std::string> live;
  std::vector<PlacementCandidate> spare;
  for (const auto& p : replicas_->servers().UpServers()) {
    if (Contains(c.replicas, p.addr)) {
      live.push_back(p.addr);
    } else {
      spare.push_back(p);
    }
  }
  // Keep placement order among live members (the first one is the primary).
  live = Without(c.replicas, Without(c.replicas, live));
  if (static_cast<int>(live.size()) >= c.goal) return Status::OK();
  if (live.empty()) return Status::Unavailable("no live replica");
  std::vector<std::string> target;
  if (!PlaceReplicas(spare, 1, 1, opts_.block_size, &target).ok()) {
    MutexLock l(&mu_);
    if (no_target_logged_.insert(id).second)
      LOG(WARNING) << "chunk " << id << ": below goal (" << live.size() << "/" << c.goal
                   << ") and no UP server to copy it to; waiting";
    return Status::Unavailable("no target server");
  }
  const std::string& source = live[0];
  Status s = replicas_->datad().PushChunk(source, id, c.version, target[0], c.version + 1);
  if (s.IsCorruption() || s.IsNotFound() || s.code() == Status::Code::kStale) {
    // The source is bad: drop it (never the last one); the next round
    // copies from another member.
    LOG(WARNING) << "chunk " << id << ": repair source " << source << " failed: " << s.ToString();
    if (live.size() < 2) return s;
    ChunkInfo next;
    REPLFS_RETURN_IF_ERROR(replicas_->ChangeVersionLocked(c, Without(live, {source}), {source}, &next));
    if (s.IsCorruption()) replicas_->NoteCorrupt(id, 1);
    return s;
  }
  REPLFS_RETURN_IF_ERROR(s);
  // Source and target are at V+1; move the other live members too.
  const std::vector<std::string> others(live.begin() + 1, live.end());
  const std::vector<bool> ok = replicas_->SetVersionAll(others, c);
  ChunkInfo next = c;
  next.version = c.version + 1;
  next.replicas = {source};
  for (size_t i = 0; i < others.size(); ++i)
    if (ok[i]) next.replicas.push_back(others[i]);
  next.replicas.push_back(target[0]);
  REPLFS_RETURN_IF_ERROR(replicas_->chunks().Commit(next, c.version, Without(c.replicas, next.replicas), true));
  replicas_->Touch(id);
  LOG(INFO) << "chunk " << id << ": copied " << source << " -> " << target[0] << ", version " << next.version
            << ", " << next.replicas.size() << "/" << c.goal << " replicas";
  if (static_cast<int>(next.replicas.size()) >= c.goal) {
    replicas_->ClearCorrupt(id);
    ++done_;
    MutexLock l(&mu_);
    no_target_logged_.erase(id);
  }
  return Status::OK();
}

Status RepairScheduler::Trim(ChunkId id) {
  ReplicaManager::Guard g;
  replicas_->TryAcquire(id, &g);
  if (!g.held()) return Status::Unavailable("chunk is being changed");
  ChunkInfo c;
  REPLFS_RETURN_IF_ERROR(replicas_->chunks().Get(id, &c));
  std::vector<PlacementCandidate> live;
  for (const auto& p : replicas_->servers().UpServers())
    if (Contains(c.replicas, p.addr)) live.push_back(p);
  if (static_cast<int>(live.size()) <= c.goal || c.goal <= 0) return Status::OK();
  // Fullest first (lowest free ratio), ties by address.
  std::sort(live.begin(), live.end(), [](const PlacementCandidate& a, const PlacementCandidate& b) {
    if (FreeRatio(a) != FreeRatio(b)) return FreeRatio(a) < FreeRatio(b);
    return a.addr < b.addr;
  });
  std::vector<std::string> keep;
  for (size_t i = live.size() - static_cast<size_t>(c.goal); i < live.size(); ++i) keep.push_back(live[i].addr);
  ChunkInfo next = c;
  next.replicas = Without(c.replicas, Without(c.replicas, keep));  // placement order kept
  const std::vector<std::string> drop = Without(c.replicas, next.replicas);
  REPLFS_RETURN_IF_ERROR(replicas_->chunks().Commit(next, c.version, drop, true));
  LOG(INFO) << "chunk " << id << ": over goal, dropped " << drop.size() << " replica(s)";
  ++done_;
  return Status::OK();
}

}  // namespace replfs::metad
