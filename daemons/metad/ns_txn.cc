#include "daemons/metad/ns_txn.h"

#include <chrono>

#include "daemons/metad/records.h"

namespace replfs::metad {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string InoName(Ino ino) { return "inode " + std::to_string(ino); }

Status TxnInodes::Get(Ino ino, Inode** out) {
  auto it = cache_.find(ino);
  if (it == cache_.end()) {
    std::string v;
    Status s = t_.Get(InodeKey(ino), &v);
    if (s.IsNotFound()) return Status::NotFound(InoName(ino) + " does not exist");
    REPLFS_RETURN_IF_ERROR(s);
    Inode in;
    REPLFS_RETURN_IF_ERROR(DecodeInode(v, &in).WithContext(InoName(ino)));
    in.ino = ino;
    it = cache_.emplace(ino, std::move(in)).first;
  }
  *out = &it->second;
  return Status::OK();
}

Status TxnInodes::GetDir(Ino ino, Inode** out) {
  REPLFS_RETURN_IF_ERROR(Get(ino, out));
  if ((*out)->type != FileType::kDirectory) return Status::NotDir(InoName(ino) + " is not a directory");
  return Status::OK();
}

void TxnInodes::Forget(Ino ino) {
  cache_.erase(ino);
  dirty_.erase(ino);
}

void TxnInodes::Add(const Inode& in) {
  cache_[in.ino] = in;
  dirty_.insert(in.ino);
}

Status TxnInodes::Flush() {
  for (Ino ino : dirty_) REPLFS_RETURN_IF_ERROR(t_.Put(InodeKey(ino), EncodeInode(cache_.at(ino))));
  dirty_.clear();
  return Status::OK();
}

Status GetEntry(Txn& t, Ino parent, std::string_view name, Ino* child, FileType* type) {
  std::string v;
  Status s = t.Get(DentryKey(parent, name), &v);
  if (s.IsNotFound())
    return Status::NotFound("'" + std::string(name) + "' not found in " + InoName(parent));
  REPLFS_RETURN_IF_ERROR(s);
  return DecodeDentry(v, child, type);
}

Status PutEntry(Txn& t, Ino parent, std::string_view name, Ino child, FileType type) {
  return t.Put(DentryKey(parent, name), EncodeDentry(child, type));
}

Status DirHasEntries(Txn& t, Ino dir, bool* has) {
  *has = false;
  return t.Scan(DentryPrefix(dir), "", [&](std::string_view, std::string_view) {
    *has = true;
    return false;
  });
}

Status NextIno(Txn& t, Ino* out) {
  std::string v;
  uint64_t next = 0;
  REPLFS_RETURN_IF_ERROR(t.Get(CounterKey("ino"), &v).WithContext("inode counter"));
  REPLFS_RETURN_IF_ERROR(DecodeU64(v, &next));
  *out = next;
  return t.Put(CounterKey("ino"), EncodeU64(next + 1));
}

void TouchDir(TxnInodes& inodes, Inode* dir, int64_t now) {
  dir->mtime_ns = now;
  dir->ctime_ns = now;
  inodes.MarkDirty(dir->ino);
}

}  // namespace replfs::metad
