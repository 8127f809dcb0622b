#include "daemons/metad/change_feed.h"

#include <algorithm>
#include <mutex>

#include "daemons/metad/records.h"

namespace replfs::metad {

ChangeFeed::ChangeFeed(uint64_t generation, size_t capacity)
    : generation_(generation), capacity_(capacity == 0 ? 1 : capacity) {}

void ChangeFeed::RecordKeys(int64_t origin, const std::vector<std::string>& keys) {
  constexpr size_t kIno = 1 + 8;  // tag + BE64
  std::vector<FeedChange> changes;
  for (const std::string& k : keys) {
    if (k.size() < kIno || (k[0] != kInodeTag && k[0] != 'd' && k[0] != 'x')) continue;
    uint64_t ino = 0;
    if (!KeyU64(k, 1, &ino).ok()) continue;
    FeedChange c;
    c.ino = ino;
    c.origin = origin;
    if (k[0] == 'd') {
      c.kind = FeedChange::Kind::kEntry;
      c.name = k.substr(kIno);
    } else {
      // An inode's xattrs are part of its attributes (ctime, the "has
      // xattrs" hint): one INODE change however many keys.
      const bool dup = std::any_of(changes.begin(), changes.end(), [&](const FeedChange& o) {
        return o.kind == FeedChange::Kind::kInode && o.ino == ino;
      });
      if (dup) continue;
    }
    changes.push_back(std::move(c));
  }
  if (changes.empty()) return;
  bool wake = false;
  {
    MutexLock l(&mu_);
    for (FeedChange& c : changes) AddLocked(std::move(c));
    for (const Waiter* w : waiting_) wake = wake || w->session != origin || origin == 0;
  }
  if (wake) cv_.notify_all();
}

void ChangeFeed::AddLocked(FeedChange c) {
  if (ring_.size() == capacity_) {
    const Entry& gone = ring_.front();
    for (Waiter* w : waiting_) {
      if (gone.pos <= w->after) continue;
      if (gone.change.origin != 0 && gone.change.origin == w->session) {
        w->after = gone.pos;  // its own: nothing it needed
      } else {
        w->lost = true;
      }
    }
    ring_.pop_front();
  }
  ring_.push_back(Entry{++last_, std::move(c)});
}

size_t ChangeFeed::IndexAfterLocked(int64_t after) const {
  // Positions are consecutive in the ring.
  if (ring_.empty()) return 0;
  return static_cast<size_t>(std::clamp<int64_t>(after + 1 - ring_.front().pos, 0,
                                                 static_cast<int64_t>(ring_.size())));
}

bool ChangeFeed::SkipOwnLocked(int64_t session, int64_t* after) const {
  for (size_t i = IndexAfterLocked(*after); i < ring_.size(); ++i) {
    const FeedChange& c = ring_[i].change;
    if (c.origin == 0 || c.origin != session) return true;
    *after = ring_[i].pos;
  }
  return false;
}

// std::condition_variable_any waits on the std::mutex itself, which the
// analysis cannot follow: mu_ is held from the unique_lock to the return.
FeedBatch ChangeFeed::Read(uint64_t generation, int64_t after, int64_t session,
                           std::chrono::milliseconds wait) NO_THREAD_SAFETY_ANALYSIS {
  FeedBatch b;
  b.generation = generation_;
  std::unique_lock<std::mutex> l(mu_.native());
  if (after < 0) {
    b.last = last_;
    return b;
  }
  // The old feed's last changes may never have been sent; a position this
  // feed never gave out is as bad.
  if (generation != generation_ || after > last_) {
    b.lost = true;
    after = 0;
  }
  const int64_t oldest = ring_.empty() ? last_ + 1 : ring_.front().pos;
  if (after < oldest - 1) {
    b.lost = true;
    after = oldest - 1;
  }
  if (!b.lost && !SkipOwnLocked(session, &after) && !stop_) {
    // While this waits, AddLocked keeps w.after within the ring (past the
    // own changes it drops) or marks it lost.
    Waiter w{session, after};
    waiting_.push_back(&w);
    cv_.wait_for(l, wait, [&]() NO_THREAD_SAFETY_ANALYSIS {
      return stop_ || w.lost || SkipOwnLocked(session, &w.after);
    });
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &w));
    after = w.after;
    if (w.lost) {
      b.lost = true;
      after = ring_.front().pos - 1;  // the ring is full: not empty
    }
  }
  b.last = after;
  for (size_t i = IndexAfterLocked(after), n = 0; i < ring_.size() && n < kMaxBatch; ++i, ++n) {
    const Entry& e = ring_[i];
    b.last = e.pos;
    if (e.change.origin != 0 && e.change.origin == session) continue;
    b.changes.push_back(e.change);
  }
  return b;
}

size_t ChangeFeed::waiting() {
  MutexLock l(&mu_);
  return waiting_.size();
}

bool ChangeFeed::stopped() {
  MutexLock l(&mu_);
  return stop_;
}

void ChangeFeed::Stop() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

}  // namespace replfs::metad
