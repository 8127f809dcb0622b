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

int RepairScheduler::GoodCount(const std::vector<std::string>& members) const {
  const std::set<std::string> good = replicas_->servers().GoodAddrs();
  int n = 0;
  for (const auto& m : members) n += good.count(m) ? 1 : 0;
  return n;
}

bool RepairScheduler::HoldsDraining(const std::vector<std::string>& members) const {
  for (const auto& m : members)
    if (replicas_->servers().IsDraining(m)) return true;
  return false;
}

Status RepairScheduler::AddReplica(ChunkId id) {
  ReplicaManager::Guard g;
  replicas_->TryAcquire(id, &g);
  if (!g.held()) return Status::Unavailable("chunk is being changed");
  ChunkInfo c;
  REPLFS_RETURN_IF_ERROR(replicas_->chunks().Get(id, &c));
  std::vector<std::string> live;
  for (const auto& p : replicas_->servers().UpServers())
    if (Contains(c.replicas, p.addr)) live.push_back(p.addr);
  // Targets: UP, not draining, not holding the chunk already.
  std::vector<PlacementCandidate> spare;
  for (const auto& p : replicas_->servers().PlacementServers())
    if (!Contains(c.replicas, p.addr)) spare.push_back(p);
  replicas_->chunks().FillChunkCounts(&spare);
  // Keep placement order among live members (the first one is the primary).
  live = Without(c.replicas, Without(c.replicas, live));
  if (GoodCount(live) >= c.goal) return Status::OK();
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
  if (s.IsCorruption() || s.code() == Status::Code::kStale || s.IsNotFound()) {
    // The source is bad (corrupt, out of date, or it lost the chunk): drop
    // it (never the last live one); the next round copies from another
    // member.
    if (live.size() < 2) return s.WithContext("repair source " + source);
    ChunkInfo next;
    REPLFS_RETURN_IF_ERROR(replicas_->ChangeVersionLocked(c, Without(live, {source}), {source}, &next));
    const ReplicaState state = s.IsCorruption() ? ReplicaState::kCorrupt
                               : s.IsNotFound() ? ReplicaState::kMissing
                                                : ReplicaState::kStale;
    replicas_->NoteDropped(id, source, state, "repair source: " + s.ToString());
    return s.WithContext("repair source " + source);
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
  if (GoodCount(next.replicas) >= c.goal) {
    replicas_->ClearDropped(id);
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
  // Good members (UP, not draining) only: a draining replica leaves once
  // the goal is met without it.
  std::vector<PlacementCandidate> good;
  for (const auto& p : replicas_->servers().PlacementServers())
    if (Contains(c.replicas, p.addr)) good.push_back(p);
  const bool draining = HoldsDraining(c.replicas);
  if (c.goal <= 0 || static_cast<int>(good.size()) < c.goal ||
      (static_cast<int>(good.size()) == c.goal && !draining))
    return Status::OK();
  // Fullest first (lowest free ratio), ties by address.
  std::sort(good.begin(), good.end(), [](const PlacementCandidate& a, const PlacementCandidate& b) {
    if (FreeRatio(a) != FreeRatio(b)) return FreeRatio(a) < FreeRatio(b);
    return a.addr < b.addr;
  });
  // Kept: the goal's worth of the least full good members.
  std::vector<std::string> keep;
  for (size_t i = good.size() - static_cast<size_t>(c.goal); i < good.size(); ++i) keep.push_back(good[i].addr);
  keep = Without(c.replicas, Without(c.replicas, keep));  // placement order kept
  const std::vector<std::string> drop = Without(c.replicas, keep);
  // A version change, not just a commit: a dropped copy is as current as
  // the kept ones, and a client with an old location could still read it
  // after writes it missed.
  ChunkInfo next;
  REPLFS_RETURN_IF_ERROR(replicas_->ChangeVersionLocked(c, keep, drop, &next));
  LOG(INFO) << "chunk " << id << ": over goal or draining, dropped " << drop.size() << " replica(s)";
  replicas_->ClearDropped(id);
  ++done_;
  return Status::OK();
}

}  // namespace replfs::metad
