// Namespace: removal, rename, link, attribute changes and purging.
#include "daemons/metad/namespace.h"

#include "common/log.h"
#include "daemons/metad/ns_txn.h"
#include "daemons/metad/records.h"

namespace replfs::metad {

Status Namespace::PurgeInTxn(Txn& t, const Inode& in) {
  std::vector<std::string> xattrs;
  REPLFS_RETURN_IF_ERROR(t.Scan(XattrPrefix(in.ino), "", [&](std::string_view k, std::string_view) {
    xattrs.emplace_back(k);
    return true;
  }));
  for (const auto& k : xattrs) REPLFS_RETURN_IF_ERROR(t.Delete(k));
  REPLFS_RETURN_IF_ERROR(t.Delete(InodeKey(in.ino)));
  REPLFS_RETURN_IF_ERROR(t.Delete(OrphanKey(in.ino)));
  REPLFS_RETURN_IF_ERROR(chunks_->DropInTxn(t, in.ino, 0));
  t.OnCommit([this, type = in.type] { CountInode(type, -1); });
  return Status::OK();
}

Status Namespace::DropLinkInTxn(Txn& t, TxnInodes& inodes, Ino ino, Unlinked* out) {
  Inode* in = nullptr;
  REPLFS_RETURN_IF_ERROR(inodes.Get(ino, &in));
  const bool is_dir = in->type == FileType::kDirectory;
  in->nlink = (is_dir || in->nlink == 0) ? 0 : in->nlink - 1;
  in->ctime_ns = NowNs();
  out->ino = ino;
  out->nlink = in->nlink;
  if (in->nlink > 0) {
    inodes.MarkDirty(ino);
    return Status::OK();
  }
  if (!is_dir && OpenCount(ino) > 0) {
    // Still open somewhere: an orphan until its last Release.
    inodes.MarkDirty(ino);
    return t.Put(OrphanKey(ino), "");
  }
  Inode copy = *in;
  inodes.Forget(ino);
  return PurgeInTxn(t, copy);
}

Status Namespace::PurgeIfUnused(Ino ino, bool* purged) {
  bool done = false;
  if (purged != nullptr) *purged = false;
  // Nearly always (the last Release of a linked file) there is nothing to
  // do: decided by reads, without a commit. Safe against a concurrent
  // Unlink: it decides "orphan or purge" inside its transaction by
  // OpenCount, which is 0 by now, and reads wait for running commits.
  std::string v;
  Status orphan = store_->Get(OrphanKey(ino), &v);
  REPLFS_RETURN_IF_ERROR(orphan.IsNotFound() ? Status::OK() : orphan);
  if (orphan.IsNotFound()) {
    Inode in;
    Status s = GetAttr(ino, &in);
    if (s.IsNotFound() || (s.ok() && in.nlink > 0)) return Status::OK();
  }
  REPLFS_RETURN_IF_ERROR(store_->Mutate([&](Txn& t) -> Status {
    done = false;  // a retried transaction starts over
    TxnInodes inodes(t);
    Inode* in = nullptr;
    Status s = inodes.Get(ino, &in);
    if (s.IsNotFound()) return t.Delete(OrphanKey(ino));
    REPLFS_RETURN_IF_ERROR(s);
    if (in->nlink > 0) return t.Delete(OrphanKey(ino));
    if (OpenCount(ino) > 0) return Status::OK();
    done = true;
    return PurgeInTxn(t, *in);
  }, Durability::kLazy));
  if (purged != nullptr) *purged = done;
  return Status::OK();
}

Status Namespace::Unlink(Ino parent, std::string_view name, Unlinked* out, Inode* dir_out) {
  REPLFS_RETURN_IF_ERROR(ValidateName(name));
  return store_->Mutate([&](Txn& t) -> Status {
    TxnInodes inodes(t);
    Inode* dir = nullptr;
    REPLFS_RETURN_IF_ERROR(inodes.GetDir(parent, &dir));
    Ino child = 0;
    FileType type;
    REPLFS_RETURN_IF_ERROR(GetEntry(t, parent, name, &child, &type));
    if (type == FileType::kDirectory) return Status::IsDir("'" + std::string(name) + "' is a directory");
    REPLFS_RETURN_IF_ERROR(t.Delete(DentryKey(parent, name)));
    REPLFS_RETURN_IF_ERROR(DropLinkInTxn(t, inodes, child, out));
    TouchDir(inodes, dir, NowNs());
    if (dir_out != nullptr) *dir_out = *dir;
    return inodes.Flush();
  }, Durability::kLazy);
}

Status Namespace::Rmdir(Ino parent, std::string_view name, Unlinked* out, Inode* dir_out) {
  REPLFS_RETURN_IF_ERROR(ValidateName(name));
  return store_->Mutate([&](Txn& t) -> Status {
    TxnInodes inodes(t);
    Inode* dir = nullptr;
    REPLFS_RETURN_IF_ERROR(inodes.GetDir(parent, &dir));
    Ino child = 0;
    FileType type;
    REPLFS_RETURN_IF_ERROR(GetEntry(t, parent, name, &child, &type));
    if (type != FileType::kDirectory) return Status::NotDir("'" + std::string(name) + "' is not a directory");
    bool has = false;
    REPLFS_RETURN_IF_ERROR(DirHasEntries(t, child, &has));
    if (has) return Status::NotEmpty("directory '" + std::string(name) + "' is not empty");
    REPLFS_RETURN_IF_ERROR(t.Delete(DentryKey(parent, name)));
    Unlinked gone;
    REPLFS_RETURN_IF_ERROR(DropLinkInTxn(t, inodes, child, &gone));
    --dir->nlink;
    TouchDir(inodes, dir, NowNs());
    if (out != nullptr) *out = gone;
    if (dir_out != nullptr) *dir_out = *dir;
    return inodes.Flush();
  }, Durability::kLazy);
}

Status Namespace::CheckNotAncestor(TxnInodes& inodes, Ino dir, Ino maybe_descendant) {
  Ino cur = maybe_descendant;
  // Bounded: a damaged parent chain must not loop forever.
  for (int depth = 0; depth < 1 << 20; ++depth) {
    if (cur == dir) return Status::Invalid("cannot move a directory into its own subtree");
    if (cur == kRootIno) return Status::OK();
    Inode* in = nullptr;
    REPLFS_RETURN_IF_ERROR(inodes.Get(cur, &in));
    if (in->parent == 0 || in->parent == cur) return Status::OK();
    cur = in->parent;
  }
  return Status::Corruption("directory parent chain too deep from " + InoName(maybe_descendant));
}

Status Namespace::Rename(Ino parent, std::string_view name, Ino new_parent, std::string_view new_name,
                         RenameFlags flags, Unlinked* out) {
  REPLFS_RETURN_IF_ERROR(ValidateName(name));
  REPLFS_RETURN_IF_ERROR(ValidateName(new_name));
  if (flags.noreplace && flags.exchange) return Status::Invalid("rename: noreplace and exchange together");
  *out = Unlinked{};
  return store_->Mutate(
      [&](Txn& t) { return RenameInTxn(t, parent, name, new_parent, new_name, flags, out); },
      Durability::kLazy);
}

namespace {

// Moves directory `d` (an entry of `from`) under `to`: link counts and its
// parent pointer.
void MoveDir(Inode* d, Inode* from, Inode* to, TxnInodes& inodes) {
  if (from->ino == to->ino) return;
  --from->nlink;
  ++to->nlink;
  d->parent = to->ino;
  inodes.MarkDirty(d->ino);
}

}  // namespace

Status Namespace::RenameInTxn(Txn& t, Ino parent, std::string_view name, Ino new_parent,
                              std::string_view new_name, RenameFlags flags, Unlinked* out) {
  TxnInodes inodes(t);
  Inode *sp = nullptr, *dp = nullptr, *src = nullptr, *dst = nullptr;
  REPLFS_RETURN_IF_ERROR(inodes.GetDir(parent, &sp));
  REPLFS_RETURN_IF_ERROR(inodes.GetDir(new_parent, &dp));
  Ino src_ino = 0, dst_ino = 0;
  FileType st, dt;
  REPLFS_RETURN_IF_ERROR(GetEntry(t, parent, name, &src_ino, &st));
  Status s = GetEntry(t, new_parent, new_name, &dst_ino, &dt);
  if (!s.ok() && !s.IsNotFound()) return s;
  const bool dst_exists = s.ok();
  // Same inode under both names (itself or a hard link): nothing to do.
  if (dst_exists && dst_ino == src_ino) return Status::OK();
  if (flags.exchange && !dst_exists) return Status::NotFound("rename exchange: '" + std::string(new_name) + "' does not exist");
  if (flags.noreplace && dst_exists) return Status::Exists("'" + std::string(new_name) + "' exists");
  const bool src_dir = st == FileType::kDirectory, dst_dir = dst_exists && dt == FileType::kDirectory;
  if (src_dir) REPLFS_RETURN_IF_ERROR(CheckNotAncestor(inodes, src_ino, new_parent));
  REPLFS_RETURN_IF_ERROR(inodes.Get(src_ino, &src));
  const int64_t now = NowNs();
  if (flags.exchange) {
    if (dst_dir) REPLFS_RETURN_IF_ERROR(CheckNotAncestor(inodes, dst_ino, parent));
    REPLFS_RETURN_IF_ERROR(inodes.Get(dst_ino, &dst));
    REPLFS_RETURN_IF_ERROR(PutEntry(t, parent, name, dst_ino, dt));
    REPLFS_RETURN_IF_ERROR(PutEntry(t, new_parent, new_name, src_ino, st));
    if (src_dir) MoveDir(src, sp, dp, inodes);
    if (dst_dir) MoveDir(dst, dp, sp, inodes);
    dst->ctime_ns = now;
    inodes.MarkDirty(dst_ino);
  } else {
    if (dst_exists) {
      if (src_dir && !dst_dir) return Status::NotDir("'" + std::string(new_name) + "' is not a directory");
      if (!src_dir && dst_dir) return Status::IsDir("'" + std::string(new_name) + "' is a directory");
      if (dst_dir) {
        bool has = false;
        REPLFS_RETURN_IF_ERROR(DirHasEntries(t, dst_ino, &has));
        if (has) return Status::NotEmpty("directory '" + std::string(new_name) + "' is not empty");
        --dp->nlink;
      }
      REPLFS_RETURN_IF_ERROR(DropLinkInTxn(t, inodes, dst_ino, out));
    }
    REPLFS_RETURN_IF_ERROR(t.Delete(DentryKey(parent, name)));
    REPLFS_RETURN_IF_ERROR(PutEntry(t, new_parent, new_name, src_ino, st));
    if (src_dir) MoveDir(src, sp, dp, inodes);
  }
  src->ctime_ns = now;
  inodes.MarkDirty(src_ino);
  TouchDir(inodes, sp, now);
  TouchDir(inodes, dp, now);
  return inodes.Flush();
}

Status Namespace::Link(Ino ino, Ino new_parent, std::string_view new_name, Inode* out, Inode* dir_out) {
  REPLFS_RETURN_IF_ERROR(ValidateName(new_name));
  return store_->Mutate([&](Txn& t) -> Status {
    TxnInodes inodes(t);
    Inode *in = nullptr, *dir = nullptr;
    REPLFS_RETURN_IF_ERROR(inodes.Get(ino, &in));
    if (in->type == FileType::kDirectory) return Status::Permission("cannot hard-link a directory");
    if (in->nlink == 0) return Status::NotFound(InoName(ino) + " was removed");
    if (in->nlink >= kMaxLinks) return Status::TooManyLinks(InoName(ino));
    REPLFS_RETURN_IF_ERROR(inodes.GetDir(new_parent, &dir));
    Ino existing = 0;
    FileType type;
    Status s = GetEntry(t, new_parent, new_name, &existing, &type);
    if (s.ok()) return Status::Exists("'" + std::string(new_name) + "' exists");
    if (!s.IsNotFound()) return s;
    REPLFS_RETURN_IF_ERROR(PutEntry(t, new_parent, new_name, ino, in->type));
    const int64_t now = NowNs();
    ++in->nlink;
    in->ctime_ns = now;
    inodes.MarkDirty(ino);
    TouchDir(inodes, dir, now);
    *out = *in;
    if (dir_out != nullptr) *dir_out = *dir;
    return inodes.Flush();
  }, Durability::kLazy);
}

Status Namespace::SetAttr(const SetAttrRequest& r, Inode* out) {
  if (r.has_size && r.size < 0) return Status::Invalid("negative size");
  return store_->Mutate([&](Txn& t) -> Status {
    TxnInodes inodes(t);
    Inode* in = nullptr;
    REPLFS_RETURN_IF_ERROR(inodes.Get(r.ino, &in));
    const int64_t now = NowNs();
    if (r.has_size) {
      if (in->type == FileType::kDirectory) return Status::IsDir(InoName(r.ino) + " is a directory");
      if (in->type != FileType::kRegular) return Status::Invalid("size of a non-regular file");
      // Chunks wholly past the new end go even when the size grows: they
      // may hold bytes written past the committed size.
      const int64_t cs = opts_.chunk_size;
      REPLFS_RETURN_IF_ERROR(chunks_->DropInTxn(t, r.ino, r.size / cs + (r.size % cs != 0)));
      if (r.size != in->size) in->mtime_ns = now;
      in->size = r.size;
    }
    if (r.has_mode) in->mode = r.mode & 07777;
    if (r.has_uid) in->uid = r.uid;
    if (r.has_gid) in->gid = r.gid;
    if (r.atime_now) in->atime_ns = now;
    else if (r.has_atime) in->atime_ns = r.atime_ns;
    if (r.mtime_now) in->mtime_ns = now;
    else if (r.has_mtime) in->mtime_ns = r.mtime_ns;
    in->ctime_ns = now;
    inodes.MarkDirty(r.ino);
    *out = *in;
    return inodes.Flush();
  }, Durability::kLazy);
}

Status Namespace::CommitWrite(Ino ino, int64_t size, int64_t mtime_ns, Inode* out) {
  if (size < 0) return Status::Invalid("negative size");
  return store_->Mutate([&](Txn& t) -> Status {
    TxnInodes inodes(t);
    Inode* in = nullptr;
    REPLFS_RETURN_IF_ERROR(inodes.Get(ino, &in));
    if (in->type == FileType::kDirectory) return Status::IsDir(InoName(ino) + " is a directory");
    if (in->type != FileType::kRegular) return Status::Invalid(InoName(ino) + " is not a regular file");
    if (size > in->size) in->size = size;
    const int64_t when = mtime_ns > 0 ? mtime_ns : NowNs();
    in->mtime_ns = when;
    in->ctime_ns = when;
    inodes.MarkDirty(ino);
    *out = *in;
    return inodes.Flush();
  });
}

}  // namespace replfs::metad
