// MetaServiceHandler: the operator calls (Status, ResolvePath, Fsck).
#include "daemons/metad/meta_service.h"
#include "thrift/rpc_status.h"

namespace replfs::metad {

using net::ThrowIfError;

void MetaServiceHandler::Status(rpc::ClusterStatus& out) {
  ClusterStatus st = core_->GetStatus();
  for (const auto& s : st.servers) {
    rpc::ServerStatus r;
    r.addr = s.addr;
    r.state = s.state == ServerState::kUp ? rpc::ServerState::UP : rpc::ServerState::DOWN;
    r.chunks = s.chunks;
    r.bytes_used = s.bytes_used;
    r.bytes_free = s.bytes_free;
    r.bytes_total = s.bytes_total;
    r.corrupt_found = s.corrupt_found;
    r.last_heartbeat_ms = s.last_heartbeat_ms;
    out.servers.push_back(std::move(r));
  }
  out.chunks.total = st.chunks.total;
  out.chunks.healthy = st.chunks.healthy;
  out.chunks.under_replicated = st.chunks.under_replicated;
  out.chunks.unavailable = st.chunks.unavailable;
  out.chunks.corrupt_replicas = st.chunks.corrupt_replicas;
  out.repair_queued = st.repair_queued;
  out.repair_done = st.repair_done;
  out.uptime_ms = st.uptime_ms;
  out.files = st.files;
  out.directories = st.directories;
  out.replicas = st.replicas;
}

int64_t MetaServiceHandler::ResolvePath(const std::string& path) {
  if (path.size() > 65536) ThrowIfError(replfs::Status::NameTooLong("path over 64 KiB"));
  Ino ino = 0;
  ThrowIfError(core_->ns().ResolvePath(path, &ino));
  return static_cast<int64_t>(ino);
}

void MetaServiceHandler::Fsck(rpc::FileReport& out, int64_t ino) {
  if (ino <= 0) ThrowIfError(replfs::Status::Invalid("bad inode number " + std::to_string(ino)));
  FileReport rep;
  ThrowIfError(core_->Fsck(static_cast<Ino>(ino), &rep));
  out.ino = static_cast<int64_t>(rep.ino);
  out.path = rep.path;
  out.size = rep.size;
  out.goal = rep.goal;
  for (const auto& c : rep.chunks) {
    rpc::ChunkReport cr;
    cr.index = c.index;
    cr.chunk_id = static_cast<int64_t>(c.id);
    cr.version = static_cast<int64_t>(c.version);
    for (const auto& r : c.replicas) {
      rpc::ReplicaReport rr;
      rr.addr = r.addr;
      rr.state = static_cast<rpc::ReplicaState::type>(r.state);
      rr.detail = r.detail;
      cr.replicas.push_back(std::move(rr));
    }
    out.chunks.push_back(std::move(cr));
  }
}

}  // namespace replfs::metad
