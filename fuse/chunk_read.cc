// ChunkIo's read path: PROTOCOL.md "Data path" and "Client read path".
#include <algorithm>
#include <chrono>

#include "common/log.h"
#include "fuse/chunk_io.h"
#include "fuse/data_pools.h"

namespace replfs::client {

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
  const BlockRange range = SmallReadRange(geometry_, offset, len);
  for (const Piece& p : plan.pieces) {
    char* dst = buf.data() + (p.file_offset - plan.aligned_offset);
    REPLFS_RETURN_IF_ERROR(ReadFailover(ino, p, range, first, count, &locs, dst));
  }
  out->assign(buf, static_cast<size_t>(offset - plan.aligned_offset), static_cast<size_t>(len));
  return Status::OK();
}

Status ChunkIo::ReadFailover(uint64_t ino, const Piece& p, BlockRange range, int64_t first,
                             int64_t count, std::map<int64_t, ChunkLocation>* locs, char* dst) {
  Status s;
  for (int pass = 0; pass < 2; ++pass) {
    auto it = locs->find(p.chunk_index);
    if (it == locs->end()) {  // a hole
      std::fill(dst, dst + p.length, '\0');
      return Status::OK();
    }
    s = ReadPiece(ino, it->second, p, range, /*last_pass=*/pass == 1, dst);
    if (s.ok()) return s;
    if (pass == 0) {
      // Every replica failed: the location may be out of date (a replica
      // dropped, the version moved, repair placed a new one). Ask metad once.
      Invalidate(ino, p.chunk_index);
      REPLFS_RETURN_IF_ERROR(LocateForRead(ino, first, count, /*refresh=*/true, locs));
    }
  }
  LOG(ERROR) << "read of inode " << ino << " at " << p.file_offset << "+" << p.length
             << " failed on every replica: " << s.ToString();
  // No replica holds the chunk (all lost): an I/O error, not "no such file".
  if (s.IsNotFound()) return Status::IOError(s.message());
  return s;
}

Status ChunkIo::ReadReplica(const std::string& addr, const ChunkLocation& loc,
                            int32_t first_block, int32_t count, BlockRange range, bool last_pass,
                            char* dst) {
  std::vector<rpc::BlockData> got;
  counters_->Add("Read");
  // One try per replica: the next replica is a better retry than the same
  // one after a backoff.
  REPLFS_RETURN_IF_ERROR(Pools::Once(last_pass ? pools_->normal : pools_->fast, addr,
                                     [&](DataClient& c) {
                                       c.Read(got, loc.chunk_id, loc.version, first_block, count,
                                              range.offset, range.length);
                                     }));
  // A datad from before ranged reads answers with the whole block.
  if (range.length > 0 && got.size() == 1 && got[0].__isset.prefix_crc) {
    const rpc::BlockData& b = got[0];
    PartialBlock part{b.index,
                      b.offset,
                      b.__isset.stored_length ? b.stored_length : -1,
                      std::move(got[0].data),
                      static_cast<uint32_t>(b.crc),
                      static_cast<uint32_t>(b.prefix_crc),
                      static_cast<uint32_t>(b.__isset.suffix_crc ? b.suffix_crc : 0)};
    return AssemblePartial(geometry_, first_block, part, dst);
  }
  std::vector<Block> blocks;
  blocks.reserve(got.size());
  for (rpc::BlockData& b : got)
    blocks.push_back(Block{b.index, std::move(b.data), static_cast<uint32_t>(b.crc)});
  return AssembleBlocks(geometry_, first_block, count, blocks, dst);
}

Status ChunkIo::ReadPiece(uint64_t ino, const ChunkLocation& loc, const Piece& piece,
                          BlockRange range, bool last_pass, char* dst) {
  const int32_t first_block = static_cast<int32_t>(piece.offset_in_chunk / geometry_.block_size);
  const int32_t count = static_cast<int32_t>(piece.length / geometry_.block_size);
  Status result = Status::Unavailable("chunk " + std::to_string(loc.chunk_id) + " has no replicas");
  std::vector<std::string> corrupt, stale, missing;
  for (const std::string& addr : ranking_.Order(loc.replicas)) {
    const auto t0 = std::chrono::steady_clock::now();
    Status s = ReadReplica(addr, loc, first_block, count, range, last_pass, dst);
    if (s.ok()) {
      ranking_.MarkOk(addr, std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - t0));
      result = s;
      break;
    }
    if (s.IsRetryable()) ranking_.MarkFailed(addr);
    if (s.IsCorruption()) corrupt.push_back(addr);
    if (s.IsNotFound()) missing.push_back(addr);
    if (s.code() == Status::Code::kStale) stale.push_back(addr);
    LOG(WARNING) << "read of chunk " << loc.chunk_id << " v" << loc.version << " blocks "
                 << first_block << "+" << count << " from " << addr << " failed"
                 << (s.code() == Status::Code::kStale && !last_pass ? ", asking metad"
                                                                   : ", trying the next replica")
                 << ": " << s.ToString();
    result = s.WithContext("read from " + addr);
    // STALE at a cached version: the chunk moved on (a replica left the set
    // at a new version). Another replica answering at our old version may be
    // one that left and missed writes since, so nothing more is read at this
    // version: the caller refreshes the location first.
    if (s.code() == Status::Code::kStale && !last_pass) break;
  }
  if (!corrupt.empty()) ReportLater(ino, loc, corrupt, Status::Code::kCorruption);
  // A replica that does not hold the chunk lost it (or left the set; metad
  // ignores a report of a non-member).
  if (!missing.empty()) ReportLater(ino, loc, missing, Status::Code::kNotFound);
  // STALE at a version just fetched from metad: that replica is out of date.
  if (!stale.empty() && last_pass) ReportLater(ino, loc, stale, Status::Code::kStale);
  return result;
}

}  // namespace replfs::client
