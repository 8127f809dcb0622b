// XattrHints: which inodes metad said, recently, have no extended
// attributes, and which names it said an inode does not have.
// getxattr/listxattr answered from a hint (ENODATA / an empty list) cost no
// round trip: `ls -l` asks for security.selinux of every entry, and the
// kernel asks for security.capability before every write, which would
// otherwise cost one metad call per file or per write. A hint lives as long
// as the attributes it came with may be cached by the kernel
// (attr_timeout), so another client's setxattr shows up no later than its
// other attribute changes do. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/thread_annotations.h"

namespace replfs::client {

class XattrHints {
 public:
  using Clock = std::chrono::steady_clock;
  explicit XattrHints(std::chrono::milliseconds ttl) : ttl_(ttl) {}

  // Attributes of `ino` arrived with `xattrs` (its xattr count; < 0:
  // unknown). 0 renews "has none"; anything else drops that hint and, if
  // it has some now or is unknown, the absent names too.
  void Note(uint64_t ino, int32_t xattrs) {
    MutexLock l(&mu_);
    if (xattrs != 0 || ttl_.count() <= 0) {
      inodes_.erase(ino);
      return;
    }
    At(ino).empty_until = Clock::now() + ttl_;
  }
  // metad answered that `ino` has no xattr `name`.
  void NoteAbsent(uint64_t ino, std::string_view name) {
    if (ttl_.count() <= 0) return;
    MutexLock l(&mu_);
    Hint& h = At(ino);
    if (h.absent_until.size() >= kMaxNamesPerInode) h.absent_until.clear();
    h.absent_until[std::string(name)] = Clock::now() + ttl_;
  }
  // True if `ino` has no xattrs as far as a recent answer of metad goes.
  bool KnownEmpty(uint64_t ino) {
    MutexLock l(&mu_);
    auto it = inodes_.find(ino);
    return it != inodes_.end() && Clock::now() < it->second.empty_until;
  }
  // True if `ino` has no xattr `name` as far as a recent answer goes.
  bool KnownAbsent(uint64_t ino, std::string_view name) {
    MutexLock l(&mu_);
    auto it = inodes_.find(ino);
    if (it == inodes_.end()) return false;
    const Clock::time_point now = Clock::now();
    if (now < it->second.empty_until) return true;
    auto n = it->second.absent_until.find(std::string(name));
    return n != it->second.absent_until.end() && now < n->second;
  }
  // This client (or, by the change feed, another one) changed the xattrs
  // of `ino`.
  void Forget(uint64_t ino) {
    MutexLock l(&mu_);
    inodes_.erase(ino);
  }
  void ForgetAll() {
    MutexLock l(&mu_);
    inodes_.clear();
  }

 private:
  static constexpr size_t kMaxEntries = 1 << 20;
  static constexpr size_t kMaxNamesPerInode = 16;
  struct Hint {
    Clock::time_point empty_until{};  // "has no xattrs" trusted until then
    std::unordered_map<std::string, Clock::time_point> absent_until;
  };
  Hint& At(uint64_t ino) EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (inodes_.size() >= kMaxEntries && !inodes_.count(ino)) Prune(Clock::now());
    return inodes_[ino];
  }
  void Prune(Clock::time_point now) EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto it = inodes_.begin(); it != inodes_.end();) {
      bool live = now < it->second.empty_until;
      for (const auto& [name, until] : it->second.absent_until) live |= now < until;
      it = live ? std::next(it) : inodes_.erase(it);
    }
    if (inodes_.size() >= kMaxEntries) inodes_.clear();  // all fresh: start over
  }

  const std::chrono::milliseconds ttl_;  // constant after construction
  Mutex mu_;                             // protects inodes_
  std::unordered_map<uint64_t, Hint> inodes_ GUARDED_BY(mu_);
};

}  // namespace replfs::client
