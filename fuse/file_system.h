// FileSystem: everything the FUSE adapter needs, with no FUSE types. Names
// are checked before any RPC, open files keep local state so that the writing
// client always sees its own size and mtime, and writes are reported to metad
// (CommitWrite) at flush, fsync and release.
//
// Thread-safe: called concurrently by the FUSE worker threads. Per-inode open
// state lives under mu_, which is never held across an RPC. A thread of its
// own announces the open inodes to metad again now and then, so that they
// survive a metad restart (RenewOpenHolds).
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"
#include "fuse/chunk_io.h"
#include "fuse/complete_dirs.h"
#include "fuse/fresh_attrs.h"
#include "fuse/known_files.h"
#include "fuse/meta_client.h"
#include "fuse/release_queue.h"
#include "fuse/xattr_hints.h"
#include "fuse/types.h"

namespace replfs::client {

// Names longer than this are ENAMETOOLONG without asking metad.
inline constexpr size_t kMaxNameBytes = 255;
// How often open inodes are announced to metad again (RenewOpenHolds).
// metad keeps orphans for 60 s after it starts (Namespace::Options::
// orphan_grace_ms): three rounds, so one slow or failed round is harmless.
inline constexpr std::chrono::milliseconds kOpenRenewalInterval{20000};
// Chunk locations an open asks metad for along with the Open (the first
// reads then need no GetChunks): 16 chunks, 1 GiB at the default size.
inline constexpr int32_t kOpenChunks = 16;

// Fills `st` from `a` (st_mode = type bits | permission bits; times in ns;
// st_blocks = allocated_bytes in 512-byte units, so sparse files look sparse).
void AttrToStat(const Attr& a, int64_t block_size, struct stat* st);
// S_IFMT bits of `mode` -> FileType; Invalid for an unknown type.
Status FileTypeFromMode(uint32_t mode, FileType* out);
// The usable capacity of the cluster: raw bytes divided by the replica count.
void FsStatToStatvfs(const FsStat& s, int64_t block_size, int default_replicas,
                     struct statvfs* out);
// Ok, NameTooLong (> 255 bytes) or Invalid (empty, '/', NUL).
Status CheckName(std::string_view name);

class FileSystem {
 public:
  // Owns `meta` and `io` (io borrows meta; both live as long as this).
  // Runs RenewOpenHolds every `renewal` on a thread of its own (never with
  // a zero interval). `attr_ttl`: how long the kernel may cache attributes
  // (attr_timeout); "no xattrs" answers are trusted that long (XattrHints).
  // `known_ttl`: how long names and attributes of files are kept for
  // FindKnown (coherent_timeout; 0: not at all).
  FileSystem(std::unique_ptr<MetaClient> meta, std::unique_ptr<ChunkIo> io,
             const ClusterInfo& info,
             std::chrono::milliseconds renewal = kOpenRenewalInterval,
             std::chrono::milliseconds attr_ttl = std::chrono::milliseconds(1000),
             std::chrono::milliseconds known_ttl = std::chrono::milliseconds(0));
  // Sends the releases still queued, stops the renewal thread (waiting for
  // a round in progress), then releases the renewal holds still left at
  // metad (best effort).
  ~FileSystem();
  FileSystem(const FileSystem&) = delete;
  FileSystem& operator=(const FileSystem&) = delete;

  // This mount's session id for metad's Open/Release (random, 64 bits).
  int64_t session() const { return session_; }
  int64_t block_size() const { return info_.block_size; }
  MetaClient& meta() { return *meta_; }
  ChunkIo& io() { return *io_; }
  // The directories whose every name is known here. This class keeps
  // their sets current with its own changes; the caller tracks new
  // directories, answers lookups from it and feeds it other mounts'
  // changes (CompleteDirs says when that is safe).
  CompleteDirs& complete_dirs() { return complete_dirs_; }

  // Namespace. Attributes returned are adjusted for this client's
  // uncommitted writes. Attributes asked for right after a change of a
  // directory's entries, or after an open, come from that answer
  // (FreshAttrs), without a metad call.
  Status Lookup(uint64_t parent, std::string_view name, Attr* out);
  // The regular file `name` of `parent` as metad last told this mount of
  // it, and for how much longer the kernel may cache that (KnownFiles); not
  // for a file open here. The caller answers a lookup from it only while
  // the change feed is followed and nothing arrived on it since the
  // request began (as for complete_dirs()).
  bool FindKnown(uint64_t parent, std::string_view name, Attr* out,
                 std::chrono::milliseconds* left) LOCKS_EXCLUDED(mu_);
  // *cached (if given): the answer came from FreshAttrs, not from metad
  // during this call.
  Status GetAttr(uint64_t ino, Attr* out, bool* cached = nullptr);
  // A size change follows the truncate protocol: pending writes are
  // committed, the tail chunk is trimmed on every replica, then metad is told.
  Status SetAttr(const SetAttrRequest& req, Attr* out);
  Status Mknod(uint64_t parent, std::string_view name, uint32_t mode, uint64_t rdev,
               const Caller& who, Attr* out);
  Status Mkdir(uint64_t parent, std::string_view name, uint32_t mode, const Caller& who,
               Attr* out);
  Status Symlink(uint64_t parent, std::string_view name, const std::string& target,
                 const Caller& who, Attr* out);
  Status ReadLink(uint64_t ino, std::string* out);
  Status Unlink(uint64_t parent, std::string_view name, Unlinked* out);
  Status Rmdir(uint64_t parent, std::string_view name);
  Status Rename(uint64_t parent, std::string_view name, uint64_t new_parent,
                std::string_view new_name, RenameFlags flags, Unlinked* out);
  Status Link(uint64_t ino, uint64_t new_parent, std::string_view new_name, Attr* out);
  // One page of entries after `after` (with attributes).
  Status ReadDir(uint64_t ino, const std::string& after, int max, DirPage* out);

  // Files. Every successful Open/Create is paired with one Release.
  Status Open(uint64_t ino, Attr* out);
  // open(2) with O_CREAT: makes `name` and opens it. If the name exists:
  // Exists when `exclusive` (O_EXCL); otherwise Stale. The kernel sends a
  // create only when it believes the name absent (a negative entry it
  // cached, or a lookup that raced with another client's create), and
  // ESTALE makes the VFS redo the whole open once with a fresh lookup
  // (LOOKUP_REVAL): the existing file is then opened with the kernel's own
  // permission checks, symlink following, EISDIR and O_TRUNC, which a
  // create reply could not give (the kernel skips them for a file it
  // believes it created).
  Status Create(uint64_t parent, std::string_view name, uint32_t mode, const Caller& who,
                Attr* out, bool exclusive = true);
  Status Read(uint64_t ino, int64_t offset, int64_t size, std::string* out);
  Status Write(uint64_t ino, int64_t offset, std::string_view data);
  // Sync() the datads written and CommitWrite size/mtime.
  Status Flush(uint64_t ino);
  // fsync(2): Flush, and every namespace change so far made durable at
  // metad (the file's create or rename may not be yet).
  Status Fsync(uint64_t ino);
  // fsync(2) of a directory.
  Status FsyncDir();
  // Commits what was written through `ino` (the close's durability point),
  // then queues metad's Release (ReleaseQueue): a failure there is only
  // logged.
  Status Release(uint64_t ino);
  // Returns when the Releases queued so far were sent (tests).
  void DrainReleases() { releases_->Drain(); }

  // Xattrs. flags: 1 = create, 2 = replace.
  Status SetXattr(uint64_t ino, std::string_view name, std::string_view value, int flags);
  Status GetXattr(uint64_t ino, std::string_view name, std::string* out);
  Status ListXattr(uint64_t ino, std::vector<std::string>* out);
  Status RemoveXattr(uint64_t ino, std::string_view name);

  Status StatFs(struct statvfs* out);

  // metad counts open handles in memory only, so a restart of metad forgets
  // that this mount holds an unlinked file open (it keeps such orphans for
  // a grace period after its start, then purges those nobody opened). A
  // round opens every inode open here under a fresh lease session (one
  // random session id per round), then releases the inode's holds of
  // earlier rounds. While metad runs, holds overlap and never reach zero;
  // after a restart the new round's Open is the inode's only hold, and
  // releasing the old sessions is a no-op ("not held"). The last close
  // releases the inode's holds with its own Release. A lease session is
  // used for one round only, so a Release sent again (after a failure) can
  // never drop a newer hold; an Open that metad executed twice (retried
  // after a timeout) leaves one hold behind, which keeps an unlinked inode
  // until metad restarts (a leak, never a loss). Costs one Open and one
  // Release per open inode per round. A round stops at the first error
  // that says metad is unreachable; what it could not release is released
  // by a later round. Returns the number of inodes renewed. Run by the
  // renewal thread; public for tests.
  int RenewOpenHolds() LOCKS_EXCLUDED(mu_);

  // The kernel forgot `ino`: drop what is cached about it (unless open).
  void Forget(uint64_t ino);
  // Another mount changed `ino` (metad's change feed): the attributes and
  // xattr hints kept for it go, before the kernel is told.
  void ChangedElsewhere(uint64_t ino);
  // Another mount changed the entry `name` of `dir`: what this mount knew
  // of that name goes (complete_dirs(), FindKnown), before the kernel is
  // told.
  void EntryChangedElsewhere(uint64_t dir, std::string_view name);
  // Changes of other mounts were missed: all of them go.
  void ChangesLost();

 private:
  // What this client knows about an open inode.
  struct OpenState {
    int handles = 0;
    int64_t meta_size = 0;    // size last heard from metad
    bool dirty = false;       // writes not yet committed to metad
    int64_t written_end = 0;  // end of the furthest uncommitted write
    int64_t mtime_ns = 0;     // time of the last uncommitted write
    uint64_t write_seq = 0;   // bumped per write; a commit clears dirty only if unchanged
    std::vector<int64_t> leases;  // lease sessions of RenewOpenHolds holding it at metad
  };

  // One Open at metad under a lease session of RenewOpenHolds.
  struct LeaseHold {
    uint64_t ino = 0;
    int64_t lease = 0;
  };

  void RenewLoop() NO_THREAD_SAFETY_ANALYSIS;  // waits on stop_cv_ through stop_mu_.native()
  bool Stopping() LOCKS_EXCLUDED(stop_mu_);
  // Releases `holds` at metad, stopping at the first error that says metad
  // is unreachable; what was not released goes to stray_ (for the next
  // round, or the destructor).
  void ReleaseHolds(std::vector<LeaseHold> holds) LOCKS_EXCLUDED(mu_);
  // The local half of an open: handle counted, location cache primed.
  void Opened(uint64_t ino, const std::vector<ChunkLocation>& locations, Attr* out)
      LOCKS_EXCLUDED(mu_);
  // Records a fresh attr from metad and overlays uncommitted writes on it.
  void ApplyLocal(Attr* a) LOCKS_EXCLUDED(mu_);
  // Reports uncommitted writes to metad (no-op when clean).
  Status Commit(uint64_t ino) LOCKS_EXCLUDED(mu_);
  // A change that made `name` in `dir` (NoteAdded) or removed it
  // (NoteRemoved; `stamp`: complete_dirs_.Stamp(dir) before the call was
  // sent), as metad answered it: applied to complete_dirs_ when it
  // succeeded, the directory forgotten when it failed (it may have been
  // applied, or refused because the set was wrong).
  void NoteAdded(uint64_t dir, std::string_view name, const Status& s);
  void NoteRemoved(uint64_t dir, std::string_view name, uint64_t stamp, const Status& s);

  // Constant after construction.
  const std::unique_ptr<MetaClient> meta_;
  const std::unique_ptr<ChunkIo> io_;
  const ClusterInfo info_;
  const int64_t session_;
  XattrHints xattr_hints_;  // thread-safe itself
  FreshAttrs fresh_attrs_;      // thread-safe itself
  CompleteDirs complete_dirs_;  // thread-safe itself
  KnownFiles known_;            // thread-safe itself
  const std::unique_ptr<ReleaseQueue> releases_;  // borrows meta_; thread-safe itself

  Mutex mu_;  // protects open_ and stray_
  std::unordered_map<uint64_t, OpenState> open_ GUARDED_BY(mu_);
  // Renewal holds of closed inodes not released yet (metad was unreachable).
  std::vector<LeaseHold> stray_ GUARDED_BY(mu_);

  const std::chrono::milliseconds renewal_;
  Mutex stop_mu_;  // protects stop_
  std::condition_variable_any stop_cv_;
  bool stop_ GUARDED_BY(stop_mu_) = false;
  std::thread renewer_;  // last: started when everything above exists
};

}  // namespace replfs::client
