#include "daemons/metad/meta_service.h"

#include <algorithm>
#include <cstdint>

#include "thrift/rpc_status.h"

namespace replfs::metad {
namespace {

using net::ThrowIfError;

Status CheckIno(int64_t ino) {
  if (ino <= 0) return Status::Invalid("bad inode number " + std::to_string(ino));
  return Status::OK();
}

Status CheckNonNegative(int64_t v, const char* what) {
  if (v < 0) return Status::Invalid(std::string(what) + " must be >= 0, got " + std::to_string(v));
  return Status::OK();
}

// Permission bits and ids as the wire carries them (i32) -> domain.
uint32_t U32(int32_t v) { return static_cast<uint32_t>(v); }

void FillAttr(const Inode& in, rpc::Attr* a) {
  a->ino = static_cast<int64_t>(in.ino);
  a->type = static_cast<rpc::FileType::type>(in.type);
  a->mode = static_cast<int32_t>(in.mode & 07777);
  a->uid = static_cast<int32_t>(in.uid);
  a->gid = static_cast<int32_t>(in.gid);
  a->size = in.size;
  a->nlink = static_cast<int32_t>(in.nlink);
  a->atime_ns = in.atime_ns;
  a->mtime_ns = in.mtime_ns;
  a->ctime_ns = in.ctime_ns;
  a->rdev = in.rdev;
  a->goal = in.goal;
  a->xattrs = in.xattrs == kXattrsUnknown ? -1 : static_cast<int32_t>(in.xattrs);
}

void ToLocation(const ChunkInfo& c, int min_write_replicas, rpc::ChunkLocation* l) {
  l->index = c.index;
  l->chunk_id = static_cast<int64_t>(c.id);
  l->version = static_cast<int64_t>(c.version);
  l->replicas = c.replicas;
  l->write_quorum = c.goal > 0 ? std::min(min_write_replicas, c.goal) : min_write_replicas;
}

void ToUnlinked(const Unlinked& u, rpc::Unlinked* out) {
  out->ino = static_cast<int64_t>(u.ino);
  out->nlink = static_cast<int32_t>(u.nlink);
}

ServerUsage FromUsage(const rpc::ServerUsage& u) {
  ServerUsage s;
  s.addr = u.addr;
  s.bytes_total = u.bytes_total;
  s.bytes_free = u.bytes_free;
  s.bytes_used = u.bytes_used;
  s.chunks = u.chunks;
  s.corrupt_found = u.corrupt_found;
  s.block_size = u.block_size;
  for (const auto& r : u.corrupt_chunks)
    s.corrupt_chunks.push_back({static_cast<ChunkId>(r.chunk_id), static_cast<uint64_t>(r.version)});
  s.scrub.running = u.scrub.running;
  s.scrub.progress = u.scrub.progress;
  s.scrub.last_full_pass_ms = u.scrub.last_full_pass_ms;
  s.scrub.oldest_unverified_ms = u.scrub.oldest_unverified_ms;
  s.scrub.bytes_verified = u.scrub.bytes_verified;
  s.scrub.corrupt_found_pass = u.scrub.corrupt_found_pass;
  return s;
}

// Inventory from the wire: INVALID on nonsense.
Status FromInventory(const std::vector<rpc::ChunkReplica>& inventory, std::vector<ReplicaHeld>* held) {
  if (inventory.size() > kMaxInventory) return Status::Invalid("inventory too large");
  held->reserve(inventory.size());
  for (const auto& r : inventory) {
    if (r.chunk_id <= 0 || r.version < 0) return Status::Invalid("bad chunk id in inventory");
    held->push_back({static_cast<ChunkId>(r.chunk_id), static_cast<uint64_t>(r.version)});
  }
  return Status::OK();
}

// Deletions for a heartbeat reply: kAnyVersion (INT64_MAX) fits an i64.
std::vector<rpc::ChunkReplica> ToWire(const std::vector<ReplicaHeld>& deletes) {
  std::vector<rpc::ChunkReplica> out;
  out.reserve(deletes.size());
  for (const ReplicaHeld& d : deletes) {
    rpc::ChunkReplica r;
    r.chunk_id = static_cast<int64_t>(d.id);
    r.version = static_cast<int64_t>(std::min<uint64_t>(d.version, INT64_MAX));
    out.push_back(r);
  }
  return out;
}

Status CheckUsage(const rpc::ServerUsage& u) {
  if (u.addr.empty() || u.addr.size() > 300) return Status::Invalid("bad datad address");
  if (u.bytes_total < 0 || u.bytes_free < 0 || u.bytes_used < 0 || u.chunks < 0 || u.corrupt_found < 0)
    return Status::Invalid("datad " + u.addr + " reported negative usage");
  if (u.corrupt_chunks.size() > kMaxInventory) return Status::Invalid("too many corrupt chunks reported");
  for (const auto& r : u.corrupt_chunks)
    if (r.chunk_id <= 0 || r.version < 0) return Status::Invalid("bad chunk id in corrupt_chunks");
  return Status::OK();
}

}  // namespace

void MetaServiceHandler::ToAttr(const Inode& in, rpc::Attr* a) const {
  FillAttr(in, a);
  // A directory from before goals were stored: the cluster default applies.
  if (in.type == FileType::kDirectory && in.goal == 0) a->goal = core_->config().replicas;
  a->allocated_bytes = core_->AllocatedBytes(in);
}

void MetaServiceHandler::ToUnlinkedWithDir(const Unlinked& u, const Inode& dir, rpc::Unlinked* out) const {
  ToUnlinked(u, out);
  ToAttr(dir, &out->dir);
  out->__isset.dir = true;
}

void MetaServiceHandler::SetDir(const Inode& dir, rpc::Attr* a) const {
  a->dir = std::make_shared<rpc::Attr>();
  ToAttr(dir, a->dir.get());
  a->__isset.dir = true;
}

void MetaServiceHandler::GetClusterInfo(rpc::ClusterInfo& out) {
  const Config& c = core_->config();
  out.chunk_size = c.chunk_size;
  out.block_size = static_cast<int32_t>(c.block_size);
  out.replicas = c.replicas;
  out.min_write_replicas = c.EffectiveMinWriteReplicas();
  out.max_rpc_bytes = kMaxRpcBytes;
}

void MetaServiceHandler::Lookup(rpc::Attr& out, int64_t parent, const std::string& name) {
  ThrowIfError(CheckIno(parent));
  Inode in;
  ThrowIfError(core_->ns().Lookup(static_cast<Ino>(parent), name, &in));
  ToAttr(in, &out);
}

void MetaServiceHandler::GetAttr(rpc::Attr& out, int64_t ino) {
  ThrowIfError(CheckIno(ino));
  Inode in;
  ThrowIfError(core_->ns().GetAttr(static_cast<Ino>(ino), &in));
  ToAttr(in, &out);
}

void MetaServiceHandler::SetAttr(rpc::Attr& out, const rpc::SetAttrRequest& req) {
  ThrowIfError(CheckIno(req.ino));
  SetAttrRequest r;
  r.ino = static_cast<Ino>(req.ino);
  r.has_mode = req.__isset.mode;
  r.mode = U32(req.mode);
  r.has_uid = req.__isset.uid;
  r.uid = U32(req.uid);
  r.has_gid = req.__isset.gid;
  r.gid = U32(req.gid);
  r.has_size = req.__isset.size;
  r.size = req.size;
  r.has_atime = req.__isset.atime_ns;
  r.atime_ns = req.atime_ns;
  r.has_mtime = req.__isset.mtime_ns;
  r.mtime_ns = req.mtime_ns;
  r.atime_now = req.atime_now;
  r.mtime_now = req.mtime_now;
  if (r.has_mode && (req.mode & ~07777)) ThrowIfError(replfs::Status::Invalid("mode has bits beyond 07777"));
  if (r.has_size) ThrowIfError(CheckNonNegative(req.size, "size"));
  Inode in;
  ThrowIfError(core_->SetAttr(r, &in));
  ToAttr(in, &out);
}

void MetaServiceHandler::Mknod(rpc::Attr& out, int64_t parent, const std::string& name,
                               rpc::FileType::type type, int32_t mode, int32_t uid, int32_t gid,
                               int64_t rdev) {
  ThrowIfError(CheckIno(parent));
  if (!IsValidFileType(type)) ThrowIfError(replfs::Status::Invalid("bad file type " + std::to_string(type)));
  Inode in, dir;
  ThrowIfError(core_->ns().Mknod(static_cast<Ino>(parent), name, static_cast<FileType>(type), U32(mode),
                                 U32(uid), U32(gid), rdev, &in, &dir));
  ToAttr(in, &out);
  SetDir(dir, &out);
}

void MetaServiceHandler::Mkdir(rpc::Attr& out, int64_t parent, const std::string& name, int32_t mode,
                               int32_t uid, int32_t gid) {
  ThrowIfError(CheckIno(parent));
  Inode in, dir;
  ThrowIfError(core_->ns().Mkdir(static_cast<Ino>(parent), name, U32(mode), U32(uid), U32(gid), &in, &dir));
  ToAttr(in, &out);
  SetDir(dir, &out);
}

void MetaServiceHandler::Symlink(rpc::Attr& out, int64_t parent, const std::string& name,
                                 const std::string& target, int32_t uid, int32_t gid) {
  ThrowIfError(CheckIno(parent));
  Inode in, dir;
  ThrowIfError(core_->ns().Symlink(static_cast<Ino>(parent), name, target, U32(uid), U32(gid), &in, &dir));
  ToAttr(in, &out);
  SetDir(dir, &out);
}

void MetaServiceHandler::ReadLink(std::string& out, int64_t ino) {
  ThrowIfError(CheckIno(ino));
  ThrowIfError(core_->ns().ReadLink(static_cast<Ino>(ino), &out));
}

void MetaServiceHandler::Unlink(rpc::Unlinked& out, int64_t parent, const std::string& name) {
  ThrowIfError(CheckIno(parent));
  Unlinked u;
  Inode dir;
  ThrowIfError(core_->ns().Unlink(static_cast<Ino>(parent), name, &u, &dir));
  ToUnlinkedWithDir(u, dir, &out);
}

void MetaServiceHandler::Rmdir(rpc::Unlinked& out, int64_t parent, const std::string& name) {
  ThrowIfError(CheckIno(parent));
  Unlinked gone;
  Inode dir;
  ThrowIfError(core_->ns().Rmdir(static_cast<Ino>(parent), name, &gone, &dir));
  ToUnlinkedWithDir(gone, dir, &out);
}

void MetaServiceHandler::Rename(rpc::Unlinked& out, int64_t parent, const std::string& name,
                                int64_t new_parent, const std::string& new_name,
                                const rpc::RenameFlags& flags) {
  ThrowIfError(CheckIno(parent));
  ThrowIfError(CheckIno(new_parent));
  Unlinked u;
  ThrowIfError(core_->ns().Rename(static_cast<Ino>(parent), name, static_cast<Ino>(new_parent), new_name,
                                  RenameFlags{flags.noreplace, flags.exchange}, &u));
  ToUnlinked(u, &out);
}

void MetaServiceHandler::Link(rpc::Attr& out, int64_t ino, int64_t new_parent, const std::string& new_name) {
  ThrowIfError(CheckIno(ino));
  ThrowIfError(CheckIno(new_parent));
  Inode in, dir;
  ThrowIfError(core_->ns().Link(static_cast<Ino>(ino), static_cast<Ino>(new_parent), new_name, &in, &dir));
  ToAttr(in, &out);
  SetDir(dir, &out);
}

void MetaServiceHandler::ReadDir(rpc::DirPage& out, int64_t ino, const std::string& after, int32_t max,
                                 bool plus) {
  ThrowIfError(CheckIno(ino));
  if (max < 1 || max > kMaxReadDir) ThrowIfError(replfs::Status::Invalid("ReadDir max must be 1..10000"));
  if (after.size() > kMaxNameBytes) ThrowIfError(replfs::Status::NameTooLong("ReadDir 'after' over 255 bytes"));
  std::vector<DirEntry> entries;
  bool eof = false;
  ThrowIfError(core_->ns().ReadDir(static_cast<Ino>(ino), after, max, plus, &entries, &eof));
  out.entries.reserve(entries.size());
  for (const auto& e : entries) {
    rpc::DirEntry d;
    d.name = e.name;
    d.ino = static_cast<int64_t>(e.ino);
    d.type = static_cast<rpc::FileType::type>(e.type);
    if (plus && e.attr.ino != 0) {
      ToAttr(e.attr, &d.attr);
      d.__isset.attr = true;
    }
    out.entries.push_back(std::move(d));
  }
  out.eof = eof;
}

void MetaServiceHandler::SetXattr(int64_t ino, const std::string& name, const std::string& value,
                                  int32_t flags) {
  ThrowIfError(CheckIno(ino));
  ThrowIfError(core_->ns().SetXattr(static_cast<Ino>(ino), name, value, flags));
}

void MetaServiceHandler::GetXattr(std::string& out, int64_t ino, const std::string& name) {
  ThrowIfError(CheckIno(ino));
  ThrowIfError(core_->ns().GetXattr(static_cast<Ino>(ino), name, &out));
}

void MetaServiceHandler::ListXattr(std::vector<std::string>& out, int64_t ino) {
  ThrowIfError(CheckIno(ino));
  ThrowIfError(core_->ns().ListXattr(static_cast<Ino>(ino), &out));
}

void MetaServiceHandler::RemoveXattr(int64_t ino, const std::string& name) {
  ThrowIfError(CheckIno(ino));
  ThrowIfError(core_->ns().RemoveXattr(static_cast<Ino>(ino), name));
}

const net::Policy& MetadPolicy() {
  using net::Mask;
  using net::Role;
  static const net::Policy policy = [] {
    const net::RoleMask fs = Mask(Role::kClient) | Mask(Role::kAdmin);
    const net::RoleMask admin = Mask(Role::kAdmin);
    const net::RoleMask datad = Mask(Role::kDatad);
    net::Policy p;
    for (const char* m : {"Lookup", "GetAttr", "SetAttr", "Mknod", "Mkdir", "Symlink", "ReadLink", "Unlink",
                          "Rmdir", "Rename", "Link", "ReadDir", "SetXattr", "GetXattr", "ListXattr", "RemoveXattr",
                          "Open", "Release", "GetChunks", "AllocChunk", "CommitWrite", "Sync", "Create", "StatFs",
                          "ReportBadReplicas", "Status", "ResolvePath", "Fsck", "Identify", "WatchChanges",
                          "ReleaseAll"})
      p[m] = fs;
    for (const char* m : {"RegisterServer", "Heartbeat", "BlockReport"}) p[m] = datad;
    for (const char* m : {"Corrupt", "StartScrub", "Heal", "Drain", "Undrain", "RemoveServer", "SetGoal"})
      p[m] = admin;
    p["Ping"] = net::kAnyRole;
    p["GetClusterInfo"] = net::kAnyRole;
    return p;
  }();
  return policy;
}

const std::set<std::string>& MetadNoThrow() {
  static const std::set<std::string> s = {"Ping", "GetClusterInfo"};
  return s;
}

void MetaServiceHandler::Open(rpc::OpenReply& out, int64_t ino, int64_t session, int32_t chunks) {
  ThrowIfError(CheckIno(ino));
  if (chunks < 0 || chunks > kMaxOpenChunks)
    ThrowIfError(replfs::Status::Invalid("Open: chunks must be 0.." + std::to_string(kMaxOpenChunks)));
  Inode in;
  ThrowIfError(core_->ns().Open(static_cast<Ino>(ino), session, &in));
  ToAttr(in, &out.attr);
  FillOpenChunks(in, chunks, &out);
}

void MetaServiceHandler::FillOpenChunks(const Inode& in, int32_t chunks, rpc::OpenReply* out) {
  out->chunks.clear();
  if (chunks == 0 || in.type != FileType::kRegular) return;
  std::vector<ChunkInfo> found;
  ThrowIfError(core_->GetChunks(in.ino, 0, chunks, &found));
  out->chunks.resize(found.size());
  for (size_t i = 0; i < found.size(); ++i)
    ToLocation(found[i], core_->config().EffectiveMinWriteReplicas(), &out->chunks[i]);
}

// Mknod + Open. The file is made before it is opened, as with the two
// calls: should the Open fail (the file was removed in between), the
// create stands and the caller sees the Open's error.
void MetaServiceHandler::Create(rpc::OpenReply& out, int64_t parent, const std::string& name, int32_t mode,
                                int32_t uid, int32_t gid, int64_t session, int32_t chunks) {
  ThrowIfError(CheckIno(parent));
  if (chunks < 0 || chunks > kMaxOpenChunks)
    ThrowIfError(replfs::Status::Invalid("Create: chunks must be 0.." + std::to_string(kMaxOpenChunks)));
  Inode made, dir;
  ThrowIfError(core_->ns().Mknod(static_cast<Ino>(parent), name, FileType::kRegular, U32(mode), U32(uid),
                                 U32(gid), 0, &made, &dir));
  Inode in;
  ThrowIfError(core_->ns().Open(made.ino, session, &in));
  ToAttr(in, &out.attr);
  SetDir(dir, &out.attr);
  FillOpenChunks(in, chunks, &out);
}

void MetaServiceHandler::Release(int64_t ino, int64_t session) {
  ThrowIfError(CheckIno(ino));
  ThrowIfError(core_->ns().Release(static_cast<Ino>(ino), session));
}

void MetaServiceHandler::ReleaseAll(const std::vector<int64_t>& inos, int64_t session) {
  if (inos.size() > kMaxReleaseBatch)
    ThrowIfError(replfs::Status::Invalid("ReleaseAll: more than " + std::to_string(kMaxReleaseBatch) +
                                         " inodes"));
  // Every release is applied: a failure of one must not keep the others'
  // unlinked inodes alive.
  replfs::Status first;
  size_t failed = 0;
  for (int64_t ino : inos) {
    replfs::Status s = CheckIno(ino);
    if (s.ok()) s = core_->ns().Release(static_cast<Ino>(ino), session);
    if (s.ok()) continue;
    if (failed++ == 0) first = s;
  }
  if (failed > 1) {
    first = replfs::Status(first.code(), first.message() + " (and " + std::to_string(failed - 1) +
                                             " more of " + std::to_string(inos.size()) + " releases)");
  }
  ThrowIfError(first);
}

void MetaServiceHandler::GetChunks(std::vector<rpc::ChunkLocation>& out, int64_t ino, int64_t first_index,
                                   int64_t count) {
  ThrowIfError(CheckIno(ino));
  ThrowIfError(CheckNonNegative(first_index, "first_index"));
  if (count < 0 || count > kMaxGetChunks) ThrowIfError(replfs::Status::Invalid("GetChunks count must be 0..4096"));
  std::vector<ChunkInfo> chunks;
  ThrowIfError(core_->GetChunks(static_cast<Ino>(ino), first_index, count, &chunks));
  out.resize(chunks.size());
  for (size_t i = 0; i < chunks.size(); ++i) ToLocation(chunks[i], core_->config().EffectiveMinWriteReplicas(), &out[i]);
}

void MetaServiceHandler::AllocChunk(rpc::ChunkLocation& out, int64_t ino, int64_t index) {
  ThrowIfError(CheckIno(ino));
  ThrowIfError(CheckNonNegative(index, "index"));
  if (index > INT64_MAX / core_->config().chunk_size) ThrowIfError(replfs::Status::TooBig("chunk index past the largest file"));
  ChunkInfo c;
  ThrowIfError(core_->AllocChunk(static_cast<Ino>(ino), index, &c));
  ToLocation(c, core_->config().EffectiveMinWriteReplicas(), &out);
}

void MetaServiceHandler::CommitWrite(rpc::Attr& out, int64_t ino, int64_t size, int64_t mtime_ns) {
  ThrowIfError(CheckIno(ino));
  ThrowIfError(CheckNonNegative(size, "size"));
  Inode in;
  ThrowIfError(core_->ns().CommitWrite(static_cast<Ino>(ino), size, mtime_ns, &in));
  ToAttr(in, &out);
}

void MetaServiceHandler::Sync() { ThrowIfError(core_->SyncMetadata()); }

// The server runs each connection on a thread of its own, for the
// connection's lifetime: the thread's origin is the connection's.
void MetaServiceHandler::Identify(int64_t session) { MetaStore::SetThreadOrigin(session); }

void MetaServiceHandler::WatchChanges(rpc::ChangeBatch& out, int64_t generation, int64_t after,
                                      int64_t session, int32_t wait_ms) {
  if (wait_ms < 0 || wait_ms > kMaxWatchWaitMs)
    ThrowIfError(replfs::Status::Invalid("WatchChanges: wait_ms must be 0.." + std::to_string(kMaxWatchWaitMs)));
  FeedBatch b = core_->changes().Read(static_cast<uint64_t>(generation), after, session,
                                      std::chrono::milliseconds(std::min(wait_ms, max_watch_wait_ms_)));
  // Not an empty answer, which the client would follow with the next poll
  // at once until the connection closes.
  if (core_->changes().stopped()) ThrowIfError(replfs::Status::Unavailable("metad is stopping"));
  out.generation = static_cast<int64_t>(b.generation);
  out.last = b.last;
  out.lost = b.lost;
  out.changes.resize(b.changes.size());
  for (size_t i = 0; i < b.changes.size(); ++i) {
    const FeedChange& c = b.changes[i];
    rpc::Change& o = out.changes[i];
    o.kind = c.kind == FeedChange::Kind::kEntry ? rpc::ChangeKind::ENTRY : rpc::ChangeKind::INODE;
    o.ino = static_cast<int64_t>(c.ino);
    o.name = c.name;
  }
}

void MetaServiceHandler::StatFs(rpc::FsStat& out) {
  FsStat f = core_->StatFs();
  out.bytes_total = f.bytes_total;
  out.bytes_free = f.bytes_free;
  out.bytes_used = f.bytes_used;
  out.inodes = f.inodes;
  out.replicas = f.replicas;
}

void MetaServiceHandler::RegisterServer(const rpc::ServerUsage& usage,
                                        const std::vector<rpc::ChunkReplica>& inventory) {
  ThrowIfError(CheckUsage(usage));
  std::vector<ReplicaHeld> held;
  ThrowIfError(FromInventory(inventory, &held));
  ThrowIfError(core_->RegisterServer(FromUsage(usage), held));
}

void MetaServiceHandler::Heartbeat(rpc::HeartbeatReply& out, const rpc::ServerUsage& usage) {
  ThrowIfError(CheckUsage(usage));
  std::vector<ReplicaHeld> deletes;
  ThrowIfError(core_->Heartbeat(FromUsage(usage), &deletes));
  out.delete_replicas = ToWire(deletes);
}

void MetaServiceHandler::BlockReport(rpc::HeartbeatReply& out, const std::string& addr,
                                     const std::vector<rpc::ChunkReplica>& inventory) {
  if (addr.empty() || addr.size() > 300) ThrowIfError(replfs::Status::Invalid("bad datad address"));
  std::vector<ReplicaHeld> held;
  ThrowIfError(FromInventory(inventory, &held));
  std::vector<ReplicaHeld> deletes;
  ThrowIfError(core_->BlockReport(addr, held, &deletes));
  out.delete_replicas = ToWire(deletes);
}

void MetaServiceHandler::ReportBadReplicas(rpc::ChunkLocation& out, int64_t ino, int64_t index, int64_t chunk_id,
                                           int64_t version, const std::vector<std::string>& bad,
                                           rpc::ErrorCode::type why) {
  ThrowIfError(CheckIno(ino));
  ThrowIfError(CheckNonNegative(index, "index"));
  if (chunk_id <= 0 || version < 0) ThrowIfError(replfs::Status::Invalid("bad chunk id or version"));
  if (bad.empty() || bad.size() > 64) ThrowIfError(replfs::Status::Invalid("ReportBadReplicas needs 1..64 replicas"));
  const int code = static_cast<int>(why);
  if (code < 0 || code >= replfs::Status::kNumCodes) ThrowIfError(replfs::Status::Invalid("bad error code"));
  ChunkInfo c;
  ThrowIfError(core_->ReportBadReplicas(static_cast<Ino>(ino), index, static_cast<ChunkId>(chunk_id),
                                        static_cast<uint64_t>(version), bad, net::FromErrorCode(why),
                                        "a client", &c));
  ToLocation(c, core_->config().EffectiveMinWriteReplicas(), &out);
}

}  // namespace replfs::metad
