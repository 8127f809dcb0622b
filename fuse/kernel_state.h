// Bookkeeping the FUSE adapter keeps about the kernel, with no FUSE types so
// it can be unit-tested: lookup counts, the cache-invalidation queue and
// open directory listings.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"
#include "fuse/file_system.h"
#include "fuse/types.h"

namespace replfs::client {

// How many times the kernel has been handed each inode (lookup, create,
// mknod, mkdir, symlink, link, readdirplus) minus what it forgot. Thread-safe.
class LookupCounts {
 public:
  void Add(uint64_t ino, uint64_t n = 1);
  // Subtracts n; returns true when the count reached zero. A forget of more
  // than was looked up is a bug in the bookkeeping: it aborts loudly.
  bool Forget(uint64_t ino, uint64_t n);
  uint64_t Get(uint64_t ino);
  // Every inode the kernel holds now.
  std::vector<uint64_t> Held();

 private:
  Mutex mu_;
  std::unordered_map<uint64_t, uint64_t> counts_ GUARDED_BY(mu_);
};

// The size and mtime last handed to the kernel for each inode it holds
// (entries and getattr replies), so that an open can tell whether the
// kernel's cached attributes may be older than what metad just answered
// (another client wrote and closed the file): the open then invalidates
// them before it is answered, and a read past the old end of file asks for
// the new size (close-to-open). Thread-safe.
class SentAttrs {
 public:
  void Note(uint64_t ino, int64_t size, int64_t mtime_ns);
  // True if the kernel may hold other values for `ino` (also when unknown).
  bool Differs(uint64_t ino, int64_t size, int64_t mtime_ns);
  void Erase(uint64_t ino);

 private:
  Mutex mu_;
  std::unordered_map<uint64_t, std::pair<int64_t, int64_t>> sent_ GUARDED_BY(mu_);
};

// One thing the kernel must forget.
struct Invalidation {
  enum class What {
    kAttrs,  // an inode's attributes
    kAll,    // an inode's attributes and cached contents
    kEntry,  // the name `name` in directory `ino`
  };
  What what = What::kAttrs;
  uint64_t ino = 0;
  std::string name;
  static Invalidation Attrs(uint64_t ino) { return {What::kAttrs, ino, {}}; }
  static Invalidation All(uint64_t ino) { return {What::kAll, ino, {}}; }
  static Invalidation Entry(uint64_t dir, std::string name) { return {What::kEntry, dir, std::move(name)}; }
  auto operator<=>(const Invalidation&) const = default;
};

// Runs `notify` for queued invalidations on its own thread, so that request
// handlers never call into the kernel's invalidation path themselves (which
// can deadlock on inode locks the kernel holds for the request). Duplicates
// still queued collapse. Thread-safe; Stop() (or the destructor) joins.
class Invalidator {
 public:
  explicit Invalidator(std::function<void(const Invalidation&)> notify);
  ~Invalidator();
  Invalidator(const Invalidator&) = delete;
  Invalidator& operator=(const Invalidator&) = delete;

  void Queue(Invalidation what);
  // Finishes the notification in progress, drops what is still queued
  // (the session is ending: the kernel's caches go with it, and a
  // notification could wait on a lock a request nobody answers holds),
  // then joins. Idempotent.
  void Stop();

 private:
  void Run() NO_THREAD_SAFETY_ANALYSIS;  // waits on cv_ through mu_.native()

  const std::function<void(const Invalidation&)> notify_;
  Mutex mu_;  // protects everything below
  std::condition_variable_any cv_;
  std::deque<Invalidation> queue_ GUARDED_BY(mu_);
  std::set<Invalidation> queued_ GUARDED_BY(mu_);  // what queue_ holds
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// One open directory: "." and "..", then metad's entries fetched page by
// page as readdir asks for them. Offsets (index + 1) are stable for the life
// of the handle. Thread-safe (the kernel serialises readdir per handle
// anyway, so holding mu_ across the page fetch costs no concurrency).
class DirListing {
 public:
  static constexpr int kPageSize = 1024;  // entries per ReadDir call to metad

  // `fs` outlives this object.
  DirListing(FileSystem* fs, uint64_t ino, uint64_t parent);

  // Sets *out to a copy of entry `index`; *end = true when there is none.
  Status EntryAt(size_t index, DirEntry* out, bool* end);

 private:
  FileSystem* const fs_;
  const uint64_t ino_;
  Mutex mu_;
  std::vector<DirEntry> entries_ GUARDED_BY(mu_);
  bool eof_ GUARDED_BY(mu_) = false;
};

// Remembers the parent (and name) of each directory the kernel was told
// about, for the ".." entry of readdir (directories have exactly one
// parent). Renames through this mount move the hint with the directory;
// what other mounts do is learnt at the next lookup. Thread-safe.
class ParentHints {
 public:
  // `dir` is the entry `name` of `parent` ("" when the name is unknown).
  void Set(uint64_t dir, uint64_t parent, std::string_view name = {});
  uint64_t Get(uint64_t dir);  // the dir itself when unknown (root: 1)
  void Erase(uint64_t dir);
  // A rename of (parent, name) to (new_parent, new_name) succeeded: a
  // directory known under the old name is now under the new one. With
  // `exchange` the one under the new name moves to the old name; otherwise
  // a directory the new name held was replaced (and is gone).
  void Renamed(uint64_t parent, std::string_view name, uint64_t new_parent,
               std::string_view new_name, bool exchange);
  // The entry (parent, name) was removed (rmdir).
  void Removed(uint64_t parent, std::string_view name);

 private:
  struct Where {
    uint64_t parent = 0;
    std::string name;
  };
  using NameKey = std::pair<uint64_t, std::string>;
  // Removes the by-name record of `dir` (if it still names `dir`).
  void UnindexLocked(uint64_t dir, const Where& w) EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Mutex mu_;  // protects everything below
  std::unordered_map<uint64_t, Where> parents_ GUARDED_BY(mu_);
  std::map<NameKey, uint64_t> by_name_ GUARDED_BY(mu_);  // (parent, name) -> dir
};

}  // namespace replfs::client
