// Namespace: start-up, reads and creation. Removal, rename, link and
// attribute changes are in namespace_modify.cc; xattrs in namespace_xattr.cc.
#include "daemons/metad/namespace.h"

#include <chrono>

#include "common/log.h"
#include "daemons/metad/ns_txn.h"
#include "daemons/metad/records.h"

namespace replfs::metad {
namespace {

constexpr uint32_t kSetgidBit = 02000;  // S_ISGID

}  // namespace

Status ValidateName(std::string_view name) {
  if (name.empty()) return Status::Invalid("empty name");
  if (name.size() > kMaxNameBytes)
    return Status::NameTooLong("name of " + std::to_string(name.size()) + " bytes (max 255)");
  if (name == "." || name == "..") return Status::Invalid("name '" + std::string(name) + "' is reserved");
  if (name.find('/') != std::string_view::npos) return Status::Invalid("name contains '/'");
  if (name.find('\0') != std::string_view::npos) return Status::Invalid("name contains NUL");
  return Status::OK();
}

Namespace::Namespace(MetaStore* store, ChunkMap* chunks, Options opts)
    : store_(store), chunks_(chunks), opts_(opts) {}

Namespace::~Namespace() {
  {
    MutexLock l(&sweep_mu_);
    stop_sweep_ = true;
  }
  sweep_cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
}

void Namespace::CountInode(FileType type, int delta) {
  inodes_ += delta;
  if (type == FileType::kDirectory) dirs_ += delta;
  if (type == FileType::kRegular) files_ += delta;
}

Status Namespace::Init() {
  REPLFS_RETURN_IF_ERROR(store_->Mutate([&](Txn& t) -> Status {
    std::string v;
    Status s = t.Get(CounterKey("ino"), &v);
    if (s.ok() || !s.IsNotFound()) return s;
    const int64_t now = NowNs();
    Inode root;
    root.ino = kRootIno;
    root.type = FileType::kDirectory;
    root.mode = 0755;
    root.nlink = 2;
    root.atime_ns = root.mtime_ns = root.ctime_ns = now;
    root.parent = kRootIno;
    root.goal = opts_.goal;  // inherited by what is created in it
    REPLFS_RETURN_IF_ERROR(t.Put(InodeKey(kRootIno), EncodeInode(root)));
    LOG(INFO) << "new metadata store: created the root directory";
    return t.Put(CounterKey("ino"), EncodeU64(kRootIno + 1));
  }));
  REPLFS_RETURN_IF_ERROR(SkipUnsafeInos());
  std::vector<Ino> orphans;
  Status bad;
  REPLFS_RETURN_IF_ERROR(store_->Scan(std::string(1, kOrphanTag), "", [&](std::string_view k, std::string_view) {
    uint64_t ino = 0;
    bad = KeyU64(k, 1, &ino);
    if (bad.ok()) orphans.push_back(ino);
    return bad.ok();
  }));
  REPLFS_RETURN_IF_ERROR(bad);
  REPLFS_RETURN_IF_ERROR(store_->Scan(std::string(1, kInodeTag), "", [&](std::string_view, std::string_view v) {
    Inode in;
    bad = DecodeInode(v, &in);
    if (bad.ok()) CountInode(in.type, 1);
    return bad.ok();
  }));
  REPLFS_RETURN_IF_ERROR(bad);
  if (orphans.empty()) return Status::OK();
  if (opts_.orphan_grace_ms <= 0) {
    for (Ino ino : orphans) REPLFS_RETURN_IF_ERROR(PurgeIfUnused(ino));
    LOG(INFO) << "purged " << orphans.size() << " orphaned inode(s)";
    return Status::OK();
  }
  LOG(INFO) << orphans.size() << " orphaned inode(s) (unlinked while open) kept for "
            << opts_.orphan_grace_ms << " ms for their clients to open them again";
  sweeper_ = std::thread([this, orphans = std::move(orphans)]() mutable {
    SweepOrphans(std::move(orphans));
  });
  return Status::OK();
}

void Namespace::SweepOrphans(std::vector<Ino> inos) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(opts_.orphan_grace_ms);
  {
    std::unique_lock<std::mutex> l(sweep_mu_.native());
    const auto stopping = [this]() NO_THREAD_SAFETY_ANALYSIS { return stop_sweep_; };
    if (sweep_cv_.wait_until(l, deadline, stopping)) return;
  }
  // Purging takes the store's lock (then mu_), never sweep_mu_.
  int purged = 0;
  for (Ino ino : inos) {
    bool gone = false;
    Status s = PurgeIfUnused(ino, &gone);
    if (!s.ok()) {
      LOG(ERROR) << "purging orphaned " << InoName(ino) << ": " << s.ToString()
                 << " (retried at the next start)";
    }
    purged += gone;
  }
  LOG(INFO) << "orphan grace over: purged " << purged << " of " << inos.size()
            << " orphaned inode(s), the rest are open again";
}

Status Namespace::GetAttr(Ino ino, Inode* out) const {
  std::string v;
  Status s = store_->Get(InodeKey(ino), &v);
  if (s.IsNotFound()) return Status::NotFound(InoName(ino) + " does not exist");
  REPLFS_RETURN_IF_ERROR(s);
  REPLFS_RETURN_IF_ERROR(DecodeInode(v, out).WithContext(InoName(ino)));
  out->ino = ino;
  return Status::OK();
}

Status Namespace::Lookup(Ino parent, std::string_view name, Inode* out) const {
  REPLFS_RETURN_IF_ERROR(ValidateName(name));
  Inode dir;
  REPLFS_RETURN_IF_ERROR(GetAttr(parent, &dir));
  if (dir.type != FileType::kDirectory) return Status::NotDir(InoName(parent) + " is not a directory");
  std::string v;
  Status s = store_->Get(DentryKey(parent, name), &v);
  if (s.IsNotFound()) return Status::NotFound("'" + std::string(name) + "' not found in " + InoName(parent));
  REPLFS_RETURN_IF_ERROR(s);
  Ino child = 0;
  FileType type;
  REPLFS_RETURN_IF_ERROR(DecodeDentry(v, &child, &type));
  return GetAttr(child, out);
}

Status Namespace::SkipUnsafeInos() {
  return store_->Mutate([&](Txn& t) -> Status {
    std::string v;
    uint64_t next = 0, end = 0;
    REPLFS_RETURN_IF_ERROR(t.Get(CounterKey("ino"), &v));
    REPLFS_RETURN_IF_ERROR(DecodeU64(v, &next));
    Status s = t.Get(CounterKey("ino_end"), &v);
    if (s.ok()) {
      REPLFS_RETURN_IF_ERROR(DecodeU64(v, &end));
    } else if (!s.IsNotFound()) {
      return s;
    }
    if (end > next) {
      // Numbers in [next, end) may have gone to creates a power loss took.
      LOG(INFO) << "inode numbers continue at " << end << ", past the " << end - next
                << " reserved before this start (never reused, even if a power loss took them)";
      next = end;
      REPLFS_RETURN_IF_ERROR(t.Put(CounterKey("ino"), EncodeU64(next)));
    }
    REPLFS_RETURN_IF_ERROR(t.Put(CounterKey("ino_end"), EncodeU64(next + kInoBlock)));
    t.OnCommit([this, e = next + kInoBlock] { ino_end_ = e; });
    return Status::OK();
  });  // kSync: the range is durable before any number of it is used
}

Status Namespace::ReserveInos(Ino from) {
  MutexLock l(&ino_mu_);
  if (from + kInoMargin < ino_end_.load()) return Status::OK();  // another create did
  const uint64_t end = from + kInoBlock;
  REPLFS_RETURN_IF_ERROR(
      store_->Mutate([&](Txn& t) { return t.Put(CounterKey("ino_end"), EncodeU64(end)); }));
  ino_end_ = end;
  return Status::OK();
}

Status Namespace::Create(Ino parent, std::string_view name, Inode proto, Inode* out, Inode* dir) {
  REPLFS_RETURN_IF_ERROR(ValidateName(name));
  const bool is_dir = proto.type == FileType::kDirectory;
  for (int attempt = 0;; ++attempt) {
    Ino drawn = 0;  // the inode number the attempt took (0: none)
    bool unreserved = false;
    Status s = CreateOnce(parent, name, proto, is_dir, &drawn, &unreserved, out, dir);
    // The reserved range moves ahead once a create comes near its end;
    // creates that share a group may pass the end: that one reserves and
    // tries again.
    if (drawn != 0 && drawn + kInoMargin >= ino_end_.load()) REPLFS_RETURN_IF_ERROR(ReserveInos(drawn));
    if (!unreserved || attempt == 3) return s;
  }
}

Status Namespace::CreateOnce(Ino parent, std::string_view name, const Inode& proto, bool is_dir,
                             Ino* drawn, bool* unreserved, Inode* out, Inode* dir_out) {
  REPLFS_RETURN_IF_ERROR(store_->Mutate([&](Txn& t) -> Status {
    *drawn = 0;
    *unreserved = false;
    TxnInodes inodes(t);
    Inode* dir = nullptr;
    REPLFS_RETURN_IF_ERROR(inodes.GetDir(parent, &dir));
    if (dir->nlink == 0) return Status::NotFound(InoName(parent) + " was removed");
    Ino existing = 0;
    FileType type;
    Status s = GetEntry(t, parent, name, &existing, &type);
    if (s.ok()) return Status::Exists("'" + std::string(name) + "' exists in " + InoName(parent));
    if (!s.IsNotFound()) return s;
    if (is_dir && dir->nlink >= kMaxLinks) return Status::TooManyLinks(InoName(parent));
    const int64_t now = NowNs();
    Inode in = proto;
    REPLFS_RETURN_IF_ERROR(NextIno(t, &in.ino));
    *drawn = in.ino;
    if (in.ino >= ino_end_.load()) {
      *unreserved = true;
      return Status::Unavailable("inode number " + std::to_string(in.ino) + " is not reserved yet");
    }
    in.atime_ns = in.mtime_ns = in.ctime_ns = now;
    in.nlink = is_dir ? 2 : 1;
    in.parent = is_dir ? parent : 0;
    // Files and directories inherit the directory's goal (an old directory
    // without one: the cluster default).
    if (in.type == FileType::kRegular || is_dir) in.goal = dir->goal > 0 ? dir->goal : opts_.goal;
    // A setgid directory hands its group to everything made in it, and its
    // setgid bit to new subdirectories (Linux inode_init_owner; clearing
    // S_ISGID of a new file the caller may not own is the kernel's job).
    if (dir->mode & kSetgidBit) {
      in.gid = dir->gid;
      if (is_dir) in.mode |= kSetgidBit;
    }
    inodes.Add(in);
    if (is_dir) ++dir->nlink;
    TouchDir(inodes, dir, now);
    REPLFS_RETURN_IF_ERROR(PutEntry(t, parent, name, in.ino, in.type));
    REPLFS_RETURN_IF_ERROR(inodes.Flush());
    t.OnCommit([this, type = in.type] { CountInode(type, 1); });
    *out = in;
    if (dir_out != nullptr) *dir_out = *dir;
    return Status::OK();
  }, Durability::kLazy));
  return Status::OK();
}

Status Namespace::Mknod(Ino parent, std::string_view name, FileType type, uint32_t mode,
                        uint32_t uid, uint32_t gid, int64_t rdev, Inode* out, Inode* dir) {
  if (type == FileType::kDirectory || type == FileType::kSymlink)
    return Status::Invalid("Mknod cannot create directories or symlinks");
  Inode in;
  in.type = type;
  in.mode = mode & 07777;
  in.uid = uid;
  in.gid = gid;
  in.rdev = (type == FileType::kCharDev || type == FileType::kBlockDev) ? rdev : 0;
  in.goal = type == FileType::kRegular ? opts_.goal : 0;
  return Create(parent, name, in, out, dir);
}

Status Namespace::Mkdir(Ino parent, std::string_view name, uint32_t mode, uint32_t uid,
                        uint32_t gid, Inode* out, Inode* dir) {
  Inode in;
  in.type = FileType::kDirectory;
  in.mode = mode & 07777;
  in.uid = uid;
  in.gid = gid;
  return Create(parent, name, in, out, dir);
}

Status Namespace::Symlink(Ino parent, std::string_view name, std::string_view target,
                          uint32_t uid, uint32_t gid, Inode* out, Inode* dir) {
  if (target.empty()) return Status::Invalid("empty symlink target");
  if (target.size() > kMaxSymlinkBytes) return Status::NameTooLong("symlink target over 4096 bytes");
  if (target.find('\0') != std::string_view::npos) return Status::Invalid("symlink target contains NUL");
  Inode in;
  in.type = FileType::kSymlink;
  in.mode = 0777;
  in.uid = uid;
  in.gid = gid;
  in.size = static_cast<int64_t>(target.size());
  in.symlink_target = std::string(target);
  return Create(parent, name, in, out, dir);
}

Status Namespace::ReadLink(Ino ino, std::string* out) const {
  Inode in;
  REPLFS_RETURN_IF_ERROR(GetAttr(ino, &in));
  if (in.type != FileType::kSymlink) return Status::Invalid(InoName(ino) + " is not a symlink");
  *out = in.symlink_target;
  return Status::OK();
}

Status Namespace::ReadDir(Ino ino, std::string_view after, int max, bool plus,
                          std::vector<DirEntry>* out, bool* eof) const {
  out->clear();
  if (max < 1) return Status::Invalid("ReadDir max must be >= 1");
  Inode dir;
  REPLFS_RETURN_IF_ERROR(GetAttr(ino, &dir));
  if (dir.type != FileType::kDirectory) return Status::NotDir(InoName(ino) + " is not a directory");
  const std::string prefix = DentryPrefix(ino);
  const std::string from = after.empty() ? prefix : DentryKey(ino, after);
  *eof = true;
  Status bad;
  REPLFS_RETURN_IF_ERROR(store_->Scan(prefix, from, [&](std::string_view k, std::string_view v) {
    std::string_view name = k.substr(prefix.size());
    if (!after.empty() && name == after) return true;  // strictly after
    if (static_cast<int>(out->size()) == max) {
      *eof = false;
      return false;
    }
    DirEntry e;
    e.name = std::string(name);
    bad = DecodeDentry(v, &e.ino, &e.type);
    if (!bad.ok()) return false;
    out->push_back(std::move(e));
    return true;
  }));
  REPLFS_RETURN_IF_ERROR(bad);
  if (plus) {
    for (auto& e : *out) {
      Status s = GetAttr(e.ino, &e.attr);
      // Removed since the scan: report the entry without fresh attributes.
      if (s.IsNotFound()) continue;
      REPLFS_RETURN_IF_ERROR(s);
    }
  }
  return Status::OK();
}

Status Namespace::ResolvePath(std::string_view path, Ino* out) const {
  if (path.empty() || path[0] != '/') return Status::Invalid("path must be absolute: '" + std::string(path) + "'");
  Ino cur = kRootIno;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    std::string_view comp = path.substr(pos, end - pos);
    pos = end + 1;
    if (comp.empty() || comp == ".") continue;
    Inode in;
    if (comp == "..") {
      REPLFS_RETURN_IF_ERROR(GetAttr(cur, &in));
      cur = in.parent == 0 ? kRootIno : in.parent;
      continue;
    }
    Status s = Lookup(cur, comp, &in);
    if (!s.ok()) return s.WithContext("resolving '" + std::string(path) + "'");
    cur = in.ino;
  }
  *out = cur;
  return Status::OK();
}

Status Namespace::Open(Ino ino, int64_t session, Inode* out) {
  {
    MutexLock l(&mu_);
    ++open_[ino][session];
  }
  // Counted first, checked second: an Unlink committing before this read is
  // seen (NotFound); one committing after sees the handle and orphans.
  Status s = GetAttr(ino, out);
  if (!s.ok()) {
    Status r = Release(ino, session);
    if (!r.ok()) {
      LOG(WARNING) << "undoing open of " << InoName(ino) << ": " << r.ToString();
    }
  }
  return s;
}

int Namespace::OpenCount(Ino ino) const {
  MutexLock l(&mu_);
  auto it = open_.find(ino);
  if (it == open_.end()) return 0;
  int n = 0;
  for (const auto& [session, count] : it->second) n += count;
  return n;
}

Status Namespace::Release(Ino ino, int64_t session) {
  {
    MutexLock l(&mu_);
    auto it = open_.find(ino);
    if (it == open_.end()) return Status::OK();
    auto sit = it->second.find(session);
    if (sit == it->second.end()) return Status::OK();
    if (--sit->second > 0) return Status::OK();
    it->second.erase(sit);
    if (!it->second.empty()) return Status::OK();
    open_.erase(it);
  }
  return PurgeIfUnused(ino);
}

}  // namespace replfs::metad
