// FileSystem: everything the FUSE adapter needs, with no FUSE types. Names
// are checked before any RPC, open files keep local state so that the writing
// client always sees its own size and mtime, and writes are reported to metad
// (CommitWrite) at the writing process's flush, at fsync and at release.
// Appends to a file that was empty when it was opened are held back
// (kHoldBackBytes) and sent then in one synced Write (PROTOCOL.md "Client
// write path").
//
// Thread-safe: called concurrently by the FUSE worker threads. Per-inode open
// state lives under mu_, which is never held across an RPC. A thread of its
// own announces the open inodes to metad again now and then, so that they
// survive a metad restart (RenewOpenHolds).
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <array>
#include <atomic>
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
#include "fuse/content_cache.h"
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
// Bytes of appends to an empty file held back until flush, fsync or close
// (or until something needs them at the datads): a file this small is sent
// in one Write that also syncs its replicas.
inline constexpr size_t kHoldBackBytes = 64 << 10;
// After a held send met a full disk, nothing is held for this long, so that
// the next writes fail at write(2) (where a shell's `echo > f` reports it),
// not only at a close.
inline constexpr std::chrono::milliseconds kHoldPauseMs{60000};
// Bytes of small files this mount wrote kept for reading them back here
// (ContentCache).
inline constexpr size_t kContentCacheBytes = 16 << 20;

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
  // `use_kept`: reads may come from what this mount kept of a small file it
  // wrote (ContentCache) when metad's answer shows that version. Only while
  // the change feed is followed and nothing arrived on it since the
  // request began (as for complete_dirs()): another mount's write that
  // reached metad before this mount's commit of the same size would show
  // the same version, and only the feed tells of it.
  Status Open(uint64_t ino, Attr* out, bool use_kept = false);
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
  // Held back (kHoldBackBytes) when it continues the appends from offset 0
  // of a file that was empty when opened; else written through, after the
  // bytes held back. `tid`: the calling thread (fuse_ctx.pid; 0: unknown),
  // whose process is noted as the writer (PendingWriter).
  Status Write(uint64_t ino, int64_t offset, std::string_view data, uint32_t tid = 0);
  // Sends what is held back (a synced Write), Sync()s the datads written and
  // CommitWrites size/mtime. Held bytes that cannot be sent stay held (every
  // flush tries again and fails while they cannot; the last close drops
  // them, logged); what was written through is committed all the same.
  // A flush from thread `tid` of another process than the one whose writes
  // are pending does none of it: it closes a copy of the descriptor (a
  // forked child exits, or its exec closes one it inherited), must not wait
  // for metad on the writer's behalf, and the writer's own close is still to
  // come (and the Release sends whatever is still pending). With `tid` 0, a
  // process that cannot be told or writes of several processes, everything
  // is sent (PROTOCOL.md "Client write path").
  Status Flush(uint64_t ino, uint32_t tid = 0);
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
  // The process that made the writes of an open inode that are held or not
  // committed yet, when there is one and it is known.
  class PendingWriter {
   public:
    // Whether `tid` must be looked up (ProcessOfThread) before Note
    // (`for_flush` false) or Other (true): not when the answer is known
    // without it.
    bool NeedsLookup(uint32_t tid, bool for_flush) const {
      if (tid == 0 || process_ == kUnknown || Knows(tid)) return false;
      return !for_flush || process_ != 0;
    }
    // A write by thread `tid` of `process` (0: unknown, or not looked up
    // because !NeedsLookup).
    void Note(uint32_t tid, uint32_t process);
    // Whether a flush by thread `tid` of `process` (looked up as for Note)
    // comes from another process than the one writer.
    bool Other(uint32_t tid, uint32_t process) const {
      return process_ != 0 && process_ != kUnknown && !Knows(tid) && process != 0 &&
             process != process_;
    }
    // Nothing pending any more.
    void Reset() { *this = PendingWriter(); }
    // The writer can no longer be told (every flush does the work).
    void MakeUnknown() { process_ = kUnknown; }
    uint32_t process() const { return process_; }
    // The threads remembered as the writer's (0: none).
    const std::array<uint32_t, 4>& tids() const { return tids_; }

   private:
    static constexpr uint32_t kUnknown = UINT32_MAX;  // unknown, or several
    bool Knows(uint32_t tid) const;
    uint32_t process_ = 0;  // 0: no write noted
    // Threads seen writing for process_ (saves a /proc read per write).
    std::array<uint32_t, 4> tids_{};
    size_t next_ = 0;
  };

  // What this client knows about an open inode.
  struct OpenState {
    int handles = 0;
    int64_t meta_size = 0;    // size last heard from metad
    // Steady ms when metad itself last told meta_size (an open, a GetAttr
    // it answered); 0 after another mount changed the file. Within the
    // attribute lifetime a read past meta_size trusts it, as the kernel
    // trusts its cached size: the GetAttr right after an open is saved.
    int64_t size_heard_ms = 0;
    bool dirty = false;       // writes not yet committed to metad
    int64_t written_end = 0;  // end of the furthest uncommitted write
    int64_t mtime_ns = 0;     // time of the last uncommitted write
    uint64_t write_seq = 0;   // bumped per write; a commit clears dirty only if unchanged
    std::vector<int64_t> leases;  // lease sessions of RenewOpenHolds holding it at metad
    // Write-behind: bytes held back at [held_off, held_off + held.size()),
    // while every write so far appended from offset 0 of an empty file.
    bool may_hold = false;
    std::string held;
    int64_t held_off = 0;
    int64_t sending_end = 0;  // end of held bytes being sent (0: none)
    PendingWriter writer;     // whose writes are held or uncommitted
    // The file's whole content as sent from the held bytes, until its
    // commit puts it into content_ (or a write makes it partial).
    std::string sent_whole;
    // Bumped by every change of the content through this mount and every
    // change another mount made that this one heard of (DropContent):
    // sent_whole goes into content_ only if none came since before its send.
    uint64_t content_gen = 0;
    uint64_t sent_gen = 0;  // content_gen when sent_whole's send began
    // What reads of this open return, without a datad call: content_'s copy
    // of the version metad told at the open. Dropped by every write.
    ContentCache::Bytes content;
  };
  // The end of the bytes held back or being sent (0: none).
  static int64_t HeldEnd(const OpenState& st);
  // Keeps `data` back if it continues the held appends and fits.
  static bool TryHold(OpenState* st, int64_t offset, std::string_view data);
  // The process of `tid` when `ino` is open and its pending writer must be
  // compared with it (PendingWriter::NeedsLookup); else 0.
  uint32_t LookUpProcess(uint64_t ino, uint32_t tid, bool for_flush) LOCKS_EXCLUDED(mu_);
  // Whether a flush by thread `tid` of `process` (LookUpProcess) leaves the
  // pending writes of `ino` to their one writer, another process.
  bool LeaveToWriter(uint64_t ino, uint32_t tid, uint32_t process) LOCKS_EXCLUDED(mu_);
  // Sends the bytes held back for `ino` (waiting for a send in flight
  // first), with Write's `sync` when `sync`.
  Status SendHeld(uint64_t ino, bool sync) NO_THREAD_SAFETY_ANALYSIS;  // waits on sent_cv_

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
  // metad has just told the size of `ino` (OpenState::size_heard_ms).
  void SizeHeard(uint64_t ino) LOCKS_EXCLUDED(mu_);
  // Records a fresh attr from metad and overlays uncommitted writes on it.
  void ApplyLocal(Attr* a) LOCKS_EXCLUDED(mu_);
  // Reports uncommitted writes to metad (no-op when clean). `committed`
  // (if given): metad's answer when that left nothing uncommitted, else
  // untouched.
  Status Commit(uint64_t ino, Attr* committed = nullptr) LOCKS_EXCLUDED(mu_);
  // The content of `ino` is changing (through this mount, or another mount
  // changed it): the copies of content_ and of its open state go, and its
  // content_gen moves on, so that a flush whose send began before cannot
  // put what it sent (under mu_, as is that flush's Put).
  void DropContent(uint64_t ino) LOCKS_EXCLUDED(mu_);
  void DropContentLocked(uint64_t ino) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The open state's part of it (also for ChangesLost, of every open inode).
  static void DropKept(OpenState* st);
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
  const int64_t attr_ttl_ms_;  // see OpenState::size_heard_ms
  XattrHints xattr_hints_;  // thread-safe itself
  FreshAttrs fresh_attrs_;      // thread-safe itself
  CompleteDirs complete_dirs_;  // thread-safe itself
  KnownFiles known_;            // thread-safe itself
  ContentCache content_{kContentCacheBytes};  // thread-safe itself; used under mu_ (DropContent)
  const std::unique_ptr<ReleaseQueue> releases_;  // borrows meta_; thread-safe itself

  Mutex mu_;  // protects open_ and stray_
  std::unordered_map<uint64_t, OpenState> open_ GUARDED_BY(mu_);
  std::condition_variable sent_cv_;  // a send of held bytes ended (with mu_)
  // Steady-clock ms before which nothing is held (kHoldPauseMs).
  std::atomic<int64_t> hold_paused_until_ms_{0};
  // Renewal holds of closed inodes not released yet (metad was unreachable).
  std::vector<LeaseHold> stray_ GUARDED_BY(mu_);

  const std::chrono::milliseconds renewal_;
  Mutex stop_mu_;  // protects stop_
  std::condition_variable_any stop_cv_;
  bool stop_ GUARDED_BY(stop_mu_) = false;
  std::thread renewer_;  // last: started when everything above exists
};

}  // namespace replfs::client
