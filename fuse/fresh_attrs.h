// FreshAttrs: attributes metad has just returned along with a change or an
// open, kept to answer the kernel's next GETATTR of that inode without a
// metad round trip:
// - a directory's, with each change of its entries through this client
//   (Attr.dir, Unlinked.dir): the kernel drops what it caches of a
//   directory after every create, mkdir, unlink or rmdir in it and, with
//   default_permissions, asks again before the next operation there (its
//   permission check);
// - a file's, with its open: the kernel drops the atime it caches after
//   each read, so the fstat(2) after an open (cat) asks again;
// - a file's, with the commit of its writes (flush, close): the kernel
//   drops what it caches after a write, so the next stat(2), or the
//   permission check of the next open, asks again.
//
// Freshness: an entry is as fresh as the answer that brought it, is used
// for one GETATTR only, and only within `ttl` (attr_timeout, how long the
// kernel may cache any attributes it is given); so another client's change
// shows up no later than through the kernel's own cache. An answer that
// arrives late (a change made earlier, by another thread) never replaces a
// newer one. What else changes the inode through this client drops its
// entry (Forget): writes and their commit, setattr, xattrs, rename, rmdir.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <unordered_map>

#include "common/thread_annotations.h"
#include "fuse/types.h"

namespace replfs::client {

class FreshAttrs {
 public:
  using Clock = std::chrono::steady_clock;
  using NowFn = Clock::time_point (*)();
  // `now`: the clock (tests pass their own).
  explicit FreshAttrs(std::chrono::milliseconds ttl, NowFn now = &Clock::now) : ttl_(ttl), now_(now) {}

  // `dir` as a change (or an open) left it; ignored for ino 0 (metad sent
  // none).
  void Note(const Attr& dir) {
    if (dir.ino == 0 || ttl_.count() <= 0) return;
    MutexLock l(&mu_);
    if (entries_.size() >= kMaxEntries && !entries_.count(dir.ino)) entries_.clear();
    Entry& e = entries_[dir.ino];
    const Clock::time_point now = now_();
    if (e.attr.ino != 0 && now - e.at < ttl_ && e.attr.ctime_ns > dir.ctime_ns) return;  // late
    e.attr = dir;
    e.at = now;
    e.used = false;
  }
  // The attributes of `ino` noted within ttl and not used yet, if any.
  bool Take(uint64_t ino, Attr* out) {
    MutexLock l(&mu_);
    auto it = entries_.find(ino);
    if (it == entries_.end() || it->second.used) return false;
    if (now_() - it->second.at >= ttl_) {
      entries_.erase(it);
      return false;
    }
    it->second.used = true;
    *out = it->second.attr;
    return true;
  }
  void Forget(uint64_t ino) {
    MutexLock l(&mu_);
    entries_.erase(ino);
  }
  void ForgetAll() {
    MutexLock l(&mu_);
    entries_.clear();
  }

 private:
  // Bounds memory (one entry per directory changed within ttl, in practice).
  static constexpr size_t kMaxEntries = 4096;
  struct Entry {
    Attr attr;
    Clock::time_point at;
    bool used = false;  // kept after use: its ctime still orders late answers
  };

  const std::chrono::milliseconds ttl_;
  const NowFn now_;
  Mutex mu_;
  std::unordered_map<uint64_t, Entry> entries_ GUARDED_BY(mu_);
};

}  // namespace replfs::client
