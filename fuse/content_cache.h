// ContentCache: the whole content of small files this mount wrote, kept
// after their close, so that reading one back here (`echo x > f; cat f`)
// costs no datad call.
//
// What goes in: a file whose every byte this mount held back and sent in
// one synced Write (FileSystem's write-behind: appends from offset 0 of a
// file that was empty when opened, at most kHoldBackBytes), once metad
// committed them. The entry's version is the size, mtime and ctime of that
// commit's answer. The kernel keeps no such copy itself: a write that ends
// inside a page leaves that page not up to date, so the next open reads it
// from the file system again.
//
// What comes out: an open that hears the same version from metad reads from
// it (close-to-open, as the kernel keeps its pages when an open's
// attributes are the ones it last heard); any other version drops it. mtime
// and ctime both come from a commit (or a setattr, which sets ctime to
// metad's clock), so a changed file shows another version, even one whose
// mtime was set back (touch -d: ctime moves).
//
// What drops an entry: every change of the file through this mount
// (writes, truncates), another mount's change (the change feed), changes
// missed (Clear), and the kernel forgetting the inode (memory pressure,
// drop_caches): the copy lives no longer than the kernel's inode, so
// `echo 3 > /proc/sys/vm/drop_caches` sends the next read to the datads,
// as it does for any other cached file. Bounded by `max_bytes` (oldest
// entries go first). Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/thread_annotations.h"
#include "fuse/types.h"

namespace replfs::client {

class ContentCache {
 public:
  using Bytes = std::shared_ptr<const std::string>;
  explicit ContentCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  // `bytes` is the whole content of `committed.ino` as of the commit that
  // answered `committed`. Ignored when its size is not committed.size (the
  // file is larger than what was sent: another writer) or it exceeds
  // max_bytes.
  void Put(const Attr& committed, std::string bytes) LOCKS_EXCLUDED(mu_);
  // The content of `a.ino` if it is of the version `a` (metad's answer)
  // says; else null, and an entry of another version is dropped.
  Bytes Find(const Attr& a) LOCKS_EXCLUDED(mu_);
  void Forget(uint64_t ino) LOCKS_EXCLUDED(mu_);
  void Clear() LOCKS_EXCLUDED(mu_);
  // Bytes held (tests).
  size_t bytes() const LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    Bytes bytes;
    std::list<uint64_t>::iterator age;  // in order_
  };
  void EraseLocked(std::unordered_map<uint64_t, Entry>::iterator it) EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_bytes_;
  mutable Mutex mu_;
  std::unordered_map<uint64_t, Entry> entries_ GUARDED_BY(mu_);
  std::list<uint64_t> order_ GUARDED_BY(mu_);  // oldest first
  size_t bytes_ GUARDED_BY(mu_) = 0;
};

}  // namespace replfs::client
