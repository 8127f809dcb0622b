#include "fuse/file_system.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "common/log.h"
#include "fuse/process_of.h"

namespace replfs::client {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t RandomSession() {
  std::random_device rd;
  uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  std::mt19937_64 mix(v ^ static_cast<uint64_t>(NowNs()));
  int64_t s = static_cast<int64_t>(mix());
  return s == 0 ? 1 : s;
}

mode_t TypeBits(FileType t) {
  switch (t) {
    case FileType::kRegular: return S_IFREG;
    case FileType::kDirectory: return S_IFDIR;
    case FileType::kSymlink: return S_IFLNK;
    case FileType::kFifo: return S_IFIFO;
    case FileType::kSocket: return S_IFSOCK;
    case FileType::kCharDev: return S_IFCHR;
    case FileType::kBlockDev: return S_IFBLK;
  }
  return S_IFREG;
}

timespec ToTimespec(int64_t ns) {
  timespec t{};
  t.tv_sec = static_cast<time_t>(ns / 1000000000);
  t.tv_nsec = static_cast<long>(ns % 1000000000);
  if (t.tv_nsec < 0) {
    t.tv_nsec += 1000000000;
    t.tv_sec -= 1;
  }
  return t;
}

}  // namespace

void AttrToStat(const Attr& a, int64_t block_size, struct stat* st) {
  *st = {};
  st->st_ino = a.ino;
  st->st_mode = TypeBits(a.type) | (a.mode & 07777);
  st->st_nlink = a.nlink;
  st->st_uid = a.uid;
  st->st_gid = a.gid;
  st->st_rdev = a.rdev;
  st->st_size = a.size;
  st->st_blksize = static_cast<blksize_t>(block_size > 0 ? block_size : 4096);
  st->st_blocks = (std::max<int64_t>(0, a.allocated_bytes) + 511) / 512;
  st->st_atim = ToTimespec(a.atime_ns);
  st->st_mtim = ToTimespec(a.mtime_ns);
  st->st_ctim = ToTimespec(a.ctime_ns);
}

Status FileTypeFromMode(uint32_t mode, FileType* out) {
  switch (mode & S_IFMT) {
    case S_IFREG: *out = FileType::kRegular; return Status::OK();
    case S_IFDIR: *out = FileType::kDirectory; return Status::OK();
    case S_IFLNK: *out = FileType::kSymlink; return Status::OK();
    case S_IFIFO: *out = FileType::kFifo; return Status::OK();
    case S_IFSOCK: *out = FileType::kSocket; return Status::OK();
    case S_IFCHR: *out = FileType::kCharDev; return Status::OK();
    case S_IFBLK: *out = FileType::kBlockDev; return Status::OK();
    case 0: *out = FileType::kRegular; return Status::OK();  // mknod(2): 0 means regular
  }
  return Status::Invalid("unknown file type in mode " + std::to_string(mode));
}

void FsStatToStatvfs(const FsStat& s, int64_t block_size, int default_replicas,
                     struct statvfs* out) {
  *out = {};
  const int64_t bs = block_size > 0 ? block_size : 4096;
  int replicas = s.replicas > 0 ? s.replicas : default_replicas;
  if (replicas < 1) replicas = 1;
  out->f_bsize = static_cast<unsigned long>(bs);
  out->f_frsize = static_cast<unsigned long>(bs);
  out->f_blocks = static_cast<fsblkcnt_t>(std::max<int64_t>(0, s.bytes_total) / replicas / bs);
  out->f_bfree = static_cast<fsblkcnt_t>(std::max<int64_t>(0, s.bytes_free) / replicas / bs);
  out->f_bavail = out->f_bfree;
  // Inodes cost metad a record each: report plenty free.
  constexpr int64_t kFreeInodes = 1ll << 30;
  out->f_files = static_cast<fsfilcnt_t>(std::max<int64_t>(0, s.inodes) + kFreeInodes);
  out->f_ffree = kFreeInodes;
  out->f_favail = kFreeInodes;
  out->f_namemax = kMaxNameBytes;
}

Status CheckName(std::string_view name) {
  if (name.size() > kMaxNameBytes)
    return Status::NameTooLong("name of " + std::to_string(name.size()) + " bytes");
  if (name.empty() || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos)
    return Status::Invalid("bad name");
  return Status::OK();
}

FileSystem::FileSystem(std::unique_ptr<MetaClient> meta, std::unique_ptr<ChunkIo> io,
                       const ClusterInfo& info, std::chrono::milliseconds renewal,
                       std::chrono::milliseconds attr_ttl, std::chrono::milliseconds known_ttl)
    : meta_(std::move(meta)),
      io_(std::move(io)),
      info_(info),
      session_(RandomSession()),
      attr_ttl_ms_(attr_ttl.count()),
      xattr_hints_(attr_ttl),
      fresh_attrs_(attr_ttl),
      known_(known_ttl),
      releases_(std::make_unique<ReleaseQueue>(meta_.get(), session_)),
      renewal_(renewal) {
  meta_->SetSession(session_);
  if (renewal_.count() > 0) renewer_ = std::thread([this] { RenewLoop(); });
}

FileSystem::~FileSystem() {
  releases_->Stop();
  {
    MutexLock l(&stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  // Normally none: the kernel closed every file before the session ended.
  std::vector<LeaseHold> left;
  {
    MutexLock l(&mu_);
    left.swap(stray_);
    for (auto& [ino, st] : open_)
      for (int64_t lease : st.leases) left.push_back(LeaseHold{ino, lease});
  }
  if (left.empty()) return;
  ReleaseHolds(std::move(left));
  MutexLock l(&mu_);
  if (!stray_.empty()) {
    LOG(WARNING) << "metad unreachable at unmount: " << stray_.size()
                 << " renewal hold(s) stay until it restarts";
  }
}

bool FileSystem::Stopping() {
  MutexLock l(&stop_mu_);
  return stop_;
}

void FileSystem::RenewLoop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> l(stop_mu_.native());
      if (stop_cv_.wait_for(l, renewal_, [this]() NO_THREAD_SAFETY_ANALYSIS { return stop_; }))
        return;
    }
    RenewOpenHolds();
  }
}

void FileSystem::ReleaseHolds(std::vector<LeaseHold> holds) {
  size_t i = 0;
  for (; i < holds.size(); ++i) {
    Status s = meta_->Release(holds[i].ino, holds[i].lease);
    if (s.IsRetryable()) {
      LOG(WARNING) << "releasing renewal holds at metad: " << s.ToString() << " (retried later)";
      break;
    }
    if (!s.ok()) {
      LOG(WARNING) << "releasing a renewal hold of inode " << holds[i].ino << ": " << s.ToString();
    }
  }
  if (i == holds.size()) return;
  MutexLock l(&mu_);
  stray_.insert(stray_.end(), holds.begin() + static_cast<std::ptrdiff_t>(i), holds.end());
}

int FileSystem::RenewOpenHolds() {
  std::vector<uint64_t> open;
  std::vector<LeaseHold> release;
  {
    MutexLock l(&mu_);
    for (const auto& [ino, st] : open_)
      if (st.handles > 0) open.push_back(ino);
    release.swap(stray_);
  }
  // The RPCs run without mu_; what changed meanwhile is sorted out below.
  const int64_t lease = RandomSession();
  std::vector<std::pair<uint64_t, bool>> opened;  // ino, whether certainly held
  for (uint64_t ino : open) {
    if (Stopping()) break;  // unmounting: the destructor releases what is held
    Attr a;
    Status s = meta_->Open(ino, lease, &a);
    if (s.ok()) {
      opened.emplace_back(ino, true);
      continue;
    }
    if (s.IsNotFound()) continue;  // purged after all: metad undid the Open
    // The Open may have executed: it is recorded, to be released like the
    // others (releasing a hold that does not exist is harmless).
    opened.emplace_back(ino, false);
    LOG(WARNING) << "announcing open inode " << ino << " to metad again: " << s.ToString();
    if (s.IsRetryable()) break;
  }
  int renewed = 0;
  {
    MutexLock l(&mu_);
    for (const auto& [ino, held] : opened) {
      auto it = open_.find(ino);
      if (it == open_.end() || it->second.handles <= 0) {
        release.push_back(LeaseHold{ino, lease});  // closed meanwhile
        continue;
      }
      std::vector<int64_t>& leases = it->second.leases;
      if (held) {
        for (int64_t old : leases) release.push_back(LeaseHold{ino, old});
        leases.clear();
        ++renewed;
      }
      leases.push_back(lease);
    }
  }
  ReleaseHolds(std::move(release));
  return renewed;
}

void FileSystem::ApplyLocal(Attr* a) {
  xattr_hints_.Note(a->ino, a->xattrs);
  if (a->type != FileType::kRegular) return;
  MutexLock l(&mu_);
  auto it = open_.find(a->ino);
  if (it == open_.end()) return;
  OpenState& st = it->second;
  st.meta_size = a->size;
  if (st.dirty || HeldEnd(st) > 0) {
    a->size = std::max({a->size, st.written_end, HeldEnd(st)});
    a->mtime_ns = std::max(a->mtime_ns, st.mtime_ns);
    a->ctime_ns = std::max(a->ctime_ns, st.mtime_ns);
  }
}

int64_t FileSystem::HeldEnd(const OpenState& st) {
  const int64_t held = st.held.empty() ? 0 : st.held_off + static_cast<int64_t>(st.held.size());
  return std::max(held, st.sending_end);
}

bool FileSystem::TryHold(OpenState* st, int64_t offset, std::string_view data) {
  if (!st->may_hold) return false;
  if (offset != st->held_off + static_cast<int64_t>(st->held.size()) ||
      st->held.size() + data.size() > kHoldBackBytes) {
    st->may_hold = false;  // from now on written through, in order
    return false;
  }
  st->held.append(data);
  st->mtime_ns = NowNs();
  st->write_seq++;
  return true;
}

bool FileSystem::PendingWriter::Knows(uint32_t tid) const {
  if (tid == 0 || process_ == 0 || process_ == kUnknown) return false;
  for (uint32_t t : tids_)
    if (t == tid) return true;
  return false;
}

void FileSystem::PendingWriter::Note(uint32_t tid, uint32_t process) {
  if (Knows(tid)) return;
  if (process == 0 || (process_ != 0 && process != process_)) {
    process_ = kUnknown;  // every flush sends and commits, as for a second writer
    return;
  }
  process_ = process;
  tids_[next_] = tid;
  next_ = (next_ + 1) % tids_.size();
}

bool FileSystem::LeaveToWriter(uint64_t ino, uint32_t tid, uint32_t process) {
  PendingWriter writer;
  {
    MutexLock l(&mu_);
    auto it = open_.find(ino);
    if (it == open_.end() || !it->second.writer.Other(tid, process)) return false;
    writer = it->second.writer;
  }
  // A thread remembered as the writer's may have ended and its id gone to a
  // thread of another process since, whose writes were then counted as the
  // writer's: if so, the writer cannot be told. (Ended: 0, harmless.)
  for (uint32_t t : writer.tids()) {
    if (t == 0) continue;
    const uint32_t now = ProcessOfThread(t);
    if (now != 0 && now != writer.process()) {
      MutexLock l(&mu_);
      auto it = open_.find(ino);
      if (it != open_.end()) it->second.writer.MakeUnknown();
      return false;
    }
  }
  return true;
}

uint32_t FileSystem::LookUpProcess(uint64_t ino, uint32_t tid, bool for_flush) {
  {
    MutexLock l(&mu_);
    auto it = open_.find(ino);
    if (it == open_.end() || !it->second.writer.NeedsLookup(tid, for_flush)) return 0;
  }
  return ProcessOfThread(tid);  // a /proc read: not under mu_
}

Status FileSystem::SendHeld(uint64_t ino, bool sync) {
  std::string bytes;
  int64_t off = 0;
  uint64_t gen = 0;
  {
    std::unique_lock<std::mutex> l(mu_.native());
    auto it = open_.find(ino);
    // One send at a time, so that whoever needs the bytes at the datads
    // (a flush, a read, a write through) finds them there once it returns.
    while (it != open_.end() && it->second.sending_end > 0) {
      sent_cv_.wait(l);
      it = open_.find(ino);
    }
    if (it == open_.end()) return Status::OK();
    OpenState& st = it->second;
    if (st.held.empty()) return Status::OK();
    gen = st.content_gen;
    bytes.swap(st.held);
    off = st.held_off;
    st.held_off = off + static_cast<int64_t>(bytes.size());
    st.sending_end = st.held_off;
  }
  Status s = io_->Write(ino, off, bytes, sync);
  known_.ForgetIno(ino);  // a new chunk changed allocated_bytes at metad
  {
    std::lock_guard<std::mutex> l(mu_.native());
    auto it = open_.find(ino);
    if (it != open_.end()) {
      OpenState& st = it->second;
      st.sending_end = 0;
      if (s.ok()) {
        st.dirty = true;
        st.written_end = std::max(st.written_end, off + static_cast<int64_t>(bytes.size()));
        st.write_seq++;
        // From offset 0 of a file that was empty: all of it, unless its
        // content changed meanwhile (any later change clears it).
        if (off == 0 && st.content_gen == gen) {
          st.sent_whole = std::move(bytes);
          st.sent_gen = gen;
        } else {
          st.sent_whole.clear();
        }
      } else {
        // Kept, in front of anything held meanwhile, for the next try (a
        // flush, a read, a write): nothing after them reaches the datads
        // first, so no size ever covers them unwritten. The last close
        // drops them, with the error.
        bytes.append(st.held);
        st.held.swap(bytes);
        st.held_off = off;
        st.may_hold = false;
      }
    }
  }
  sent_cv_.notify_all();
  if (!s.ok()) {
    if (s.code() == Status::Code::kNoSpace)
      hold_paused_until_ms_ = SteadyMs() + kHoldPauseMs.count();  // report at write(2) for a while
    LOG(ERROR) << "inode " << ino << ": bytes held back at " << off
               << " could not be written (kept for the next flush): " << s.ToString();
  }
  return s;
}

Status FileSystem::Commit(uint64_t ino, Attr* committed) {
  int64_t size, mtime;
  uint64_t seq;
  {
    MutexLock l(&mu_);
    auto it = open_.find(ino);
    if (it == open_.end() || !it->second.dirty) return Status::OK();
    size = it->second.written_end;
    mtime = it->second.mtime_ns;
    seq = it->second.write_seq;
  }
  Attr a;
  fresh_attrs_.Forget(ino);
  const uint64_t known = known_.Stamp();
  Status s = meta_->CommitWrite(ino, size, mtime, &a);
  if (!s.ok()) {
    known_.ForgetIno(ino);
    return s;
  }
  known_.NoteAttrs(a, known);
  bool complete = false;
  {
    MutexLock l(&mu_);
    auto it = open_.find(ino);
    if (it == open_.end()) return Status::OK();
    OpenState& st = it->second;
    st.meta_size = a.size;
    // A write that landed during the commit keeps the state dirty (and the
    // high-water mark, which covers it). Otherwise metad now has everything:
    // the mark restarts at zero, so that after another client shrinks the
    // file the next small write here does not commit the old end again
    // (metad keeps max(size, committed size)) and grow the file back.
    if (st.write_seq == seq) {
      st.dirty = false;
      st.written_end = 0;
      complete = HeldEnd(st) == 0;
    }
  }
  // The kernel asks for the attributes after writes (the next stat, or the
  // permission check of the next open): this answer serves that request.
  if (complete) {
    fresh_attrs_.Note(a);
    if (committed != nullptr) *committed = a;
  }
  return Status::OK();
}

void FileSystem::DropContent(uint64_t ino) {
  MutexLock l(&mu_);
  DropContentLocked(ino);
}

void FileSystem::DropContentLocked(uint64_t ino) {
  content_.Forget(ino);
  auto it = open_.find(ino);
  if (it != open_.end()) DropKept(&it->second);
}

void FileSystem::DropKept(OpenState* st) {
  st->content.reset();
  st->sent_whole.clear();
  st->content_gen++;
}

void FileSystem::NoteAdded(uint64_t dir, std::string_view name, const Status& s) {
  if (s.ok()) {
    complete_dirs_.Added(dir, name);
  } else {
    complete_dirs_.Untrack(dir);
  }
}

void FileSystem::NoteRemoved(uint64_t dir, std::string_view name, uint64_t stamp, const Status& s) {
  known_.ForgetName(dir, name);
  if (s.ok()) {
    complete_dirs_.Removed(dir, name, stamp);
  } else {
    complete_dirs_.Untrack(dir);
  }
}

Status FileSystem::Lookup(uint64_t parent, std::string_view name, Attr* out) {
  REPLFS_RETURN_IF_ERROR(CheckName(name));
  const uint64_t known = known_.Stamp();
  Status s = meta_->Lookup(parent, std::string(name), out);
  if (s.IsNotFound()) known_.ForgetName(parent, name);
  REPLFS_RETURN_IF_ERROR(s);
  known_.Note(parent, name, *out, known);
  ApplyLocal(out);
  return Status::OK();
}

bool FileSystem::FindKnown(uint64_t parent, std::string_view name, Attr* out,
                           std::chrono::milliseconds* left) {
  if (!known_.Find(parent, name, out, left)) return false;
  {
    MutexLock l(&mu_);
    if (open_.count(out->ino)) return false;  // its writes may not be committed
  }
  // Not ApplyLocal: nothing of this mount's is uncommitted, and its xattr
  // count must not renew XattrHints (an own SetXattr may be in flight).
  return true;
}

Status FileSystem::GetAttr(uint64_t ino, Attr* out, bool* cached) {
  const bool fresh = fresh_attrs_.Take(ino, out);
  if (!fresh) {
    const uint64_t known = known_.Stamp();
    REPLFS_RETURN_IF_ERROR(meta_->GetAttr(ino, out));
    known_.NoteAttrs(*out, known);
  }
  if (cached != nullptr) *cached = fresh;
  ApplyLocal(out);
  if (!fresh) SizeHeard(ino);
  return Status::OK();
}

Status FileSystem::SetAttr(const SetAttrRequest& req, Attr* out) {
  // Pending writes first, so a later commit cannot undo this change (a
  // truncation, an explicit mtime).
  REPLFS_RETURN_IF_ERROR(SendHeld(req.ino, /*sync=*/false));
  REPLFS_RETURN_IF_ERROR(Commit(req.ino));
  fresh_attrs_.Forget(req.ino);
  if (req.size) {
    if (*req.size < 0) return Status::Invalid("negative size");
    DropContent(req.ino);
    Status s = io_->TruncateTail(req.ino, *req.size);
    if (!s.ok()) {
      DropContent(req.ino);  // it may have trimmed some replicas
      return s;
    }
  }
  Status s = meta_->SetAttr(req, out);
  known_.ForgetIno(req.ino);  // also when it failed: it may have been applied
  if (req.size) DropContent(req.ino);  // anything kept during the truncate
  REPLFS_RETURN_IF_ERROR(s);
  if (req.size) {
    MutexLock l(&mu_);
    auto it = open_.find(req.ino);
    if (it != open_.end()) {
      OpenState& st = it->second;
      st.written_end = std::min(st.written_end, *req.size);
      // Emptied (O_TRUNC of an existing file): appends from 0 are held
      // again, unless one was held (or is being sent) meanwhile: that one
      // keeps its offset.
      if (st.held.empty() && st.sending_end == 0) {
        st.may_hold = *req.size == 0;
        st.held_off = 0;
      } else {
        st.may_hold = false;
      }
    }
  }
  ApplyLocal(out);
  return Status::OK();
}

Status FileSystem::Mknod(uint64_t parent, std::string_view name, uint32_t mode, uint64_t rdev,
                         const Caller& who, Attr* out) {
  REPLFS_RETURN_IF_ERROR(CheckName(name));
  FileType type;
  REPLFS_RETURN_IF_ERROR(FileTypeFromMode(mode, &type));
  if (type == FileType::kDirectory || type == FileType::kSymlink)
    return Status::Invalid("mknod cannot create directories or symlinks");
  Attr dir;
  Status s = meta_->Mknod(parent, std::string(name), type, mode & 07777, who, rdev, out, &dir);
  known_.ForgetName(parent, name);
  NoteAdded(parent, name, s);
  REPLFS_RETURN_IF_ERROR(s);
  fresh_attrs_.Note(dir);
  return Status::OK();
}

Status FileSystem::Mkdir(uint64_t parent, std::string_view name, uint32_t mode,
                         const Caller& who, Attr* out) {
  REPLFS_RETURN_IF_ERROR(CheckName(name));
  Attr dir;
  Status s = meta_->Mkdir(parent, std::string(name), mode & 07777, who, out, &dir);
  known_.ForgetName(parent, name);
  NoteAdded(parent, name, s);
  REPLFS_RETURN_IF_ERROR(s);
  fresh_attrs_.Note(dir);
  return Status::OK();
}

Status FileSystem::Symlink(uint64_t parent, std::string_view name, const std::string& target,
                           const Caller& who, Attr* out) {
  REPLFS_RETURN_IF_ERROR(CheckName(name));
  Attr dir;
  Status s = meta_->Symlink(parent, std::string(name), target, who, out, &dir);
  known_.ForgetName(parent, name);
  NoteAdded(parent, name, s);
  REPLFS_RETURN_IF_ERROR(s);
  fresh_attrs_.Note(dir);
  return Status::OK();
}

Status FileSystem::ReadLink(uint64_t ino, std::string* out) { return meta_->ReadLink(ino, out); }

Status FileSystem::Unlink(uint64_t parent, std::string_view name, Unlinked* out) {
  REPLFS_RETURN_IF_ERROR(CheckName(name));
  Attr dir;
  const uint64_t stamp = complete_dirs_.Stamp(parent);
  Status s = meta_->Unlink(parent, std::string(name), out, &dir);
  NoteRemoved(parent, name, stamp, s);
  // It may have been applied, to an inode this mount knows by another name.
  if (!s.ok()) known_.ForgetAll();
  REPLFS_RETURN_IF_ERROR(s);
  if (out->ino != 0) {  // one link less
    fresh_attrs_.Forget(out->ino);
    known_.ForgetIno(out->ino);
  }
  fresh_attrs_.Note(dir);
  return Status::OK();
}

Status FileSystem::Rmdir(uint64_t parent, std::string_view name) {
  REPLFS_RETURN_IF_ERROR(CheckName(name));
  Unlinked gone;
  Attr dir;
  const uint64_t stamp = complete_dirs_.Stamp(parent);
  Status s = meta_->Rmdir(parent, std::string(name), &gone, &dir);
  NoteRemoved(parent, name, stamp, s);
  REPLFS_RETURN_IF_ERROR(s);
  if (gone.ino != 0) {
    fresh_attrs_.Forget(gone.ino);
    complete_dirs_.Untrack(gone.ino);
  }
  fresh_attrs_.Note(dir);
  return Status::OK();
}

Status FileSystem::Rename(uint64_t parent, std::string_view name, uint64_t new_parent,
                          std::string_view new_name, RenameFlags flags, Unlinked* out) {
  REPLFS_RETURN_IF_ERROR(CheckName(name));
  REPLFS_RETURN_IF_ERROR(CheckName(new_name));
  // Both parents change, and a directory moved gets a new ctime (and
  // parent): nothing noted before the rename may answer for them.
  Status s = meta_->Rename(parent, std::string(name), new_parent, std::string(new_name), flags, out);
  fresh_attrs_.ForgetAll();  // also when it failed: it may have been applied
  // Likewise: the moved inode (its ctime) may be known by another name,
  // and which inode moved is not in the answer.
  known_.ForgetAll();
  // An exchange leaves both names in place. Otherwise the source name is
  // gone, unless both names were links of one inode (then metad changes
  // nothing): the kernel knows that case only from what it cached, which
  // another mount may have changed, so the source directory is forgotten.
  if (flags.exchange) {
    NoteAdded(parent, name, s);
  } else {
    complete_dirs_.Untrack(parent);
  }
  NoteAdded(new_parent, new_name, s);
  if (s.ok() && out->ino != 0 && out->nlink == 0) complete_dirs_.Untrack(out->ino);
  return s;
}

Status FileSystem::Link(uint64_t ino, uint64_t new_parent, std::string_view new_name, Attr* out) {
  REPLFS_RETURN_IF_ERROR(CheckName(new_name));
  Attr dir;
  fresh_attrs_.Forget(ino);  // one link more
  Status s = meta_->Link(ino, new_parent, std::string(new_name), out, &dir);
  known_.ForgetIno(ino);
  known_.ForgetName(new_parent, new_name);
  NoteAdded(new_parent, new_name, s);
  REPLFS_RETURN_IF_ERROR(s);
  fresh_attrs_.Note(dir);
  ApplyLocal(out);
  return Status::OK();
}

Status FileSystem::ReadDir(uint64_t ino, const std::string& after, int max, DirPage* out) {
  REPLFS_RETURN_IF_ERROR(meta_->ReadDir(ino, after, max, /*plus=*/true, out));
  for (DirEntry& e : out->entries)
    if (e.attr) ApplyLocal(&*e.attr);
  return Status::OK();
}

Status FileSystem::Open(uint64_t ino, Attr* out, bool use_kept) {
  std::vector<ChunkLocation> locations;
  const uint64_t known = known_.Stamp();
  REPLFS_RETURN_IF_ERROR(meta_->Open(ino, session_, out, kOpenChunks, &locations));
  known_.NoteAttrs(*out, known);
  fresh_attrs_.Note(*out);
  const Attr heard = *out;
  Opened(ino, locations, out);
  SizeHeard(ino);
  if (use_kept) {
    // Close-to-open: this open reads the version metad just told, which
    // may be the one this mount wrote and still keeps.
    MutexLock l(&mu_);
    auto it = open_.find(ino);
    if (it != open_.end() && !it->second.dirty && HeldEnd(it->second) == 0)
      it->second.content = content_.Find(heard);
  }
  return Status::OK();
}

void FileSystem::SizeHeard(uint64_t ino) {
  MutexLock l(&mu_);
  auto it = open_.find(ino);
  if (it != open_.end()) it->second.size_heard_ms = SteadyMs();
}

void FileSystem::Opened(uint64_t ino, const std::vector<ChunkLocation>& locations, Attr* out) {
  // Close-to-open: what other clients wrote and closed before this open is
  // read from the chunks' current replicas, not from locations cached
  // earlier; the Open brought the first chunks' locations along, so the
  // first reads need no metad call.
  io_->Invalidate(ino);
  io_->Prime(ino, locations);
  {
    MutexLock l(&mu_);
    OpenState& st = open_[ino];
    // The first open of an empty file: its appends may be held back.
    if (st.handles++ == 0 && out->type == FileType::kRegular && out->size == 0 && !st.dirty)
      st.may_hold = true;
  }
  ApplyLocal(out);
}

Status FileSystem::Create(uint64_t parent, std::string_view name, uint32_t mode,
                          const Caller& who, Attr* out, bool exclusive) {
  REPLFS_RETURN_IF_ERROR(CheckName(name));
  Attr dir;
  const uint64_t known = known_.Stamp();
  Status s = meta_->Create(parent, std::string(name), mode & 07777, who, session_, out, &dir);
  if (s.ok()) {
    known_.Note(parent, name, *out, known);
  } else {
    known_.ForgetName(parent, name);
  }
  NoteAdded(parent, name, s);
  if (s.code() == Status::Code::kExists && !exclusive) {
    return Status::Stale("'" + std::string(name) +
                         "' exists (made by another client): look it up again");
  }
  REPLFS_RETURN_IF_ERROR(s);
  fresh_attrs_.Note(dir);
  Opened(out->ino, {}, out);  // a new file has no chunks yet
  return Status::OK();
}

Status FileSystem::Read(uint64_t ino, int64_t offset, int64_t size, std::string* out) {
  REPLFS_RETURN_IF_ERROR(SendHeld(ino, /*sync=*/false));  // read what was written
  int64_t known = -1;
  bool recent = false;
  ContentCache::Bytes kept;
  {
    MutexLock l(&mu_);
    auto it = open_.find(ino);
    if (it != open_.end() && !it->second.dirty && HeldEnd(it->second) == 0) kept = it->second.content;
    if (it != open_.end() && !kept) {
      known = it->second.meta_size;
      if (it->second.dirty) known = std::max(known, it->second.written_end);
      recent = it->second.size_heard_ms > 0 &&
               SteadyMs() - it->second.size_heard_ms < attr_ttl_ms_;
    }
  }
  if (kept) {  // the whole file as of this open (ContentCache)
    const auto n = static_cast<int64_t>(kept->size());
    out->assign(*kept, static_cast<size_t>(std::min(offset, n)),
                static_cast<size_t>(std::clamp<int64_t>(n - offset, 0, size)));
    return Status::OK();
  }
  // Near EOF another client may have grown the file since we last asked
  // (unless that was just now).
  if (known < 0 || (offset + size > known && !recent)) {
    Attr a;
    REPLFS_RETURN_IF_ERROR(GetAttr(ino, &a));
    known = a.size;
  }
  return io_->Read(ino, offset, size, known, out);
}

Status FileSystem::Write(uint64_t ino, int64_t offset, std::string_view data, uint32_t tid) {
  if (offset < 0) return Status::Invalid("negative offset");
  fresh_attrs_.Forget(ino);
  known_.ForgetIno(ino);
  const uint32_t process = LookUpProcess(ino, tid, /*for_flush=*/false);
  {
    MutexLock l(&mu_);
    DropContentLocked(ino);
    auto it = open_.find(ino);
    if (SteadyMs() >= hold_paused_until_ms_.load() && it != open_.end() &&
        TryHold(&it->second, offset, data)) {
      it->second.writer.Note(tid, process);
      return Status::OK();
    }
  }
  REPLFS_RETURN_IF_ERROR(SendHeld(ino, /*sync=*/false));  // earlier bytes first
  Status s = io_->Write(ino, offset, data);
  known_.ForgetIno(ino);  // a new chunk changed allocated_bytes at metad
  MutexLock l(&mu_);
  // Kept while this write was on its way (also when it failed: part of it
  // may have landed).
  DropContentLocked(ino);
  REPLFS_RETURN_IF_ERROR(s);
  OpenState& st = open_[ino];
  st.dirty = true;
  st.written_end = std::max(st.written_end, offset + static_cast<int64_t>(data.size()));
  st.mtime_ns = NowNs();
  st.write_seq++;
  st.writer.Note(tid, process);
  return Status::OK();
}

Status FileSystem::Flush(uint64_t ino, uint32_t tid) {
  const uint32_t process = LookUpProcess(ino, tid, /*for_flush=*/true);
  if (LeaveToWriter(ino, tid, process)) {
    LOG(DEBUG) << "inode " << ino << ": flush from thread " << tid << " of process " << process
               << ", not the writer's: its writes stay pending";
    return Status::OK();
  }
  // Held bytes that cannot be sent stay held and fail this flush, after
  // what did reach the datads is committed (none of it lies past them).
  const Status held = SendHeld(ino, /*sync=*/true);
  uint64_t seq = 0;
  {
    MutexLock l(&mu_);
    auto it = open_.find(ino);
    if (it != open_.end()) seq = it->second.write_seq;
  }
  // Data durable first, then the size that exposes it.
  REPLFS_RETURN_IF_ERROR(io_->Sync(ino));
  Attr committed;
  REPLFS_RETURN_IF_ERROR(Commit(ino, &committed));
  if (held.ok()) {
    // Synced and committed, and nothing written since before the sync:
    // nothing is pending, so the next writer may be any process. (Only
    // here: a commit before a setattr syncs nothing.) A file sent whole
    // from its held bytes is kept for reading back (ContentCache).
    MutexLock l(&mu_);
    auto it = open_.find(ino);
    if (it != open_.end() && it->second.write_seq == seq && !it->second.dirty &&
        HeldEnd(it->second) == 0) {
      OpenState& st = it->second;
      st.writer.Reset();
      if (committed.ino != 0 && !st.sent_whole.empty() && st.sent_gen == st.content_gen)
        content_.Put(committed, std::move(st.sent_whole));
      st.sent_whole.clear();
    }
  }
  return held;
}

Status FileSystem::Fsync(uint64_t ino) {
  REPLFS_RETURN_IF_ERROR(Flush(ino));
  return meta_->Sync();
}

Status FileSystem::FsyncDir() { return meta_->Sync(); }

Status FileSystem::Release(uint64_t ino) {
  Status s = Flush(ino);
  if (!s.ok()) {
    known_.ForgetIno(ino);  // what metad holds now is unknown
    LOG(ERROR) << "inode " << ino << ": writes lost at close: " << s.ToString();
  }
  releases_->Queue(ino);
  std::vector<LeaseHold> leases;
  {
    MutexLock l(&mu_);
    auto it = open_.find(ino);
    if (it != open_.end() && --it->second.handles <= 0) {
      for (int64_t lease : it->second.leases) leases.push_back(LeaseHold{ino, lease});
      open_.erase(it);
    }
  }
  // The last close also drops what RenewOpenHolds holds (metad unreachable:
  // the next round tries again).
  if (!leases.empty()) ReleaseHolds(std::move(leases));
  return s;
}

Status FileSystem::SetXattr(uint64_t ino, std::string_view name, std::string_view value,
                            int flags) {
  if (flags & ~3) return Status::Invalid("unknown setxattr flags " + std::to_string(flags));
  if (name.size() > kMaxNameBytes) return Status::Range("xattr name too long");
  xattr_hints_.Forget(ino);
  fresh_attrs_.Forget(ino);
  Status s = meta_->SetXattr(ino, std::string(name), std::string(value), flags);
  known_.ForgetIno(ino);  // also when it failed: it may have been applied
  return s;
}

Status FileSystem::GetXattr(uint64_t ino, std::string_view name, std::string* out) {
  if (name.size() > kMaxNameBytes) return Status::Range("xattr name too long");
  if (xattr_hints_.KnownAbsent(ino, name))
    return Status::NoData("xattr '" + std::string(name) + "' does not exist");
  Status s = meta_->GetXattr(ino, std::string(name), out);
  if (s.code() == Status::Code::kNoData) xattr_hints_.NoteAbsent(ino, name);
  return s;
}

Status FileSystem::ListXattr(uint64_t ino, std::vector<std::string>* out) {
  if (xattr_hints_.KnownEmpty(ino)) {
    out->clear();
    return Status::OK();
  }
  Status s = meta_->ListXattr(ino, out);
  if (s.ok() && out->empty()) xattr_hints_.Note(ino, 0);
  return s;
}

Status FileSystem::RemoveXattr(uint64_t ino, std::string_view name) {
  if (name.size() > kMaxNameBytes) return Status::Range("xattr name too long");
  xattr_hints_.Forget(ino);
  fresh_attrs_.Forget(ino);
  Status s = meta_->RemoveXattr(ino, std::string(name));
  known_.ForgetIno(ino);  // also when it failed: it may have been applied
  return s;
}

Status FileSystem::StatFs(struct statvfs* out) {
  FsStat s;
  REPLFS_RETURN_IF_ERROR(meta_->StatFs(&s));
  FsStatToStatvfs(s, info_.block_size, info_.replicas, out);
  return Status::OK();
}

void FileSystem::ChangedElsewhere(uint64_t ino) {
  fresh_attrs_.Forget(ino);
  xattr_hints_.Forget(ino);
  known_.ForgetIno(ino);
  MutexLock l(&mu_);
  DropContentLocked(ino);
  auto it = open_.find(ino);
  if (it != open_.end()) it->second.size_heard_ms = 0;
}

void FileSystem::EntryChangedElsewhere(uint64_t dir, std::string_view name) {
  complete_dirs_.MayExist(dir, name);
  known_.ForgetName(dir, name);
}

void FileSystem::ChangesLost() {
  {
    MutexLock l(&mu_);
    content_.Clear();
    for (auto& [ino, st] : open_) {
      st.size_heard_ms = 0;
      DropKept(&st);
    }
  }
  fresh_attrs_.ForgetAll();
  known_.ForgetAll();
  xattr_hints_.ForgetAll();
  complete_dirs_.UntrackAll();
}

void FileSystem::Forget(uint64_t ino) {
  fresh_attrs_.Forget(ino);
  complete_dirs_.Untrack(ino);
  {
    MutexLock l(&mu_);
    if (open_.count(ino)) return;
    content_.Forget(ino);  // lives no longer than the kernel's inode
  }
  io_->Invalidate(ino);
}

}  // namespace replfs::client
