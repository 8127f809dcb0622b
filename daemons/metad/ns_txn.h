// Helpers for namespace transactions (internal to namespace*.cc).
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>

#include "common/status.h"
#include "daemons/metad/meta_store.h"
#include "daemons/metad/types.h"

namespace replfs::metad {

inline constexpr uint32_t kMaxLinks = 65000;

// Wall-clock nanoseconds since the epoch.
int64_t NowNs();

// The inodes a transaction touches, loaded once and written back once by
// Flush(), so two roles of one inode (source and target parent of a rename)
// never overwrite each other's changes.
class TxnInodes {
 public:
  explicit TxnInodes(Txn& t) : t_(t) {}
  // *out points into the cache (valid until Flush). NotFound names the ino.
  Status Get(Ino ino, Inode** out);
  // Like Get, but the inode must be a directory (NotDir otherwise).
  Status GetDir(Ino ino, Inode** out);
  void MarkDirty(Ino ino) { dirty_.insert(ino); }
  // Forgets `ino` (purged): it is not written back.
  void Forget(Ino ino);
  void Add(const Inode& in);  // a new inode, written by Flush
  Status Flush();

 private:
  Txn& t_;
  std::map<Ino, Inode> cache_;
  std::set<Ino> dirty_;
};

// Directory entry of `name` in `parent`: NotFound when absent.
Status GetEntry(Txn& t, Ino parent, std::string_view name, Ino* child, FileType* type);
Status PutEntry(Txn& t, Ino parent, std::string_view name, Ino child, FileType type);
// True if the directory has any entry.
Status DirHasEntries(Txn& t, Ino dir, bool* has);
// Allocates a fresh inode number (persistent counter; never reused).
Status NextIno(Txn& t, Ino* out);
// Bumps mtime and ctime of a directory whose entries changed.
void TouchDir(TxnInodes& inodes, Inode* dir, int64_t now);
std::string InoName(Ino ino);

}  // namespace replfs::metad
