// MetaCore: the operator's tools (PROTOCOL.md "Operator tools"): fault
// injection, scrub, heal, drain/undrain/remove and replication goals.
#include <thread>

#include "common/log.h"
#include "daemons/metad/core.h"
#include "daemons/metad/records.h"
#include "daemons/metad/repair.h"

namespace replfs::metad {

Status MetaCore::Corrupt(Ino ino, int64_t block, const std::string& server, FaultMode mode, bool force,
                         CorruptResult* out) {
  if (block < 0) return Status::Invalid("block must be >= 0");
  Inode in;
  REPLFS_RETURN_IF_ERROR(ns_->GetAttr(ino, &in));
  if (in.type == FileType::kDirectory) return Status::IsDir("inode " + std::to_string(ino) + " is a directory");
  if (in.type != FileType::kRegular) return Status::NotFound("inode " + std::to_string(ino) + " is not a regular file");
  const int64_t bs = config_.block_size, cs = config_.chunk_size;
  if (block > INT64_MAX / bs) return Status::Invalid("block number too large");
  const int64_t index = block * bs / cs;
  const int32_t in_chunk = static_cast<int32_t>(block * bs % cs / bs);
  std::vector<ChunkInfo> found;
  REPLFS_RETURN_IF_ERROR(GetChunks(ino, index, 1, &found));
  if (found.empty()) {
    // NotFound, saying which case it is (not kInvalid: that is the refusal
    // to damage the last good replica). A chunk past the committed size
    // (a write not yet flushed) is still damaged if it exists.
    const std::string what_block = "block " + std::to_string(block);
    if (block * bs >= in.size) {
      return Status::NotFound(what_block + " is beyond the end of the file (" + std::to_string(in.size) +
                              " bytes, " + std::to_string(in.size / bs + (in.size % bs != 0)) + " blocks of " +
                              std::to_string(bs) + " bytes)");
    }
    return Status::NotFound(what_block + " is a hole (chunk " + std::to_string(index) +
                            " of the file is not allocated)");
  }
  const ChunkInfo c = found[0];
  const std::string what = "chunk " + std::to_string(c.id);
  if (c.replicas.empty()) return Status::Unavailable(what + " has no replica");
  const std::string target = server.empty() ? c.replicas[0] : server;
  if (!Contains(c.replicas, target)) return Status::NotFound(target + " holds no replica of " + what);
  bool other_ok = false;
  for (const auto& a : c.replicas) {
    if (a == target || !servers_->IsUp(a)) continue;
    if (datad_->Check(a, c.id, c.version).state == ReplicaState::kOk) {
      other_ok = true;
      break;
    }
  }
  if (!other_ok && !force)
    return Status::Invalid("would damage the last good replica of " + what + "; use --force");
  REPLFS_RETURN_IF_ERROR(datad_->InjectFault(target, c.id, in_chunk, mode).WithContext("InjectFault on " + target));
  LOG(WARNING) << "fault injected: " << what << " block " << in_chunk << " on " << target << " (mode "
               << static_cast<int>(mode) << (force ? ", forced)" : ")");
  // Every mount following the change feed drops what it caches of the file
  // (the kernel's pages, a small file's kept content), so that its next
  // read meets the damage, as the operator who injected it expects. The
  // inode itself is unchanged; origin 0 is no client's session.
  changes_->RecordKeys(0, {InodeKey(ino)});
  *out = CorruptResult{target, c.id, c.index, c.version, in_chunk};
  return Status::OK();
}

Status MetaCore::StartScrub(const std::string& server) {
  std::vector<std::string> targets;
  if (server.empty()) {
    for (const auto& a : servers_->UpAddrs()) targets.push_back(a);
  } else {
    if (!servers_->IsKnown(server)) return Status::NotFound("unknown datad " + server);
    if (!servers_->IsUp(server)) return Status::Unavailable("datad " + server + " is down");
    targets.push_back(server);
  }
  std::vector<Status> res(targets.size());
  std::vector<std::thread> calls;
  for (size_t i = 0; i < targets.size(); ++i)
    calls.emplace_back([&, i] { res[i] = datad_->StartScrub(targets[i]); });
  for (auto& t : calls) t.join();
  for (size_t i = 0; i < targets.size(); ++i)
    if (!res[i].ok()) return res[i].WithContext("StartScrub on " + targets[i]);
  LOG(INFO) << "scrub started on " << targets.size() << " datad(s)";
  return Status::OK();
}

Status MetaCore::Heal() {
  if (!repair_) return Status::Unavailable("no repair scheduler");
  repair_->Heal();
  return Status::OK();
}

Status MetaCore::Drain(const std::string& addr) { return servers_->SetDraining(addr, true); }

Status MetaCore::Undrain(const std::string& addr) { return servers_->SetDraining(addr, false); }

Status MetaCore::RemoveServer(const std::string& addr) {
  if (!servers_->IsKnown(addr)) return Status::NotFound("unknown datad " + addr);
  if (servers_->IsUp(addr) && !servers_->IsDraining(addr))
    return Status::Invalid("datad " + addr + " is up and not drained; drain it first");
  const std::set<std::string> up = servers_->UpAddrs();
  std::vector<ChunkId> held;
  int64_t last = 0;
  for (const auto& c : chunks_->Snapshot()) {
    if (!Contains(c.replicas, addr)) continue;
    held.push_back(c.id);
    bool elsewhere = false;
    for (const auto& r : c.replicas) elsewhere |= r != addr && up.count(r) > 0;
    last += elsewhere ? 0 : 1;
  }
  if (last > 0)
    return Status::Invalid(std::to_string(last) + " chunk(s) would lose their last live replica if " + addr +
                           " were removed");
  // Leaves every set. No version change: the server is down or drained and
  // is forgotten; if it returns, reconciliation deletes what it holds.
  for (ChunkId id : held) {
    ReplicaManager::Guard g = replicas_->Acquire(id);
    ChunkInfo c;
    if (!chunks_->Get(id, &c).ok() || !Contains(c.replicas, addr)) continue;
    ChunkInfo next = c;
    next.replicas = Without(c.replicas, {addr});
    if (next.replicas.empty()) continue;  // cannot happen: checked above
    REPLFS_RETURN_IF_ERROR(chunks_->Commit(next, c.version, {addr}, false));
  }
  REPLFS_RETURN_IF_ERROR(servers_->Forget(addr));
  chunks_->ForgetServer(addr);
  replicas_->Wake();
  return Status::OK();
}

Status MetaCore::SetGoal(Ino ino, int32_t goal, bool recursive, int64_t* changed) {
  if (goal < 1 || goal > kMaxGoal) return Status::Invalid("goal must be 1.." + std::to_string(kMaxGoal));
  Status s = ns_->SetGoal(ino, goal, recursive, changed);
  replicas_->Wake();  // even a partial change needs converging
  return s;
}

}  // namespace replfs::metad
