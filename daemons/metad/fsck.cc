#include "daemons/metad/fsck.h"

#include <cstdint>

namespace replfs::metad {

Status RunFsck(const Namespace& ns, const ChunkMap& chunks, const ServerRegistry& servers,
               DatadApi* checker, Ino ino, FileReport* out) {
  Inode in;
  REPLFS_RETURN_IF_ERROR(ns.GetAttr(ino, &in));
  *out = FileReport{};
  out->ino = ino;
  out->size = in.size;
  out->goal = in.goal;
  std::vector<ChunkInfo> list;
  REPLFS_RETURN_IF_ERROR(chunks.GetChunks(ino, 0, INT64_MAX, &list));
  for (const auto& c : list) {
    ChunkReport cr;
    cr.index = c.index;
    cr.id = c.id;
    cr.version = c.version;
    for (const auto& addr : c.replicas) {
      if (!servers.IsUp(addr)) {
        cr.replicas.push_back({addr, ReplicaState::kUnreachable, "server is down"});
        continue;
      }
      ReplicaReport r = checker->Check(addr, c.id, c.version);
      r.addr = addr;
      cr.replicas.push_back(std::move(r));
    }
    out->chunks.push_back(std::move(cr));
  }
  return Status::OK();
}

}  // namespace replfs::metad
