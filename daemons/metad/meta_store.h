// MetaStore: the metadata store of metad, a Kyoto Cabinet TreeDB
// (`<data-dir>/meta.kct`, format in FORMAT.md).
//
// Concurrency: KC transactions are global to the database, so mutations are
// serialised: the store lock is held exclusively for the whole transaction
// (begin, callbacks, commit) and readers (Get/Scan) hold it shared, so a
// reader never observes half a transaction. Keep callbacks short and never
// make an RPC inside one.
//
// Group commit: mutations that arrive while a commit is in progress wait and
// then share one KC transaction, so one durable commit (its 4-8 fsyncs)
// serves all of them. One of the waiting threads, the leader, runs every
// callback of the group in arrival order; each sees the writes of those
// before it. A callback that fails has its own writes undone (Txn keeps the
// old values) and the others commit. So a callback may run on another
// thread than the one that called Mutate(): it must not take a lock its
// caller may hold while calling Mutate().
#pragma once

#include <kchashdb.h>  // kyotocabinet::TreeDB (a typedef: cannot be forward-declared)

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"


namespace replfs::metad {

// Visitor of a scan: return false to stop.
using ScanFn = std::function<bool(std::string_view key, std::string_view value)>;

// The view a mutation has of the store: reads see the transaction's own
// writes. Valid only inside the Mutate() callback that received it.
class Txn {
 public:
  Status Get(std::string_view key, std::string* value);  // NotFound if absent
  Status Put(std::string_view key, std::string_view value);
  Status Delete(std::string_view key);  // deleting an absent key is OK
  // Visits keys starting with `prefix` and >= `from` (empty: from the start).
  Status Scan(std::string_view prefix, std::string_view from, const ScanFn& fn);
  // Runs `fn` after a successful commit, still under the store's exclusive
  // lock, so in-memory state follows commits in commit order. `fn` must not
  // touch the store.
  void OnCommit(std::function<void()> fn) { on_commit_.push_back(std::move(fn)); }

 private:
  friend class MetaStore;
  // `undo`: remember what each write replaced, for Undo().
  Txn(kyotocabinet::TreeDB* db, bool undo) : db_(db), undo_(undo) {}
  // Saves the value `key` has now (or its absence) before it is written.
  Status SaveOld(std::string_view key);
  // Restores every key this Txn wrote, newest first.
  Status Undo();
  kyotocabinet::TreeDB* const db_;
  const bool undo_;
  std::vector<std::pair<std::string, std::optional<std::string>>> old_;
  std::vector<std::function<void()>> on_commit_;
};

class MetaStore {
 public:
  // Opens `<dir>/meta.kct`, creating it only if the directory holds no store
  // yet. A store that exists but cannot be opened or has a bad header is
  // refused (Corruption, naming the file) and left untouched. `fsync`: every
  // commit is made durable before Mutate() returns.
  static Status Open(const std::string& dir, bool fsync, std::unique_ptr<MetaStore>* out);
  ~MetaStore();  // closes the database
  MetaStore(const MetaStore&) = delete;
  MetaStore& operator=(const MetaStore&) = delete;

  const std::string& path() const { return path_; }

  Status Get(std::string_view key, std::string* value) const;  // NotFound if absent
  Status Scan(std::string_view prefix, std::string_view from, const ScanFn& fn) const;

  // Runs `fn` inside a transaction: committed if it returns OK, rolled back
  // otherwise (its Status is returned). Thread-safe; serialises with every
  // other Mutate (possibly sharing its commit, see the file comment) and
  // excludes readers for its duration.
  Status Mutate(const std::function<Status(Txn&)>& fn);

  // KC commits made, and the successful mutations they carried (tests,
  // stats): mutations() / commits() is the mean group size.
  int64_t commits() const { return commits_.load(); }
  int64_t mutations() const { return mutations_.load(); }
  // Mutate() calls waiting for a commit to take them along (tests).
  size_t waiting() {
    MutexLock l(&queue_mu_);
    return queue_.size();
  }

 private:
  // One Mutate() call waiting for its group's commit.
  struct Pending {
    const std::function<Status(Txn&)>* fn;
    Status status;
    bool done = false;
  };
  MetaStore(std::string path, bool fsync, std::unique_ptr<kyotocabinet::TreeDB> db);
  Status InitHeader();
  // Queues `me`; returns false once a leader committed it (me->status set),
  // true when this thread leads: `group` is then every call queued so far.
  bool JoinOrLead(Pending* me, std::vector<Pending*>* group);
  // Runs the callbacks of `group` in one transaction and commits it; sets
  // each member's status.
  void CommitGroup(const std::vector<Pending*>& group);

  // Constant after construction.
  const std::string path_;
  const bool fsync_;
  // The KC handle is internally thread-safe; mu_ orders transactions
  // against readers (see the file comment).
  const std::unique_ptr<kyotocabinet::TreeDB> db_;
  mutable SharedMutex mu_;
  // The queue of waiting mutations; one leader at a time commits a group.
  Mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending*> queue_ GUARDED_BY(queue_mu_);
  bool leader_ GUARDED_BY(queue_mu_) = false;
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> mutations_{0};
};

}  // namespace replfs::metad
