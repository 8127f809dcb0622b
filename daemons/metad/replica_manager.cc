#include "daemons/metad/replica_manager.h"

#include <algorithm>
#include <chrono>

#include "common/log.h"

namespace replfs::metad {

std::vector<std::string> Without(const std::vector<std::string>& set, const std::vector<std::string>& remove) {
  std::vector<std::string> out;
  for (const auto& a : set)
    if (!Contains(remove, a)) out.push_back(a);
  return out;
}

bool Contains(const std::vector<std::string>& set, const std::string& addr) {
  return std::find(set.begin(), set.end(), addr) != set.end();
}

ReplicaManager::Guard& ReplicaManager::Guard::operator=(Guard&& o) noexcept {
  if (this != &o) {
    Release();
    owner_ = o.owner_;
    id_ = o.id_;
    o.owner_ = nullptr;
  }
  return *this;
}

void ReplicaManager::Guard::Release() {
  if (owner_) owner_->ReleaseGuard(id_);
  owner_ = nullptr;
}

ReplicaManager::ReplicaManager(ChunkMap* chunks, ServerRegistry* servers, DatadApi* datad, const Clock* clock,
                               Options opts)
    : chunks_(chunks), servers_(servers), datad_(datad), clock_(clock), opts_(opts), start_ms_(clock->NowMs()) {}

ReplicaManager::Guard ReplicaManager::Acquire(ChunkId id) {
  std::unique_lock<std::mutex> l(guard_mu_);
  guard_cv_.wait(l, [&] { return busy_.count(id) == 0; });
  busy_.insert(id);
  return Guard(this, id);
}

Status ReplicaManager::AcquireBounded(ChunkId id, Guard* out) {
  std::unique_lock<std::mutex> l(guard_mu_);
  if (!guard_cv_.wait_for(l, std::chrono::milliseconds(opts_.wait_change_ms),
                          [&] { return busy_.count(id) == 0; }))
    return Status::Unavailable("chunk " + std::to_string(id) + " is being changed (a repair copy?); try again");
  busy_.insert(id);
  *out = Guard(this, id);
  return Status::OK();
}

void ReplicaManager::TryAcquire(ChunkId id, Guard* out) {
  std::lock_guard<std::mutex> l(guard_mu_);
  if (!busy_.insert(id).second) return;
  *out = Guard(this, id);
}

void ReplicaManager::ReleaseGuard(ChunkId id) {
  {
    std::lock_guard<std::mutex> l(guard_mu_);
    busy_.erase(id);
  }
  guard_cv_.notify_all();
}

bool ReplicaManager::WaitIdle(const std::vector<ChunkId>& ids) {
  std::unique_lock<std::mutex> l(guard_mu_);
  auto idle = [&] {
    for (ChunkId id : ids)
      if (busy_.count(id)) return false;
    return true;
  };
  if (idle()) return false;
  guard_cv_.wait_for(l, std::chrono::milliseconds(opts_.wait_change_ms), idle);
  return true;
}

void ReplicaManager::Touch(ChunkId id) {
  MutexLock l(&mu_);
  touched_ms_[id] = clock_->NowMs();
}

bool ReplicaManager::InGrace(ChunkId id) {
  if (clock_->NowMs() - start_ms_ < opts_.missing_grace_ms) return true;
  return RecentlyTouched(id);
}

bool ReplicaManager::RecentlyTouched(ChunkId id) {
  const int64_t now = clock_->NowMs();
  MutexLock l(&mu_);
  auto it = touched_ms_.find(id);
  if (it == touched_ms_.end()) return false;
  if (now - it->second < opts_.missing_grace_ms) return true;
  touched_ms_.erase(it);  // expired: keep the map small
  return false;
}

std::vector<Status> ReplicaManager::CallEach(const std::vector<std::string>& addrs,
                                             const std::function<Status(const std::string&)>& fn) {
  std::vector<Status> st(addrs.size());
  std::vector<std::function<void()>> calls;
  for (size_t i = 0; i < addrs.size(); ++i) {
    // A DOWN server would only cost a timeout: it is dropped at once.
    if (!servers_->IsUp(addrs[i])) {
      st[i] = Status::Unavailable(addrs[i] + " is down");
      continue;
    }
    calls.emplace_back([&, i] { st[i] = fn(addrs[i]); });  // each call writes its own element
  }
  callers_.RunAll(std::move(calls));
  return st;
}

std::vector<Status> ReplicaManager::SetVersionEach(const std::vector<std::string>& addrs, const ChunkInfo& cur) {
  return CallEach(addrs, [&](const std::string& addr) {
    Status s = datad_->SetVersion(addr, cur.id, cur.version, cur.version + 1);
    if (!s.ok()) LOG(WARNING) << "chunk " << cur.id << ": SetVersion on " << addr << " failed: " << s.ToString();
    return s;
  });
}

std::vector<std::string> ReplicaManager::CreateOnDatads(const ChunkInfo& c) {
  const std::vector<Status> st = CallEach(c.replicas, [&](const std::string& addr) {
    return datad_->CreateChunk(addr, c.id, c.version);
  });
  std::vector<std::string> created;
  for (size_t i = 0; i < st.size(); ++i) {
    if (st[i].ok()) {
      created.push_back(c.replicas[i]);
    } else {
      // A timeout may still have created it there: unknown to metad, that
      // copy is deleted when the datad next reports it.
      LOG(WARNING) << "chunk " << c.id << ": CreateChunk on " << c.replicas[i] << " failed: " << st[i].ToString();
    }
  }
  return created;
}

std::vector<bool> ReplicaManager::SetVersionAll(const std::vector<std::string>& addrs, const ChunkInfo& cur) {
  std::vector<Status> st = SetVersionEach(addrs, cur);
  std::vector<bool> ok(st.size());
  for (size_t i = 0; i < st.size(); ++i) ok[i] = st[i].ok();
  return ok;
}

Status ReplicaManager::ChangeVersionLocked(const ChunkInfo& cur, const std::vector<std::string>& keep,
                                           const std::vector<std::string>& to_delete, ChunkInfo* out) {
  if (keep.empty()) return Status::Unavailable("chunk " + std::to_string(cur.id) + ": no replica to keep");
  // The primary first: once it is at V+1 it refuses writes at V, and every
  // write it accepted before was already forwarded to the others.
  std::vector<Status> st = SetVersionEach({keep[0]}, cur);
  std::vector<std::string> rest(keep.begin() + 1, keep.end());
  std::vector<Status> st_rest = SetVersionEach(rest, cur);
  st.insert(st.end(), std::make_move_iterator(st_rest.begin()), std::make_move_iterator(st_rest.end()));
  std::vector<std::string> remaining;
  for (size_t i = 0; i < keep.size(); ++i)
    if (st[i].ok()) remaining.push_back(keep[i]);
  if (remaining.empty())
    return Status::Unavailable("chunk " + std::to_string(cur.id) + ": no replica took version " +
                               std::to_string(cur.version + 1));
  ChunkInfo next = cur;
  next.version = cur.version + 1;
  next.replicas = remaining;
  std::vector<std::string> dropped = Without(cur.replicas, remaining);
  std::vector<std::string> del;
  for (const auto& a : to_delete)
    if (Contains(dropped, a)) del.push_back(a);
  REPLFS_RETURN_IF_ERROR(chunks_->Commit(next, cur.version, del, true));
  Touch(cur.id);
  // Remembered for fsck; a caller knowing a better reason notes it after.
  for (const auto& a : dropped) NoteDropped(cur.id, a, ReplicaState::kStale, "left the set at version " + std::to_string(cur.version));
  if (!dropped.empty())
    LOG(INFO) << "chunk " << cur.id << ": version " << cur.version << " -> " << next.version << ", "
              << remaining.size() << " replica(s), " << dropped.size() << " dropped";
  *out = std::move(next);
  return Status::OK();
}

std::vector<std::string> ReplicaManager::NoteMissing(ChunkId id, const std::string& addr) {
  MutexLock l(&mu_);
  auto& v = missing_[id];
  if (!Contains(v, addr)) v.push_back(addr);
  return v;
}

void ReplicaManager::ForgetMissing(ChunkId id, const std::string& addr) {
  MutexLock l(&mu_);
  auto it = missing_.find(id);
  if (it == missing_.end()) return;
  it->second.erase(std::remove(it->second.begin(), it->second.end(), addr), it->second.end());
  if (it->second.empty()) missing_.erase(it);
}

void ReplicaManager::NoteDropped(ChunkId id, const std::string& addr, ReplicaState state, const std::string& why) {
  MutexLock l(&mu_);
  auto& v = dropped_[id];
  for (auto& d : v) {
    if (d.addr != addr) continue;
    d.state = state;  // the latest reason wins
    d.why = why;
    return;
  }
  v.push_back({addr, state, why});
}

void ReplicaManager::ClearDropped(ChunkId id) {
  MutexLock l(&mu_);
  dropped_.erase(id);
}

std::vector<ReplicaManager::Dropped> ReplicaManager::DroppedOf(ChunkId id) const {
  MutexLock l(&mu_);
  auto it = dropped_.find(id);
  return it == dropped_.end() ? std::vector<Dropped>{} : it->second;
}

void ReplicaManager::CountDropped(const std::set<std::pair<std::string, ChunkId>>& stale_queued, int64_t* corrupt,
                                  int64_t* stale) const {
  MutexLock l(&mu_);
  *corrupt = *stale = 0;
  for (const auto& [id, v] : dropped_)
    for (const auto& d : v) {
      if (d.state == ReplicaState::kCorrupt) ++*corrupt;
      if (d.state == ReplicaState::kStale) ++*stale;
    }
  for (const auto& [addr, id] : stale_queued) {
    auto it = dropped_.find(id);
    bool remembered = false;
    if (it != dropped_.end())
      for (const auto& d : it->second) remembered |= d.addr == addr && d.state == ReplicaState::kStale;
    if (!remembered) ++*stale;
  }
}

}  // namespace replfs::metad
