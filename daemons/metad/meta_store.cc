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

Status Txn::Put(std::string_view key, std::string_view value) {
  if (!db_->set(key.data(), key.size(), value.data(), value.size())) return FromKc(*db_, "put");
  return Status::OK();
}

Status Txn::Delete(std::string_view key) {
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
  // The exclusive lock is held across the commit (and its fsync): readers
  // must not see records of a transaction that could still roll back.
  WriterLock l(&mu_);
  if (!db_->begin_transaction(fsync_)) return FromKc(*db_, "begin transaction");
  Txn txn(db_.get());
  Status s = fn(txn);
  if (!s.ok()) {
    if (!db_->end_transaction(false)) {
      LOG(ERROR) << "rolling back a transaction on " << path_ << ": " << db_->error().message();
    }
    return s;
  }
  if (!db_->end_transaction(true)) return FromKc(*db_, "commit");
  for (auto& f : txn.on_commit_) f();
  return Status::OK();
}

}  // namespace replfs::metad
