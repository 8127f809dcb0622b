// ChunkIo's write path: PROTOCOL.md "Data path" and "Client write path".
#include <algorithm>
#include <limits>

#include "common/crc32c.h"
#include "common/log.h"
#include "fuse/chunk_io.h"
#include "fuse/data_pools.h"
#include "thrift/rpc_status.h"

namespace replfs::client {
namespace {

std::string Describe(const ChunkLocation& loc) {
  std::string s = "chunk " + std::to_string(loc.chunk_id) + " v" + std::to_string(loc.version) + " on [";
  for (size_t i = 0; i < loc.replicas.size(); ++i) s += (i ? "," : "") + loc.replicas[i];
  return s + "]";
}

}  // namespace

int ChunkIo::Quorum(const ChunkLocation& loc) const {
  return loc.write_quorum > 0 ? loc.write_quorum : opts_.min_write_replicas;
}

// What the attempts of one piece share.
struct ChunkIo::WriteState {
  WriteState(const Piece& p, const std::string& b, int32_t c, bool s)
      : piece(p), bytes(b), crc(c), sync(s) {}
  const Piece& piece;
  const std::string& bytes;
  int32_t crc;
  bool sync;
  bool refresh = false;  // ask metad for the location before the next try
  std::string where;     // the last location tried, for the final log line
};

Status ChunkIo::Write(uint64_t ino, int64_t offset, std::string_view data, bool sync) {
  if (offset < 0) return Status::Invalid("negative offset");
  for (const Piece& p : SplitRange(geometry_, offset, static_cast<int64_t>(data.size()),
                                   geometry_.max_rpc_bytes)) {
    REPLFS_RETURN_IF_ERROR(WritePiece(ino, p,
                                      data.substr(static_cast<size_t>(p.file_offset - offset),
                                                  static_cast<size_t>(p.length)),
                                      sync));
  }
  return Status::OK();
}

Status ChunkIo::WritePiece(uint64_t ino, const Piece& piece, std::string_view payload,
                           bool sync) {
  const std::string bytes(payload);  // Thrift wants a std::string
  WriteState w{piece, bytes, static_cast<int32_t>(Crc32c(payload.data(), payload.size())), sync};
  // The one retry loop: every retryable outcome of an attempt is tried again
  // with backoff until rpc.budget_ms is spent, however many attempts.
  net::RpcOptions policy = opts_.rpc;
  policy.attempts = std::numeric_limits<int>::max();
  const std::string what =
      "write inode " + std::to_string(ino) + " chunk #" + std::to_string(piece.chunk_index);
  Status s = net::RetryCall(policy, net::Idempotency::kIdempotent, what, [&](bool* sent) {
    *sent = true;
    return WriteAttempt(ino, &w);
  });
  if (s.ok()) return s;
  LOG(ERROR) << what << " at " << piece.offset_in_chunk << "+" << piece.length << " failed ("
             << (w.where.empty() ? "no location" : w.where) << "): " << s.ToString();
  Invalidate(ino, piece.chunk_index);
  if (s.IsRetryable()) return Status::IOError(s.message() + " (" + w.where + ")");
  return s;
}

Status ChunkIo::WriteAttempt(uint64_t ino, WriteState* w) {
  ChunkLocation loc;
  REPLFS_RETURN_IF_ERROR(LocateForWrite(ino, w->piece.chunk_index, w->refresh, &loc));
  w->refresh = false;
  w->where = Describe(loc);
  if (static_cast<int>(loc.replicas.size()) < Quorum(loc)) {
    // Repair may add replicas, servers may return: wait and look again.
    w->refresh = true;
    return Status::Unavailable(w->where + " has fewer than " + std::to_string(Quorum(loc)) +
                               " replicas");
  }
  const std::string& primary = loc.replicas[0];
  const std::vector<std::string> forward(loc.replicas.begin() + 1, loc.replicas.end());
  rpc::WriteReply reply;
  counters_->Add("Write");
  // A store sync covers what the server acknowledged before the call.
  const uint64_t seq_before = LastWriteSeq();
  Status s = Pools::Once(w->sync ? pools_->synced : pools_->normal, primary, [&](DataClient& c) {
    c.Write(reply, loc.chunk_id, loc.version, w->piece.offset_in_chunk, w->bytes, w->crc, forward,
            w->sync);
  });
  if (!s.ok()) return OnPrimaryFailure(ino, loc, s, w);
  ranking_.MarkOk(primary);
  std::optional<uint64_t> synced_upto;
  if (w->sync && reply.synced) synced_upto = seq_before;
  if (synced_upto)
    NoteSynced(ino, primary, *synced_upto);
  else
    NoteWritten(ino, loc.index, primary);
  std::vector<std::string> failed;
  Status::Code why = Status::Code::kUnavailable;
  for (const rpc::ReplicaFailure& f : reply.failed) {
    LOG(WARNING) << "secondary " << f.addr << " of " << w->where << " failed a forwarded write: "
                 << f.message;
    if (failed.empty()) why = net::FromErrorCode(f.code);
    failed.push_back(f.addr);
  }
  return FinishWrite(ino, loc, failed, why, synced_upto);
}

Status ChunkIo::OnPrimaryFailure(uint64_t ino, const ChunkLocation& loc, const Status& s,
                                 WriteState* w) {
  const std::string& primary = loc.replicas[0];
  switch (s.code()) {
    case Status::Code::kNoSpace:
      return s.WithContext("primary " + primary);  // ENOSPC at once
    case Status::Code::kStale:
      // Our location is older than the replicas': look again.
      w->refresh = true;
      return Status::Unavailable("primary " + primary + " says " + w->where +
                                 " is stale: " + s.message());
    case Status::Code::kCorruption:
      // The payload was damaged on the way: nothing was stored; resend.
      return Status::Unavailable("payload damaged on the way to " + primary + ": " + s.message());
    case Status::Code::kNotFound:  // the primary lost its copy (wiped store)
    case Status::Code::kUnavailable:
    case Status::Code::kTimedOut:
    case Status::Code::kIOError: {
      if (s.IsRetryable()) ranking_.MarkFailed(primary);
      LOG(WARNING) << "primary " << primary << " of " << w->where << " failed: " << s.ToString();
      ChunkLocation now;
      Status r = ReportBad(ino, loc, {primary}, s.code(), &now);
      if (!r.ok()) {
        w->refresh = true;
        return r.IsRetryable() || r.code() == Status::Code::kStale || r.IsNotFound()
                   ? Status::Unavailable("reporting " + primary + ": " + r.ToString())
                   : r;
      }
      return Status::Unavailable("primary " + primary + " failed (" + s.ToString() +
                                 "); retrying on the new primary");
    }
    default:
      return s.WithContext("write to " + primary);
  }
}

Status ChunkIo::FinishWrite(uint64_t ino, const ChunkLocation& loc,
                            const std::vector<std::string>& failed, Status::Code why,
                            std::optional<uint64_t> synced_upto) {
  auto applied = [&](const std::string& addr) {
    return std::find(loc.replicas.begin(), loc.replicas.end(), addr) != loc.replicas.end() &&
           std::find(failed.begin(), failed.end(), addr) == failed.end();
  };
  for (size_t i = 1; i < loc.replicas.size(); ++i) {
    if (!applied(loc.replicas[i])) continue;
    if (synced_upto)
      NoteSynced(ino, loc.replicas[i], *synced_upto);
    else
      NoteWritten(ino, loc.index, loc.replicas[i]);
  }
  if (failed.empty()) return Status::OK();
  // The replicas that missed this write must leave the set before the write
  // counts (else they could be read); an unreachable metad means: try again.
  ChunkLocation now;
  Status r = ReportBad(ino, loc, failed, why, &now);
  if (!r.ok()) {
    // NotFound: the chunk is no longer the file's (another client truncated
    // it away): the next attempt locates the range again, allocating a new
    // chunk (a file that is gone fails there).
    if (r.IsNotFound()) Invalidate(ino, loc.index);
    if (r.IsRetryable() || r.code() == Status::Code::kStale || r.IsNotFound())
      return Status::Unavailable("reporting failed secondaries: " + r.ToString());
    return r;
  }
  // The write counts only if every member of the set metad answers applied
  // it. A member that is new to us (repair added it while we wrote) or one
  // that failed but is still there (our report was not the change metad
  // made) may lack it: write again to the current location (writes are
  // idempotent; ReportBad cached it).
  for (const std::string& m : now.replicas) {
    if (!applied(m))
      return Status::Unavailable("the replicas of " + Describe(loc) + " changed to " + Describe(now) +
                                 " during the write; writing again");
  }
  if (static_cast<int>(now.replicas.size()) >= Quorum(now)) return Status::OK();
  return Status::Unavailable("only " + std::to_string(now.replicas.size()) + " of " +
                             std::to_string(loc.replicas.size()) + " replicas of " +
                             Describe(loc) + " applied the write, need " +
                             std::to_string(Quorum(now)));
}

}  // namespace replfs::client
