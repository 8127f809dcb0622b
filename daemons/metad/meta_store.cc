#include "daemons/metad/meta_store.h"

#include <kchashdb.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "common/log.h"
#include "daemons/metad/records.h"

namespace replfs::metad {
namespace kc = kyotocabinet;
namespace {

// The one place a Kyoto Cabinet error becomes a Status.
Status FromKc(const kc::TreeDB& db, std::string_view what) {
  const kc::BasicDB::Error e = db.error();
  std::string msg = std::string(what) + ": " + e.name() + ": " + e.message();
  switch (e.code()) {
    case kc::BasicDB::Error::NOREC: return Status::NotFound(msg);
    case kc::BasicDB::Error::BROKEN: return Status::Corruption(msg);
    case kc::BasicDB::Error::INVALID:
    case kc::BasicDB::Error::LOGIC: return Status::Internal(msg);
    default: return Status::IOError(msg);
  }
}

Status GetDb(kc::TreeDB* db, std::string_view key, std::string* value) {
  if (db->get(std::string(key), value)) return Status::OK();
  if (db->error().code() == kc::BasicDB::Error::NOREC) return Status::NotFound("no record");
  return FromKc(*db, "get");
}

}  // namespace

Status Txn::Get(std::string_view key, std::string* value) {
  return store_->GetLocked(key, value);
}

void Txn::Write(std::string_view key, std::optional<std::string_view> value)
    NO_THREAD_SAFETY_ANALYSIS {  // the leader holds store_->mu_ exclusively
  MetaStore::Overlay& ov = store_->overlay_;
  auto it = ov.find(key);
  if (it == ov.end()) {
    old_.push_back({std::string(key), false, std::nullopt});
    it = ov.emplace(std::string(key), std::nullopt).first;
  } else {
    old_.push_back({std::string(key), true, it->second});
  }
  if (value) {
    it->second = std::string(*value);
  } else {
    it->second.reset();
  }
  writes_.push_back({std::string(key), it->second});
}

void Txn::Undo() NO_THREAD_SAFETY_ANALYSIS {  // the leader holds store_->mu_ exclusively
  MetaStore::Overlay& ov = store_->overlay_;
  for (auto it = old_.rbegin(); it != old_.rend(); ++it) {
    if (it->in_overlay) {
      ov.insert_or_assign(it->key, std::move(it->value));
    } else {
      ov.erase(it->key);
    }
  }
  old_.clear();
  writes_.clear();
}

Status Txn::Put(std::string_view key, std::string_view value) {
  Write(key, value);
  return Status::OK();
}

Status Txn::Delete(std::string_view key) {
  Write(key, std::nullopt);
  return Status::OK();
}

Status Txn::Scan(std::string_view prefix, std::string_view from, const ScanFn& fn) {
  return store_->ScanLocked(prefix, from, fn);
}

MetaStore::MetaStore(std::string path, const MetaStoreOptions& options,
                     std::unique_ptr<kc::TreeDB> db)
    : path_(std::move(path)), options_(options), db_(std::move(db)) {}

MetaStore::~MetaStore() {
  {
    MutexLock l(&queue_mu_);
    stop_ = true;
  }
  queue_cv_.notify_all();
  stop_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
  if (log_) {
    WriterLock l(&mu_);
    Status s = CheckpointLocked();
    if (!s.ok()) {
      // The log still holds every commit; the next start replays it.
      LOG(ERROR) << "final checkpoint of " << path_ << ": " << s.ToString();
      s = log_->Sync();
      if (!s.ok()) LOG(ERROR) << "syncing the redo log of " << path_ << ": " << s.ToString();
    }
  }
  if (!db_->close()) {
    LOG(ERROR) << "closing " << path_ << ": " << db_->error().message();
  }
}

Status MetaStore::Open(const std::string& dir, const MetaStoreOptions& options,
                       std::unique_ptr<MetaStore>* out) {
  const std::string path = dir + "/meta.kct";
  struct stat st;
  bool exists = ::stat(path.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) return Status::FromErrno(errno, "stat " + path);
  auto db = std::make_unique<kc::TreeDB>();
  // OTRYLOCK: a second metad on the same directory fails instead of hanging.
  // Never OTRUNC; OCREATE only for a directory without a store.
  uint32_t mode = kc::BasicDB::OWRITER | kc::BasicDB::OTRYLOCK;
  if (!exists) mode |= kc::BasicDB::OCREATE;
  if (!db->open(path, mode)) {
    Status s = FromKc(*db, "open " + path);
    if (!exists) return s;
    return Status::Corruption("metadata store " + path + " cannot be opened (" + s.message() +
                              "); refusing to start, the file is left untouched");
  }
  std::unique_ptr<MetaStore> store(new MetaStore(path, options, std::move(db)));
  // What the store holds of the log: the records up to `applied`.
  uint64_t applied = 0;
  std::string v;
  Status s = GetDb(store->db_.get(), AppliedKey(), &v);
  if (s.ok()) {
    s = DecodeU64(v, &applied);
    if (s.ok() && applied > (uint64_t{1} << 62)) s = Status::Corruption("out of range");
    if (!s.ok()) return Status::Corruption("metadata store " + path + ": record L: " + s.message());
  } else if (!s.IsNotFound()) {
    return s;
  }
  {
    WriterLock l(&store->mu_);
    MetaStore* m = store.get();
    REPLFS_RETURN_IF_ERROR(RedoLog::Open(
        dir + "/meta.log", applied,
        [m](uint64_t, std::vector<LogWrite>* writes) NO_THREAD_SAFETY_ANALYSIS {
          for (LogWrite& w : *writes) m->overlay_.insert_or_assign(std::move(w.key), std::move(w.value));
          return Status::OK();
        },
        &store->log_));
    REPLFS_RETURN_IF_ERROR(store->CheckpointLocked());
  }
  REPLFS_RETURN_IF_ERROR(store->InitHeader());
  if (options.fsync && options.sync_interval_ms > 0)
    store->syncer_ = std::thread([m = store.get()] { m->SyncLoop(); });
  *out = std::move(store);
  return Status::OK();
}

Status MetaStore::InitHeader() {
  std::string header;
  Status s = Get(HeaderKey(), &header);
  if (s.ok()) {
    Status h = CheckHeader(header);
    if (!h.ok()) return Status::Corruption("metadata store " + path_ + ": " + h.message());
    return Status::OK();
  }
  if (!s.IsNotFound()) return s;
  // A store without a header must be empty (just created), else it is not ours.
  std::string applied;
  const int64_t records = db_->count() - (Get(AppliedKey(), &applied).ok() ? 1 : 0);
  if (records != 0)
    return Status::Corruption("metadata store " + path_ + " has records but no header; refusing it");
  return Mutate([](Txn& t) { return t.Put(HeaderKey(), EncodeHeader()); });
}

Status MetaStore::GetLocked(std::string_view key, std::string* value) const
    NO_THREAD_SAFETY_ANALYSIS {  // callers hold mu_
  auto it = overlay_.find(key);
  if (it != overlay_.end()) {
    if (!it->second) return Status::NotFound("no record");
    *value = *it->second;
    return Status::OK();
  }
  return GetDb(db_.get(), key, value);
}

// Merges the overlay's keys in range with Kyoto Cabinet's, the overlay
// winning (a tombstone hides the key).
Status MetaStore::ScanLocked(std::string_view prefix, std::string_view from,
                             const ScanFn& fn) const NO_THREAD_SAFETY_ANALYSIS {  // callers hold mu_
  const std::string start(from.empty() || from < prefix ? prefix : from);
  auto in_range = [&](std::string_view k) { return k.compare(0, prefix.size(), prefix) == 0; };
  std::unique_ptr<kc::DB::Cursor> cur(db_->cursor());
  std::string k, v;
  bool kc_has = false;
  auto next_kc = [&]() -> Status {
    if (cur->get(&k, &v, true)) {
      kc_has = in_range(k);
      return Status::OK();
    }
    kc_has = false;
    if (db_->error().code() == kc::BasicDB::Error::NOREC) return Status::OK();  // the end
    return FromKc(*db_, "scan");
  };
  if (cur->jump(start)) {
    REPLFS_RETURN_IF_ERROR(next_kc());
  } else if (db_->error().code() != kc::BasicDB::Error::NOREC) {
    return FromKc(*db_, "scan");
  }
  auto it = overlay_.lower_bound(start);
  for (;;) {
    const bool ov_has = it != overlay_.end() && in_range(it->first);
    if (!ov_has && !kc_has) return Status::OK();
    if (ov_has && (!kc_has || it->first <= k)) {
      if (kc_has && it->first == k) REPLFS_RETURN_IF_ERROR(next_kc());  // shadowed
      // The visitor may write (a Txn's scan): copy what it is shown, and
      // step before calling it.
      const std::string key = it->first;
      const std::optional<std::string> value = it->second;
      ++it;
      if (value && !fn(key, *value)) return Status::OK();
    } else {
      if (!fn(k, v)) return Status::OK();
      REPLFS_RETURN_IF_ERROR(next_kc());
    }
  }
}

Status MetaStore::Get(std::string_view key, std::string* value) const {
  ReaderLock l(&mu_);
  return GetLocked(key, value);
}

Status MetaStore::Scan(std::string_view prefix, std::string_view from, const ScanFn& fn) const {
  ReaderLock l(&mu_);
  return ScanLocked(prefix, from, fn);
}

Status MetaStore::Sync() {
  if (!options_.fsync) return Status::OK();
  return SyncLog();
}

namespace {
thread_local int64_t thread_origin = 0;
}  // namespace

void MetaStore::SetThreadOrigin(int64_t origin) { thread_origin = origin; }
int64_t MetaStore::ThreadOrigin() { return thread_origin; }

Status MetaStore::Mutate(const std::function<Status(Txn&)>& fn, Durability d) {
  Pending me{&fn, d, thread_origin, Status::OK(), false};
  std::vector<Pending*> group;
  if (!JoinOrLead(&me, &group)) return me.status;  // a leader committed it
  if (!CommitGroup(group)) {
    // Sync outside the store lock (readers go on), but before any member of
    // the group is answered.
    Status s = SyncLog();
    if (!s.ok())
      for (Pending* p : group)
        if (p->status.ok()) p->status = s;
  }
  {
    MutexLock l(&queue_mu_);
    for (Pending* p : group) p->done = true;
    leader_ = false;  // the next waiter leads the next group
  }
  queue_cv_.notify_all();
  return me.status;
}

// std::condition_variable needs the std::mutex itself, which the analysis
// cannot follow: queue_mu_ is held from the unique_lock to the return.
bool MetaStore::JoinOrLead(Pending* me, std::vector<Pending*>* group) NO_THREAD_SAFETY_ANALYSIS {
  std::unique_lock<std::mutex> l(queue_mu_.native());
  if (!broken_.ok()) {
    me->status = broken_;
    return false;
  }
  queue_.push_back(me);
  // Wait while another thread commits; it may take this call along.
  queue_cv_.wait(l, [&]() NO_THREAD_SAFETY_ANALYSIS { return me->done || !leader_; });
  if (me->done) return false;
  leader_ = true;
  group->assign(queue_.begin(), queue_.end());  // includes `me`
  queue_.clear();
  if (!broken_.ok()) {
    for (Pending* p : *group) {
      p->status = broken_;
      p->done = p != me;
    }
    leader_ = false;
    l.unlock();
    queue_cv_.notify_all();
    return false;
  }
  return true;
}

bool MetaStore::CommitGroup(const std::vector<Pending*>& group) {
  // Exclusive: readers must not see a mutation that could still be undone.
  WriterLock l(&mu_);
  std::vector<std::unique_ptr<Txn>> txns;
  txns.reserve(group.size());
  bool any_ok = false;
  for (Pending* p : group) {
    Txn& txn = *txns.emplace_back(new Txn(this));
    Status s;
    try {
      s = (*p->fn)(txn);
    } catch (const std::exception& e) {
      s = Status::Internal(std::string("metadata mutation threw: ") + e.what());
    }
    if (s.ok()) {
      any_ok = true;
    } else {
      txn.Undo();
    }
    p->status = s;
  }
  if (!any_ok) return true;
  // The observer's keys, before the writes move into the log record.
  std::vector<std::vector<std::string>> keys(observer_ ? group.size() : 0);
  std::vector<LogWrite> writes;
  for (size_t i = 0; i < group.size(); ++i) {
    if (!group[i]->status.ok()) continue;
    for (LogWrite& w : txns[i]->writes_) {
      if (observer_) keys[i].push_back(w.key);
      writes.push_back(std::move(w));
    }
    if (observer_) {
      std::sort(keys[i].begin(), keys[i].end());
      keys[i].erase(std::unique(keys[i].begin(), keys[i].end()), keys[i].end());
    }
  }
  if (writes.empty()) {  // only checks that found nothing to change
    for (size_t i = 0; i < group.size(); ++i)
      if (group[i]->status.ok())
        for (auto& f : txns[i]->on_commit_) f();
    return true;
  }
  uint64_t seq = 0;
  const Status s = log_->Append(writes, &seq);
  if (!s.ok()) {
    // Not logged, so not committed: undo every member, newest first.
    LOG(ERROR) << "writing the redo log of " << path_ << ": " << s.ToString() << "; failing "
               << group.size() << " mutations";
    for (size_t i = group.size(); i-- > 0;) {
      txns[i]->Undo();
      if (group[i]->status.ok()) group[i]->status = s;
    }
    return true;
  }
  commits_.fetch_add(1);
  for (size_t i = 0; i < group.size(); ++i) {
    if (!group[i]->status.ok()) continue;
    mutations_.fetch_add(1);
    for (auto& f : txns[i]->on_commit_) f();
    if (observer_ && !keys[i].empty()) observer_(group[i]->origin, keys[i]);
  }
  if (overlay_.size() >= options_.checkpoint_keys + retry_keys_ ||
      log_->bytes() >= options_.checkpoint_log_bytes + retry_bytes_) {
    Status c = CheckpointLocked();
    if (!c.ok()) {
      // The log holds everything; try again after as much growth again.
      LOG(ERROR) << "checkpoint of " << path_ << ": " << c.ToString() << " (" << overlay_.size()
                 << " keys and " << log_->bytes() << " log bytes kept; will retry)";
      retry_keys_ = overlay_.size();
      retry_bytes_ = log_->bytes();
    }
  }
  if (!options_.fsync) return true;
  if (options_.sync_interval_ms == 0) return false;
  for (const Pending* p : group)
    if (p->status.ok() && p->durability == Durability::kSync) return false;
  return true;
}

Status MetaStore::Checkpoint() {
  WriterLock l(&mu_);
  return CheckpointLocked();
}

Status MetaStore::CheckpointLocked() {
  if (overlay_.empty()) return Status::OK();
  const auto start = std::chrono::steady_clock::now();
  if (!db_->begin_transaction(options_.fsync)) return FromKc(*db_, "begin transaction");
  for (const auto& [key, value] : overlay_) {
    const bool ok = value ? db_->set(key, *value)
                          : db_->remove(key) || db_->error().code() == kc::BasicDB::Error::NOREC;
    if (!ok) {
      const Status s = FromKc(*db_, value ? "checkpoint put" : "checkpoint delete");
      if (!db_->end_transaction(false))
        LOG(ERROR) << "rolling back a checkpoint of " << path_ << ": " << db_->error().message();
      return s;
    }
  }
  if (!db_->set(AppliedKey(), EncodeU64(log_->last_seq()))) {
    const Status s = FromKc(*db_, "checkpoint put L");
    if (!db_->end_transaction(false))
      LOG(ERROR) << "rolling back a checkpoint of " << path_ << ": " << db_->error().message();
    return s;
  }
  if (!db_->end_transaction(true)) return FromKc(*db_, "checkpoint commit");
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start).count();
  const std::string what = "checkpoint of " + path_ + ": " + std::to_string(overlay_.size()) +
                           " keys up to log record " + std::to_string(log_->last_seq()) + " (" +
                           std::to_string(log_->bytes()) + " log bytes) in " +
                           std::to_string(ms) + " ms";
  // Mutations wait for a checkpoint: say so when one is slow.
  if (ms >= 500) {
    LOG(INFO) << what;
  } else {
    LOG(DEBUG) << what;
  }
  overlay_.clear();
  retry_keys_ = 0;
  retry_bytes_ = 0;
  checkpoints_.fetch_add(1);
  // The store now holds every record; a reset that does not reach the disk
  // leaves records the next Open() skips.
  return log_->Reset(options_.fsync);
}

Status MetaStore::SyncLog() {
  Status s = log_->Sync();
  if (s.ok()) return s;
  LOG(ERROR) << "syncing the redo log of " << path_ << ": " << s.ToString()
             << "; refusing further metadata changes until metad is restarted";
  MutexLock l(&queue_mu_);
  if (broken_.ok())
    broken_ = Status::IOError("metadata log sync failed (" + s.message() + "); restart metad");
  return broken_;
}

void MetaStore::SyncLoop() NO_THREAD_SAFETY_ANALYSIS {
  const auto interval = std::chrono::milliseconds(options_.sync_interval_ms);
  std::unique_lock<std::mutex> l(queue_mu_.native());
  while (!stop_) {
    stop_cv_.wait_for(l, interval, [&]() NO_THREAD_SAFETY_ANALYSIS { return stop_; });
    l.unlock();
    (void)SyncLog();  // a failure is logged and breaks the store
    l.lock();
  }
}

}  // namespace replfs::metad
