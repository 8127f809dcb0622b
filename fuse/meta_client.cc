#include "fuse/meta_client.h"

#include <thrift/TApplicationException.h>

#include <atomic>
#include <chrono>
#include <limits>

#include "MetaService.h"
#include "common/log.h"
#include "thrift/client_pool.h"
#include "thrift/rpc_status.h"

namespace replfs::client {
namespace {

using net::Idempotency;
constexpr Idempotency kIdem = Idempotency::kIdempotent;
constexpr Idempotency kOnce = Idempotency::kNotIdempotent;

FileType FromRpc(rpc::FileType::type t) {
  switch (t) {
    case rpc::FileType::REGULAR: return FileType::kRegular;
    case rpc::FileType::DIRECTORY: return FileType::kDirectory;
    case rpc::FileType::SYMLINK: return FileType::kSymlink;
    case rpc::FileType::FIFO: return FileType::kFifo;
    case rpc::FileType::SOCKET: return FileType::kSocket;
    case rpc::FileType::CHAR_DEV: return FileType::kCharDev;
    case rpc::FileType::BLOCK_DEV: return FileType::kBlockDev;
  }
  return FileType::kRegular;
}

rpc::FileType::type ToRpc(FileType t) { return static_cast<rpc::FileType::type>(t); }

Attr FromRpc(const rpc::Attr& a) {
  Attr o;
  o.ino = static_cast<uint64_t>(a.ino);
  o.type = FromRpc(a.type);
  o.mode = static_cast<uint32_t>(a.mode) & 07777;
  o.uid = static_cast<uint32_t>(a.uid);
  o.gid = static_cast<uint32_t>(a.gid);
  o.size = a.size;
  o.nlink = static_cast<uint32_t>(a.nlink);
  o.atime_ns = a.atime_ns;
  o.mtime_ns = a.mtime_ns;
  o.ctime_ns = a.ctime_ns;
  o.rdev = static_cast<uint64_t>(a.rdev);
  o.goal = a.goal;
  o.allocated_bytes = a.allocated_bytes;
  o.xattrs = a.xattrs;
  return o;
}

ChunkLocation FromRpc(const rpc::ChunkLocation& l) {
  ChunkLocation o;
  o.index = l.index;
  o.chunk_id = l.chunk_id;
  o.version = l.version;
  o.replicas = l.replicas;
  o.write_quorum = l.write_quorum;
  return o;
}

Unlinked FromRpc(const rpc::Unlinked& u) {
  return Unlinked{static_cast<uint64_t>(u.ino), static_cast<uint32_t>(u.nlink)};
}

// The parent's attributes a change carried; ino 0 when it carried none (a
// metad from before they were sent).
void DirFromRpc(const rpc::Attr& a, Attr* dir) {
  if (dir == nullptr) return;
  *dir = a.__isset.dir && a.dir != nullptr ? FromRpc(*a.dir) : Attr{};
}
void DirFromRpc(const rpc::Unlinked& u, Attr* dir) {
  if (dir == nullptr) return;
  *dir = u.__isset.dir ? FromRpc(u.dir) : Attr{};
}

int64_t I(uint64_t v) { return static_cast<int64_t>(v); }

// Runs `call` (one method on a client); false if metad does not know the
// method (an older metad), which leaves the connection usable.
template <class Fn>
bool KnownMethod(Fn&& call) {
  try {
    call();
    return true;
  } catch (const apache::thrift::TApplicationException& e) {
    if (e.getType() != apache::thrift::TApplicationException::UNKNOWN_METHOD) throw;
    return false;
  }
}

// Every call is retried within opts.budget_ms, however many attempts that
// takes, so a metad restart inside the budget is invisible to callers.
net::RpcOptions BudgetOnly(net::RpcOptions o) {
  o.attempts = std::numeric_limits<int>::max();
  return o;
}

}  // namespace

net::RpcOptions MetaRpcOptions(net::RpcOptions base, bool hard) {
  if (hard) base.budget_ms = kHardBudgetMs;
  return base;
}

struct MetaClient::Impl {
  Impl(const HostPort& addr, const net::RpcOptions& opts) : pool(addr, BudgetOnly(opts)) {}
  net::ClientPool<rpc::MetaServiceClient> pool;
  const std::shared_ptr<RpcCounters> counters = std::make_shared<RpcCounters>();
  // An outage: from the first transport failure to the next success. One
  // WARNING when it starts, one INFO when it ends, and the calls that gave
  // up meanwhile at most once per kGiveUpLogMs (with a count).
  static constexpr int64_t kGiveUpLogMs = 5000;
  std::atomic<bool> outage{false};
  std::atomic<int64_t> last_give_up_log_ms{0};
  std::atomic<int64_t> unlogged_give_ups{0};

  // The one path of every metad call: the retry policy of the pool's
  // options, each attempt counted and watched for outages.
  Status Call(std::string_view what, Idempotency idem, const std::function<void(rpc::MetaServiceClient&)>& fn) {
    Status s = net::RetryCall(pool.options(), idem, std::string(what) + " @" + pool.peer(), [&](bool* sent) {
      counters->Add(what);
      Status a = pool.CallOnce(fn, sent);
      if (a.IsRetryable() && !outage.exchange(true)) {
        LOG(WARNING) << "metad " << pool.peer() << " unreachable (" << a.ToString()
                     << "); each call keeps trying for up to " << pool.options().budget_ms << " ms";
      } else if (!a.IsRetryable() && outage.exchange(false)) {
        LOG(INFO) << "metad " << pool.peer() << " reachable again";
      }
      return a;
    });
    if (s.IsRetryable()) NoteGiveUp(what, s);
    return s;
  }
  void NoteGiveUp(std::string_view what, const Status& s) {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    int64_t last = last_give_up_log_ms.load();
    if (now - last < kGiveUpLogMs || !last_give_up_log_ms.compare_exchange_strong(last, now)) {
      ++unlogged_give_ups;
      return;
    }
    const int64_t more = unlogged_give_ups.exchange(0);
    LOG(WARNING) << what << " failed: " << s.ToString()
                 << (more > 0 ? " (and " + std::to_string(more) + " more calls since the last such line)" : "");
  }

  // Runs `fn`; converts the result with FromRpc into *out only on success.
  template <class Rpc, class Out, class Fn>
  Status Get(std::string_view what, Idempotency idem, Out* out, Fn fn) {
    Rpc r;
    REPLFS_RETURN_IF_ERROR(Call(what, idem, [&](rpc::MetaServiceClient& c) { fn(c, r); }));
    *out = FromRpc(r);
    return Status::OK();
  }
  // The same for a change of a directory's entries, which also returns the
  // directory's attributes (into *dir, if not null).
  template <class Rpc, class Out, class Fn>
  Status GetChange(std::string_view what, Out* out, Attr* dir, Fn fn) {
    Rpc r;
    REPLFS_RETURN_IF_ERROR(Call(what, kOnce, [&](rpc::MetaServiceClient& c) { fn(c, r); }));
    if (out != nullptr) *out = FromRpc(r);
    DirFromRpc(r, dir);
    return Status::OK();
  }
};

MetaClient::MetaClient(const HostPort& addr, const net::RpcOptions& opts)
    : impl_(std::make_unique<Impl>(addr, opts)) {}
MetaClient::~MetaClient() = default;

const std::string& MetaClient::peer() const { return impl_->pool.peer(); }

std::shared_ptr<const RpcCounters> MetaClient::counters() const { return impl_->counters; }

Status MetaClient::Ping() {
  return impl_->Call("Ping", kIdem, [](rpc::MetaServiceClient& c) { c.Ping(); });
}

Status MetaClient::GetClusterInfo(ClusterInfo* out) {
  rpc::ClusterInfo r;
  REPLFS_RETURN_IF_ERROR(
      impl_->Call("GetClusterInfo", kIdem, [&](rpc::MetaServiceClient& c) { c.GetClusterInfo(r); }));
  out->chunk_size = r.chunk_size;
  out->block_size = r.block_size;
  out->replicas = r.replicas;
  out->min_write_replicas = r.min_write_replicas;
  out->max_rpc_bytes = r.max_rpc_bytes;
  return Status::OK();
}

Status MetaClient::Lookup(uint64_t parent, const std::string& name, Attr* out) {
  return impl_->Get<rpc::Attr>("Lookup", kIdem, out,
                               [&](auto& c, auto& r) { c.Lookup(r, I(parent), name); });
}

Status MetaClient::GetAttr(uint64_t ino, Attr* out) {
  return impl_->Get<rpc::Attr>("GetAttr", kIdem, out, [&](auto& c, auto& r) { c.GetAttr(r, I(ino)); });
}

Status MetaClient::SetAttr(const SetAttrRequest& req, Attr* out) {
  rpc::SetAttrRequest q;
  q.ino = I(req.ino);
  if (req.mode) q.__set_mode(static_cast<int32_t>(*req.mode & 07777));
  if (req.uid) q.__set_uid(static_cast<int32_t>(*req.uid));
  if (req.gid) q.__set_gid(static_cast<int32_t>(*req.gid));
  if (req.size) q.__set_size(*req.size);
  if (req.atime_ns) q.__set_atime_ns(*req.atime_ns);
  if (req.mtime_ns) q.__set_mtime_ns(*req.mtime_ns);
  q.atime_now = req.atime_now;
  q.mtime_now = req.mtime_now;
  // Setting absolute values is idempotent; "now" moves a little on a retry,
  // which is harmless.
  return impl_->Get<rpc::Attr>("SetAttr", kIdem, out, [&](auto& c, auto& r) { c.SetAttr(r, q); });
}

Status MetaClient::Mknod(uint64_t parent, const std::string& name, FileType type, uint32_t mode,
                         const Caller& who, uint64_t rdev, Attr* out, Attr* dir) {
  return impl_->GetChange<rpc::Attr>("Mknod", out, dir, [&](auto& c, auto& r) {
    c.Mknod(r, I(parent), name, ToRpc(type), static_cast<int32_t>(mode & 07777),
            static_cast<int32_t>(who.uid), static_cast<int32_t>(who.gid), I(rdev));
  });
}

Status MetaClient::Mkdir(uint64_t parent, const std::string& name, uint32_t mode,
                         const Caller& who, Attr* out, Attr* dir) {
  return impl_->GetChange<rpc::Attr>("Mkdir", out, dir, [&](auto& c, auto& r) {
    c.Mkdir(r, I(parent), name, static_cast<int32_t>(mode & 07777), static_cast<int32_t>(who.uid),
            static_cast<int32_t>(who.gid));
  });
}

Status MetaClient::Symlink(uint64_t parent, const std::string& name, const std::string& target,
                           const Caller& who, Attr* out, Attr* dir) {
  return impl_->GetChange<rpc::Attr>("Symlink", out, dir, [&](auto& c, auto& r) {
    c.Symlink(r, I(parent), name, target, static_cast<int32_t>(who.uid),
              static_cast<int32_t>(who.gid));
  });
}

Status MetaClient::ReadLink(uint64_t ino, std::string* out) {
  std::string r;
  REPLFS_RETURN_IF_ERROR(
      impl_->Call("ReadLink", kIdem, [&](rpc::MetaServiceClient& c) { c.ReadLink(r, I(ino)); }));
  *out = std::move(r);
  return Status::OK();
}

Status MetaClient::Unlink(uint64_t parent, const std::string& name, Unlinked* out, Attr* dir) {
  return impl_->GetChange<rpc::Unlinked>("Unlink", out, dir,
                                         [&](auto& c, auto& r) { c.Unlink(r, I(parent), name); });
}

Status MetaClient::Rmdir(uint64_t parent, const std::string& name, Unlinked* out, Attr* dir) {
  return impl_->GetChange<rpc::Unlinked>("Rmdir", out, dir,
                                         [&](auto& c, auto& r) { c.Rmdir(r, I(parent), name); });
}

Status MetaClient::Rename(uint64_t parent, const std::string& name, uint64_t new_parent,
                          const std::string& new_name, RenameFlags flags, Unlinked* out) {
  rpc::RenameFlags f;
  f.noreplace = flags.noreplace;
  f.exchange = flags.exchange;
  return impl_->Get<rpc::Unlinked>("Rename", kOnce, out, [&](auto& c, auto& r) {
    c.Rename(r, I(parent), name, I(new_parent), new_name, f);
  });
}

Status MetaClient::Link(uint64_t ino, uint64_t new_parent, const std::string& new_name, Attr* out,
                        Attr* dir) {
  return impl_->GetChange<rpc::Attr>("Link", out, dir,
                                     [&](auto& c, auto& r) { c.Link(r, I(ino), I(new_parent), new_name); });
}

Status MetaClient::ReadDir(uint64_t ino, const std::string& after, int max, bool plus,
                           DirPage* out) {
  rpc::DirPage r;
  REPLFS_RETURN_IF_ERROR(impl_->Call(
      "ReadDir", kIdem, [&](rpc::MetaServiceClient& c) { c.ReadDir(r, I(ino), after, max, plus); }));
  out->entries.clear();
  out->entries.reserve(r.entries.size());
  for (const rpc::DirEntry& e : r.entries) {
    DirEntry d;
    d.name = e.name;
    d.ino = static_cast<uint64_t>(e.ino);
    d.type = FromRpc(e.type);
    if (e.__isset.attr) d.attr = FromRpc(e.attr);
    out->entries.push_back(std::move(d));
  }
  out->eof = r.eof;
  return Status::OK();
}

Status MetaClient::SetXattr(uint64_t ino, const std::string& name, const std::string& value,
                            int flags) {
  return impl_->Call("SetXattr", kOnce, [&](rpc::MetaServiceClient& c) {
    c.SetXattr(I(ino), name, value, flags);
  });
}

Status MetaClient::GetXattr(uint64_t ino, const std::string& name, std::string* out) {
  std::string r;
  REPLFS_RETURN_IF_ERROR(impl_->Call(
      "GetXattr", kIdem, [&](rpc::MetaServiceClient& c) { c.GetXattr(r, I(ino), name); }));
  *out = std::move(r);
  return Status::OK();
}

Status MetaClient::ListXattr(uint64_t ino, std::vector<std::string>* out) {
  std::vector<std::string> r;
  REPLFS_RETURN_IF_ERROR(impl_->Call(
      "ListXattr", kIdem, [&](rpc::MetaServiceClient& c) { c.ListXattr(r, I(ino)); }));
  *out = std::move(r);
  return Status::OK();
}

Status MetaClient::RemoveXattr(uint64_t ino, const std::string& name) {
  return impl_->Call("RemoveXattr", kOnce,
                          [&](rpc::MetaServiceClient& c) { c.RemoveXattr(I(ino), name); });
}

Status MetaClient::Open(uint64_t ino, int64_t session, Attr* out, int32_t chunks,
                        std::vector<ChunkLocation>* locations) {
  // metad counts handles per session. Retrying an Open that did execute
  // errs towards keeping an unlinked inode until metad restarts (a leak),
  // which beats failing open() on a transient error.
  rpc::OpenReply r;
  REPLFS_RETURN_IF_ERROR(impl_->Call(
      "Open", kIdem, [&](rpc::MetaServiceClient& c) { c.Open(r, I(ino), session, chunks); }));
  *out = FromRpc(r.attr);
  if (locations != nullptr) {
    locations->clear();
    for (const rpc::ChunkLocation& l : r.chunks) locations->push_back(FromRpc(l));
  }
  return Status::OK();
}

Status MetaClient::Create(uint64_t parent, const std::string& name, uint32_t mode, const Caller& who,
                          int64_t session, Attr* out, Attr* dir) {
  // Not repeated once sent, as Mknod: a repeat would find the name taken.
  rpc::OpenReply r;
  REPLFS_RETURN_IF_ERROR(impl_->Call("Create", kOnce, [&](rpc::MetaServiceClient& c) {
    c.Create(r, I(parent), name, static_cast<int32_t>(mode & 07777), static_cast<int32_t>(who.uid),
             static_cast<int32_t>(who.gid), session, 0);
  }));
  *out = FromRpc(r.attr);
  DirFromRpc(r.attr, dir);
  return Status::OK();
}

void MetaClient::SetSession(int64_t session) {
  impl_->pool.SetGreeting([session](rpc::MetaServiceClient& c) {
    // A metad without a change feed: the feed's first poll fails
    // (ChangeWatcher gives up on it).
    (void)KnownMethod([&] { c.Identify(session); });
  });
}

Status MetaClient::WatchChanges(uint64_t generation, int64_t after, int64_t session, int32_t wait_ms,
                                net::CallCanceller* cancel, ChangeBatch* out) {
  rpc::ChangeBatch r;
  // Not counted in counters(): they are what a workload costs, and polls
  // come by themselves.
  bool sent = false;
  REPLFS_RETURN_IF_ERROR(impl_->pool.CallOnce(
      [&](rpc::MetaServiceClient& c) {
        c.WatchChanges(r, static_cast<int64_t>(generation), after, session, wait_ms);
      },
      &sent, cancel));
  out->generation = static_cast<uint64_t>(r.generation);
  out->last = r.last;
  out->lost = r.lost;
  out->changes.clear();
  out->changes.reserve(r.changes.size());
  for (const rpc::Change& c : r.changes) {
    NsChange n;
    n.kind = c.kind == rpc::ChangeKind::ENTRY ? NsChange::Kind::kEntry : NsChange::Kind::kInode;
    n.ino = static_cast<uint64_t>(c.ino);
    n.name = c.name;
    out->changes.push_back(std::move(n));
  }
  return Status::OK();
}

Status MetaClient::Release(uint64_t ino, int64_t session) {
  // Not retried once sent: a Release counted twice could purge an unlinked
  // inode that another handle of this session still reads.
  return impl_->Call("Release", kOnce,
                          [&](rpc::MetaServiceClient& c) { c.Release(I(ino), session); });
}

Status MetaClient::ReleaseAll(const std::vector<uint64_t>& inos, int64_t session) {
  std::vector<int64_t> v;
  v.reserve(inos.size());
  for (uint64_t ino : inos) v.push_back(I(ino));
  bool unknown = false;
  // Not retried once sent, as Release.
  REPLFS_RETURN_IF_ERROR(impl_->Call("ReleaseAll", kOnce, [&](rpc::MetaServiceClient& c) {
    unknown = !KnownMethod([&] { c.ReleaseAll(v, session); });
  }));
  if (unknown) return Status::NotSupported("metad does not know ReleaseAll (an older version)");
  return Status::OK();
}

Status MetaClient::GetChunks(uint64_t ino, int64_t first_index, int64_t count,
                             std::vector<ChunkLocation>* out) {
  std::vector<rpc::ChunkLocation> r;
  REPLFS_RETURN_IF_ERROR(impl_->Call("GetChunks", kIdem, [&](rpc::MetaServiceClient& c) {
    c.GetChunks(r, I(ino), first_index, count);
  }));
  out->clear();
  for (const auto& l : r) out->push_back(FromRpc(l));
  return Status::OK();
}

Status MetaClient::AllocChunk(uint64_t ino, int64_t index, ChunkLocation* out) {
  return impl_->Get<rpc::ChunkLocation>("AllocChunk", kIdem, out,
                                        [&](auto& c, auto& r) { c.AllocChunk(r, I(ino), index); });
}

Status MetaClient::ReportBadReplicas(uint64_t ino, const ChunkLocation& loc,
                                     const std::vector<std::string>& bad, Status::Code why,
                                     ChunkLocation* out) {
  // Idempotent: a repeat at an old version gets the current location back.
  return impl_->Get<rpc::ChunkLocation>("ReportBadReplicas", kIdem, out, [&](auto& c, auto& r) {
    c.ReportBadReplicas(r, I(ino), loc.index, loc.chunk_id, loc.version, bad, net::ToErrorCode(why));
  });
}

Status MetaClient::CommitWrite(uint64_t ino, int64_t size, int64_t mtime_ns, Attr* out) {
  return impl_->Get<rpc::Attr>("CommitWrite", kIdem, out,
                               [&](auto& c, auto& r) { c.CommitWrite(r, I(ino), size, mtime_ns); });
}

Status MetaClient::Sync() {
  return impl_->Call("Sync", kIdem, [](rpc::MetaServiceClient& c) { c.Sync(); });
}

Status MetaClient::StatFs(FsStat* out) {
  rpc::FsStat r;
  REPLFS_RETURN_IF_ERROR(impl_->Call("StatFs", kIdem, [&](rpc::MetaServiceClient& c) { c.StatFs(r); }));
  out->bytes_total = r.bytes_total;
  out->bytes_free = r.bytes_free;
  out->bytes_used = r.bytes_used;
  out->inodes = r.inodes;
  out->replicas = r.replicas;
  return Status::OK();
}

}  // namespace replfs::client
