#include "fuse/chunk_io.h"

#include <algorithm>
#include <future>

#include "common/log.h"
#include "fuse/data_pools.h"

namespace replfs::client {

ChunkIo::ChunkIo(MetaClient* meta, const Geometry& geometry, const DataPathOptions& opts,
                 int io_threads)
    : meta_(meta),
      geometry_(geometry),
      opts_(opts),
      pools_(std::make_unique<Pools>(opts)),
      ranking_(std::chrono::milliseconds(opts.failed_memory_ms)),
      workers_(io_threads) {}

ChunkIo::~ChunkIo() = default;

std::vector<Status> ChunkIo::FanOut(const std::vector<std::string>& replicas,
                                    const ReplicaFn& fn) {
  std::vector<Status> out(replicas.size());
  if (replicas.empty()) return out;
  std::vector<std::future<Status>> rest;
  for (size_t i = 1; i < replicas.size(); ++i)
    rest.push_back(workers_.Submit([&fn, &addr = replicas[i]] { return fn(addr); }));
  out[0] = fn(replicas[0]);
  for (size_t i = 1; i < replicas.size(); ++i) out[i] = rest[i - 1].get();
  return out;
}

void ChunkIo::NoteWritten(uint64_t ino, int64_t index, const std::string& addr) {
  MutexLock l(&mu_);
  written_[ino][index][addr] = ++write_seq_;
}

uint64_t ChunkIo::LastWriteSeq() {
  MutexLock l(&mu_);
  return write_seq_;
}

void ChunkIo::NoteSynced(uint64_t ino, const std::string& addr, uint64_t upto) {
  MutexLock l(&mu_);
  ForgetSyncedLocked(ino, addr, upto);
}

void ChunkIo::ForgetSyncedLocked(uint64_t ino, const std::string& addr, uint64_t upto) {
  auto it = written_.find(ino);
  if (it == written_.end()) return;
  for (auto jt = it->second.begin(); jt != it->second.end();) {
    auto kt = jt->second.find(addr);
    if (kt != jt->second.end() && kt->second <= upto) jt->second.erase(kt);
    jt = jt->second.empty() ? it->second.erase(jt) : std::next(jt);
  }
  if (it->second.empty()) written_.erase(it);
}

void ChunkIo::CacheLocation(uint64_t ino, const ChunkLocation& loc) {
  if (loc.chunk_id == 0) return;
  MutexLock l(&mu_);
  CacheLocked(ino, loc);
}

void ChunkIo::CacheLocked(uint64_t ino, const ChunkLocation& loc) {
  ChunkLocation& slot = locations_[ino][loc.index];
  // Answers of concurrent calls arrive in any order: a slower, older answer
  // about the same chunk never replaces a newer one.
  if (slot.chunk_id == loc.chunk_id && slot.version > loc.version) return;
  slot = loc;
}

Status ChunkIo::LocateForWrite(uint64_t ino, int64_t index, bool refresh, ChunkLocation* out) {
  if (!refresh) {
    MutexLock l(&mu_);
    auto it = locations_.find(ino);
    if (it != locations_.end()) {
      auto jt = it->second.find(index);
      if (jt != it->second.end()) {
        *out = jt->second;
        return Status::OK();
      }
    }
  }
  ChunkLocation loc;
  std::vector<ChunkLocation> found;
  if (refresh) REPLFS_RETURN_IF_ERROR(meta_->GetChunks(ino, index, 1, &found));
  if (!found.empty() && found[0].index == index && found[0].chunk_id != 0) {
    loc = std::move(found[0]);
  } else {
    REPLFS_RETURN_IF_ERROR(meta_->AllocChunk(ino, index, &loc));
  }
  if (loc.chunk_id == 0 || loc.replicas.empty())
    return Status::Unavailable("metad has no replicas for chunk " + std::to_string(index) +
                               " of inode " + std::to_string(ino));
  CacheLocation(ino, loc);
  *out = std::move(loc);
  return Status::OK();
}

Status ChunkIo::LocateForRead(uint64_t ino, int64_t first, int64_t count, bool refresh,
                              std::map<int64_t, ChunkLocation>* out) {
  out->clear();
  if (!refresh) {
    MutexLock l(&mu_);
    auto it = locations_.find(ino);
    if (it != locations_.end()) {
      for (int64_t i = first; i < first + count; ++i) {
        auto jt = it->second.find(i);
        if (jt != it->second.end()) (*out)[i] = jt->second;
      }
    }
    if (static_cast<int64_t>(out->size()) == count) return Status::OK();
  }
  // Holes are not cached (another client may fill them), so a range with a
  // hole asks metad every time.
  std::vector<ChunkLocation> locs;
  REPLFS_RETURN_IF_ERROR(meta_->GetChunks(ino, first, count, &locs));
  out->clear();
  MutexLock l(&mu_);
  for (ChunkLocation& loc : locs) {
    if (loc.chunk_id == 0 || loc.index < first || loc.index >= first + count) continue;
    CacheLocked(ino, loc);
    (*out)[loc.index] = locations_[ino][loc.index];
  }
  return Status::OK();
}

Status ChunkIo::ReportBad(uint64_t ino, const ChunkLocation& loc,
                          const std::vector<std::string>& bad, Status::Code why,
                          ChunkLocation* now) {
  LOG(WARNING) << "reporting replicas of inode " << ino << " chunk " << loc.chunk_id << " v"
               << loc.version << " as bad (" << Status::CodeName(why) << "): "
               << [&] {
                    std::string s;
                    for (const std::string& b : bad) s += (s.empty() ? "" : ",") + b;
                    return s;
                  }();
  REPLFS_RETURN_IF_ERROR(meta_->ReportBadReplicas(ino, loc, bad, why, now));
  MutexLock l(&mu_);
  if (now->chunk_id != 0) CacheLocked(ino, *now);
  // A dropped replica is stale from now on: Sync need not wait for it.
  auto it = written_.find(ino);
  if (it == written_.end()) return Status::OK();
  auto jt = it->second.find(loc.index);
  if (jt == it->second.end()) return Status::OK();
  for (const std::string& b : bad) {
    if (std::find(now->replicas.begin(), now->replicas.end(), b) == now->replicas.end())
      jt->second.erase(b);
  }
  return Status::OK();
}

void ChunkIo::ReportLater(uint64_t ino, const ChunkLocation& loc, std::vector<std::string> bad,
                          Status::Code why) {
  // The future is dropped: nobody waits for a report (a packaged_task's
  // future does not block in its destructor).
  (void)workers_.Submit([this, ino, loc, bad = std::move(bad), why]() -> Status {
    ChunkLocation now;
    Status s = ReportBad(ino, loc, bad, why, &now);
    if (!s.ok()) LOG(WARNING) << "report of bad replicas failed: " << s.ToString();
    return s;
  });
}

Status ChunkIo::DropDead(uint64_t ino, const ChunkLocation& loc, const std::vector<Status>& res) {
  std::vector<std::string> dead;
  Status first_error;
  for (size_t i = 0; i < res.size(); ++i) {
    if (res[i].ok()) continue;
    LOG(WARNING) << "inode " << ino << " chunk " << loc.chunk_id << " on " << loc.replicas[i]
                 << ": " << res[i].ToString();
    if (res[i].IsRetryable()) {
      ranking_.MarkFailed(loc.replicas[i]);
      dead.push_back(loc.replicas[i]);
    } else if (first_error.ok()) {
      first_error = res[i];
    }
  }
  if (!first_error.ok()) return first_error;
  if (dead.empty()) return Status::OK();
  if (dead.size() == loc.replicas.size())
    return Status::IOError("no replica of chunk " + std::to_string(loc.chunk_id) + " answered");
  // Dropped replicas become stale: whatever they hold never reappears.
  ChunkLocation now;
  return ReportBad(ino, loc, dead, Status::Code::kUnavailable, &now);
}

Status ChunkIo::TruncateTail(uint64_t ino, int64_t new_size) {
  if (new_size < 0) return Status::Invalid("negative size");
  const int64_t index = new_size / geometry_.chunk_size;
  const int64_t keep = new_size % geometry_.chunk_size;
  Invalidate(ino, index);
  // A chunk starting at or past the new end is dropped whole by metad.
  if (keep == 0) return Status::OK();
  std::vector<ChunkLocation> locs;
  REPLFS_RETURN_IF_ERROR(meta_->GetChunks(ino, index, 1, &locs));
  for (const ChunkLocation& loc : locs) {
    if (loc.index != index || loc.chunk_id == 0) continue;
    const std::string what = "Truncate chunk " + std::to_string(loc.chunk_id);
    std::vector<Status> res = FanOut(loc.replicas, [&](const std::string& addr) -> Status {
      std::shared_ptr<net::ClientPool<DataClient>> pool;
      REPLFS_RETURN_IF_ERROR(pools_->normal.Get(addr, &pool));
      counters_->Add("Truncate");
      Status s = pool->Call(what, net::Idempotency::kIdempotent,
                            [&](DataClient& c) { c.Truncate(loc.chunk_id, loc.version, keep); });
      // A replica that never received a byte of this chunk has nothing past
      // the end.
      return s.IsNotFound() ? Status::OK() : s;
    });
    REPLFS_RETURN_IF_ERROR(DropDead(ino, loc, res));
  }
  return Status::OK();
}

Status ChunkIo::Sync(uint64_t ino) {
  std::map<std::string, uint64_t> snapshot;  // server -> last write it acknowledged
  {
    MutexLock l(&mu_);
    auto it = written_.find(ino);
    if (it == written_.end()) return Status::OK();
    for (const auto& [index, servers] : it->second)
      for (const auto& [addr, seq] : servers) snapshot[addr] = std::max(snapshot[addr], seq);
  }
  std::vector<std::string> addrs;
  for (const auto& [addr, seq] : snapshot) addrs.push_back(addr);
  std::vector<Status> res = FanOut(addrs, [&](const std::string& addr) -> Status {
    std::shared_ptr<net::ClientPool<DataClient>> pool;
    REPLFS_RETURN_IF_ERROR(pools_->normal.Get(addr, &pool));
    counters_->Add("Sync");
    return pool->Call("Sync", net::Idempotency::kIdempotent, [](DataClient& c) { c.Sync(); });
  });
  Status first_error;
  for (size_t i = 0; i < addrs.size(); ++i) {
    if (!res[i].ok()) {
      Status e = SyncFailed(ino, addrs[i], res[i]);
      if (!e.ok() && first_error.ok()) first_error = e;
      continue;
    }
    // Forget the server only where nothing was written to it after the
    // snapshot (that write may have missed this Sync).
    NoteSynced(ino, addrs[i], snapshot[addrs[i]]);
  }
  return first_error;
}

Status ChunkIo::SyncFailed(uint64_t ino, const std::string& addr, const Status& s) {
  LOG(WARNING) << "sync of inode " << ino << " on " << addr << " failed: " << s.ToString();
  if (!s.IsRetryable()) return s;
  ranking_.MarkFailed(addr);
  // A server that cannot be reached leaves every chunk of the file it holds
  // (it becomes stale there); the data is durable on the replicas that remain.
  std::vector<int64_t> indices;
  {
    MutexLock l(&mu_);
    auto it = written_.find(ino);
    if (it == written_.end()) return Status::OK();
    for (const auto& [index, servers] : it->second)
      if (servers.count(addr)) indices.push_back(index);
  }
  for (int64_t index : indices) {
    std::map<int64_t, ChunkLocation> found;
    REPLFS_RETURN_IF_ERROR(LocateForRead(ino, index, 1, /*refresh=*/true, &found));
    if (!found.empty()) {  // else the chunk is gone (truncated): nothing to sync
      const ChunkLocation& loc = found.begin()->second;
      ChunkLocation now = loc;
      if (std::find(loc.replicas.begin(), loc.replicas.end(), addr) != loc.replicas.end())
        REPLFS_RETURN_IF_ERROR(ReportBad(ino, loc, {addr}, s.code(), &now));
      if (std::find(now.replicas.begin(), now.replicas.end(), addr) != now.replicas.end() ||
          now.replicas.empty())
        return s.WithContext("metad kept " + addr + " in chunk " + std::to_string(loc.chunk_id));
    }
    MutexLock l(&mu_);
    auto it = written_.find(ino);
    if (it != written_.end() && it->second.count(index)) it->second[index].erase(addr);
  }
  return Status::OK();
}

std::vector<std::string> ChunkIo::ServersToSync(uint64_t ino) {
  std::vector<std::string> out;
  MutexLock l(&mu_);
  auto it = written_.find(ino);
  if (it == written_.end()) return out;
  for (const auto& [index, servers] : it->second)
    for (const auto& [addr, seq] : servers)
      if (std::find(out.begin(), out.end(), addr) == out.end()) out.push_back(addr);
  std::sort(out.begin(), out.end());
  return out;
}

void ChunkIo::Prime(uint64_t ino, const std::vector<ChunkLocation>& locations) {
  MutexLock l(&mu_);
  for (const ChunkLocation& loc : locations)
    if (loc.chunk_id != 0) CacheLocked(ino, loc);
}

void ChunkIo::Invalidate(uint64_t ino, int64_t from_index) {
  MutexLock l(&mu_);
  auto it = locations_.find(ino);
  if (it == locations_.end()) return;
  it->second.erase(it->second.lower_bound(from_index), it->second.end());
  if (it->second.empty()) locations_.erase(it);
}

size_t ChunkIo::CachedLocations(uint64_t ino) {
  MutexLock l(&mu_);
  auto it = locations_.find(ino);
  return it == locations_.end() ? 0 : it->second.size();
}

}  // namespace replfs::client
