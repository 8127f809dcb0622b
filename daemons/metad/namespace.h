// Namespace: inodes, directory entries, symlinks, xattrs and open handles,
// kept in the MetaStore (record layout in FORMAT.md). Semantics follow
// thrift/PROTOCOL.md exactly; every mutation touching several records is one
// store transaction. Inode numbers are never reused.
//
// Thread-safe. Lock order: the store's lock, then mu_ (open counts are read
// inside transactions); mu_ is never held while calling the store.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"
#include "daemons/metad/chunk_map.h"
#include "daemons/metad/meta_store.h"
#include "daemons/metad/types.h"

namespace replfs::metad {

class TxnInodes;

// Checks a single path component: 1..255 bytes, no '/' or NUL, not "." or
// "..". Invalid, or NameTooLong for more than 255 bytes.
Status ValidateName(std::string_view name);

class Namespace {
 public:
  struct Options {
    int goal = 3;                  // replication goal of new regular files
    int64_t chunk_size = 64 << 20; // for truncation
    // Orphans left by a previous run are kept this long after Init, so that
    // clients that still have them open can announce their handles again
    // (the FUSE client re-opens what it holds open every 20 s:
    // FileSystem::RenewOpenHolds); then those nobody opened are purged.
    // 0: purge at Init.
    int64_t orphan_grace_ms = 60000;
  };
  // `store` and `chunks` outlive this object.
  Namespace(MetaStore* store, ChunkMap* chunks, Options opts);
  // Stops the orphan sweep (orphans not yet swept stay for the next start).
  ~Namespace();
  Namespace(const Namespace&) = delete;
  Namespace& operator=(const Namespace&) = delete;

  // Creates the root on a new store and counts inodes; orphans left by a
  // previous run are purged after opts.orphan_grace_ms unless opened again
  // by then (a background sweep). Call once before serving.
  Status Init();

  // Out-parameters are only meaningful when OK is returned. `dir`, where
  // given, receives the parent directory as the change left it.
  Status Lookup(Ino parent, std::string_view name, Inode* out) const;
  Status GetAttr(Ino ino, Inode* out) const;
  Status SetAttr(const SetAttrRequest& req, Inode* out);
  // Creation: `uid`/`gid` are the caller's. In a directory with S_ISGID the
  // new entry takes the directory's gid instead, and a new subdirectory
  // also gets S_ISGID (POSIX/Linux setgid-directory semantics).
  Status Mknod(Ino parent, std::string_view name, FileType type, uint32_t mode, uint32_t uid,
               uint32_t gid, int64_t rdev, Inode* out, Inode* dir = nullptr);
  Status Mkdir(Ino parent, std::string_view name, uint32_t mode, uint32_t uid, uint32_t gid, Inode* out,
               Inode* dir = nullptr);
  Status Symlink(Ino parent, std::string_view name, std::string_view target, uint32_t uid,
                 uint32_t gid, Inode* out, Inode* dir = nullptr);
  Status ReadLink(Ino ino, std::string* out) const;
  Status Unlink(Ino parent, std::string_view name, Unlinked* out, Inode* dir = nullptr);
  // *out: the directory removed.
  Status Rmdir(Ino parent, std::string_view name, Unlinked* out = nullptr, Inode* dir = nullptr);
  // *out: the inode that lost a name to the rename target (ino 0: none).
  Status Rename(Ino parent, std::string_view name, Ino new_parent, std::string_view new_name,
                RenameFlags flags, Unlinked* out);
  Status Link(Ino ino, Ino new_parent, std::string_view new_name, Inode* out, Inode* dir = nullptr);
  // Entries strictly after `after`, name order, at most `max` (>= 1).
  Status ReadDir(Ino ino, std::string_view after, int max, bool plus, std::vector<DirEntry>* out,
                 bool* eof) const;

  Status SetXattr(Ino ino, std::string_view name, std::string_view value, int flags);
  Status GetXattr(Ino ino, std::string_view name, std::string* out) const;
  Status ListXattr(Ino ino, std::vector<std::string>* out) const;
  Status RemoveXattr(Ino ino, std::string_view name);

  // Open handles, per session, in memory: an unlinked inode stays (an
  // orphan) until its last Release. Release of a handle not held is OK.
  // After a restart the counts are gone: an orphan survives only if some
  // session opens it again within the orphan grace (see Options).
  Status Open(Ino ino, int64_t session, Inode* out);
  Status Release(Ino ino, int64_t session);
  int OpenCount(Ino ino) const;

  Status CommitWrite(Ino ino, int64_t size, int64_t mtime_ns, Inode* out);
  // "/a/b" from the root; symlinks are not followed.
  Status ResolvePath(std::string_view path, Ino* out) const;

  // Sets the replication goal (1..16, checked by the caller) of `ino`, a
  // regular file (and its chunk records) or a directory; with `recursive`,
  // of every file and directory below it, in batches of bounded size (one
  // transaction each: an error leaves earlier batches applied). Other
  // inode types inside a tree are skipped; as the target they are Invalid.
  // *changed: inodes whose goal changed.
  Status SetGoal(Ino ino, int32_t goal, bool recursive, int64_t* changed);

  int64_t files() const { return files_.load(); }
  int64_t directories() const { return dirs_.load(); }
  int64_t inodes() const { return inodes_.load(); }

 private:
  Status Create(Ino parent, std::string_view name, Inode proto, Inode* out, Inode* dir);
  // Creates are lazy (Durability::kLazy) and may be lost with a power loss,
  // but their inode numbers must never be handed out again: they come from
  // a range whose end (`N ino_end`) is committed durably first, and a start
  // moves the counter past the last range.
  // Reserves [.., from + kInoBlock) unless another create already did.
  Status ReserveInos(Ino from);
  Status CreateOnce(Ino parent, std::string_view name, const Inode& proto, bool is_dir,
                    Ino* drawn, bool* unreserved, Inode* out, Inode* dir_out);
  Status SkipUnsafeInos();
  static constexpr uint64_t kInoBlock = 4096;
  static constexpr uint64_t kInoMargin = 1024;  // reserve again this close to the end
  // Removes one link of `ino` inside a transaction: purges or orphans it
  // when none is left. Fills *out.
  Status DropLinkInTxn(Txn& t, TxnInodes& inodes, Ino ino, Unlinked* out);
  Status PurgeInTxn(Txn& t, const Inode& in);
  // Purges `ino` if it has no link and no open handle; *purged (optional)
  // says whether it did.
  Status PurgeIfUnused(Ino ino, bool* purged = nullptr);
  // The orphan sweep: waits for the grace to end (or Stop), then purges the
  // orphans of `inos` nobody opened.
  void SweepOrphans(std::vector<Ino> inos) NO_THREAD_SAFETY_ANALYSIS;
  Status RenameInTxn(Txn& t, Ino parent, std::string_view name, Ino new_parent,
                     std::string_view new_name, RenameFlags flags, Unlinked* out);
  Status CheckNotAncestor(TxnInodes& inodes, Ino dir, Ino maybe_descendant);
  void CountInode(FileType type, int delta);
  // One transaction: the goal of each of `inos` (absent ones skipped).
  Status SetGoalBatch(const std::vector<Ino>& inos, int32_t goal, int64_t* changed);

  // Constant after construction.
  MetaStore* const store_;
  ChunkMap* const chunks_;
  const Options opts_;

  std::atomic<int64_t> files_{0}, dirs_{0}, inodes_{0};
  Mutex ino_mu_;                         // one ReserveInos at a time (only near the range end)
  std::atomic<uint64_t> ino_end_{0};     // inode numbers below this are reserved

  mutable Mutex mu_;  // protects open_
  // ino -> session -> open handles.
  std::map<Ino, std::map<int64_t, int>> open_ GUARDED_BY(mu_);

  Mutex sweep_mu_;  // protects stop_sweep_
  std::condition_variable_any sweep_cv_;
  bool stop_sweep_ GUARDED_BY(sweep_mu_) = false;
  std::thread sweeper_;  // the orphan sweep, when Init found orphans
};

}  // namespace replfs::metad
