// XattrHints: which inodes metad said, recently, have no extended
// attributes. getxattr/listxattr of such an inode are answered here
// (ENODATA / an empty list) without a round trip: `ls -l` asks for
// security.selinux of every entry, which would otherwise cost one metad call
// per file. A hint lives as long as the attributes it came with may be
// cached by the kernel (attr_timeout), so another client's setxattr shows
// up no later than its other attribute changes do. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <unordered_map>

#include "common/thread_annotations.h"

namespace replfs::client {

class XattrHints {
 public:
  using Clock = std::chrono::steady_clock;
  explicit XattrHints(std::chrono::milliseconds ttl) : ttl_(ttl) {}

  // Attributes of `ino` arrived with `xattrs` (its xattr count; < 0:
  // unknown, the hint is dropped).
  void Note(uint64_t ino, int32_t xattrs) {
    MutexLock l(&mu_);
    if (xattrs != 0 || ttl_.count() <= 0) {
      empty_until_.erase(ino);
      return;
    }
    const Clock::time_point now = Clock::now();
    if (empty_until_.size() >= kMaxEntries) Prune(now);
    empty_until_[ino] = now + ttl_;
  }
  // True if `ino` has no xattrs as far as a recent answer of metad goes.
  bool KnownEmpty(uint64_t ino) {
    MutexLock l(&mu_);
    auto it = empty_until_.find(ino);
    if (it == empty_until_.end()) return false;
    if (Clock::now() < it->second) return true;
    empty_until_.erase(it);
    return false;
  }
  // This client changed the xattrs of `ino`.
  void Forget(uint64_t ino) {
    MutexLock l(&mu_);
    empty_until_.erase(ino);
  }

 private:
  static constexpr size_t kMaxEntries = 1 << 20;
  void Prune(Clock::time_point now) EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto it = empty_until_.begin(); it != empty_until_.end();)
      it = now >= it->second ? empty_until_.erase(it) : std::next(it);
    if (empty_until_.size() >= kMaxEntries) empty_until_.clear();  // all fresh: start over
  }

  const std::chrono::milliseconds ttl_;  // constant after construction
  Mutex mu_;                             // protects empty_until_
  std::unordered_map<uint64_t, Clock::time_point> empty_until_ GUARDED_BY(mu_);
};

}  // namespace replfs::client
