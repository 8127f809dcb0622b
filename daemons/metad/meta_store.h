// MetaStore: the metadata store of metad: a redo log (`<data-dir>/meta.log`,
// RedoLog) in front of a Kyoto Cabinet TreeDB (`<data-dir>/meta.kct`), both
// described in FORMAT.md.
//
// A mutation's writes go to an in-memory overlay (the keys changed since the
// last checkpoint, deletes as tombstones) and, as one record per group
// commit, to the redo log: one write(2), so a commit survives `kill -9` of
// metad as soon as Mutate() returns; with `fsync` also an fdatasync for
// power loss, before the answer for a Durability::kSync group, within
// `sync_interval_ms` for a kLazy one (one fdatasync covers every record
// before it). Reads look at the
// overlay first, then at Kyoto Cabinet. When the overlay or the log grows
// past a bound, a checkpoint applies the overlay to Kyoto Cabinet in one KC
// transaction (hard if `fsync`: its 4-8 syncs are shared by thousands of
// mutations), records the last log sequence number applied in it (key `L`)
// and empties the log. Open() replays what the log holds past `L`.
//
// Concurrency: mutations are serialised: the store lock is held exclusively
// while a group's callbacks run and its record is written (and during a
// checkpoint); readers (Get/Scan) hold it shared, so a reader never observes
// half a mutation. Keep callbacks short and never make an RPC inside one.
//
// Group commit: mutations that arrive while a commit is in progress wait and
// then share one record and one sync. One of the waiting threads, the
// leader, runs every callback of the group in arrival order; each sees the
// writes of those before it. A callback that fails has its own writes undone
// and the others commit. So a callback may run on another thread than the
// one that called Mutate(): it must not take a lock its caller may hold
// while calling Mutate().
#pragma once

#include <kchashdb.h>  // kyotocabinet::TreeDB (a typedef: cannot be forward-declared)

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"
#include "daemons/metad/redo_log.h"


namespace replfs::metad {

// Visitor of a scan: return false to stop.
using ScanFn = std::function<bool(std::string_view key, std::string_view value)>;

class MetaStore;

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
  explicit Txn(MetaStore* store) : store_(store) {}
  // Writes `value` (nullopt: deletes) to the overlay, remembering what the
  // overlay held for the key before, for Undo().
  void Write(std::string_view key, std::optional<std::string_view> value);
  // Restores every overlay entry this Txn wrote, newest first.
  void Undo();
  MetaStore* const store_;
  struct Old {
    std::string key;
    bool in_overlay;                   // false: the key was not in the overlay
    std::optional<std::string> value;  // what the overlay held (nullopt: a tombstone)
  };
  std::vector<Old> old_;
  std::vector<LogWrite> writes_;  // in order, for the redo log
  std::vector<std::function<void()>> on_commit_;
};

// When a mutation must be durable against power loss (with fsync).
enum class Durability {
  kSync,  // before Mutate() returns: changes that data depends on
  kLazy,  // within MetaStoreOptions::sync_interval_ms (namespace changes)
};

struct MetaStoreOptions {
  // Commits are made durable against power loss (fdatasync of the redo log;
  // hard KC transactions at checkpoints). false: they survive `kill -9` of
  // metad, not a crash of the machine (tests).
  bool fsync = true;
  // With fsync: 0 = each group is synced before its Mutate() calls return.
  // N > 0 = only groups with a Durability::kSync mutation are (and so is
  // everything logged before them); a kLazy one returns once its record is
  // written, and a background thread syncs within N ms.
  int sync_interval_ms = 0;
  // A checkpoint runs once the overlay holds this many keys or the log this
  // many bytes.
  size_t checkpoint_keys = 16384;
  int64_t checkpoint_log_bytes = int64_t{64} << 20;
};

class MetaStore {
 public:
  // Opens `<dir>/meta.kct` (created only if the directory holds no store
  // yet) and `<dir>/meta.log` (created if missing), replays the log and
  // checkpoints what it replayed. A store that cannot be opened or has a bad
  // header, and a log that is not ours or misses records, are refused
  // (Corruption, naming the file) and left untouched.
  static Status Open(const std::string& dir, const MetaStoreOptions& options,
                     std::unique_ptr<MetaStore>* out);
  static Status Open(const std::string& dir, bool fsync, std::unique_ptr<MetaStore>* out) {
    MetaStoreOptions o;
    o.fsync = fsync;
    return Open(dir, o, out);
  }
  ~MetaStore();  // checkpoints, then closes the database
  MetaStore(const MetaStore&) = delete;
  MetaStore& operator=(const MetaStore&) = delete;

  const std::string& path() const { return path_; }

  Status Get(std::string_view key, std::string* value) const;  // NotFound if absent
  Status Scan(std::string_view prefix, std::string_view from, const ScanFn& fn) const;

  // Runs `fn` as one mutation: committed if it returns OK, its writes undone
  // otherwise (its Status is returned). Thread-safe; serialises with every
  // other Mutate (possibly sharing its commit, see the file comment) and
  // excludes readers for its duration. After a failed sync of the log every
  // later Mutate fails (IOError): what reached the disk is unknown, metad
  // must be restarted to read it back.
  Status Mutate(const std::function<Status(Txn&)>& fn, Durability d = Durability::kSync);

  // Makes every mutation committed so far durable (nothing without fsync).
  Status Sync();

  // Whom the calling thread's mutations are made for (a client session; 0:
  // metad itself), handed to the commit observer. Per thread: metad's RPC
  // server runs each connection on a thread of its own.
  static void SetThreadOrigin(int64_t origin);
  static int64_t ThreadOrigin();
  // Called after each successful mutation is logged, in commit order and
  // under the store's exclusive lock, with its origin and the keys it wrote
  // (each once). Must not touch the store. Set before the store is shared.
  using CommitObserver = std::function<void(int64_t origin, const std::vector<std::string>& keys)>;
  void SetCommitObserver(CommitObserver observer) { observer_ = std::move(observer); }

  // Applies the overlay to Kyoto Cabinet and empties the log now (tests;
  // otherwise it happens by itself).
  Status Checkpoint();

  // Group commits made (log records), the successful mutations they
  // carried, checkpoints and log syncs (tests, stats): mutations() /
  // commits() is the mean group size.
  int64_t commits() const { return commits_.load(); }
  int64_t mutations() const { return mutations_.load(); }
  int64_t checkpoints() const { return checkpoints_.load(); }
  int64_t syncs() const { return log_->syncs(); }
  // Mutate() calls waiting for a commit to take them along (tests).
  size_t waiting() {
    MutexLock l(&queue_mu_);
    return queue_.size();
  }

 private:
  friend class Txn;
  // One Mutate() call waiting for its group's commit.
  struct Pending {
    const std::function<Status(Txn&)>* fn;
    Durability durability;
    int64_t origin;  // ThreadOrigin() of the caller
    Status status;
    bool done = false;
  };
  using Overlay = std::map<std::string, std::optional<std::string>, std::less<>>;
  MetaStore(std::string path, const MetaStoreOptions& options,
            std::unique_ptr<kyotocabinet::TreeDB> db);
  Status InitHeader();
  // Queues `me`; returns false once a leader committed it (me->status set),
  // true when this thread leads: `group` is then every call queued so far.
  bool JoinOrLead(Pending* me, std::vector<Pending*>* group);
  // Runs the callbacks of `group`, logs their writes as one record and sets
  // each member's status; false if the record still needs a Sync().
  bool CommitGroup(const std::vector<Pending*>& group);
  // Overlay, then Kyoto Cabinet. Callers hold mu_ (shared or exclusive).
  Status GetLocked(std::string_view key, std::string* value) const;
  Status ScanLocked(std::string_view prefix, std::string_view from, const ScanFn& fn) const;
  Status CheckpointLocked() EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Syncs the log; a failure breaks the store (see Mutate).
  Status SyncLog();
  void SyncLoop();

  // Constant after construction.
  const std::string path_;
  const MetaStoreOptions options_;
  // The KC handle is internally thread-safe; mu_ orders mutations and
  // checkpoints against readers (see the file comment).
  const std::unique_ptr<kyotocabinet::TreeDB> db_;
  std::unique_ptr<RedoLog> log_;  // set by Open()
  CommitObserver observer_;        // set before the store is shared
  mutable SharedMutex mu_;
  // Written by the leader under mu_ held exclusively (Txn, CommitGroup), read
  // under mu_ shared; the analysis cannot follow Txn's access.
  Overlay overlay_;
  // After a failed checkpoint, the next is tried once the overlay or the log
  // has grown by another bound (not after every group).
  size_t retry_keys_ = 0;
  int64_t retry_bytes_ = 0;
  // The queue of waiting mutations; one leader at a time commits a group.
  Mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending*> queue_ GUARDED_BY(queue_mu_);
  bool leader_ GUARDED_BY(queue_mu_) = false;
  Status broken_ GUARDED_BY(queue_mu_);  // set by a failed sync
  bool stop_ GUARDED_BY(queue_mu_) = false;
  // The syncer's own: waking it at every commit (it shared queue_cv_) cost
  // two context switches per mutation.
  std::condition_variable stop_cv_;
  std::thread syncer_;  // with sync_interval_ms > 0
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> mutations_{0};
  std::atomic<int64_t> checkpoints_{0};
};

}  // namespace replfs::metad
