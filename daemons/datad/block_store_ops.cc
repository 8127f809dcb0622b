// BlockStore: the per-chunk operations (write, read, truncate, delete,
// version changes); verification and fault injection are in
// block_store_check.cc. Each takes the chunk's stripe lock for its whole
// duration: shared for reads, exclusive for anything that changes records.
#include <errno.h>
#include <kchashdb.h>

#include <algorithm>
#include <limits>

#include "common/log.h"
#include "daemons/datad/block_store.h"
#include "daemons/datad/store_format.h"

namespace replfs::datad {

using kyotocabinet::BasicDB;

std::string BlockStore::ChunkName(int64_t chunk) { return "chunk " + std::to_string(chunk); }

Status BlockStore::CheckIds(int64_t chunk, int64_t version) {
  if (chunk <= 0) return Status::Invalid("bad chunk id " + std::to_string(chunk));
  if (version <= 0)
    return Status::Invalid(ChunkName(chunk) + ": bad version " + std::to_string(version));
  return Status::OK();
}

Status BlockStore::StaleError(int64_t chunk, int64_t asked, int64_t held) {
  return Status::Stale(ChunkName(chunk) + ": version " + std::to_string(asked) +
                       " requested but this replica holds version " + std::to_string(held));
}

Status BlockStore::GetRecord(int64_t chunk, uint32_t idx, std::string* value, uint32_t* stored_crc,
                             bool* found) {
  if (!db_->get(format::BlockKey(chunk, idx), value)) {
    if (db_->error().code() != BasicDB::Error::NOREC)
      return KcError("read " + ChunkName(chunk) + " block " + std::to_string(idx));
    *found = false;
    value->clear();
    return Status::OK();
  }
  *found = true;
  if (value->size() < format::kCrcSize ||
      value->size() > format::kCrcSize + static_cast<size_t>(block_size_))
    return Corrupt(chunk, idx, "malformed record of " + std::to_string(value->size()) + " bytes");
  *stored_crc = static_cast<uint32_t>(format::GetLE(value->data(), 4));
  return Status::OK();
}

Status BlockStore::GetBlock(int64_t chunk, uint32_t idx, std::string* data, uint32_t* crc,
                            bool* found) {
  std::string value;
  uint32_t stored = 0;
  REPLFS_RETURN_IF_ERROR(GetRecord(chunk, idx, &value, &stored, found));
  if (!*found) {
    data->clear();
    return Status::OK();
  }
  const uint32_t actual = Crc32c(value.data() + format::kCrcSize, value.size() - format::kCrcSize);
  if (stored != actual) return Corrupt(chunk, idx, "checksum mismatch");
  data->assign(value, format::kCrcSize, std::string::npos);
  *crc = actual;
  return Status::OK();
}

Status BlockStore::PutBlock(int64_t chunk, uint32_t idx, std::string_view data,
                            int64_t old_size) {
  if (!db_->set(format::BlockKey(chunk, idx), format::BlockValue(data)))
    return KcError("write " + ChunkName(chunk) + " block " + std::to_string(idx));
  bytes_used_.fetch_add(static_cast<int64_t>(data.size()) - old_size);
  return Status::OK();
}

Status BlockStore::WriteOneBlock(int64_t chunk, uint32_t idx, int64_t start,
                                 std::string_view piece, bool marked) {
  if (start == 0 && static_cast<int64_t>(piece.size()) == block_size_) {
    // A whole block: nothing of the old one survives, so no need to read it.
    const int32_t old = db_->check(format::BlockKey(chunk, idx));
    return PutBlock(chunk, idx, piece, std::max<int64_t>(old - 4, 0));
  }
  // Read-modify-write in the record itself (checksum, then the bytes).
  std::string value;
  uint32_t stored_crc = 0;
  bool found = false;
  REPLFS_RETURN_IF_ERROR(GetRecord(chunk, idx, &value, &stored_crc, &found));
  // Merging into zeros would make a lost block look valid.
  if (!found && marked) return Corrupt(chunk, idx, "written block missing");
  if (!found) value.assign(format::kCrcSize, '\0');
  const size_t old_size = value.size() - format::kCrcSize;
  const auto begin = static_cast<size_t>(start);
  const size_t end = begin + piece.size();
  const char* old_bytes = value.data() + format::kCrcSize;
  // An overwrite inside the old bytes checks them in one pass as the CRCs
  // of the part kept before, the part replaced and the part kept after,
  // combined; the new block's CRC is then the kept parts' CRCs combined
  // with the piece's, without a second pass over the block.
  const bool inside = found && end <= old_size;
  uint32_t prefix = 0, suffix = 0;
  if (inside) {
    prefix = Crc32c(old_bytes, begin);
    const uint32_t replaced = Crc32c(old_bytes + begin, piece.size());
    suffix = Crc32c(old_bytes + end, old_size - end);
    if (Crc32cCombine(Crc32cCombine(prefix, replaced, piece.size()), suffix, old_size - end) !=
        stored_crc)
      return Corrupt(chunk, idx, "checksum mismatch");
  } else if (found && Crc32c(old_bytes, old_size) != stored_crc) {
    return Corrupt(chunk, idx, "checksum mismatch");
  }
  if (value.size() < format::kCrcSize + end) value.resize(format::kCrcSize + end, '\0');
  char* bytes = value.data() + format::kCrcSize;
  piece.copy(bytes + begin, piece.size());
  const size_t new_size = value.size() - format::kCrcSize;
  const uint32_t crc =
      inside ? Crc32cCombine(Crc32cCombine(prefix, Crc32c(piece), piece.size()), suffix,
                             old_size - end)
             : Crc32c(bytes, new_size);
  format::SetLE(value.data(), crc, format::kCrcSize);
  if (!db_->set(format::BlockKey(chunk, idx), value))
    return KcError("write " + ChunkName(chunk) + " block " + std::to_string(idx));
  bytes_used_.fetch_add(static_cast<int64_t>(new_size) - static_cast<int64_t>(old_size));
  return Status::OK();
}

Status BlockStore::Create(int64_t chunk, int64_t version) {
  REPLFS_RETURN_IF_ERROR(CheckIds(chunk, version));
  REPLFS_RETURN_IF_ERROR(CheckSpace(0));
  WriterLock l(StripeFor(chunk));
  ChunkInfo info;
  if (LookUp(chunk, &info))
    return info.version == version ? Status::OK() : StaleError(chunk, version, info.version);
  return PutHeader(chunk, ChunkInfo{version, format::Bitmap()});
}

Status BlockStore::Write(int64_t chunk, int64_t version, int64_t offset, std::string_view data) {
  REPLFS_RETURN_IF_ERROR(CheckIds(chunk, version));
  const auto len = static_cast<int64_t>(data.size());
  if (offset < 0 || len > kMaxChunkBytes || offset > kMaxChunkBytes - len)
    return Status::Invalid(ChunkName(chunk) + ": write of " + std::to_string(len) +
                           " bytes at " + std::to_string(offset) + " is outside a chunk");
  REPLFS_RETURN_IF_ERROR(CheckSpace(len + block_size_));  // a partial block is rewritten whole
  WriterLock l(StripeFor(chunk));
  ChunkInfo info;
  if (!LookUp(chunk, &info)) return Status::NotFound(ChunkName(chunk) + " is not held here");
  if (info.version != version) return StaleError(chunk, version, info.version);
  bool marked = false;
  Status s;
  int64_t pos = offset;
  while (!data.empty()) {
    const auto idx = static_cast<uint32_t>(pos / block_size_);
    const int64_t start = pos % block_size_;
    const size_t n = static_cast<size_t>(std::min<int64_t>(block_size_ - start, data.size()));
    s = WriteOneBlock(chunk, idx, start, data.substr(0, n), info.written.Test(idx));
    if (!s.ok()) break;
    marked |= info.written.Set(idx);
    pos += static_cast<int64_t>(n);
    data.remove_prefix(n);
  }
  // The header after the blocks, once per call: a crash in between leaves
  // blocks present but unmarked, which the next open counts as written.
  if (marked) {
    Status h = PutHeader(chunk, info);
    if (s.ok()) s = h;
  }
  return s;
}

Status BlockStore::Read(int64_t chunk, int64_t version, int64_t first, int64_t count,
                        std::vector<Block>* out) {
  REPLFS_RETURN_IF_ERROR(CheckIds(chunk, version));
  if (first < 0 || count < 0 || first + count > kMaxChunkBytes / block_size_)
    return Status::Invalid(ChunkName(chunk) + ": bad block range " + std::to_string(first) +
                           "+" + std::to_string(count));
  ReaderLock l(StripeFor(chunk));
  ChunkInfo info;
  if (!LookUp(chunk, &info)) return Status::NotFound(ChunkName(chunk) + " is not held here");
  if (info.version != version) return StaleError(chunk, version, info.version);
  const size_t keep = out->size();
  const int64_t end = std::min<int64_t>(first + count, info.end_block());
  for (int64_t i = first; i < end; ++i) {
    const auto idx = static_cast<uint32_t>(i);
    if (!info.written.Test(idx)) continue;  // a hole
    Block b;
    b.index = static_cast<int32_t>(i);
    bool found = false;
    Status s = GetBlock(chunk, idx, &b.data, &b.crc, &found);
    if (s.ok() && !found) s = Corrupt(chunk, idx, "written block missing");
    if (!s.ok()) {
      out->resize(keep);  // never hand out part of a failed read
      return s;
    }
    if (found) out->push_back(std::move(b));
  }
  return Status::OK();
}

Status BlockStore::ReadPart(int64_t chunk, int64_t version, int32_t index, int32_t offset,
                            int32_t length, BlockPart* out, bool* found) {
  REPLFS_RETURN_IF_ERROR(CheckIds(chunk, version));
  if (index < 0 || index >= kMaxChunkBytes / block_size_ || offset < 0 || length <= 0 ||
      offset > block_size_ - length)
    return Status::Invalid(ChunkName(chunk) + ": bad block part " + std::to_string(index) + " @" +
                           std::to_string(offset) + "+" + std::to_string(length));
  ReaderLock l(StripeFor(chunk));
  ChunkInfo info;
  if (!LookUp(chunk, &info)) return Status::NotFound(ChunkName(chunk) + " is not held here");
  if (info.version != version) return StaleError(chunk, version, info.version);
  *found = false;
  const auto idx = static_cast<uint32_t>(index);
  if (idx >= info.end_block() || !info.written.Test(idx)) return Status::OK();  // a hole
  std::string value;
  uint32_t stored_crc = 0;
  REPLFS_RETURN_IF_ERROR(GetRecord(chunk, idx, &value, &stored_crc, found));
  if (!*found) return Corrupt(chunk, idx, "written block missing");
  const char* bytes = value.data() + format::kCrcSize;
  const size_t stored = value.size() - format::kCrcSize;
  const size_t begin = std::min(stored, static_cast<size_t>(offset));
  const size_t end = std::min(stored, static_cast<size_t>(offset) + static_cast<size_t>(length));
  const uint32_t prefix = Crc32c(bytes, begin);
  const uint32_t middle = Crc32c(bytes + begin, end - begin);
  const uint32_t suffix = Crc32c(bytes + end, stored - end);
  if (Crc32cCombine(Crc32cCombine(prefix, middle, end - begin), suffix, stored - end) != stored_crc)
    return Corrupt(chunk, idx, "checksum mismatch");
  out->index = index;
  out->offset = static_cast<int32_t>(begin);
  out->stored_length = static_cast<int32_t>(stored);
  out->data.assign(bytes + begin, end - begin);
  out->crc = stored_crc;
  out->prefix_crc = prefix;
  out->suffix_crc = suffix;
  return Status::OK();
}

Status BlockStore::RemoveBlocks(int64_t chunk, uint32_t from, uint32_t to) {
  for (uint32_t idx = from; idx < to; ++idx) {
    const std::string key = format::BlockKey(chunk, idx);
    const int32_t size = db_->check(key);
    if (size < 0) {
      if (db_->error().code() == BasicDB::Error::NOREC) continue;
      return KcError("inspect " + ChunkName(chunk) + " block " + std::to_string(idx));
    }
    if (!db_->remove(key) && db_->error().code() != BasicDB::Error::NOREC)
      return KcError("remove " + ChunkName(chunk) + " block " + std::to_string(idx));
    bytes_used_.fetch_sub(std::max<int64_t>(size - 4, 0));
  }
  return Status::OK();
}

Status BlockStore::Truncate(int64_t chunk, int64_t version, int64_t length) {
  REPLFS_RETURN_IF_ERROR(CheckIds(chunk, version));
  if (length < 0 || length > kMaxChunkBytes)
    return Status::Invalid(ChunkName(chunk) + ": bad truncate length " + std::to_string(length));
  WriterLock l(StripeFor(chunk));
  ChunkInfo info;
  if (!LookUp(chunk, &info)) return Status::OK();  // nothing stored, nothing past length
  if (info.version != version) return StaleError(chunk, version, info.version);
  const auto keep = static_cast<uint32_t>((length + block_size_ - 1) / block_size_);
  const int64_t tail = length % block_size_;
  if (tail != 0 && keep - 1 < info.end_block()) {
    // The block holding the new end keeps its first `tail` bytes.
    std::string data;
    uint32_t crc = 0;
    bool found = false;
    REPLFS_RETURN_IF_ERROR(GetBlock(chunk, keep - 1, &data, &crc, &found));
    if (found && static_cast<int64_t>(data.size()) > tail) {
      const auto old_size = static_cast<int64_t>(data.size());
      data.resize(static_cast<size_t>(tail));
      REPLFS_RETURN_IF_ERROR(PutBlock(chunk, keep - 1, data, old_size));
    }
  }
  if (keep < info.end_block()) {
    // Header first: a crash before the blocks are gone leaves them present
    // but unmarked, which the next open counts as written again (as if the
    // truncate had not happened), never as lost.
    const uint32_t end = info.end_block();
    info.written.ClearFrom(keep);
    REPLFS_RETURN_IF_ERROR(PutHeader(chunk, info));
    REPLFS_RETURN_IF_ERROR(RemoveBlocks(chunk, keep, end));
  }
  return Status::OK();
}

Status BlockStore::DeleteChunk(int64_t chunk) {
  return DeleteChunkUpTo(chunk, std::numeric_limits<int64_t>::max(), nullptr);
}

Status BlockStore::DeleteChunkUpTo(int64_t chunk, int64_t max_version, bool* deleted) {
  if (deleted != nullptr) *deleted = false;
  if (chunk <= 0) return Status::Invalid("bad chunk id " + std::to_string(chunk));
  WriterLock l(StripeFor(chunk));
  ChunkInfo info;
  if (!LookUp(chunk, &info) || info.version > max_version) return Status::OK();
  if (deleted != nullptr) *deleted = true;
  // Header first: the chunk disappears at once; blocks a crash leaves behind
  // are orphans, removed at the next open.
  if (!db_->remove(format::ChunkKey(chunk)) && db_->error().code() != BasicDB::Error::NOREC)
    return KcError("delete " + ChunkName(chunk));
  {
    MutexLock m(&index_mu_);
    index_.erase(chunk);
  }
  return RemoveBlocks(chunk, 0, info.end_block());
}

Status BlockStore::SetVersion(int64_t chunk, int64_t old_version, int64_t new_version) {
  REPLFS_RETURN_IF_ERROR(CheckIds(chunk, old_version));
  if (new_version <= old_version)
    return Status::Invalid(ChunkName(chunk) + ": new version " + std::to_string(new_version) +
                           " is not greater than " + std::to_string(old_version));
  {
    WriterLock l(StripeFor(chunk));
    ChunkInfo info;
    if (!LookUp(chunk, &info)) return Status::NotFound(ChunkName(chunk) + " is not held here");
    if (info.version != new_version) {
      if (info.version != old_version) return StaleError(chunk, old_version, info.version);
      info.version = new_version;
      REPLFS_RETURN_IF_ERROR(PutHeader(chunk, info));
    }
  }
  // Outside the stripe lock: other chunks sharing the stripe need not wait
  // for the fsync. Also synced when the version was already new: an earlier
  // call may have set it and then failed to sync.
  return Sync();
}

Status BlockStore::Stat(int64_t chunk, ChunkStat* out) const {
  ChunkInfo info;
  if (!LookUp(chunk, &info)) return Status::NotFound(ChunkName(chunk) + " is not held here");
  out->version = info.version;
  out->end_block = info.end_block();
  return Status::OK();
}

}  // namespace replfs::datad
