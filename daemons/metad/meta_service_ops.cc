// MetaServiceHandler: the operator calls (Status, ResolvePath, Fsck, fault
// injection, scrub, heal, drain/remove, goals).
#include "daemons/metad/meta_service.h"
#include "thrift/rpc_status.h"

namespace replfs::metad {

using net::ThrowIfError;

namespace {

void ToScrub(const ScrubInfo& s, rpc::ScrubInfo* out) {
  out->running = s.running;
  out->progress = s.progress;
  out->last_full_pass_ms = s.last_full_pass_ms;
  out->oldest_unverified_ms = s.oldest_unverified_ms;
  out->bytes_verified = s.bytes_verified;
  out->corrupt_found_pass = s.corrupt_found_pass;
}

Status CheckAddr(const std::string& addr) {
  if (addr.empty() || addr.size() > 300) return Status::Invalid("bad datad address '" + addr + "'");
  return Status::OK();
}

}  // namespace

void MetaServiceHandler::Status(rpc::ClusterStatus& out) {
  ClusterStatus st = core_->GetStatus();
  for (const auto& s : st.servers) {
    rpc::ServerStatus r;
    r.addr = s.addr;
    r.state = static_cast<rpc::ServerState::type>(s.state);
    ToScrub(s.scrub, &r.scrub);
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
  out.chunks.stale_replicas = st.chunks.stale_replicas;
  for (const auto& [good, n] : st.chunks.under_by_good) out.chunks.under_by_good[good] = n;
  out.repair_bytes_per_s = st.repair_bytes_per_s;
  out.repair_bytes_queued = st.repair_bytes_queued;
  out.heal_running = st.heal_running;
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

void MetaServiceHandler::Corrupt(rpc::CorruptResult& out, int64_t ino, int64_t block, const std::string& server,
                                 rpc::FaultMode::type mode, bool force) {
  if (ino <= 0) ThrowIfError(replfs::Status::Invalid("bad inode number " + std::to_string(ino)));
  if (block < 0) ThrowIfError(replfs::Status::Invalid("block must be >= 0"));
  if (mode < rpc::FaultMode::FLIP || mode > rpc::FaultMode::DELETE)
    ThrowIfError(replfs::Status::Invalid("bad fault mode " + std::to_string(mode)));
  if (!server.empty()) ThrowIfError(CheckAddr(server));
  CorruptResult r;
  ThrowIfError(core_->Corrupt(static_cast<Ino>(ino), block, server, static_cast<FaultMode>(mode), force, &r));
  out.addr = r.addr;
  out.chunk_id = static_cast<int64_t>(r.chunk_id);
  out.chunk_index = r.chunk_index;
  out.version = static_cast<int64_t>(r.version);
  out.block = r.block;
}

void MetaServiceHandler::StartScrub(const std::string& server) {
  if (!server.empty()) ThrowIfError(CheckAddr(server));
  ThrowIfError(core_->StartScrub(server));
}

void MetaServiceHandler::Heal() { ThrowIfError(core_->Heal()); }

void MetaServiceHandler::Drain(const std::string& addr) {
  ThrowIfError(CheckAddr(addr));
  ThrowIfError(core_->Drain(addr));
}

void MetaServiceHandler::Undrain(const std::string& addr) {
  ThrowIfError(CheckAddr(addr));
  ThrowIfError(core_->Undrain(addr));
}

void MetaServiceHandler::RemoveServer(const std::string& addr) {
  ThrowIfError(CheckAddr(addr));
  ThrowIfError(core_->RemoveServer(addr));
}

int64_t MetaServiceHandler::SetGoal(int64_t ino, int32_t goal, bool recursive) {
  if (ino <= 0) ThrowIfError(replfs::Status::Invalid("bad inode number " + std::to_string(ino)));
  int64_t changed = 0;
  ThrowIfError(core_->SetGoal(static_cast<Ino>(ino), goal, recursive, &changed));
  return changed;
}

}  // namespace replfs::metad
