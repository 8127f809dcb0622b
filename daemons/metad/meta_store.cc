#include "daemons/metad/meta_store.h"

#include <kchashdb.h>
#include <sys/stat.h>

#include <cerrno>

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

Status ScanDb(kc::TreeDB* db, std::string_view prefix, std::string_view from, const ScanFn& fn) {
  std::unique_ptr<kc::DB::Cursor> cur(db->cursor());
  std::string start(from.empty() || from < prefix ? prefix : from);
  if (!cur->jump(start)) {
    if (db->error().code() == kc::BasicDB::Error::NOREC) return Status::OK();
    return FromKc(*db, "scan");
  }
  std::string k, v;
  while (cur->get(&k, &v, true)) {
    if (k.compare(0, prefix.size(), prefix) != 0) return Status::OK();
    if (!fn(k, v)) return Status::OK();
  }
  if (db->error().code() == kc::BasicDB::Error::NOREC) return Status::OK();
  return FromKc(*db, "scan");
}

Status GetDb(kc::TreeDB* db, std::string_view key, std::string* value) {
  if (db->get(std::string(key), value)) return Status::OK();
  if (db->error().code() == kc::BasicDB::Error::NOREC) return Status::NotFound("no record");
  return FromKc(*db, "get");
}

}  // namespace

Status Txn::Get(std::string_view key, std::string* value) { return GetDb(db_, key, value); }

Status Txn::SaveOld(std::string_view key) {
  if (!undo_) return Status::OK();
  std::string v;
  Status s = GetDb(db_, key, &v);
  if (s.ok()) {
    old_.emplace_back(std::string(key), std::move(v));
  } else if (s.IsNotFound()) {
    old_.emplace_back(std::string(key), std::nullopt);
  } else {
    return s;
  }
  return Status::OK();
}

Status Txn::Undo() {
  for (auto it = old_.rbegin(); it != old_.rend(); ++it) {
    const std::string& key = it->first;
    if (it->second) {
      if (!db_->set(key, *it->second)) return FromKc(*db_, "undo put");
    } else if (!db_->remove(key) && db_->error().code() != kc::BasicDB::Error::NOREC) {
      return FromKc(*db_, "undo delete");
    }
  }
  old_.clear();
  return Status::OK();
}

Status Txn::Put(std::string_view key, std::string_view value) {
  REPLFS_RETURN_IF_ERROR(SaveOld(key));
  if (!db_->set(key.data(), key.size(), value.data(), value.size())) return FromKc(*db_, "put");
  return Status::OK();
}

Status Txn::Delete(std::string_view key) {
  REPLFS_RETURN_IF_ERROR(SaveOld(key));
  if (db_->remove(key.data(), key.size())) return Status::OK();
  if (db_->error().code() == kc::BasicDB::Error::NOREC) return Status::OK();
  return FromKc(*db_, "delete");
}

Status Txn::Scan(std::string_view prefix, std::string_view from, const ScanFn& fn) {
  return ScanDb(db_, prefix, from, fn);
}

MetaStore::MetaStore(std::string path, bool fsync, std::unique_ptr<kc::TreeDB> db)
    : path_(std::move(path)), fsync_(fsync), db_(std::move(db)) {}

MetaStore::~MetaStore() {
  if (!db_->close()) {
    LOG(ERROR) << "closing " << path_ << ": " << db_->error().message();
  }
}

Status MetaStore::Open(const std::string& dir, bool fsync, std::unique_ptr<MetaStore>* out) {
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
  std::unique_ptr<MetaStore> store(new MetaStore(path, fsync, std::move(db)));
  REPLFS_RETURN_IF_ERROR(store->InitHeader());
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
  if (db_->count() != 0)
    return Status::Corruption("metadata store " + path_ + " has records but no header; refusing it");
  return Mutate([](Txn& t) { return t.Put(HeaderKey(), EncodeHeader()); });
}

Status MetaStore::Get(std::string_view key, std::string* value) const {
  ReaderLock l(&mu_);
  return GetDb(db_.get(), key, value);
}

Status MetaStore::Scan(std::string_view prefix, std::string_view from, const ScanFn& fn) const {
  ReaderLock l(&mu_);
  return ScanDb(db_.get(), prefix, from, fn);
}

Status MetaStore::Mutate(const std::function<Status(Txn&)>& fn) {
  Pending me{&fn, Status::OK(), false};
  std::vector<Pending*> group;
  if (!JoinOrLead(&me, &group)) return me.status;  // a leader committed it
  CommitGroup(group);
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
  queue_.push_back(me);
  // Wait while another thread commits; it may take this call along.
  queue_cv_.wait(l, [&]() NO_THREAD_SAFETY_ANALYSIS { return me->done || !leader_; });
  if (me->done) return false;
  leader_ = true;
  group->assign(queue_.begin(), queue_.end());  // includes `me`
  queue_.clear();
  return true;
}

void MetaStore::CommitGroup(const std::vector<Pending*>& group) {
  // The exclusive lock is held across the commit (and its fsync): readers
  // must not see records of a transaction that could still roll back.
  WriterLock l(&mu_);
  if (!db_->begin_transaction(fsync_)) {
    const Status s = FromKc(*db_, "begin transaction");
    for (Pending* p : group) p->status = s;
    return;
  }
  // Alone, a failed callback is rolled back with the transaction; in a group
  // its writes are undone so that the others still commit.
  const bool shared = group.size() > 1;
  std::vector<std::unique_ptr<Txn>> txns;
  txns.reserve(group.size());
  bool any_ok = false;
  for (Pending* p : group) {
    Txn& txn = *txns.emplace_back(new Txn(db_.get(), shared));
    Status s;
    try {
      s = (*p->fn)(txn);
    } catch (const std::exception& e) {
      s = Status::Internal(std::string("metadata mutation threw: ") + e.what());
    }
    if (s.ok()) {
      any_ok = true;
    } else if (shared) {
      Status u = txn.Undo();
      if (!u.ok()) {
        // Cannot isolate the failure: nothing of the group commits.
        LOG(ERROR) << "undoing a failed mutation on " << path_ << ": " << u.ToString()
                   << "; rolling back a group of " << group.size();
        if (!db_->end_transaction(false))
          LOG(ERROR) << "rolling back a transaction on " << path_ << ": " << db_->error().message();
        for (Pending* q : group) q->status = q == p ? s : u;
        return;
      }
    }
    p->status = s;
  }
  if (!any_ok) {
    if (!db_->end_transaction(false))
      LOG(ERROR) << "rolling back a transaction on " << path_ << ": " << db_->error().message();
    return;
  }
  if (!db_->end_transaction(true)) {
    const Status s = FromKc(*db_, "commit");
    for (Pending* p : group)
      if (p->status.ok()) p->status = s;
    return;
  }
  commits_.fetch_add(1);
  for (size_t i = 0; i < group.size(); ++i) {
    if (!group[i]->status.ok()) continue;
    mutations_.fetch_add(1);
    for (auto& f : txns[i]->on_commit_) f();
  }
}

}  // namespace replfs::metad
