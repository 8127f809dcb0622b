#include "daemons/metad/chunk_map.h"

#include <algorithm>

#include "common/log.h"
#include "daemons/metad/records.h"

namespace replfs::metad {

ChunkMap::ChunkMap(MetaStore* store, int min_write_replicas, int64_t min_free_bytes)
    : store_(store), min_write_replicas_(min_write_replicas), min_free_bytes_(min_free_bytes) {}

Status ChunkMap::Load() {
  std::vector<ChunkInfo> all;
  Status bad;
  REPLFS_RETURN_IF_ERROR(store_->Scan(std::string(1, kChunkTag), "", [&](std::string_view k, std::string_view v) {
    ChunkInfo c;
    uint64_t ino = 0, index = 0;
    bad = KeyU64(k, 1, &ino);
    if (bad.ok()) bad = KeyU64(k, 9, &index);
    if (bad.ok() && index > static_cast<uint64_t>(INT64_MAX))
      bad = Status::Corruption("chunk record of inode " + std::to_string(ino) + " has index " +
                               std::to_string(index) + ", past any file");
    if (bad.ok()) bad = DecodeChunk(v, &c);
    if (!bad.ok()) return false;
    c.ino = ino;
    c.index = static_cast<int64_t>(index);
    all.push_back(std::move(c));
    return true;
  }));
  if (!bad.ok()) return bad.WithContext("loading the chunk map");
  MutexLock l(&mu_);
  for (const auto& c : all) IndexChunk(c);
  LOG(INFO) << "chunk map: " << index_.size() << " chunks";
  return Status::OK();
}

void ChunkMap::IndexChunk(const ChunkInfo& c) {
  auto old = index_.find(c.id);
  if (old != index_.end())
    for (const auto& r : old->second.replicas)
      if (--replicas_on_[r] <= 0) replicas_on_.erase(r);
  for (const auto& r : c.replicas) ++replicas_on_[r];
  index_.insert_or_assign(c.id, c);
  per_ino_[c.ino].insert(c.index);
}

void ChunkMap::UnindexChunk(ChunkId id) {
  auto it = index_.find(id);
  if (it == index_.end()) return;
  for (const auto& r : it->second.replicas)
    if (--replicas_on_[r] <= 0) replicas_on_.erase(r);
  auto p = per_ino_.find(it->second.ino);
  if (p != per_ino_.end()) {
    p->second.erase(it->second.index);
    if (p->second.empty()) per_ino_.erase(p);
  }
  index_.erase(it);
}

Status ChunkMap::Get(ChunkId id, ChunkInfo* out) const {
  MutexLock l(&mu_);
  auto it = index_.find(id);
  if (it == index_.end()) return Status::NotFound("chunk " + std::to_string(id));
  *out = it->second;
  return Status::OK();
}

std::vector<ChunkInfo> ChunkMap::Snapshot() const {
  MutexLock l(&mu_);
  std::vector<ChunkInfo> out;
  out.reserve(index_.size());
  for (const auto& [id, c] : index_) out.push_back(c);
  return out;
}

int64_t ChunkMap::CountOf(Ino ino) const {
  MutexLock l(&mu_);
  auto it = per_ino_.find(ino);
  return it == per_ino_.end() ? 0 : static_cast<int64_t>(it->second.size());
}

int64_t ChunkMap::AllocatedBytes(Ino ino, int64_t size, int64_t chunk_size) const {
  MutexLock l(&mu_);
  auto it = per_ino_.find(ino);
  if (it == per_ino_.end() || size <= 0) return 0;
  int64_t total = 0;
  const int64_t last = (size - 1) / chunk_size;  // the chunk holding the last byte
  for (int64_t index : it->second) {
    if (index < 0) continue;  // not from the API: a damaged record
    if (index > last) break;  // ordered: the rest lie past EOF too
    total += std::min(chunk_size, size - index * chunk_size);
  }
  return total;
}

Status ChunkMap::Commit(const ChunkInfo& next, uint64_t expected_version, const std::vector<std::string>& drop,
                        bool delete_dropped) {
  return store_->Mutate([&](Txn& t) -> Status {
    std::string v;
    const std::string what = "chunk " + std::to_string(next.id);
    REPLFS_RETURN_IF_ERROR(t.Get(ChunkKey(next.ino, next.index), &v).WithContext(what));
    ChunkInfo cur;
    REPLFS_RETURN_IF_ERROR(DecodeChunk(v, &cur));
    if (cur.id != next.id) return Status::NotFound(what + " was dropped");
    if (cur.version != expected_version)
      return Status::Stale(what + " is at version " + std::to_string(cur.version) + ", expected " +
                           std::to_string(expected_version));
    // The stored goal wins: SetGoal may have changed it since the caller read it.
    ChunkInfo rec = next;
    rec.goal = cur.goal;
    REPLFS_RETURN_IF_ERROR(t.Put(ChunkKey(next.ino, next.index), EncodeChunk(rec)));
    t.OnCommit([this, rec, drop, delete_dropped, expected_version] {
      MutexLock l(&mu_);
      IndexChunk(rec);
      for (const auto& r : rec.replicas) {
        auto it = deletes_.find(r);
        if (it != deletes_.end()) it->second.erase(rec.id);
        stale_deletes_.erase({r, rec.id});
      }
      if (delete_dropped)
        for (const auto& r : drop) QueueDeleteLocked(r, rec.id, expected_version);
    });
    return Status::OK();
  });
}

void ChunkMap::QueueDeleteLocked(const std::string& addr, ChunkId id, uint64_t max_version) {
  // Two queued deletes of one replica: the later request covers the higher
  // version (both asked for copies up to theirs to go).
  auto [it, fresh] = deletes_[addr].emplace(id, max_version);
  if (!fresh) it->second = std::max(it->second, max_version);
}

void ChunkMap::QueueDelete(const std::string& addr, ChunkId id, uint64_t max_version, bool stale) {
  MutexLock l(&mu_);
  QueueDeleteLocked(addr, id, max_version);
  if (stale) stale_deletes_.insert({addr, id});
}

std::set<std::pair<std::string, ChunkId>> ChunkMap::StaleQueued() const {
  MutexLock l(&mu_);
  return stale_deletes_;
}

void ChunkMap::ForgetServer(const std::string& addr) {
  MutexLock l(&mu_);
  deletes_.erase(addr);
  auto it = stale_deletes_.lower_bound({addr, 0});
  while (it != stale_deletes_.end() && it->first == addr) it = stale_deletes_.erase(it);
}

void ChunkMap::IndexForTest(const ChunkInfo& c) {
  MutexLock l(&mu_);
  IndexChunk(c);
}

Status ChunkMap::SetGoalInTxn(Txn& t, Ino ino, int32_t goal) {
  std::vector<std::pair<std::string, ChunkInfo>> recs;
  Status bad;
  REPLFS_RETURN_IF_ERROR(t.Scan(ChunkPrefix(ino), "", [&](std::string_view k, std::string_view v) {
    ChunkInfo c;
    bad = DecodeChunk(v, &c);
    if (!bad.ok()) return false;
    recs.emplace_back(std::string(k), std::move(c));
    return true;
  }));
  REPLFS_RETURN_IF_ERROR(bad);
  std::vector<ChunkId> ids;
  for (auto& [k, c] : recs) {
    if (c.goal == goal) continue;
    c.goal = goal;
    REPLFS_RETURN_IF_ERROR(t.Put(k, EncodeChunk(c)));  // after the scan: never under a cursor
    ids.push_back(c.id);
  }
  if (!ids.empty())
    t.OnCommit([this, ids = std::move(ids), goal] {
      MutexLock l(&mu_);
      for (ChunkId id : ids) {
        auto it = index_.find(id);
        if (it != index_.end()) it->second.goal = goal;
      }
    });
  return Status::OK();
}

Status ChunkMap::GetChunks(Ino ino, int64_t first, int64_t count, std::vector<ChunkInfo>* out) const {
  out->clear();
  std::string attr;
  REPLFS_RETURN_IF_ERROR(store_->Get(InodeKey(ino), &attr).WithContext("inode " + std::to_string(ino)));
  if (count <= 0) return Status::OK();
  const int64_t end = first > INT64_MAX - count ? INT64_MAX : first + count;
  Status bad;
  REPLFS_RETURN_IF_ERROR(store_->Scan(ChunkPrefix(ino), ChunkKey(ino, first), [&](std::string_view k, std::string_view v) {
    uint64_t index = 0;
    bad = KeyU64(k, 9, &index);
    if (!bad.ok() || static_cast<int64_t>(index) >= end) return false;
    ChunkInfo c;
    bad = DecodeChunk(v, &c);
    if (!bad.ok()) return false;
    c.ino = ino;
    c.index = static_cast<int64_t>(index);
    out->push_back(std::move(c));
    return true;
  }));
  return bad;
}

Status ChunkMap::NextId(ChunkId* out) {
  // Held across the commit of a new block (one allocation in kIdBlock):
  // ids must come out unique and increasing. Nothing else takes id_mu_.
  MutexLock l(&id_mu_);
  if (next_id_ == 0 || next_id_ >= reserved_end_) {
    uint64_t start = 1;
    REPLFS_RETURN_IF_ERROR(store_->Mutate([&](Txn& t) -> Status {
      std::string v;
      Status s = t.Get(CounterKey("chunk"), &v);
      if (s.ok()) {
        REPLFS_RETURN_IF_ERROR(DecodeU64(v, &start));
      } else if (!s.IsNotFound()) {
        return s;
      }
      return t.Put(CounterKey("chunk"), EncodeU64(start + kIdBlock));
    }));
    next_id_ = start;
    reserved_end_ = start + kIdBlock;
  }
  *out = next_id_++;
  return Status::OK();
}

Status ChunkMap::PlanAlloc(Ino ino, int64_t index, const std::vector<PlacementCandidate>& up, ChunkInfo* out,
                           bool* exists) {
  *exists = false;
  std::string v;
  Status s = store_->Get(ChunkKey(ino, index), &v);
  if (s.ok()) {
    *exists = true;
    out->ino = ino;
    out->index = index;
    return DecodeChunk(v, out);
  }
  if (!s.IsNotFound()) return s;
  Inode in;
  REPLFS_RETURN_IF_ERROR(store_->Get(InodeKey(ino), &v).WithContext("inode " + std::to_string(ino)));
  REPLFS_RETURN_IF_ERROR(DecodeInode(v, &in));
  if (in.type == FileType::kDirectory) return Status::IsDir("inode " + std::to_string(ino));
  if (in.type != FileType::kRegular) return Status::Invalid("not a regular file");
  ChunkInfo c;
  c.ino = ino;
  c.index = index;
  c.version = 1;
  c.goal = in.goal;
  std::vector<PlacementCandidate> cands = up;
  FillChunkCounts(&cands);
  REPLFS_RETURN_IF_ERROR(PlaceReplicas(cands, in.goal, std::min(min_write_replicas_, in.goal),
                                       min_free_bytes_, &c.replicas));
  REPLFS_RETURN_IF_ERROR(NextId(&c.id));
  *out = std::move(c);
  return Status::OK();
}

Status ChunkMap::CommitNew(const ChunkInfo& c, ChunkInfo* out, bool* won) {
  *won = false;
  return store_->Mutate([&](Txn& t) -> Status {
    std::string v;
    Status s = t.Get(ChunkKey(c.ino, c.index), &v);
    if (s.ok()) {  // another allocation got there first
      out->ino = c.ino;
      out->index = c.index;
      return DecodeChunk(v, out);
    }
    if (!s.IsNotFound()) return s;
    // The inode may have gone (unlinked and purged) while the chunk was
    // being created: then no record (NotFound), and the copies are orphans.
    REPLFS_RETURN_IF_ERROR(t.Get(InodeKey(c.ino), &v).WithContext("inode " + std::to_string(c.ino)));
    REPLFS_RETURN_IF_ERROR(t.Put(ChunkKey(c.ino, c.index), EncodeChunk(c)));
    t.OnCommit([this, c, won] {
      *won = true;
      MutexLock l(&mu_);
      IndexChunk(c);
    });
    *out = c;
    return Status::OK();
    // Lazy: nothing written to the chunk is acknowledged before the file's
    // CommitWrite (at flush/fsync/close), which is synced and so syncs this
    // record too; lost to a power loss before, the copies are orphans (the
    // id is never reused: NextId reserves durably).
  }, Durability::kLazy);
}

Status ChunkMap::DropInTxn(Txn& t, Ino ino, int64_t from_index) {
  std::vector<ChunkInfo> dropped;
  std::vector<std::string> keys;
  Status bad;
  REPLFS_RETURN_IF_ERROR(t.Scan(ChunkPrefix(ino), ChunkKey(ino, from_index), [&](std::string_view k, std::string_view v) {
    ChunkInfo c;
    bad = DecodeChunk(v, &c);
    if (!bad.ok()) return false;
    dropped.push_back(c);
    keys.emplace_back(k);
    return true;
  }));
  REPLFS_RETURN_IF_ERROR(bad);
  // Deleted after the scan: never under a live cursor.
  for (const auto& k : keys) REPLFS_RETURN_IF_ERROR(t.Delete(k));
  if (dropped.empty()) return Status::OK();
  t.OnCommit([this, dropped = std::move(dropped)] {
    MutexLock l(&mu_);
    for (const auto& c : dropped) {
      UnindexChunk(c.id);
      for (const auto& r : c.replicas) QueueDeleteLocked(r, c.id, kAnyVersion);
    }
  });
  return Status::OK();
}

std::vector<ReplicaHeld> ChunkMap::TakeDeletes(const std::string& addr, size_t max) {
  // A replica is deleted only once the change that dropped it (maybe a lazy
  // unlink or rename, MetaStore::Durability) is durable: after a power loss
  // metad must not come back pointing at copies that are gone.
  if (PendingDeletes(addr) > 0) {
    Status s = store_->Sync();
    if (!s.ok()) {
      LOG(WARNING) << "not handing out deletions to " << addr << ": " << s.ToString();
      return {};
    }
  }
  MutexLock l(&mu_);
  std::vector<ReplicaHeld> out;
  auto it = deletes_.find(addr);
  if (it == deletes_.end()) return out;
  auto& q = it->second;
  while (!q.empty() && out.size() < max) {
    out.push_back({q.begin()->first, q.begin()->second});
    stale_deletes_.erase({addr, q.begin()->first});
    q.erase(q.begin());
  }
  if (q.empty()) deletes_.erase(it);
  return out;
}

size_t ChunkMap::PendingDeletes(const std::string& addr) const {
  MutexLock l(&mu_);
  auto it = deletes_.find(addr);
  return it == deletes_.end() ? 0 : it->second.size();
}

ChunkCounts ChunkMap::Count(const std::set<std::string>& up, const std::set<std::string>& good,
                            std::map<std::string, int64_t>* per_server) const {
  // Per-address lookups go through a small cache: a set lookup per replica
  // is the dominant cost with 100,000s of chunks.
  std::unordered_map<std::string, std::pair<bool, bool>> seen;  // addr -> (up, good)
  std::unordered_map<std::string, int64_t> per;
  MutexLock l(&mu_);
  ChunkCounts n;
  for (const auto& [id, c] : index_) {
    int live = 0, ok = 0;
    for (const auto& r : c.replicas) {
      auto it = seen.find(r);
      if (it == seen.end()) it = seen.emplace(r, std::make_pair(up.count(r) > 0, good.count(r) > 0)).first;
      ++per[r];
      live += it->second.first ? 1 : 0;
      ok += it->second.second ? 1 : 0;
    }
    ++n.total;
    if (ok >= c.goal && live > 0) {
      ++n.healthy;
      continue;
    }
    ++n.under_by_good[ok];
    if (live == 0) {
      ++n.unavailable;
    } else {
      ++n.under_replicated;
    }
  }
  if (per_server)
    for (const auto& [a, k] : per) (*per_server)[a] += k;
  return n;
}

int64_t ChunkMap::Total() const {
  MutexLock l(&mu_);
  return static_cast<int64_t>(index_.size());
}

}  // namespace replfs::metad

namespace replfs::metad {

void ChunkMap::FillChunkCounts(std::vector<PlacementCandidate>* cands) const {
  MutexLock l(&mu_);
  for (auto& c : *cands) {
    auto it = replicas_on_.find(c.addr);
    c.chunks = it == replicas_on_.end() ? 0 : it->second;
  }
}

}  // namespace replfs::metad
