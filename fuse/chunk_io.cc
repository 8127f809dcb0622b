#include "fuse/chunk_io.h"

#include <algorithm>
#include <future>

#include "DataService.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "thrift/client_pool.h"

namespace replfs::client {

using DataPool = net::ClientPool<rpc::DataServiceClient>;

struct ChunkIo::Pools {
  explicit Pools(const net::RpcOptions& o) : set(o) {}
  net::PoolSet<rpc::DataServiceClient> set;
};

ChunkIo::ChunkIo(MetaClient* meta, const Geometry& geometry, const net::RpcOptions& data_opts,
                 int io_threads)
    : meta_(meta),
      geometry_(geometry),
      pools_(std::make_unique<Pools>(data_opts)),
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

void ChunkIo::NoteWritten(uint64_t ino, const std::string& addr) {
  MutexLock l(&mu_);
  written_[ino][addr] = ++write_seq_;
}

Status ChunkIo::LocateForWrite(uint64_t ino, int64_t index, ChunkLocation* out) {
  {
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
  REPLFS_RETURN_IF_ERROR(meta_->AllocChunk(ino, index, &loc));
  if (loc.chunk_id == 0 || loc.replicas.empty())
    return Status::Unavailable("metad allocated no replicas for chunk " + std::to_string(index) +
                               " of inode " + std::to_string(ino));
  MutexLock l(&mu_);
  locations_[ino][index] = loc;
  *out = std::move(loc);
  return Status::OK();
}

Status ChunkIo::Write(uint64_t ino, int64_t offset, std::string_view data) {
  if (offset < 0) return Status::Invalid("negative offset");
  for (const Piece& p : SplitRange(geometry_, offset, static_cast<int64_t>(data.size()),
                                   geometry_.max_rpc_bytes)) {
    REPLFS_RETURN_IF_ERROR(WritePiece(
        ino, p, data.substr(static_cast<size_t>(p.file_offset - offset), static_cast<size_t>(p.length))));
  }
  return Status::OK();
}

Status ChunkIo::WritePiece(uint64_t ino, const Piece& piece, std::string_view payload) {
  const int32_t crc = static_cast<int32_t>(Crc32c(payload.data(), payload.size()));
  const std::string bytes(payload);  // Thrift wants a std::string
  for (int attempt = 0;; ++attempt) {
    ChunkLocation loc;
    REPLFS_RETURN_IF_ERROR(LocateForWrite(ino, piece.chunk_index, &loc));
    const std::string what = "Write chunk " + std::to_string(loc.chunk_id);
    std::vector<Status> res = FanOut(loc.replicas, [&](const std::string& addr) -> Status {
      std::shared_ptr<DataPool> pool;
      REPLFS_RETURN_IF_ERROR(pools_->set.Get(addr, &pool));
      return pool->Call(what, net::Idempotency::kIdempotent, [&](rpc::DataServiceClient& c) {
        c.Write(loc.chunk_id, loc.version, piece.offset_in_chunk, bytes, crc);
      });
    });
    Status first_error;
    bool stale = false;
    for (size_t i = 0; i < res.size(); ++i) {
      if (res[i].ok()) {
        NoteWritten(ino, loc.replicas[i]);
        continue;
      }
      LOG(WARNING) << "write of inode " << ino << " chunk " << loc.chunk_id << " to "
                   << loc.replicas[i] << " failed: " << res[i].ToString();
      if (res[i].code() == Status::Code::kStale) stale = true;
      if (first_error.ok()) first_error = res[i];
    }
    if (first_error.ok()) return Status::OK();
    // The replica set or version may have changed under us: ask metad again.
    Invalidate(ino, piece.chunk_index);
    if (stale && attempt == 0) continue;
    return first_error;
  }
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
  auto& cache = locations_[ino];
  for (ChunkLocation& loc : locs) {
    if (loc.chunk_id == 0 || loc.index < first || loc.index >= first + count) continue;
    cache[loc.index] = loc;
    (*out)[loc.index] = std::move(loc);
  }
  return Status::OK();
}

Status ChunkIo::ReadPiece(const ChunkLocation& loc, const Piece& piece, char* dst, bool* stale) {
  const int32_t first_block = static_cast<int32_t>(piece.offset_in_chunk / geometry_.block_size);
  const int32_t count = static_cast<int32_t>(piece.length / geometry_.block_size);
  Status last = Status::Unavailable("chunk " + std::to_string(loc.chunk_id) + " has no replicas");
  for (const std::string& addr : loc.replicas) {
    std::shared_ptr<DataPool> pool;
    Status s = pools_->set.Get(addr, &pool);
    std::vector<rpc::BlockData> got;
    if (s.ok()) {
      bool sent = false;
      // One try per replica: the next replica is a better retry than the same
      // one after a backoff.
      s = pool->CallOnce(
          [&](rpc::DataServiceClient& c) { c.Read(got, loc.chunk_id, loc.version, first_block, count); },
          &sent);
    }
    if (s.ok()) {
      std::vector<Block> blocks;
      blocks.reserve(got.size());
      for (rpc::BlockData& b : got)
        blocks.push_back(Block{b.index, std::move(b.data), static_cast<uint32_t>(b.crc)});
      s = AssembleBlocks(geometry_, first_block, count, blocks, dst);
    }
    if (s.ok()) return s;
    if (s.code() == Status::Code::kStale) *stale = true;
    LOG(WARNING) << "read of chunk " << loc.chunk_id << " v" << loc.version << " blocks "
                 << first_block << "+" << count << " from " << addr
                 << " failed, trying the next replica: " << s.ToString();
    last = s.WithContext("read from " + addr);
  }
  return last;
}

Status ChunkIo::Read(uint64_t ino, int64_t offset, int64_t size, int64_t file_size,
                     std::string* out) {
  out->clear();
  if (offset < 0 || size < 0) return Status::Invalid("negative offset or size");
  if (offset >= file_size || size == 0) return Status::OK();
  const int64_t len = std::min(size, file_size - offset);
  const ReadPlan plan = PlanRead(geometry_, offset, len);
  std::string buf(static_cast<size_t>(plan.aligned_length), '\0');
  const int64_t first = plan.pieces.front().chunk_index;
  const int64_t count = plan.pieces.back().chunk_index - first + 1;
  std::map<int64_t, ChunkLocation> locs;
  REPLFS_RETURN_IF_ERROR(LocateForRead(ino, first, count, /*refresh=*/false, &locs));
  for (const Piece& p : plan.pieces) {
    char* dst = buf.data() + (p.file_offset - plan.aligned_offset);
    Status s;
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto it = locs.find(p.chunk_index);
      if (it == locs.end()) {  // a hole
        std::fill(dst, dst + p.length, '\0');
        s = Status::OK();
        break;
      }
      bool stale = false;
      s = ReadPiece(it->second, p, dst, &stale);
      if (s.ok()) break;
      // Every replica failed: the locations may be out of date (a replica
      // moved, the version changed). Ask metad once more.
      Invalidate(ino, p.chunk_index);
      if (attempt == 0) REPLFS_RETURN_IF_ERROR(LocateForRead(ino, first, count, true, &locs));
    }
    if (!s.ok()) {
      LOG(ERROR) << "read of inode " << ino << " at " << p.file_offset
                 << " failed on every replica: " << s.ToString();
      return s;
    }
  }
  out->assign(buf, static_cast<size_t>(offset - plan.aligned_offset), static_cast<size_t>(len));
  return Status::OK();
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
      std::shared_ptr<DataPool> pool;
      REPLFS_RETURN_IF_ERROR(pools_->set.Get(addr, &pool));
      Status s = pool->Call(what, net::Idempotency::kIdempotent, [&](rpc::DataServiceClient& c) {
        c.Truncate(loc.chunk_id, loc.version, keep);
      });
      // A replica that never received a byte of this chunk has nothing past
      // the end.
      return s.IsNotFound() ? Status::OK() : s;
    });
    for (size_t i = 0; i < res.size(); ++i) {
      if (res[i].ok()) continue;
      LOG(WARNING) << "truncate of inode " << ino << " chunk " << loc.chunk_id << " on "
                   << loc.replicas[i] << " failed: " << res[i].ToString();
      return res[i];
    }
  }
  return Status::OK();
}

Status ChunkIo::Sync(uint64_t ino) {
  std::map<std::string, uint64_t> snapshot;
  {
    MutexLock l(&mu_);
    auto it = written_.find(ino);
    if (it == written_.end()) return Status::OK();
    snapshot = it->second;
  }
  std::vector<std::string> addrs;
  for (const auto& [addr, seq] : snapshot) addrs.push_back(addr);
  std::vector<Status> res = FanOut(addrs, [&](const std::string& addr) -> Status {
    std::shared_ptr<DataPool> pool;
    REPLFS_RETURN_IF_ERROR(pools_->set.Get(addr, &pool));
    return pool->Call("Sync", net::Idempotency::kIdempotent,
                      [](rpc::DataServiceClient& c) { c.Sync(); });
  });
  Status first_error;
  MutexLock l(&mu_);
  auto it = written_.find(ino);
  for (size_t i = 0; i < addrs.size(); ++i) {
    if (!res[i].ok()) {
      LOG(WARNING) << "sync of inode " << ino << " on " << addrs[i] << " failed: " << res[i].ToString();
      if (first_error.ok()) first_error = res[i];
      continue;
    }
    // Forget the server only if nothing was written to it after the
    // snapshot (that write may have missed this Sync).
    if (it == written_.end()) continue;
    auto jt = it->second.find(addrs[i]);
    if (jt != it->second.end() && jt->second <= snapshot[addrs[i]]) it->second.erase(jt);
  }
  if (it != written_.end() && it->second.empty()) written_.erase(it);
  return first_error;
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
