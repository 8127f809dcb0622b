// passthrough_ll: the "FUSE ceiling" baseline of the benchmark (scripts/bench).
//
// A minimal libfuse3 low-level passthrough of a local directory, configured
// like the replfs client so that a side-by-side run measures replfs's own
// cost, not a different kernel setup: the same multi-threaded loop with
// clone_fd and 16 workers, 1 MiB max_write, the mount's read_ahead_kb raised
// to 1024 (fuse/mount_tuning.cc), attribute and entry timeouts of 1 s
// (replfs's defaults, negative entries too), readdirplus for every page,
// no writeback cache, no splice, O_TRUNC as a setattr, and at open the
// kernel's pages kept when size and mtime are what the previous open saw
// (replfs keeps them when they are what it last told the kernel).
// --writeback turns on what replfs forgoes, to measure what it would be
// worth; --keep-cache keeps pages at every open.
//
// Inodes: one O_PATH fd per inode the kernel knows, in a table keyed by
// (st_dev, st_ino); the fuse_ino_t is the Inode's address (the root is
// FUSE_ROOT_ID). Each lookup reply adds one to the inode's lookup count and
// each forget subtracts; at zero the fd is closed and the entry dropped.
// Every handler computes its result, then sends exactly one fuse_reply_*.
// Built by tests/bench/CMakeLists.txt; not installed, not packaged.
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>  // RENAME_NOREPLACE, RENAME_EXCHANGE
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace replfs::bench {
namespace {

struct Options {
  std::string source;
  std::string mountpoint;
  bool foreground = false;
  bool debug = false;
  bool single_thread = false;
  unsigned max_threads = 16;  // replfs's [client] max_threads
  double timeout_s = 1.0;     // replfs's attr_timeout / entry_timeout
  bool writeback = false;
  bool keep_cache = false;
  int readahead_kb = 1024;    // fuse/mount_tuning.h kReadaheadKb
};

struct Inode {
  int fd = -1;  // O_PATH, owned
  dev_t dev = 0;
  ino_t ino = 0;
  uint64_t nlookup = 0;  // protected by Passthrough::mu_
  // Size and mtime (ns) at the previous open, or none yet (Unchanged()).
  std::optional<std::pair<off_t, int64_t>> seen;  // protected by Passthrough::mu_
};

// An open file. O_DIRECT is passed through to the local file system, which
// wants aligned buffers: libfuse's are not (a write's data follows the
// request headers), so direct I/O goes through an aligned bounce buffer.
struct FileHandle {
  int fd = -1;  // owned
  bool direct = false;
};

constexpr size_t kDirectAlign = 4096;

// An open directory: the stream and where the last reply stopped. The
// kernel serialises readdir calls on one open directory.
struct DirHandle {
  DIR* dp = nullptr;
  off_t offset = 0;
  dirent* entry = nullptr;  // read but not yet sent (it did not fit)
};

class Passthrough {
 public:
  explicit Passthrough(const Options& opts) : opts_(opts) {}
  ~Passthrough() {
    for (auto& [key, inode] : inodes_) close(inode->fd);
  }

  // Opens the source directory as the root inode. Returns an errno.
  int Init() {
    root_.fd = open(opts_.source.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_.fd < 0) return errno;
    struct stat st;
    if (fstat(root_.fd, &st) != 0) return errno;
    root_.dev = st.st_dev;
    root_.ino = st.st_ino;
    root_.nlookup = 2;  // never forgotten
    return 0;
  }

  const Options& opts() const { return opts_; }

  Inode& Get(fuse_ino_t ino) {
    return ino == FUSE_ROOT_ID ? root_ : *reinterpret_cast<Inode*>(ino);
  }
  int Fd(fuse_ino_t ino) { return Get(ino).fd; }

  // Looks `name` up in `parent` and fills `e` (ino = the Inode's address),
  // adding one to its lookup count. Returns an errno; on error `e` is
  // untouched and no count was taken.
  int Lookup(fuse_ino_t parent, const char* name, fuse_entry_param* e) {
    const int fd = openat(Fd(parent), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno;
    struct stat st;
    if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
      const int err = errno;
      close(fd);
      return err;
    }
    Inode* inode;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto& slot = inodes_[{st.st_dev, st.st_ino}];
      if (slot) {
        close(fd);  // already known: keep the fd we have
      } else {
        slot = std::make_unique<Inode>();
        slot->fd = fd;
        slot->dev = st.st_dev;
        slot->ino = st.st_ino;
      }
      ++slot->nlookup;
      inode = slot.get();
    }
    *e = fuse_entry_param{};
    e->ino = reinterpret_cast<fuse_ino_t>(inode);
    e->attr = st;
    e->attr_timeout = opts_.timeout_s;
    e->entry_timeout = opts_.timeout_s;
    return 0;
  }

  void Forget(fuse_ino_t ino, uint64_t n) {
    if (ino == FUSE_ROOT_ID) return;
    Inode& inode = Get(ino);
    std::lock_guard<std::mutex> lock(mu_);
    if (n > inode.nlookup) {
      std::cerr << "passthrough_ll: forget of " << n << " on inode " << inode.ino
                << " with lookup count " << inode.nlookup << "\n";
      std::abort();
    }
    inode.nlookup -= n;
    if (inode.nlookup == 0) {
      close(inode.fd);
      inodes_.erase({inode.dev, inode.ino});  // frees `inode`
    }
  }

  // True when the file `fd` (inode `ino`) has the size and mtime the
  // previous call saw for it: its cached pages may stay at this open.
  bool Unchanged(fuse_ino_t ino, int fd) {
    struct stat st {};
    if (fstat(fd, &st) != 0) return false;
    const std::pair<off_t, int64_t> now{st.st_size,
                                        st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec};
    Inode& in = Get(ino);
    std::lock_guard<std::mutex> lock(mu_);
    const bool same = in.seen == now;
    in.seen = now;
    return same;
  }

 private:
  const Options opts_;
  Inode root_;
  std::mutex mu_;  // protects inodes_ and every Inode::nlookup
  std::map<std::pair<dev_t, ino_t>, std::unique_ptr<Inode>> inodes_;
};

Passthrough& P(fuse_req_t req) { return *static_cast<Passthrough*>(fuse_req_userdata(req)); }

// "/proc/self/fd/N": reopens or addresses the file an O_PATH fd refers to.
std::string ProcPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

void ReplyEntryOrErr(fuse_req_t req, int err, const fuse_entry_param& e) {
  if (err != 0) {
    fuse_reply_err(req, err);
  } else if (fuse_reply_entry(req, &e) != 0) {
    P(req).Forget(e.ino, 1);  // interrupted: no forget will come for it
  }
}

void OnInit(void* userdata, fuse_conn_info* conn) {
  const Options& o = static_cast<Passthrough*>(userdata)->opts();
  conn->max_write = 1 << 20;
  conn->max_readahead = 1 << 20;
  conn->time_gran = 1;
  conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
                  FUSE_CAP_SPLICE_MOVE | FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_HANDLE_KILLPRIV |
                  FUSE_CAP_EXPORT_SUPPORT);
  if (o.writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) conn->want |= FUSE_CAP_WRITEBACK_CACHE;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
}

void OnLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fuse_entry_param e{};
  const int err = P(req).Lookup(parent, name, &e);
  if (err == ENOENT) {
    e = fuse_entry_param{};  // a negative entry, cached for the entry timeout
    e.ino = 0;
    e.entry_timeout = P(req).opts().timeout_s;
    fuse_reply_entry(req, &e);
    return;
  }
  ReplyEntryOrErr(req, err, e);
}

void OnForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  P(req).Forget(ino, nlookup);
  fuse_reply_none(req);
}

void OnForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) P(req).Forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void OnGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  struct stat st;
  if (fstatat(P(req).Fd(ino), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  fuse_reply_attr(req, &st, P(req).opts().timeout_s);
}

// Applies the setattr fields one by one; returns an errno.
int ApplySetattr(int path_fd, const struct stat* attr, int valid, fuse_file_info* fi) {
  const int fd = fi != nullptr ? reinterpret_cast<FileHandle*>(fi->fh)->fd : -1;
  const std::string path = ProcPath(path_fd);
  if (valid & FUSE_SET_ATTR_MODE) {
    if ((fd >= 0 ? fchmod(fd, attr->st_mode) : chmod(path.c_str(), attr->st_mode)) != 0) return errno;
  }
  if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    const uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : static_cast<uid_t>(-1);
    const gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : static_cast<gid_t>(-1);
    if (fchownat(path_fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return errno;
  }
  if (valid & FUSE_SET_ATTR_SIZE) {
    if ((fd >= 0 ? ftruncate(fd, attr->st_size) : truncate(path.c_str(), attr->st_size)) != 0) return errno;
  }
  if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
    timespec tv[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    if (valid & FUSE_SET_ATTR_ATIME_NOW) tv[0].tv_nsec = UTIME_NOW;
    else if (valid & FUSE_SET_ATTR_ATIME) tv[0] = attr->st_atim;
    if (valid & FUSE_SET_ATTR_MTIME_NOW) tv[1].tv_nsec = UTIME_NOW;
    else if (valid & FUSE_SET_ATTR_MTIME) tv[1] = attr->st_mtim;
    if ((fd >= 0 ? futimens(fd, tv) : utimensat(AT_FDCWD, path.c_str(), tv, 0)) != 0) return errno;
  }
  return 0;
}

void OnSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int valid, fuse_file_info* fi) {
  const int err = ApplySetattr(P(req).Fd(ino), attr, valid, fi);
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  OnGetattr(req, ino, fi);
}

void OnMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  fuse_entry_param e{};
  int err = mkdirat(P(req).Fd(parent), name, mode) == 0 ? 0 : errno;
  if (err == 0) err = P(req).Lookup(parent, name, &e);
  ReplyEntryOrErr(req, err, e);
}

void OnUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fuse_reply_err(req, unlinkat(P(req).Fd(parent), name, 0) == 0 ? 0 : errno);
}

void OnRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fuse_reply_err(req, unlinkat(P(req).Fd(parent), name, AT_REMOVEDIR) == 0 ? 0 : errno);
}

void OnRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
              const char* newname, unsigned int flags) {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  const int rc = renameat2(P(req).Fd(parent), name, P(req).Fd(newparent), newname, flags);
  fuse_reply_err(req, rc == 0 ? 0 : errno);
}

int OpenFlags(const Options& o, int flags) {
  flags &= ~O_NOFOLLOW;
  if (o.writeback) {
    // The kernel reads pages of files opened write-only and appends itself.
    if ((flags & O_ACCMODE) == O_WRONLY) flags = (flags & ~O_ACCMODE) | O_RDWR;
    flags &= ~O_APPEND;
  }
  return flags | O_CLOEXEC;
}

FileHandle& H(fuse_file_info* fi) { return *reinterpret_cast<FileHandle*>(fi->fh); }

// Gives `fd` to a new handle in fi->fh (owned by the kernel's file until
// release).
void SetHandle(fuse_file_info* fi, int fd, const Options& o, bool unchanged) {
  auto* h = new FileHandle{fd, (fi->flags & O_DIRECT) != 0};
  fi->fh = reinterpret_cast<uint64_t>(h);
  fi->keep_cache = o.keep_cache || unchanged ? 1 : 0;
}

void DropHandle(fuse_file_info* fi) {
  close(H(fi).fd);
  delete &H(fi);
}

void OnOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  const int fd = open(ProcPath(P(req).Fd(ino)).c_str(), OpenFlags(P(req).opts(), fi->flags));
  if (fd < 0) {
    fuse_reply_err(req, errno);
    return;
  }
  SetHandle(fi, fd, P(req).opts(), P(req).Unchanged(ino, fd));
  if (fuse_reply_open(req, fi) != 0) DropHandle(fi);
}

void OnCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  const int fd = openat(P(req).Fd(parent), name, OpenFlags(P(req).opts(), fi->flags | O_CREAT), mode);
  if (fd < 0) {
    fuse_reply_err(req, errno);
    return;
  }
  fuse_entry_param e{};
  const int err = P(req).Lookup(parent, name, &e);
  if (err != 0) {
    close(fd);
    fuse_reply_err(req, err);
    return;
  }
  SetHandle(fi, fd, P(req).opts(), P(req).Unchanged(e.ino, fd));
  if (fuse_reply_create(req, &e, fi) != 0) {
    DropHandle(fi);
    P(req).Forget(e.ino, 1);
  }
}

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using AlignedBuf = std::unique_ptr<char, FreeDeleter>;

AlignedBuf Aligned(size_t size) {
  void* p = nullptr;
  const size_t rounded = (size + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
  if (posix_memalign(&p, kDirectAlign, rounded == 0 ? kDirectAlign : rounded) != 0) return nullptr;
  return AlignedBuf(static_cast<char*>(p));
}

void OnRead(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  const FileHandle& h = H(fi);
  if (h.direct) {
    AlignedBuf buf = Aligned(size);
    if (!buf) {
      fuse_reply_err(req, ENOMEM);
      return;
    }
    const ssize_t n = pread(h.fd, buf.get(), size, off);
    if (n < 0) {
      fuse_reply_err(req, errno);
    } else {
      fuse_reply_buf(req, buf.get(), static_cast<size_t>(n));
    }
    return;
  }
  // libfuse preads straight into its reply buffer (no splice: disabled).
  fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
  buf.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  buf.buf[0].fd = h.fd;
  buf.buf[0].pos = off;
  fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

void OnWriteBuf(fuse_req_t req, fuse_ino_t, fuse_bufvec* in, off_t off, fuse_file_info* fi) {
  const FileHandle& h = H(fi);
  const size_t size = fuse_buf_size(in);
  ssize_t n;
  if (h.direct) {
    AlignedBuf buf = Aligned(size);
    if (!buf) {
      fuse_reply_err(req, ENOMEM);
      return;
    }
    fuse_bufvec mem = FUSE_BUFVEC_INIT(size);
    mem.buf[0].mem = buf.get();
    n = fuse_buf_copy(&mem, in, static_cast<fuse_buf_copy_flags>(0));
    if (n >= 0) n = pwrite(h.fd, buf.get(), static_cast<size_t>(n), off) < 0 ? -errno : n;
  } else {
    fuse_bufvec out = FUSE_BUFVEC_INIT(size);
    out.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
    out.buf[0].fd = h.fd;
    out.buf[0].pos = off;
    n = fuse_buf_copy(&out, in, static_cast<fuse_buf_copy_flags>(0));
  }
  if (n < 0) {
    fuse_reply_err(req, static_cast<int>(-n));
  } else {
    fuse_reply_write(req, static_cast<size_t>(n));
  }
}

void OnFlush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  // close() of a duplicate reports deferred write errors (NFS-style).
  const int rc = close(dup(H(fi).fd));
  fuse_reply_err(req, rc == 0 ? 0 : errno);
}

void OnRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  DropHandle(fi);
  fuse_reply_err(req, 0);
}

void OnFsync(fuse_req_t req, fuse_ino_t, int datasync, fuse_file_info* fi) {
  const int fd = H(fi).fd;
  const int rc = datasync ? fdatasync(fd) : fsync(fd);
  fuse_reply_err(req, rc == 0 ? 0 : errno);
}

void OnOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  const int fd = openat(P(req).Fd(ino), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    fuse_reply_err(req, errno);
    return;
  }
  auto d = std::make_unique<DirHandle>();
  d->dp = fdopendir(fd);
  if (d->dp == nullptr) {
    const int err = errno;
    close(fd);
    fuse_reply_err(req, err);
    return;
  }
  fi->fh = reinterpret_cast<uint64_t>(d.get());
  if (fuse_reply_open(req, fi) == 0) {
    d.release();  // owned by the kernel's handle until releasedir
  } else {
    closedir(d->dp);
  }
}

bool IsDot(const char* name) {
  return std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0;
}

// Fills one reply of at most `size` bytes from the directory stream. Entries
// of a readdirplus reply are looked up (a count each); one that does not fit
// is given back and stays in `d` for the next call.
void Readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi,
             bool plus) {
  auto* d = reinterpret_cast<DirHandle*>(fi->fh);
  if (offset != d->offset) {
    seekdir(d->dp, offset);
    d->entry = nullptr;
    d->offset = offset;
  }
  std::vector<char> buf(size);
  size_t pos = 0;
  int err = 0;
  for (;;) {
    if (d->entry == nullptr) {
      errno = 0;
      d->entry = readdir(d->dp);
      if (d->entry == nullptr) {
        err = errno;  // 0 at the end of the directory
        break;
      }
    }
    const off_t next = d->entry->d_off;
    const char* name = d->entry->d_name;
    size_t need;
    fuse_ino_t taken = 0;
    if (plus) {
      fuse_entry_param e{};
      if (IsDot(name)) {  // ino 0: attributes only, no reference
        e.attr.st_ino = d->entry->d_ino;
        e.attr.st_mode = static_cast<mode_t>(d->entry->d_type) << 12;
      } else {
        err = P(req).Lookup(ino, name, &e);
        if (err != 0) break;
        taken = e.ino;
      }
      need = fuse_add_direntry_plus(req, buf.data() + pos, size - pos, name, &e, next);
    } else {
      struct stat st{};
      st.st_ino = d->entry->d_ino;
      st.st_mode = static_cast<mode_t>(d->entry->d_type) << 12;
      need = fuse_add_direntry(req, buf.data() + pos, size - pos, name, &st, next);
    }
    if (need > size - pos) {
      if (taken != 0) P(req).Forget(taken, 1);
      break;
    }
    pos += need;
    d->entry = nullptr;
    d->offset = next;
  }
  // An error after some entries: send those, the error comes next call.
  if (err != 0 && pos == 0) {
    fuse_reply_err(req, err);
  } else {
    fuse_reply_buf(req, buf.data(), pos);
  }
}

void OnReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Readdir(req, ino, size, off, fi, false);
}

void OnReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Readdir(req, ino, size, off, fi, true);
}

void OnReleasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  auto* d = reinterpret_cast<DirHandle*>(fi->fh);
  closedir(d->dp);
  delete d;
  fuse_reply_err(req, 0);
}

void OnStatfs(fuse_req_t req, fuse_ino_t ino) {
  struct statvfs sv;
  if (fstatvfs(P(req).Fd(ino), &sv) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  fuse_reply_statfs(req, &sv);
}

// getxattr/listxattr: `ls -l` asks for ACLs; answering them (as replfs
// does) keeps the comparison of `ls -l` fair.
void OnGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  const std::string path = ProcPath(P(req).Fd(ino));
  std::vector<char> value(size);
  const ssize_t n = getxattr(path.c_str(), name, size ? value.data() : nullptr, size);
  if (n < 0) {
    fuse_reply_err(req, errno);
  } else if (size == 0) {
    fuse_reply_xattr(req, static_cast<size_t>(n));
  } else {
    fuse_reply_buf(req, value.data(), static_cast<size_t>(n));
  }
}

void OnListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  const std::string path = ProcPath(P(req).Fd(ino));
  std::vector<char> value(size);
  const ssize_t n = listxattr(path.c_str(), size ? value.data() : nullptr, size);
  if (n < 0) {
    fuse_reply_err(req, errno);
  } else if (size == 0) {
    fuse_reply_xattr(req, static_cast<size_t>(n));
  } else {
    fuse_reply_buf(req, value.data(), static_cast<size_t>(n));
  }
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops{};
  ops.init = OnInit;
  ops.lookup = OnLookup;
  ops.forget = OnForget;
  ops.forget_multi = OnForgetMulti;
  ops.getattr = OnGetattr;
  ops.setattr = OnSetattr;
  ops.mkdir = OnMkdir;
  ops.unlink = OnUnlink;
  ops.rmdir = OnRmdir;
  ops.rename = OnRename;
  ops.open = OnOpen;
  ops.create = OnCreate;
  ops.read = OnRead;
  ops.write_buf = OnWriteBuf;
  ops.flush = OnFlush;
  ops.release = OnRelease;
  ops.fsync = OnFsync;
  ops.opendir = OnOpendir;
  ops.readdir = OnReaddir;
  ops.readdirplus = OnReaddirplus;
  ops.releasedir = OnReleasedir;
  ops.statfs = OnStatfs;
  ops.getxattr = OnGetxattr;
  ops.listxattr = OnListxattr;
  return ops;
}

// Raises the mount's readahead (its bdi is named by the "major:minor" of the
// last /proc/self/mountinfo line for `mountpoint`, ours being on top), so
// cached reads arrive in 1 MiB requests instead of 128 KiB ones.
void SetReadahead(const std::string& mountpoint, int kb) {
  std::ifstream mi("/proc/self/mountinfo");
  std::string line, dev;
  while (std::getline(mi, line)) {
    std::istringstream f(line);
    std::string id, parent, majmin, root, mnt;
    if (f >> id >> parent >> majmin >> root >> mnt && mnt == mountpoint) dev = majmin;
  }
  if (dev.empty()) {
    std::cerr << "passthrough_ll: " << mountpoint << " not in mountinfo; readahead unchanged\n";
    return;
  }
  std::ofstream ra("/sys/class/bdi/" + dev + "/read_ahead_kb");
  ra << kb << "\n";
  if (!ra) std::cerr << "passthrough_ll: cannot set read_ahead_kb of bdi " << dev << "\n";
}

// One O_PATH fd per inode the kernel caches: a benchmark creating tens of
// thousands of files needs far more than the usual 1,024 or 20,000. Raises
// the limit to fs.nr_open (root may), else the soft limit to the hard one.
void RaiseFdLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  rlim_t nr_open = 0;
  std::ifstream("/proc/sys/fs/nr_open") >> nr_open;
  if (nr_open > lim.rlim_max) {
    const rlimit want{nr_open, nr_open};
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) return;
  }
  lim.rlim_cur = lim.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0) std::cerr << "passthrough_ll: cannot raise RLIMIT_NOFILE\n";
}

int Usage() {
  std::cerr << "usage: passthrough_ll SOURCE_DIR MOUNTPOINT [-f] [-d] [-s] [--threads N]\n"
               "         [--timeout S] [--writeback] [--keep-cache] [--readahead-kb N]\n";
  return 2;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "-f") o->foreground = true;
    else if (a == "-d") o->debug = o->foreground = true;
    else if (a == "-s") o->single_thread = true;
    else if (a == "--writeback") o->writeback = true;
    else if (a == "--keep-cache") o->keep_cache = true;
    else if (a == "--threads" && has_value) o->max_threads = static_cast<unsigned>(std::atoi(argv[++i]));
    else if (a == "--timeout" && has_value) o->timeout_s = std::atof(argv[++i]);
    else if (a == "--readahead-kb" && has_value) o->readahead_kb = std::atoi(argv[++i]);
    else if (!a.empty() && a[0] != '-') pos.push_back(a);
    else return false;
  }
  if (pos.size() != 2 || o->max_threads == 0) return false;
  char real[PATH_MAX];
  o->source = pos[0];
  o->mountpoint = realpath(pos[1].c_str(), real) != nullptr ? real : pos[1];
  return true;
}

int Run(const Options& o) {
  umask(0);  // the kernel already applied the caller's umask to every mode
  RaiseFdLimit();
  Passthrough fs(o);
  if (const int err = fs.Init(); err != 0) {
    std::cerr << "passthrough_ll: " << o.source << ": " << std::strerror(err) << "\n";
    return 1;
  }
  std::vector<std::string> args_s = {"passthrough_ll", "-o",
                                     "default_permissions,fsname=" + o.source + ",subtype=passthrough_ll"};
  if (o.debug) args_s.push_back("-d");
  std::vector<char*> argv;
  for (std::string& s : args_s) argv.push_back(s.data());
  fuse_args fargs = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  const fuse_lowlevel_ops ops = MakeOps();
  fuse_session* se = fuse_session_new(&fargs, &ops, sizeof(ops), &fs);
  fuse_opt_free_args(&fargs);
  if (se == nullptr) return 1;
  int rc = 1;
  if (fuse_set_signal_handlers(se) == 0) {
    if (fuse_session_mount(se, o.mountpoint.c_str()) == 0) {
      SetReadahead(o.mountpoint, o.readahead_kb);
      fuse_daemonize(o.foreground ? 1 : 0);
      if (o.single_thread) {
        rc = fuse_session_loop(se);
      } else {
        fuse_loop_config* lc = fuse_loop_cfg_create();
        fuse_loop_cfg_set_clone_fd(lc, 1);
        fuse_loop_cfg_set_max_threads(lc, o.max_threads);
        rc = fuse_session_loop_mt(se, lc);
        fuse_loop_cfg_destroy(lc);
      }
      fuse_session_unmount(se);
    }
    fuse_remove_signal_handlers(se);
  }
  fuse_session_destroy(se);
  return rc == 0 ? 0 : 1;
}

}  // namespace
}  // namespace replfs::bench

int main(int argc, char** argv) {
  replfs::bench::Options o;
  if (!replfs::bench::ParseArgs(argc, argv, &o)) return replfs::bench::Usage();
  return replfs::bench::Run(o);
}
