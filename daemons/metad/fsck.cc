// MetaCore::Fsck: the state of every replica of one file, asked of the
// datads, followed by the replicas dropped since the chunk was last at its
// goal (PROTOCOL.md "What fsck shows").
#include <cstdint>

#include "common/log.h"
#include "daemons/metad/core.h"

namespace replfs::metad {
namespace {

const char* StateName(ReplicaState s) {
  switch (s) {
    case ReplicaState::kOk: return "ok";
    case ReplicaState::kCorrupt: return "corrupt";
    case ReplicaState::kMissing: return "missing";
    case ReplicaState::kStale: return "stale";
    default: return "unreachable";
  }
}

}  // namespace

Status MetaCore::Fsck(Ino ino, FileReport* out) {
  Inode in;
  REPLFS_RETURN_IF_ERROR(ns_->GetAttr(ino, &in));
  *out = FileReport{};
  out->ino = ino;
  out->size = in.size;
  out->goal = in.goal;
  std::vector<ChunkInfo> list;
  REPLFS_RETURN_IF_ERROR(chunks_->GetChunks(ino, 0, INT64_MAX, &list));
  for (const auto& c : list) {
    ChunkReport cr;
    FsckChunk(c, &cr);
    out->chunks.push_back(std::move(cr));
  }
  return Status::OK();
}

void MetaCore::FsckChunk(const ChunkInfo& c, ChunkReport* cr) {
  cr->index = c.index;
  cr->id = c.id;
  cr->version = c.version;
  std::vector<std::string> corrupt;
  for (const auto& addr : c.replicas) {
    if (!servers_->IsUp(addr)) {
      cr->replicas.push_back({addr, ReplicaState::kUnreachable, "server is down"});
      continue;
    }
    ReplicaReport r = datad_->Check(addr, c.id, c.version);
    r.addr = addr;
    if (r.state == ReplicaState::kCorrupt) corrupt.push_back(addr);
    cr->replicas.push_back(std::move(r));
  }
  // Corrupt members go the way of a client's CORRUPTION report: dropped
  // (version change) and repaired. Every member corrupt: nothing dropped.
  if (!corrupt.empty()) {
    ChunkInfo now;
    Status s = replicas_->ReportBad(c.ino, c.index, c.id, c.version, corrupt, Status::Code::kCorruption,
                                    "fsck", &now);
    if (!s.ok()) LOG(WARNING) << "fsck: corrupt replica(s) of chunk " << c.id << " not dropped: " << s.ToString();
  }
  for (const auto& d : replicas_->DroppedOf(c.id)) {
    if (Contains(c.replicas, d.addr) || Contains(corrupt, d.addr)) continue;  // back in the set / just reported
    ReplicaReport r{d.addr, d.state, "dropped: " + d.why};
    if (servers_->IsUp(d.addr)) {
      const ReplicaReport now = datad_->Check(d.addr, c.id, c.version);
      r.detail += "; now " + std::string(StateName(now.state)) + (now.detail.empty() ? "" : ": " + now.detail);
    } else {
      r.detail += "; server is down";
    }
    cr->replicas.push_back(std::move(r));
  }
}

}  // namespace replfs::metad
