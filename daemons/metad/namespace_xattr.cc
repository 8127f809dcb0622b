// Namespace: extended attributes (`x` + ino + name -> raw value).
#include <string>

#include "daemons/metad/namespace.h"
#include "daemons/metad/ns_txn.h"
#include "daemons/metad/records.h"

namespace replfs::metad {
namespace {

constexpr int kXattrCreate = 1, kXattrReplace = 2;

// Namespaces user., trusted., security.; system.* (ACLs) and anything else
// are not supported.
Status ValidateXattrName(std::string_view name) {
  if (name.empty()) return Status::Invalid("empty xattr name");
  if (name.size() > kMaxNameBytes) return Status::Range("xattr name over 255 bytes");
  if (name.find('\0') != std::string_view::npos) return Status::Invalid("xattr name contains NUL");
  for (std::string_view ns : {"user.", "trusted.", "security."}) {
    if (name.substr(0, ns.size()) == ns) {
      if (name.size() == ns.size()) return Status::Invalid("xattr name '" + std::string(name) + "' has no suffix");
      return Status::OK();
    }
  }
  return Status::NotSupported("xattr namespace of '" + std::string(name) + "' is not supported");
}

}  // namespace

Status Namespace::SetXattr(Ino ino, std::string_view name, std::string_view value, int flags) {
  REPLFS_RETURN_IF_ERROR(ValidateXattrName(name));
  if (flags & ~(kXattrCreate | kXattrReplace)) return Status::Invalid("unknown xattr flags");
  if (flags == (kXattrCreate | kXattrReplace)) return Status::Invalid("xattr create and replace together");
  if (value.size() > kMaxXattrValueBytes) return Status::Range("xattr value over 64 KiB");
  return store_->Mutate([&](Txn& t) -> Status {
    TxnInodes inodes(t);
    Inode* in = nullptr;
    REPLFS_RETURN_IF_ERROR(inodes.Get(ino, &in));
    std::string old;
    Status s = t.Get(XattrKey(ino, name), &old);
    if (!s.ok() && !s.IsNotFound()) return s;
    if (s.ok() && (flags & kXattrCreate)) return Status::Exists("xattr '" + std::string(name) + "' exists");
    if (s.IsNotFound() && (flags & kXattrReplace))
      return Status::NoData("xattr '" + std::string(name) + "' does not exist");
    REPLFS_RETURN_IF_ERROR(t.Put(XattrKey(ino, name), value));
    if (s.IsNotFound() && in->xattrs != kXattrsUnknown) ++in->xattrs;
    in->ctime_ns = NowNs();
    inodes.MarkDirty(ino);
    return inodes.Flush();
  }, Durability::kLazy);
}

Status Namespace::GetXattr(Ino ino, std::string_view name, std::string* out) const {
  REPLFS_RETURN_IF_ERROR(ValidateXattrName(name));
  Inode in;
  REPLFS_RETURN_IF_ERROR(GetAttr(ino, &in));
  Status s = store_->Get(XattrKey(ino, name), out);
  if (s.IsNotFound()) return Status::NoData("xattr '" + std::string(name) + "' does not exist");
  return s;
}

Status Namespace::ListXattr(Ino ino, std::vector<std::string>* out) const {
  out->clear();
  Inode in;
  REPLFS_RETURN_IF_ERROR(GetAttr(ino, &in));
  const std::string prefix = XattrPrefix(ino);
  return store_->Scan(prefix, "", [&](std::string_view k, std::string_view) {
    out->emplace_back(k.substr(prefix.size()));
    return true;
  });
}

Status Namespace::RemoveXattr(Ino ino, std::string_view name) {
  REPLFS_RETURN_IF_ERROR(ValidateXattrName(name));
  return store_->Mutate([&](Txn& t) -> Status {
    TxnInodes inodes(t);
    Inode* in = nullptr;
    REPLFS_RETURN_IF_ERROR(inodes.Get(ino, &in));
    std::string old;
    Status s = t.Get(XattrKey(ino, name), &old);
    if (s.IsNotFound()) return Status::NoData("xattr '" + std::string(name) + "' does not exist");
    REPLFS_RETURN_IF_ERROR(s);
    REPLFS_RETURN_IF_ERROR(t.Delete(XattrKey(ino, name)));
    if (in->xattrs != kXattrsUnknown && in->xattrs > 0) --in->xattrs;
    in->ctime_ns = NowNs();
    inodes.MarkDirty(ino);
    return inodes.Flush();
  }, Durability::kLazy);
}

}  // namespace replfs::metad
