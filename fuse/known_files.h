// KnownFiles: names and attributes of regular files as metad last gave them
// to this mount, kept after the kernel dropped its own copy (memory
// pressure, drop_caches), so that the kernel's next lookup of such a name
// is answered without a metad call. Reading small files the kernel no
// longer caches costs Lookup + Open + Read; this saves the Lookup.
//
// Coherence is that of the kernel's own cache of names and attributes
// under the change feed (Client semantics in README.md): the caller answers
// from here only while the feed is followed and nothing arrived on it since
// the request began (ChangeWatcher::Coherent), for no longer than the
// kernel could have cached metad's answers (`ttl`, coherent_timeout,
// counted from the older of the answer that brought the name and the one
// that brought the attributes), and it hands every change of another mount
// here (ForgetName, ForgetIno, ForgetAll) before the kernel hears of it;
// what was noted before the feed was first followed goes when it is.
//
// This mount's own changes: a call that changes a file's attributes or a
// name at metad forgets them once metad answered (also when it failed: it
// may have been applied). An answer is noted with the Stamp() taken before
// its call was sent, and only if nothing was forgotten or noted since; else
// the answer may be older than a change made meanwhile, and what is known
// of its inode goes instead. So of two calls that overlap, neither leaves
// attributes behind. Attributes of a file open in this mount are not to be
// answered from (its writes are not committed yet): the caller checks.
//
// Only regular files: a directory's attributes change with every change of
// its entries. Memory is bounded: past `max_entries` names and inodes,
// everything is forgotten. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/thread_annotations.h"
#include "fuse/types.h"

namespace replfs::client {

class KnownFiles {
 public:
  static constexpr size_t kMaxEntries = 131072;
  using Clock = std::chrono::steady_clock;
  using NowFn = Clock::time_point (*)();

  // `ttl` <= 0: nothing is ever known.
  explicit KnownFiles(std::chrono::milliseconds ttl, size_t max_entries = kMaxEntries,
                      NowFn now = &Clock::now)
      : ttl_(ttl), max_entries_(max_entries), now_(now) {}

  // Taken before a call whose answer is noted.
  uint64_t Stamp() const LOCKS_EXCLUDED(mu_);
  // `attr` is the entry `name` of `parent`, as metad answered a call sent
  // after Stamp() returned `stamp` (lookup, create).
  void Note(uint64_t parent, std::string_view name, const Attr& attr, uint64_t stamp)
      LOCKS_EXCLUDED(mu_);
  // `attr` as metad answered a call sent after `stamp` (open, getattr, the
  // commit of writes): the inode's attributes, for the names known of it.
  void NoteAttrs(const Attr& attr, uint64_t stamp) LOCKS_EXCLUDED(mu_);
  // The entry `name` of `parent`, and for how much longer it may be cached.
  bool Find(uint64_t parent, std::string_view name, Attr* out,
            std::chrono::milliseconds* left) const LOCKS_EXCLUDED(mu_);

  // The name may have changed: it goes, and so do the attributes of the
  // inode it named (its link count).
  void ForgetName(uint64_t parent, std::string_view name) LOCKS_EXCLUDED(mu_);
  // The inode's attributes may have changed.
  void ForgetIno(uint64_t ino) LOCKS_EXCLUDED(mu_);
  void ForgetAll() LOCKS_EXCLUDED(mu_);

  // Names plus inodes kept (tests).
  size_t entries() const LOCKS_EXCLUDED(mu_);

 private:
  // Lookups by string_view without building a std::string (no allocation
  // on the watcher's thread, which must not fail).
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Name {
    uint64_t ino;
    Clock::time_point at;  // when the call that brought it was answered
  };
  using Names = std::unordered_map<std::string, Name, Hash, std::equal_to<>>;
  struct Known {
    Attr attr;
    Clock::time_point at;  // when the call that brought it was answered
  };

  // True if `stamp` is current; either way, the next note or forget
  // invalidates every stamp taken before it.
  bool TakeStampLocked(uint64_t stamp) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EraseNameLocked(uint64_t parent, std::string_view name) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Room for `more` entries, by forgetting everything if there is none.
  void MakeRoomLocked(size_t more) EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::chrono::milliseconds ttl_;
  const size_t max_entries_;
  const NowFn now_;
  mutable Mutex mu_;  // protects everything below
  uint64_t epoch_ GUARDED_BY(mu_) = 0;
  std::unordered_map<uint64_t, Names> dirs_ GUARDED_BY(mu_);  // parent -> its names
  size_t names_ GUARDED_BY(mu_) = 0;                          // in all of dirs_
  std::unordered_map<uint64_t, Known> inodes_ GUARDED_BY(mu_);
};

}  // namespace replfs::client
