// The change feed: what metad tells clients about namespace changes, so
// that they can let the kernel cache attributes and names for long and still
// drop them as soon as another client changes something (GlusterFS's
// cache-invalidation upcalls, as a long poll: WatchChanges).
//
// A bounded ring of the most recent changes in commit order, fed by the
// store's commit observer with the keys each mutation wrote: an inode record
// or xattr is an INODE change of that inode, a directory entry an ENTRY
// change of (parent, name). Each change carries the session it was made for
// (MetaStore::ThreadOrigin), so a client is not told of its own changes:
// it has already updated its kernel's caches itself. Positions count from 1
// in one feed; a restart of metad starts a new feed (a new generation), and
// a reader that fell further behind than the ring holds is told it lost
// changes. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "common/thread_annotations.h"
#include "daemons/metad/types.h"

namespace replfs::metad {

struct FeedChange {
  enum class Kind { kInode, kEntry };
  Kind kind = Kind::kInode;
  Ino ino = 0;       // kEntry: the directory
  std::string name;  // kEntry only
  int64_t origin = 0;
};

struct FeedBatch {
  uint64_t generation = 0;
  int64_t last = 0;   // position of the last change looked at (or current)
  bool lost = false;  // the reader missed changes
  std::vector<FeedChange> changes;
};

class ChangeFeed {
 public:
  static constexpr size_t kDefaultCapacity = 65536;
  static constexpr size_t kMaxBatch = 4096;

  ChangeFeed(uint64_t generation, size_t capacity = kDefaultCapacity);
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  uint64_t generation() const { return generation_; }

  // MetaStore's commit observer: one mutation's keys. Keys of no interest
  // to clients (chunks, servers, counters, orphans) are ignored.
  void RecordKeys(int64_t origin, const std::vector<std::string>& keys) LOCKS_EXCLUDED(mu_);

  // The changes after position `after` of feed `generation` that were not
  // made for `session`, at most kMaxBatch looked at, waiting up to `wait`
  // for the first. after < 0: the current position, at once. Another
  // generation, or a position older than the ring holds: lost, and the
  // changes the ring holds from its start.
  FeedBatch Read(uint64_t generation, int64_t after, int64_t session,
                 std::chrono::milliseconds wait) LOCKS_EXCLUDED(mu_);

  // Wakes every Read waiting, and makes later ones return at once
  // (shutdown).
  void Stop() LOCKS_EXCLUDED(mu_);
  bool stopped() LOCKS_EXCLUDED(mu_);
  // Reads waiting now (tests).
  size_t waiting() LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    int64_t pos;
    FeedChange change;
  };
  // A Read waiting for a change: where it is, and whether the ring dropped
  // a change it had not seen yet.
  struct Waiter {
    int64_t session;
    int64_t after;
    bool lost = false;
  };
  // Adds a change; an entry pushed out of the full ring moves the waiters
  // it was the own change of past it, and makes it lost for the others.
  void AddLocked(FeedChange c) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves *after past the changes made for `session`; true if a change of
  // someone else's follows.
  bool SkipOwnLocked(int64_t session, int64_t* after) const EXCLUSIVE_LOCKS_REQUIRED(mu_);
  size_t IndexAfterLocked(int64_t after) const EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const uint64_t generation_;
  const size_t capacity_;
  Mutex mu_;  // protects everything below
  std::condition_variable_any cv_;
  std::deque<Entry> ring_ GUARDED_BY(mu_);
  int64_t last_ GUARDED_BY(mu_) = 0;  // position of the newest change
  bool stop_ GUARDED_BY(mu_) = false;
  // The Reads waiting (on their stacks), so that a change wakes only those
  // it concerns (not a mount's own watcher at each of its own creates).
  std::vector<Waiter*> waiting_ GUARDED_BY(mu_);
};

}  // namespace replfs::metad
