// ReplicaManager: client reports of bad replicas and inventory
// reconciliation (thrift/PROTOCOL.md "Failures, versions and repair").
#include <unordered_set>

#include "common/log.h"
#include "daemons/metad/replica_manager.h"

namespace replfs::metad {
namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& a : v) s += (s.empty() ? "" : ",") + a;
  return s;
}

// How fsck shows a replica dropped for `why`.
ReplicaState DroppedState(Status::Code why) {
  if (why == Status::Code::kCorruption) return ReplicaState::kCorrupt;
  if (why == Status::Code::kNotFound) return ReplicaState::kMissing;
  return ReplicaState::kStale;  // stale, or missed a write (server down, failed)
}

}  // namespace

Status ReplicaManager::DropCorrupt(const std::string& addr, ChunkId id, uint64_t version,
                                   const std::string& reporter) {
  ChunkInfo c;
  if (!chunks_->Get(id, &c).ok() || c.version != version || !Contains(c.replicas, addr)) {
    if (chunks_->Get(id, &c).ok() && !Contains(c.replicas, addr)) chunks_->QueueDelete(addr, id, version);
    return Status::OK();  // not a member at that version any more: nothing to drop
  }
  ChunkInfo out;
  return ReportBad(c.ino, c.index, id, version, {addr}, Status::Code::kCorruption, reporter, &out);
}

Status ReplicaManager::ReportBad(Ino ino, int64_t index, ChunkId id, uint64_t version,
                                 const std::vector<std::string>& bad, Status::Code why, const std::string& reporter,
                                 ChunkInfo* out) {
  const std::string what = "chunk " + std::to_string(id);
  if (bad.empty()) return Status::Invalid("ReportBadReplicas without replicas");
  Guard g;
  REPLFS_RETURN_IF_ERROR(AcquireBounded(id, &g));
  std::vector<ChunkInfo> found;
  REPLFS_RETURN_IF_ERROR(chunks_->GetChunks(ino, index, 1, &found));
  if (found.empty() || found[0].id != id)
    return Status::NotFound(what + " is not chunk " + std::to_string(index) + " of inode " + std::to_string(ino));
  const ChunkInfo cur = found[0];
  if (version != cur.version) {  // handled already, or the reporter is behind
    *out = cur;
    return Status::OK();
  }
  // A reported address that is no member (any more: reconciliation drops
  // members without a version change) is ignored; the reporter gets the
  // current location.
  std::vector<std::string> members_bad;
  for (const auto& b : bad)
    if (Contains(cur.replicas, b) && !Contains(members_bad, b)) members_bad.push_back(b);
  if (members_bad.empty()) {
    LOG(INFO) << what << ": " << Join(bad) << " reported by " << reporter
              << " is no replica (any more); answering the current location";
    *out = cur;
    return Status::OK();
  }
  const std::vector<std::string> keep = Without(cur.replicas, members_bad);
  const char* why_name = Status::CodeName(why);
  if (keep.empty()) {
    LOG(WARNING) << what << ": every replica (" << Join(members_bad) << ") reported bad (" << why_name << ") by "
                 << reporter << "; keeping them";
    return Status::Unavailable(what + ": every replica reported bad; none dropped");
  }
  LOG(WARNING) << what << " (inode " << ino << " index " << index << "): dropping " << Join(members_bad) << " ("
               << why_name << ") reported by " << reporter;
  const bool delete_them = why == Status::Code::kCorruption || why == Status::Code::kStale;
  REPLFS_RETURN_IF_ERROR(
      ChangeVersionLocked(cur, keep, delete_them ? members_bad : std::vector<std::string>{}, out));
  for (const auto& b : members_bad) NoteDropped(id, b, DroppedState(why), std::string("reported ") + why_name + " by " + reporter);
  g = Guard();
  Wake();
  return Status::OK();
}

void ReplicaManager::Reconcile(const std::string& addr, const std::vector<ReplicaHeld>& held) {
  std::unordered_set<ChunkId> have;
  have.reserve(held.size());
  for (const auto& h : held) {
    have.insert(h.id);
    ReconcileOne(addr, h.id, true, h.version);
  }
  for (const auto& c : chunks_->Snapshot())
    if (!have.count(c.id) && Contains(c.replicas, addr)) ReconcileOne(addr, c.id, false, 0);
  Wake();
}

void ReplicaManager::ReconcileOne(const std::string& addr, ChunkId id, bool holds, uint64_t held_version) {
  Guard g;
  TryAcquire(id, &g);
  if (!g.held()) return;  // a change is running: the next report sees the result
  ChunkInfo c;
  const bool known = chunks_->Get(id, &c).ok();
  if (!known || !Contains(c.replicas, addr)) {
    // Being created (on its datads first, recorded after): the next report
    // after the grace tells whether it was recorded.
    if (!known && RecentlyTouched(id)) return;
    // Unknown, or placed elsewhere; an older version left the set earlier.
    if (holds) chunks_->QueueDelete(addr, id, held_version, known && held_version < c.version);
    return;
  }
  if (holds) ForgetMissing(id, addr);
  if (holds && held_version == c.version) return;
  ChunkInfo next = c;
  std::vector<std::string> drop;
  if (holds && held_version > c.version) {
    // metad died between SetVersion and the commit: adopt.
    next.version = held_version;
    LOG(WARNING) << "chunk " << id << ": " << addr << " holds version " << held_version << " > "
                 << c.version << ": adopted";
  } else {
    // A chunk changed (created, re-versioned) recently: the report may have
    // been built before the change. The next report after the grace tells.
    if (InGrace(id)) return;
    if (c.replicas.size() == 1) {
      LOG(WARNING) << "chunk " << id << ": last replica " << addr << " is "
                   << (holds ? "stale" : "missing") << "; kept";
      return;
    }
    if (!holds) {
      // Dropped only in favour of another member that may hold the chunk:
      // one on an UP server not known to miss it too; never in favour of a
      // member on a DOWN server (which may be the only copy when it returns).
      const std::vector<std::string> missing = NoteMissing(id, addr);
      bool other = false;
      for (const auto& m : c.replicas)
        other |= m != addr && servers_->IsUp(m) && !Contains(missing, m);
      if (!other) {
        LOG(WARNING) << "chunk " << id << ": " << addr
                     << " misses it, and no other live member may hold it; kept";
        return;
      }
    }
    drop.push_back(addr);
    next.replicas = Without(c.replicas, drop);
    LOG(WARNING) << "chunk " << id << ": dropping " << addr << ": "
                 << (holds ? "stale (version " + std::to_string(held_version) + " < " +
                                 std::to_string(c.version) + ")"
                           : std::string("replica missing (wiped store?)"));
  }
  Status s = chunks_->Commit(next, c.version, drop, holds);
  if (!s.ok()) {
    LOG(INFO) << "chunk " << id << ": reconciliation of " << addr << " skipped: " << s.ToString();
    return;
  }
  if (drop.empty()) return;
  ForgetMissing(id, addr);
  if (holds) chunks_->QueueDelete(addr, id, held_version, true);  // marks the queued delete stale
  NoteDropped(id, addr, holds ? ReplicaState::kStale : ReplicaState::kMissing,
              holds ? "held version " + std::to_string(held_version) + " < " + std::to_string(c.version)
                    : std::string("absent from the datad's inventory"));
}

}  // namespace replfs::metad
