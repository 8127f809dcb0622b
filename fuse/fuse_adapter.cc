// libfuse low-level callbacks. Each one computes with FileSystem, then sends
// exactly one fuse_reply_* (through Dispatch, which also turns failures and
// exceptions into an errno reply). State is reached through
// fuse_req_userdata(), never a global.
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "fuse/fuse_adapter.h"

#include <fcntl.h>
#include <linux/fs.h>  // RENAME_NOREPLACE, RENAME_EXCHANGE
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <string_view>

#include "common/log.h"
#include "fuse/change_watcher.h"
#include "fuse/kernel_state.h"
#include "fuse/mount_tuning.h"

namespace replfs::client {
namespace {

// The change feed epoch when the request this thread serves began (see
// ChangeWatcher), set by Dispatch.
thread_local uint64_t request_epoch = 0;

// How long the kernel may cache what one reply carries.
struct Ttl {
  double attr;
  double entry;
};

class Adapter {
 public:
  explicit Adapter(const Config& cfg)
      : short_{cfg.attr_timeout_s, cfg.entry_timeout_s},
        long_{std::max(cfg.coherent_timeout_s, cfg.attr_timeout_s),
              std::max(cfg.coherent_timeout_s, cfg.entry_timeout_s)},
        follow_(cfg.coherent_timeout_s > 0),
        // A poll ends well within the RPC timeout (unmounting cancels it).
        poll_(std::clamp<int64_t>(cfg.rpc_timeout_ms / 2, 50, 5000)) {}

  // Called once, before the loop starts. `se` outlives the invalidator.
  void Start(fuse_session* se, std::unique_ptr<FileSystem> fs) {
    se_ = se;
    fs_ = std::move(fs);
    auto notify = [se](const Invalidation& w) {
      int rc = 0;
      switch (w.what) {
        case Invalidation::What::kAttrs:
          // Attributes only (off < 0): the inode changed its nlink/ctime
          // through another name (link, unlink, rename), not its bytes.
          rc = fuse_lowlevel_notify_inval_inode(se, w.ino, -1, 0);
          break;
        case Invalidation::What::kAll:
          rc = fuse_lowlevel_notify_inval_inode(se, w.ino, 0, 0);
          break;
        case Invalidation::What::kEntry:
          rc = fuse_lowlevel_notify_inval_entry(se, w.ino, w.name.data(), w.name.size());
          break;
      }
      // ENOENT: the kernel no longer caches it, nothing to do.
      if (rc != 0 && rc != -ENOENT) {
        LOG(WARNING) << "invalidating " << (w.what == Invalidation::What::kEntry ? "entry " + w.name + " of " : "")
                     << "inode " << w.ino << ": " << std::strerror(-rc);
      }
    };
    // Two threads: dropping pages waits for page locks (a read in
    // progress), which must not hold up attributes and names.
    invalidator_ = std::make_unique<Invalidator>(notify);
    pages_ = std::make_unique<Invalidator>(notify);
    if (!follow_) return;
    ChangeWatcher::Callbacks cb;
    cb.changed = [this](const NsChange& c) { ChangedElsewhere(c); };
    // Only this mount's own caches: the kernel's replies so far had the
    // short timeouts.
    cb.started = [this] { fs_->ChangesLost(); };
    cb.lost = [this] {
      fs_->ChangesLost();
      std::vector<uint64_t> held = lookups_.Held();
      held.push_back(FUSE_ROOT_ID);
      for (uint64_t ino : held) invalidator_->Queue(Invalidation::Attrs(ino));
      for (uint64_t ino : held) pages_->Queue(Invalidation::All(ino));
    };
    watcher_ = std::make_unique<ChangeWatcher>(&fs_->meta(), fs_->session(), poll_, std::move(cb));
  }
  void Stop() {
    if (watcher_) watcher_->Stop();
    if (invalidator_) invalidator_->Stop();
    if (pages_) pages_->Stop();
  }

  FileSystem& fs() { return *fs_; }
  LookupCounts& lookups() { return lookups_; }
  ParentHints& parents() { return parents_; }
  SentAttrs& sent() { return sent_; }
  // Invalidates the kernel's cached attributes of `ino` now, from inside a
  // request handler: only for requests during which the kernel holds no
  // lock of that inode (open); attributes only, so no page lock either.
  void InvalidateAttrsNow(uint64_t ino) {
    const int rc = fuse_lowlevel_notify_inval_inode(se_, ino, -1, 0);
    if (rc != 0 && rc != -ENOENT) LOG(WARNING) << "invalidating inode " << ino << ": " << std::strerror(-rc);
  }
  // The kernel's cached attributes of `ino` are stale (not its data).
  void InvalidateAttrs(uint64_t ino) { invalidator_->Queue(Invalidation::Attrs(ino)); }

  // A reply's timeouts are chosen and the reply sent inside one section
  // (ChangeWatcher): long only while the change feed is followed and
  // nothing arrived on it since the request began.
  std::shared_lock<std::shared_mutex> ReplySection() {
    return watcher_ ? watcher_->ReplySection() : std::shared_lock<std::shared_mutex>();
  }
  Ttl Timeouts() const { return Coherent() ? long_ : short_; }
  // The change feed is followed and nothing arrived on it since the
  // request began: what this mount knows is as good as an answer of metad
  // (for as long as the kernel may cache one).
  bool Coherent() const { return watcher_ && watcher_->Coherent(request_epoch); }

  // Answers the lookup of a name that FileSystem::complete_dirs() knows is
  // not in `parent` with a negative entry the kernel may keep for long,
  // without asking metad. False (nothing sent) when it does not know that
  // or may not trust it now (CompleteDirs).
  bool ReplyKnownAbsent(fuse_req_t req, uint64_t parent, std::string_view name) {
    if (!watcher_ || name == "." || name == ".." || !CheckName(name).ok()) return false;
    auto section = watcher_->ReplySection();
    if (!watcher_->Coherent(request_epoch) || !fs_->complete_dirs().KnownAbsent(parent, name))
      return false;
    fuse_entry_param e{};
    e.ino = 0;
    e.entry_timeout = long_.entry;
    fuse_reply_entry(req, &e);
    return true;
  }
  // `dir` was just made by this request: every name in it is known from
  // now on, if nothing another mount did may have slipped past.
  void TrackNewDir(uint64_t dir) {
    if (!watcher_) return;
    auto section = watcher_->ReplySection();
    if (watcher_->Coherent(request_epoch)) fs_->complete_dirs().Track(dir);
  }
  // For replies that cannot be sent in a section (built across RPCs).
  Ttl ShortTimeouts() const { return short_; }
  uint64_t Epoch() const { return watcher_ ? watcher_->Epoch() : 0; }

 private:
  // Another mount changed something the kernel may cache: this client's
  // own caches first, then the kernel's (if it holds the inode).
  void ChangedElsewhere(const NsChange& c) {
    const bool held = c.ino == FUSE_ROOT_ID || lookups_.Get(c.ino) > 0;
    if (c.kind == NsChange::Kind::kEntry) {
      // Before the kernel is told: its next lookup must not be answered
      // from what this mount knew.
      fs_->EntryChangedElsewhere(c.ino, c.name);
      if (held) invalidator_->Queue(Invalidation::Entry(c.ino, c.name));
      return;
    }
    fs_->ChangedElsewhere(c.ino);
    if (!held) return;
    invalidator_->Queue(Invalidation::Attrs(c.ino));
    pages_->Queue(Invalidation::All(c.ino));
  }

  const Ttl short_;
  const Ttl long_;
  const bool follow_;
  const std::chrono::milliseconds poll_;
  std::unique_ptr<FileSystem> fs_;
  std::unique_ptr<Invalidator> invalidator_;  // attributes and names
  std::unique_ptr<Invalidator> pages_;        // cached contents
  std::unique_ptr<ChangeWatcher> watcher_;  // with coherent_timeout > 0
  LookupCounts lookups_;
  ParentHints parents_;
  SentAttrs sent_;
  fuse_session* se_ = nullptr;  // set by Start, before the loop
};

Adapter& A(fuse_req_t req) { return *static_cast<Adapter*>(fuse_req_userdata(req)); }

// The one wrapper every request goes through. `fn` returns OK only after it
// sent its reply; otherwise Dispatch replies with the errno of the Status.
// No exception escapes into libfuse.
template <class Fn>
void Dispatch(fuse_req_t req, const char* op, Fn&& fn) {
  Status s;
  try {
    Adapter& a = A(req);
    request_epoch = a.Epoch();
    s = fn(a);
  } catch (const std::exception& e) {
    LOG(ERROR) << op << ": unexpected exception: " << e.what();
    s = Status::Internal(e.what());
  } catch (...) {
    LOG(ERROR) << op << ": unexpected non-standard exception";
    s = Status::Internal("non-standard exception");
  }
  if (s.ok()) return;
  LOG(DEBUG) << op << ": " << s.ToString();
  fuse_reply_err(req, StatusToErrno(s));
}

Caller Who(fuse_req_t req) {
  const fuse_ctx* c = fuse_req_ctx(req);
  return Caller{static_cast<uint32_t>(c->uid), static_cast<uint32_t>(c->gid)};
}

// The calling thread in this mount's pid namespace (0: not mappable).
uint32_t CallerTid(fuse_req_t req) { return static_cast<uint32_t>(fuse_req_ctx(req)->pid); }

fuse_entry_param MakeEntry(Adapter& a, const Attr& attr, const Ttl& ttl) {
  fuse_entry_param e{};
  e.ino = attr.ino;
  e.generation = 0;  // inode numbers are never reused
  AttrToStat(attr, a.fs().block_size(), &e.attr);
  a.sent().Note(attr.ino, attr.size, attr.mtime_ns);
  e.attr_timeout = ttl.attr;
  e.entry_timeout = ttl.entry;
  return e;
}

// Hands `attr`, the entry `name` of `parent`, to the kernel as a new
// reference (lookup count + 1), to be cached for `ttl`. Inside a
// ReplySection.
void SendEntry(fuse_req_t req, Adapter& a, uint64_t parent, const char* name, const Attr& attr,
               const Ttl& ttl) {
  fuse_entry_param e = MakeEntry(a, attr, ttl);
  if (attr.type == FileType::kDirectory) a.parents().Set(attr.ino, parent, name);
  a.lookups().Add(attr.ino);
  // An interrupted request never reaches the kernel: no forget will come.
  if (fuse_reply_entry(req, &e) != 0) {
    a.lookups().Forget(attr.ino, 1);
    a.fs().complete_dirs().Untrack(attr.ino);  // a new directory tracked for it
  }
}

Status ReplyEntry(fuse_req_t req, Adapter& a, uint64_t parent, const char* name,
                  const Attr& attr) {
  auto section = a.ReplySection();
  SendEntry(req, a, parent, name, attr, a.Timeouts());
  return Status::OK();
}

// Answers the lookup of a file whose name and attributes this mount still
// knows (FileSystem::FindKnown) while it may trust them, for no longer than
// the kernel could have cached metad's answer. False (nothing sent)
// otherwise.
bool ReplyKnownEntry(fuse_req_t req, Adapter& a, uint64_t parent, const char* name) {
  auto section = a.ReplySection();
  Attr attr;
  std::chrono::milliseconds left{};
  if (!a.Coherent() || !a.fs().FindKnown(parent, name, &attr, &left)) return false;
  const double s = std::chrono::duration<double>(left).count();
  const Ttl ttl = a.Timeouts();
  SendEntry(req, a, parent, name, attr, Ttl{std::min(ttl.attr, s), std::min(ttl.entry, s)});
  return true;
}

// `cached`: the attributes are not from metad during this request.
Status ReplyAttr(fuse_req_t req, Adapter& a, const Attr& attr, bool cached = false) {
  struct stat st;
  AttrToStat(attr, a.fs().block_size(), &st);
  a.sent().Note(attr.ino, attr.size, attr.mtime_ns);
  auto section = a.ReplySection();
  fuse_reply_attr(req, &st, cached ? a.ShortTimeouts().attr : a.Timeouts().attr);
  return Status::OK();
}

void OnInit(void*, fuse_conn_info* conn) {
  conn->max_write = 1 << 20;
  conn->max_readahead = 1 << 20;
  conn->time_gran = 1;
  // The page cache must not hold writes we have not sent (other clients and
  // replicas would miss them); O_TRUNC arrives as a setattr; the kernel
  // clears suid/sgid bits itself.
  conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
                  FUSE_CAP_SPLICE_MOVE | FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_HANDLE_KILLPRIV |
                  FUSE_CAP_EXPORT_SUPPORT);
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
  // Every directory page with attributes (metad sends them anyway): with
  // the kernel's "auto" mode only the first page of a listing is a
  // readdirplus, and `ls -l` then costs one lookup per later entry.
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
}

void OnLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Dispatch(req, "lookup", [&](Adapter& a) -> Status {
    if (a.ReplyKnownAbsent(req, parent, name)) return Status::OK();
    if (ReplyKnownEntry(req, a, parent, name)) return Status::OK();
    Attr attr;
    Status s = a.fs().Lookup(parent, name, &attr);
    if (s.IsNotFound()) {
      // A negative entry the kernel may cache (a create by another mount
      // invalidates it through the change feed).
      auto section = a.ReplySection();
      fuse_entry_param e{};
      e.ino = 0;
      e.entry_timeout = a.Timeouts().entry;
      fuse_reply_entry(req, &e);
      return Status::OK();
    }
    REPLFS_RETURN_IF_ERROR(s);
    return ReplyEntry(req, a, parent, name, attr);
  });
}

void ForgetOne(Adapter& a, uint64_t ino, uint64_t n) {
  if (ino == FUSE_ROOT_ID) return;  // the root is never looked up
  if (a.lookups().Forget(ino, n)) {
    a.fs().Forget(ino);
    a.parents().Erase(ino);
    a.sent().Erase(ino);
  }
}

void OnForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  ForgetOne(A(req), ino, nlookup);
  fuse_reply_none(req);
}

void OnForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) ForgetOne(A(req), forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void OnGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Dispatch(req, "getattr", [&](Adapter& a) -> Status {
    Attr attr;
    bool cached = false;
    REPLFS_RETURN_IF_ERROR(a.fs().GetAttr(ino, &attr, &cached));
    return ReplyAttr(req, a, attr, cached);
  });
}

int64_t TimespecNs(const timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

void OnSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* in, int to_set, fuse_file_info*) {
  Dispatch(req, "setattr", [&](Adapter& a) -> Status {
    constexpr int kKnown = FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID |
                           FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
                           FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW |
                           FUSE_SET_ATTR_CTIME | FUSE_SET_ATTR_KILL_SUID | FUSE_SET_ATTR_KILL_SGID;
    if (to_set & ~kKnown) {
      LOG(WARNING) << "setattr of inode " << ino << " with unsupported bits 0x" << std::hex
                   << (to_set & ~kKnown);
      return Status::Invalid("unsupported setattr bits");
    }
    SetAttrRequest r;
    r.ino = ino;
    if (to_set & FUSE_SET_ATTR_MODE) r.mode = in->st_mode & 07777;
    if (to_set & FUSE_SET_ATTR_UID) r.uid = in->st_uid;
    if (to_set & FUSE_SET_ATTR_GID) r.gid = in->st_gid;
    if (to_set & FUSE_SET_ATTR_SIZE) r.size = in->st_size;
    if (to_set & FUSE_SET_ATTR_ATIME_NOW) r.atime_now = true;
    else if (to_set & FUSE_SET_ATTR_ATIME) r.atime_ns = TimespecNs(in->st_atim);
    if (to_set & FUSE_SET_ATTR_MTIME_NOW) r.mtime_now = true;
    else if (to_set & FUSE_SET_ATTR_MTIME) r.mtime_ns = TimespecNs(in->st_mtim);
    if ((to_set & (FUSE_SET_ATTR_KILL_SUID | FUSE_SET_ATTR_KILL_SGID)) && !r.mode) {
      Attr cur;
      REPLFS_RETURN_IF_ERROR(a.fs().GetAttr(ino, &cur));
      uint32_t mode = cur.mode;
      if (to_set & FUSE_SET_ATTR_KILL_SUID) mode &= ~static_cast<uint32_t>(S_ISUID);
      if (to_set & FUSE_SET_ATTR_KILL_SGID) mode &= ~static_cast<uint32_t>(S_ISGID);
      if (mode != cur.mode) r.mode = mode;
    }
    // FUSE_SET_ATTR_CTIME needs no field: metad sets ctime on every change.
    Attr attr;
    REPLFS_RETURN_IF_ERROR(a.fs().SetAttr(r, &attr));
    return ReplyAttr(req, a, attr);
  });
}

void OnMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  Dispatch(req, "mknod", [&](Adapter& a) -> Status {
    Attr attr;
    REPLFS_RETURN_IF_ERROR(a.fs().Mknod(parent, name, mode, rdev, Who(req), &attr));
    return ReplyEntry(req, a, parent, name, attr);
  });
}

void OnMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  Dispatch(req, "mkdir", [&](Adapter& a) -> Status {
    Attr attr;
    REPLFS_RETURN_IF_ERROR(a.fs().Mkdir(parent, name, mode, Who(req), &attr));
    a.TrackNewDir(attr.ino);
    return ReplyEntry(req, a, parent, name, attr);
  });
}

void OnSymlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  Dispatch(req, "symlink", [&](Adapter& a) -> Status {
    Attr attr;
    REPLFS_RETURN_IF_ERROR(a.fs().Symlink(parent, name, target, Who(req), &attr));
    return ReplyEntry(req, a, parent, name, attr);
  });
}

void OnReadlink(fuse_req_t req, fuse_ino_t ino) {
  Dispatch(req, "readlink", [&](Adapter& a) -> Status {
    std::string target;
    REPLFS_RETURN_IF_ERROR(a.fs().ReadLink(ino, &target));
    fuse_reply_readlink(req, target.c_str());
    return Status::OK();
  });
}

void OnUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Dispatch(req, "unlink", [&](Adapter& a) -> Status {
    Unlinked u;
    REPLFS_RETURN_IF_ERROR(a.fs().Unlink(parent, name, &u));
    // Still reachable by another name: its cached nlink/ctime are wrong now.
    if (u.ino != 0 && u.nlink > 0) a.InvalidateAttrs(u.ino);
    fuse_reply_err(req, 0);
    return Status::OK();
  });
}

void OnRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Dispatch(req, "rmdir", [&](Adapter& a) -> Status {
    REPLFS_RETURN_IF_ERROR(a.fs().Rmdir(parent, name));
    a.parents().Removed(parent, name);
    fuse_reply_err(req, 0);
    return Status::OK();
  });
}

void OnRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
              const char* newname, unsigned int flags) {
  Dispatch(req, "rename", [&](Adapter& a) -> Status {
    if (flags & ~static_cast<unsigned>(RENAME_NOREPLACE | RENAME_EXCHANGE))
      return Status::Invalid("unsupported rename flags");  // RENAME_WHITEOUT and others
    RenameFlags f;
    f.noreplace = flags & RENAME_NOREPLACE;
    f.exchange = flags & RENAME_EXCHANGE;
    if (f.noreplace && f.exchange) return Status::Invalid("RENAME_NOREPLACE with RENAME_EXCHANGE");
    Unlinked u;
    REPLFS_RETURN_IF_ERROR(a.fs().Rename(parent, name, newparent, newname, f, &u));
    // The kernel moves its dentry without asking again: move the ".." hint.
    a.parents().Renamed(parent, name, newparent, newname, f.exchange);
    if (u.ino != 0 && u.nlink > 0) a.InvalidateAttrs(u.ino);
    fuse_reply_err(req, 0);
    return Status::OK();
  });
}

void OnLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  Dispatch(req, "link", [&](Adapter& a) -> Status {
    Attr attr;
    REPLFS_RETURN_IF_ERROR(a.fs().Link(ino, newparent, newname, &attr));
    a.InvalidateAttrs(ino);  // nlink and ctime changed under every other name
    return ReplyEntry(req, a, newparent, newname, attr);
  });
}

void OnOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Dispatch(req, "open", [&](Adapter& a) -> Status {
    Attr attr;
    // What this mount kept of a file it wrote serves reads only while the
    // change feed would have told of another mount's write.
    REPLFS_RETURN_IF_ERROR(a.fs().Open(ino, &attr, /*use_kept=*/a.Coherent()));
    // Close-to-open: attributes the kernel cached before another client
    // wrote and closed the file (its size!) must not outlive this open,
    // nor pages read before. When size and mtime are what the kernel last
    // heard, its pages are of this version: a later mtime reaching the
    // kernel drops them (FUSE_CAP_AUTO_INVAL_DATA), as NFS revalidates its
    // cache at open; a file read again costs no datad call.
    const bool changed = a.sent().Differs(ino, attr.size, attr.mtime_ns);
    if (changed) {
      a.InvalidateAttrsNow(ino);
      a.sent().Note(ino, attr.size, attr.mtime_ns);
    }
    fi->fh = 0;
    fi->keep_cache = changed ? 0 : 1;
    if (fuse_reply_open(req, fi) != 0) (void)a.fs().Release(ino);  // interrupted
    return Status::OK();
  });
}

void OnCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
              fuse_file_info* fi) {
  Dispatch(req, "create", [&](Adapter& a) -> Status {
    if (!S_ISREG(mode)) return Status::Invalid("create of a non-regular file");
    Attr attr;
    // Without O_EXCL an existing name answers ESTALE: the kernel looks it
    // up again and opens it (FileSystem::Create).
    REPLFS_RETURN_IF_ERROR(
        a.fs().Create(parent, name, mode, Who(req), &attr, (fi->flags & O_EXCL) != 0));
    fi->fh = 0;
    fi->keep_cache = 0;
    bool sent;
    {
      auto section = a.ReplySection();
      fuse_entry_param e = MakeEntry(a, attr, a.Timeouts());
      a.lookups().Add(attr.ino);
      sent = fuse_reply_create(req, &e, fi) == 0;
    }
    if (!sent) {  // interrupted
      a.lookups().Forget(attr.ino, 1);
      (void)a.fs().Release(attr.ino);
    }
    return Status::OK();
  });
}

void OnRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  Dispatch(req, "read", [&](Adapter& a) -> Status {
    std::string data;
    REPLFS_RETURN_IF_ERROR(a.fs().Read(ino, off, static_cast<int64_t>(size), &data));
    fuse_reply_buf(req, data.data(), data.size());
    return Status::OK();
  });
}

void OnWrite(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
             fuse_file_info* fi) {
  // With O_APPEND the kernel has already turned `off` into the end of file.
  // A write-back of mmap'ed pages comes from whichever thread flushes them
  // (a kernel worker): its writer is unknown.
  const uint32_t tid = fi->writepage ? 0 : CallerTid(req);
  Dispatch(req, "write", [&](Adapter& a) -> Status {
    REPLFS_RETURN_IF_ERROR(a.fs().Write(ino, off, std::string_view(buf, size), tid));
    fuse_reply_write(req, size);
    return Status::OK();
  });
}

void OnFlush(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Dispatch(req, "flush", [&](Adapter& a) -> Status {
    // Also when a forked child exits or execs: the writer is told apart by
    // its process (FileSystem::Flush).
    REPLFS_RETURN_IF_ERROR(a.fs().Flush(ino, CallerTid(req)));
    fuse_reply_err(req, 0);
    return Status::OK();
  });
}

void OnFsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
  Dispatch(req, "fsync", [&](Adapter& a) -> Status {
    REPLFS_RETURN_IF_ERROR(a.fs().Fsync(ino));
    fuse_reply_err(req, 0);
    return Status::OK();
  });
}

void OnRelease(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Dispatch(req, "release", [&](Adapter& a) -> Status {
    // The kernel ignores release errors; FileSystem logs lost writes.
    (void)a.fs().Release(ino);
    fuse_reply_err(req, 0);
    return Status::OK();
  });
}

void OnOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Dispatch(req, "opendir", [&](Adapter& a) -> Status {
    auto d = std::make_unique<DirListing>(&a.fs(), ino, a.parents().Get(ino));
    fi->fh = reinterpret_cast<uint64_t>(d.get());
    if (fuse_reply_open(req, fi) == 0) d.release();  // owned by the handle until releasedir
    return Status::OK();
  });
}

// Fills one readdir(plus) buffer from entry `off` on.
Status FillDir(fuse_req_t req, Adapter& a, fuse_ino_t dir, fuse_file_info* fi, size_t size, off_t off,
               bool plus, std::string* buf) {
  auto* d = reinterpret_cast<DirListing*>(fi->fh);
  buf->assign(size, '\0');
  size_t pos = 0;
  for (size_t i = static_cast<size_t>(off);; ++i) {
    DirEntry e;
    bool end = false;
    REPLFS_RETURN_IF_ERROR(d->EntryAt(i, &e, &end));
    if (end) break;
    const bool dots = e.name == "." || e.name == "..";
    const off_t next = static_cast<off_t>(i + 1);
    size_t need;
    if (plus) {
      fuse_entry_param p{};
      if (!dots && !e.attr) {
        Attr attr;
        if (a.fs().GetAttr(e.ino, &attr).ok()) e.attr = attr;
      }
      if (!dots && e.attr) {
        // Short: the page may be older than changes the feed brought since.
        p = MakeEntry(a, *e.attr, a.ShortTimeouts());
      } else {
        // ino 0: the kernel takes no reference (and ignores "." and "..").
        p.attr.st_ino = e.ino;
        p.attr.st_mode = S_IFDIR;
        if (!dots && !e.attr) p.attr.st_mode = S_IFREG;
      }
      need = fuse_add_direntry_plus(req, buf->data() + pos, size - pos, e.name.c_str(), &p, next);
      if (need > size - pos) break;
      if (p.ino != 0) {
        a.lookups().Add(p.ino);
        if (e.attr->type == FileType::kDirectory) a.parents().Set(p.ino, dir, e.name);
      }
    } else {
      struct stat st {};
      st.st_ino = e.ino;
      Attr t;
      t.type = e.type;
      AttrToStat(t, 0, &st);
      st.st_ino = e.ino;
      need = fuse_add_direntry(req, buf->data() + pos, size - pos, e.name.c_str(), &st, next);
      if (need > size - pos) break;
    }
    pos += need;
  }
  buf->resize(pos);
  return Status::OK();
}

void OnReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Dispatch(req, "readdir", [&](Adapter& a) -> Status {
    std::string buf;
    REPLFS_RETURN_IF_ERROR(FillDir(req, a, ino, fi, size, off, false, &buf));
    fuse_reply_buf(req, buf.data(), buf.size());
    return Status::OK();
  });
}

void OnReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Dispatch(req, "readdirplus", [&](Adapter& a) -> Status {
    std::string buf;
    REPLFS_RETURN_IF_ERROR(FillDir(req, a, ino, fi, size, off, true, &buf));
    fuse_reply_buf(req, buf.data(), buf.size());
    return Status::OK();
  });
}

void OnReleasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Dispatch(req, "releasedir", [&](Adapter&) -> Status {
    delete reinterpret_cast<DirListing*>(fi->fh);
    fuse_reply_err(req, 0);
    return Status::OK();
  });
}

void OnFsyncdir(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) {
  // Namespace changes become durable at metad within fsync_interval_ms, or
  // now.
  Dispatch(req, "fsyncdir", [&](Adapter& a) -> Status {
    REPLFS_RETURN_IF_ERROR(a.fs().FsyncDir());
    fuse_reply_err(req, 0);
    return Status::OK();
  });
}

void OnStatfs(fuse_req_t req, fuse_ino_t) {
  Dispatch(req, "statfs", [&](Adapter& a) -> Status {
    struct statvfs st;
    REPLFS_RETURN_IF_ERROR(a.fs().StatFs(&st));
    fuse_reply_statfs(req, &st);
    return Status::OK();
  });
}

void OnSetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                int flags) {
  Dispatch(req, "setxattr", [&](Adapter& a) -> Status {
    REPLFS_RETURN_IF_ERROR(a.fs().SetXattr(ino, name, std::string_view(value, size), flags));
    fuse_reply_err(req, 0);
    return Status::OK();
  });
}

// The xattr size protocol: size 0 asks for the size needed.
Status ReplyXattr(fuse_req_t req, const std::string& value, size_t size) {
  if (size == 0) {
    fuse_reply_xattr(req, value.size());
    return Status::OK();
  }
  if (value.size() > size) return Status::Range("buffer too small");
  fuse_reply_buf(req, value.data(), value.size());
  return Status::OK();
}

void OnGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  Dispatch(req, "getxattr", [&](Adapter& a) -> Status {
    std::string value;
    REPLFS_RETURN_IF_ERROR(a.fs().GetXattr(ino, name, &value));
    return ReplyXattr(req, value, size);
  });
}

void OnListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Dispatch(req, "listxattr", [&](Adapter& a) -> Status {
    std::vector<std::string> names;
    REPLFS_RETURN_IF_ERROR(a.fs().ListXattr(ino, &names));
    std::string joined;
    for (const std::string& n : names) {
      joined += n;
      joined += '\0';
    }
    return ReplyXattr(req, joined, size);
  });
}

void OnRemovexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  Dispatch(req, "removexattr", [&](Adapter& a) -> Status {
    REPLFS_RETURN_IF_ERROR(a.fs().RemoveXattr(ino, name));
    fuse_reply_err(req, 0);
    return Status::OK();
  });
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops{};
  ops.init = OnInit;
  ops.lookup = OnLookup;
  ops.forget = OnForget;
  ops.forget_multi = OnForgetMulti;
  ops.getattr = OnGetattr;
  ops.setattr = OnSetattr;
  ops.readlink = OnReadlink;
  ops.mknod = OnMknod;
  ops.mkdir = OnMkdir;
  ops.unlink = OnUnlink;
  ops.rmdir = OnRmdir;
  ops.symlink = OnSymlink;
  ops.rename = OnRename;
  ops.link = OnLink;
  ops.open = OnOpen;
  ops.read = OnRead;
  ops.write = OnWrite;
  ops.flush = OnFlush;
  ops.release = OnRelease;
  ops.fsync = OnFsync;
  ops.opendir = OnOpendir;
  ops.readdir = OnReaddir;
  ops.readdirplus = OnReaddirplus;
  ops.releasedir = OnReleasedir;
  ops.fsyncdir = OnFsyncdir;
  ops.statfs = OnStatfs;
  ops.setxattr = OnSetxattr;
  ops.getxattr = OnGetxattr;
  ops.listxattr = OnListxattr;
  ops.removexattr = OnRemovexattr;
  ops.create = OnCreate;
  return ops;
}

}  // namespace

int RunFuse(const MountArgs& args, const Config& cfg, const FileSystemFactory& make_fs) {
  Adapter adapter(cfg);
  std::vector<std::string> argv_s = FuseArgv("replfs", args);
  std::vector<char*> argv;
  for (std::string& s : argv_s) argv.push_back(s.data());
  fuse_args fargs = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  const fuse_lowlevel_ops ops = MakeOps();
  fuse_session* se = fuse_session_new(&fargs, &ops, sizeof(ops), &adapter);
  fuse_opt_free_args(&fargs);
  if (se == nullptr) {
    std::cerr << "replfs: cannot start a FUSE session (see the message above)\n";
    return 1;
  }
  int rc = 1;
  if (fuse_set_signal_handlers(se) != 0) {
    std::cerr << "replfs: cannot install signal handlers\n";
  } else {
    // Before mounting: once mounted, nothing may stat the mount point until
    // the session loop serves it (that is why mountinfo is used below).
    char real[PATH_MAX];
    const std::string mnt = realpath(args.mountpoint.c_str(), real) ? real : args.mountpoint;
    if (fuse_session_mount(se, args.mountpoint.c_str()) != 0) {
      std::cerr << "replfs: cannot mount on " << args.mountpoint << "\n";
    } else {
      Status ra = SetMountReadahead(mnt, kReadaheadKb);
      if (!ra.ok()) LOG(INFO) << "readahead of " << mnt << " left at the kernel's default: " << ra.ToString();
      fuse_daemonize(args.foreground ? 1 : 0);
      // In the background fd 2 is /dev/null now: log to syslog (the
      // journal) instead, before any worker thread starts.
      if (!args.foreground) LogToSyslog("replfs");
      std::unique_ptr<FileSystem> fs;
      Status s = make_fs(&fs);
      if (!s.ok()) {
        LOG(ERROR) << "cannot start the client: " << s.ToString();
      } else {
        adapter.Start(se, std::move(fs));
        LOG(INFO) << "mounted " << args.meta << " on " << args.mountpoint;
        if (args.single_thread) {
          rc = fuse_session_loop(se);
        } else {
          fuse_loop_config* lc = fuse_loop_cfg_create();
          fuse_loop_cfg_set_clone_fd(lc, 1);
          fuse_loop_cfg_set_max_threads(lc, static_cast<unsigned>(cfg.client_max_threads));
          rc = fuse_session_loop_mt(se, lc);
          fuse_loop_cfg_destroy(lc);
        }
        adapter.Stop();
        rc = rc == 0 ? 0 : 1;
      }
      fuse_session_unmount(se);
    }
    fuse_remove_signal_handlers(se);
  }
  fuse_session_destroy(se);
  return rc;
}

}  // namespace replfs::client
