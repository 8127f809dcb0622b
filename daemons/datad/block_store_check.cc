// BlockStore: verification (Check, Verify), fault injection and the record
// of corrupt blocks found, which metad learns from the heartbeat.
#include <kchashdb.h>

#include <algorithm>

#include "common/log.h"
#include "daemons/datad/block_store.h"
#include "daemons/datad/store_format.h"

namespace replfs::datad {

using kyotocabinet::BasicDB;

const char* FaultModeName(FaultMode m) {
  switch (m) {
    case FaultMode::kFlip: return "flip";
    case FaultMode::kZero: return "zero";
    case FaultMode::kDelete: return "delete";
  }
  return "?";
}

Status BlockStore::Corrupt(int64_t chunk, uint32_t idx, std::string_view why) {
  corrupt_found_.fetch_add(1);
  std::string msg = ChunkName(chunk) + " block " + std::to_string(idx) + ": " + std::string(why) +
                    " in " + path_;
  LOG(WARNING) << msg;
  ChunkInfo info;
  if (!LookUp(chunk, &info)) return Status::Corruption(msg);
  std::function<void()> listener;
  {
    MutexLock l(&corrupt_mu_);
    const bool added = corrupt_pending_.size() < kMaxCorruptPending &&
                       corrupt_pending_.insert({chunk, info.version}).second;
    if (added) listener = corrupt_listener_;
  }
  // Outside corrupt_mu_: the listener (waking the heartbeater) takes its own locks.
  if (listener) listener();
  return Status::Corruption(msg);
}

std::vector<ChunkVersion> BlockStore::CorruptChunks() const {
  MutexLock l(&corrupt_mu_);
  return std::vector<ChunkVersion>(corrupt_pending_.begin(), corrupt_pending_.end());
}

void BlockStore::ForgetCorrupt(const std::vector<ChunkVersion>& reported) {
  MutexLock l(&corrupt_mu_);
  for (const ChunkVersion& cv : reported) corrupt_pending_.erase(cv);
}

void BlockStore::SetCorruptionListener(std::function<void()> fn) {
  MutexLock l(&corrupt_mu_);
  corrupt_listener_ = std::move(fn);
}

Status BlockStore::VerifyRange(int64_t chunk, const ChunkInfo& info, uint32_t first,
                               uint32_t end, VerifyResult* out) {
  for (uint32_t idx = first; idx < end; ++idx) {
    std::string data;
    uint32_t crc = 0;
    bool found = false;
    Status s = GetBlock(chunk, idx, &data, &crc, &found);
    if (s.ok() && !found && info.written.Test(idx)) s = Corrupt(chunk, idx, "written block missing");
    if (s.IsCorruption()) {
      ++out->blocks;
      ++out->bad_blocks;
      out->detail += (out->detail.empty() ? "bad blocks:" : "") + std::string(" ") +
                     std::to_string(idx);
      continue;
    }
    REPLFS_RETURN_IF_ERROR(s);
    if (found) {
      ++out->blocks;
      out->bytes += static_cast<int64_t>(data.size());
    }
  }
  return Status::OK();
}

Status BlockStore::Check(int64_t chunk, int64_t version, CheckResult* out) {
  REPLFS_RETURN_IF_ERROR(CheckIds(chunk, version));
  *out = CheckResult{};
  ReaderLock l(StripeFor(chunk));
  ChunkInfo info;
  if (!LookUp(chunk, &info)) {
    out->state = ReplicaState::kMissing;
    out->detail = ChunkName(chunk) + " is not held here";
    return Status::OK();
  }
  out->version = info.version;
  if (info.version != version) {
    out->state = ReplicaState::kStale;
    out->detail = StaleError(chunk, version, info.version).message();
    return Status::OK();
  }
  VerifyResult v;
  REPLFS_RETURN_IF_ERROR(VerifyRange(chunk, info, 0, info.end_block(), &v));
  out->blocks = v.blocks;
  out->bad_blocks = v.bad_blocks;
  out->detail = std::move(v.detail);
  out->state = out->bad_blocks > 0 ? ReplicaState::kCorrupt : ReplicaState::kOk;
  return Status::OK();
}

Status BlockStore::Verify(int64_t chunk, int64_t version, int64_t first, int64_t count,
                          VerifyResult* out) {
  *out = VerifyResult{};
  REPLFS_RETURN_IF_ERROR(CheckIds(chunk, version));
  if (first < 0 || count < 0 || first + count > kMaxChunkBytes / block_size_)
    return Status::Invalid(ChunkName(chunk) + ": bad block range " + std::to_string(first) +
                           "+" + std::to_string(count));
  ReaderLock l(StripeFor(chunk));
  ChunkInfo info;
  if (!LookUp(chunk, &info)) return Status::NotFound(ChunkName(chunk) + " is not held here");
  if (info.version != version) return StaleError(chunk, version, info.version);
  const auto end = static_cast<uint32_t>(std::min<int64_t>(first + count, info.end_block()));
  if (first >= end) return Status::OK();
  return VerifyRange(chunk, info, static_cast<uint32_t>(first), end, out);
}

Status BlockStore::InjectFault(int64_t chunk, int64_t block, FaultMode mode) {
  if (chunk <= 0) return Status::Invalid("bad chunk id " + std::to_string(chunk));
  if (block < 0 || block >= kMaxChunkBytes / block_size_)
    return Status::Invalid(ChunkName(chunk) + ": block " + std::to_string(block) +
                           " is outside a chunk");
  WriterLock l(StripeFor(chunk));
  REPLFS_RETURN_IF_ERROR(DamageBlock(chunk, static_cast<uint32_t>(block), mode));
  LOG(WARNING) << "fault injected: chunk " << chunk << " block " << block << " mode "
               << FaultModeName(mode);
  return Status::OK();
}

// The stripe lock is held exclusively.
Status BlockStore::DamageBlock(int64_t chunk, uint32_t idx, FaultMode mode) {
  const std::string what = ChunkName(chunk) + " block " + std::to_string(idx);
  ChunkInfo info;
  if (!LookUp(chunk, &info)) return Status::NotFound(ChunkName(chunk) + " is not held here");
  const std::string key = format::BlockKey(chunk, idx);
  std::string value;
  if (!db_->get(key, &value)) {
    if (db_->error().code() != BasicDB::Error::NOREC) return KcError("read " + what);
    if (mode == FaultMode::kDelete && info.written.Test(idx)) return Status::OK();  // done before
    return Status::NotFound(what + " has no data (a hole)");
  }
  if (mode == FaultMode::kDelete) {
    // The header (with this block marked) goes first: an old-format header
    // has no bitmap on disk, and without one the loss would read as a hole.
    info.written.Set(idx);
    REPLFS_RETURN_IF_ERROR(PutHeader(chunk, info));
    if (!db_->remove(key)) return KcError("remove " + what);
    bytes_used_.fetch_sub(std::max<int64_t>(static_cast<int64_t>(value.size()) - 4, 0));
    return Status::OK();
  }
  if (value.size() <= format::kCrcSize) return Status::Invalid(what + " holds no data bytes");
  char* data = value.data() + format::kCrcSize;
  const size_t n = value.size() - format::kCrcSize;
  if (mode == FaultMode::kFlip) {
    data[n / 2] = static_cast<char>(data[n / 2] ^ 0x10);
  } else {
    if (std::all_of(data, data + n, [](char c) { return c == '\0'; }))
      return Status::Invalid(what + " is all zeros already: zeroing would not damage it");
    std::fill(data, data + n, '\0');
  }
  if (!db_->set(key, value)) return KcError("damage " + what);
  return Status::OK();
}

}  // namespace replfs::datad
