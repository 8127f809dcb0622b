#include "daemons/datad/data_service.h"

#include <set>

#include "common/crc32c.h"
#include "common/host_port.h"
#include "common/log.h"
#include "thrift/rpc_status.h"

namespace replfs::datad {

namespace {

Status CheckChunkArgs(int64_t chunk_id, int64_t version) {
  if (chunk_id <= 0) return Status::Invalid("chunk_id must be > 0, got " + std::to_string(chunk_id));
  if (version <= 0)
    return Status::Invalid("chunk " + std::to_string(chunk_id) + ": version must be > 0, got " +
                           std::to_string(version));
  return Status::OK();
}

Status CheckWriteArgs(int64_t chunk_id, int64_t version, int64_t offset, const std::string& data,
                      int32_t crc) {
  REPLFS_RETURN_IF_ERROR(CheckChunkArgs(chunk_id, version));
  const auto len = static_cast<int64_t>(data.size());
  const std::string what = "chunk " + std::to_string(chunk_id) + ": write of " +
                           std::to_string(len) + " bytes at " + std::to_string(offset);
  if (len > kMaxWriteBytes) return Status::Invalid(what + ": more than 16 MiB in one call");
  if (offset < 0 || offset > BlockStore::kMaxChunkBytes - len)
    return Status::Invalid(what + ": outside a chunk (1 GiB max)");
  if (Crc32c(data) != static_cast<uint32_t>(crc))
    return Status::Corruption(what + ": payload checksum mismatch (damaged in transit)");
  return Status::OK();
}

rpc::ReplicaState::type ToRpcState(ReplicaState s) {
  switch (s) {
    case ReplicaState::kOk: return rpc::ReplicaState::OK;
    case ReplicaState::kCorrupt: return rpc::ReplicaState::CORRUPT;
    case ReplicaState::kMissing: return rpc::ReplicaState::MISSING;
    case ReplicaState::kStale: return rpc::ReplicaState::STALE;
  }
  return rpc::ReplicaState::CORRUPT;
}

}  // namespace

Status CollectUsage(BlockStore* store, const Scrubber* scrubber, const std::string& addr,
                    rpc::ServerUsage* out, std::vector<ChunkVersion>* corrupt) {
  StoreUsage u;
  REPLFS_RETURN_IF_ERROR(store->Usage(&u));
  *out = rpc::ServerUsage();
  out->addr = addr;
  out->bytes_total = u.bytes_total;
  out->bytes_free = u.bytes_free;
  out->bytes_used = u.bytes_used;
  out->chunks = u.chunks;
  out->corrupt_found = u.corrupt_found;
  out->block_size = static_cast<int32_t>(store->block_size());
  const std::vector<ChunkVersion> bad = store->CorruptChunks();
  for (const ChunkVersion& cv : bad) {
    rpc::ChunkReplica r;
    r.chunk_id = cv.chunk_id;
    r.version = cv.version;
    out->corrupt_chunks.push_back(r);
  }
  if (corrupt != nullptr) *corrupt = bad;
  if (scrubber != nullptr) {
    const ScrubStatus st = scrubber->Info();
    out->scrub.running = st.running;
    out->scrub.progress = st.progress;
    out->scrub.last_full_pass_ms = st.last_full_pass_ms;
    out->scrub.oldest_unverified_ms = st.oldest_unverified_ms;
    out->scrub.bytes_verified = st.bytes_verified;
    out->scrub.corrupt_found_pass = st.corrupt_found_pass;
  }
  return Status::OK();
}

const net::Policy& DatadPolicy() {
  using net::Mask;
  using net::Role;
  static const net::Policy policy = [] {
    const net::RoleMask bytes = Mask(Role::kClient) | Mask(Role::kAdmin) | Mask(Role::kDatad);
    const net::RoleMask metad = Mask(Role::kMetad);
    net::Policy p;
    for (const char* m : {"Write", "Read", "Truncate", "Sync"}) p[m] = bytes;
    // Repair: metad creates and deletes; a pushing datad recreates its
    // target's copy.
    for (const char* m : {"CreateChunk", "DeleteChunk"}) p[m] = metad | Mask(Role::kDatad);
    for (const char* m : {"SetVersion", "PushChunk", "CheckChunk", "Usage", "InjectFault", "StartScrub"})
      p[m] = metad;
    p["Ping"] = net::kAnyRole;
    return p;
  }();
  return policy;
}

const std::set<std::string>& DatadNoThrow() {
  static const std::set<std::string> s = {"Ping"};
  return s;
}

DataServiceHandler::DataServiceHandler(BlockStore* store, Replicator* replicator,
                                       Scrubber* scrubber, IoActivity* activity)
    : store_(store), replicator_(replicator), scrubber_(scrubber), activity_(activity) {}

Status DataServiceHandler::CheckPeer(const std::string& addr, const std::string& what) {
  HostPort hp;
  Status s = ParseHostPort(addr, &hp);
  if (!s.ok()) return Status::Invalid(what + ": bad address '" + addr + "': " + s.message());
  MutexLock l(&mu_);
  if (!addr_.empty() && hp.ToString() == addr_)
    return Status::Invalid(what + ": " + addr + " is this datad itself");
  return Status::OK();
}

void DataServiceHandler::set_advertised_addr(const std::string& addr) {
  MutexLock l(&mu_);
  addr_ = addr;
}

void DataServiceHandler::Write(rpc::WriteReply& out, int64_t chunk_id, int64_t version,
                               int64_t offset, const std::string& data, int32_t crc,
                               const std::vector<std::string>& forward, bool sync) {
  IoActivity::Scope busy(activity_);
  const std::string what = "chunk " + std::to_string(chunk_id) + ": forward list";
  Status s = CheckWriteArgs(chunk_id, version, offset, data, crc);
  if (s.ok() && forward.size() > kMaxForward)
    s = Status::Invalid(what + " has " + std::to_string(forward.size()) + " entries (max " +
                        std::to_string(kMaxForward) + ")");
  if (s.ok() && std::set<std::string>(forward.begin(), forward.end()).size() != forward.size())
    s = Status::Invalid(what + " names a datad twice");
  for (size_t i = 0; s.ok() && i < forward.size(); ++i) s = CheckPeer(forward[i], what);
  std::vector<ForwardFailure> failed;
  bool synced = false;
  if (s.ok())
    s = replicator_->Write(chunk_id, version, offset, data, static_cast<uint32_t>(crc), forward,
                           sync, &failed, &synced);
  net::ThrowIfError(s);
  out.synced = synced;
  out.failed.clear();
  for (ForwardFailure& f : failed) {
    rpc::ReplicaFailure r;
    r.addr = std::move(f.addr);
    r.code = net::ToErrorCode(f.status.code());
    r.message = f.status.message();
    out.failed.push_back(std::move(r));
  }
}

void DataServiceHandler::CreateChunk(int64_t chunk_id, int64_t version) {
  Status s = CheckChunkArgs(chunk_id, version);
  if (s.ok()) s = replicator_->Create(chunk_id, version);
  net::ThrowIfError(s);
}

void DataServiceHandler::SetVersion(int64_t chunk_id, int64_t old_version, int64_t new_version) {
  Status s = CheckChunkArgs(chunk_id, old_version);
  if (s.ok() && new_version <= old_version)
    s = Status::Invalid("chunk " + std::to_string(chunk_id) + ": new version " +
                        std::to_string(new_version) + " is not greater than " +
                        std::to_string(old_version));
  if (s.ok()) s = replicator_->SetVersion(chunk_id, old_version, new_version);
  net::ThrowIfError(s);
}

void DataServiceHandler::PushChunk(int64_t chunk_id, int64_t version, const std::string& target,
                                   int64_t new_version) {
  Status s = CheckChunkArgs(chunk_id, version);
  if (s.ok() && new_version <= version)
    s = Status::Invalid("chunk " + std::to_string(chunk_id) + ": push as version " +
                        std::to_string(new_version) + ", not greater than " +
                        std::to_string(version));
  if (s.ok()) s = CheckPeer(target, "chunk " + std::to_string(chunk_id) + ": push target");
  if (s.ok()) s = replicator_->PushChunk(chunk_id, version, target, new_version);
  net::ThrowIfError(s);
}

void DataServiceHandler::Read(std::vector<rpc::BlockData>& out, int64_t chunk_id,
                              int64_t version, int32_t first_block, int32_t count,
                              int32_t range_offset, int32_t range_length) {
  IoActivity::Scope busy(activity_);
  Status s = CheckChunkArgs(chunk_id, version);
  if (s.ok() && (first_block < 0 || count <= 0 || count > kMaxReadBlocks ||
                 count * store_->block_size() > kMaxReadBytes)) {
    s = Status::Invalid("chunk " + std::to_string(chunk_id) + ": bad block range first=" +
                        std::to_string(first_block) + " count=" + std::to_string(count) +
                        " (count must be 1.." + std::to_string(kMaxReadBlocks) +
                        " and at most 16 MiB)");
  }
  if (s.ok() && (range_offset != 0 || range_length != 0)) {
    if (count != 1 || range_length <= 0)
      s = Status::Invalid("chunk " + std::to_string(chunk_id) +
                          ": a ranged read is of one block and at least one byte");
    BlockPart part;
    bool found = false;
    if (s.ok()) s = store_->ReadPart(chunk_id, version, first_block, range_offset, range_length, &part, &found);
    net::ThrowIfError(s);
    out.clear();
    if (!found) return;  // a hole
    rpc::BlockData& d = out.emplace_back();
    d.index = part.index;
    d.data = std::move(part.data);
    d.crc = static_cast<int32_t>(part.crc);
    d.offset = part.offset;
    d.__set_prefix_crc(static_cast<int32_t>(part.prefix_crc));
    d.__set_suffix_crc(static_cast<int32_t>(part.suffix_crc));
    d.__set_stored_length(part.stored_length);
    return;
  }
  std::vector<Block> blocks;
  if (s.ok()) s = store_->Read(chunk_id, version, first_block, count, &blocks);
  net::ThrowIfError(s);
  out.clear();
  out.reserve(blocks.size());
  for (Block& b : blocks) {
    rpc::BlockData d;
    d.index = b.index;
    d.data = std::move(b.data);
    d.crc = static_cast<int32_t>(b.crc);
    out.push_back(std::move(d));
  }
}

void DataServiceHandler::Truncate(int64_t chunk_id, int64_t version, int64_t length) {
  IoActivity::Scope busy(activity_);
  Status s = CheckChunkArgs(chunk_id, version);
  if (s.ok() && (length < 0 || length > BlockStore::kMaxChunkBytes))
    s = Status::Invalid("chunk " + std::to_string(chunk_id) + ": bad truncate length " +
                        std::to_string(length));
  if (s.ok()) s = replicator_->Truncate(chunk_id, version, length);
  net::ThrowIfError(s);
}

void DataServiceHandler::DeleteChunk(int64_t chunk_id) {
  Status s = chunk_id > 0 ? replicator_->DeleteChunk(chunk_id)
                          : Status::Invalid("chunk_id must be > 0, got " + std::to_string(chunk_id));
  net::ThrowIfError(s);
}

void DataServiceHandler::Sync() {
  IoActivity::Scope busy(activity_);
  net::ThrowIfError(store_->Sync());
}

void DataServiceHandler::CheckChunk(rpc::ChunkCheck& out, int64_t chunk_id, int64_t version) {
  CheckResult r;
  Status s = CheckChunkArgs(chunk_id, version);
  if (s.ok()) s = store_->Check(chunk_id, version, &r);
  net::ThrowIfError(s);
  out.state = ToRpcState(r.state);
  out.version = r.version;
  out.blocks = r.blocks;
  out.bad_blocks = r.bad_blocks;
  out.detail = r.detail;
}

void DataServiceHandler::Usage(rpc::ServerUsage& out) {
  std::string addr;
  {
    MutexLock l(&mu_);
    addr = addr_;
  }
  net::ThrowIfError(CollectUsage(store_, scrubber_, addr, &out, nullptr));
}

void DataServiceHandler::InjectFault(int64_t chunk_id, int32_t block, rpc::FaultMode::type mode) {
  FaultMode m = FaultMode::kFlip;
  Status s;
  switch (mode) {
    case rpc::FaultMode::FLIP: m = FaultMode::kFlip; break;
    case rpc::FaultMode::ZERO: m = FaultMode::kZero; break;
    case rpc::FaultMode::DELETE: m = FaultMode::kDelete; break;
    default: s = Status::Invalid("unknown fault mode " + std::to_string(static_cast<int>(mode)));
  }
  if (s.ok() && chunk_id <= 0)
    s = Status::Invalid("chunk_id must be > 0, got " + std::to_string(chunk_id));
  if (s.ok()) s = replicator_->InjectFault(chunk_id, block, m);
  net::ThrowIfError(s);
}

void DataServiceHandler::StartScrub() {
  if (scrubber_ == nullptr) net::ThrowIfError(Status::Unavailable("this datad runs no scrubber"));
  scrubber_->StartPass();
}

}  // namespace replfs::datad
