// MetaStore: the metadata store of metad, a Kyoto Cabinet TreeDB
// (`<data-dir>/meta.kct`, format in FORMAT.md).
//
// Concurrency: KC transactions are global to the database, so mutations are
// serialised: Mutate() holds the store lock exclusively for the whole
// transaction (begin, callback, commit) and readers (Get/Scan) hold it
// shared, so a reader never observes half a transaction. Keep callbacks
// short and never make an RPC inside one.
#pragma once

#include <kchashdb.h>  // kyotocabinet::TreeDB (a typedef: cannot be forward-declared)

#include <functional>
#include <memory>
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
  explicit Txn(kyotocabinet::TreeDB* db) : db_(db) {}
  kyotocabinet::TreeDB* const db_;
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

  // Runs `fn` inside one transaction: committed if it returns OK, rolled back
  // otherwise (its Status is returned). Thread-safe; serialises with every
  // other Mutate and excludes readers for its duration.
  Status Mutate(const std::function<Status(Txn&)>& fn);

 private:
  MetaStore(std::string path, bool fsync, std::unique_ptr<kyotocabinet::TreeDB> db);
  Status InitHeader();

  // Constant after construction.
  const std::string path_;
  const bool fsync_;
  // The KC handle is internally thread-safe; mu_ orders transactions
  // against readers (see the file comment).
  const std::unique_ptr<kyotocabinet::TreeDB> db_;
  mutable SharedMutex mu_;
};

}  // namespace replfs::metad
