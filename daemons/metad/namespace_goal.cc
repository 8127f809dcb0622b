// Namespace: replication goals (SetGoal), applied in bounded batches.
#include "daemons/metad/namespace.h"
#include "daemons/metad/ns_txn.h"
#include "daemons/metad/records.h"

namespace replfs::metad {
namespace {

constexpr size_t kGoalBatch = 256;  // inodes per transaction
constexpr int kGoalPage = 1000;     // directory entries per ReadDir

bool TakesGoal(FileType t) { return t == FileType::kRegular || t == FileType::kDirectory; }

}  // namespace

Status Namespace::SetGoalBatch(const std::vector<Ino>& inos, int32_t goal, int64_t* changed) {
  int64_t n = 0;
  REPLFS_RETURN_IF_ERROR(store_->Mutate([&](Txn& t) -> Status {
    n = 0;
    for (Ino ino : inos) {
      std::string v;
      Status s = t.Get(InodeKey(ino), &v);
      if (s.IsNotFound()) continue;  // removed meanwhile
      REPLFS_RETURN_IF_ERROR(s);
      Inode in;
      REPLFS_RETURN_IF_ERROR(DecodeInode(v, &in));
      in.ino = ino;
      if (!TakesGoal(in.type) || in.goal == goal) continue;
      in.goal = goal;
      REPLFS_RETURN_IF_ERROR(t.Put(InodeKey(ino), EncodeInode(in)));
      if (in.type == FileType::kRegular) REPLFS_RETURN_IF_ERROR(chunks_->SetGoalInTxn(t, ino, goal));
      ++n;
    }
    return Status::OK();
  }));
  *changed += n;
  return Status::OK();
}

Status Namespace::SetGoal(Ino ino, int32_t goal, bool recursive, int64_t* changed) {
  *changed = 0;
  Inode in;
  REPLFS_RETURN_IF_ERROR(GetAttr(ino, &in));
  if (!TakesGoal(in.type)) return Status::Invalid(InoName(ino) + " is neither a regular file nor a directory");
  REPLFS_RETURN_IF_ERROR(SetGoalBatch({ino}, goal, changed));
  if (!recursive || in.type != FileType::kDirectory) return Status::OK();
  std::vector<Ino> dirs{ino}, batch;
  while (!dirs.empty()) {
    const Ino d = dirs.back();
    dirs.pop_back();
    std::string after;
    for (bool eof = false; !eof;) {
      std::vector<DirEntry> page;
      Status s = ReadDir(d, after, kGoalPage, false, &page, &eof);
      if (s.IsNotFound() || s.code() == Status::Code::kNotDir) break;  // removed meanwhile
      REPLFS_RETURN_IF_ERROR(s);
      for (const auto& e : page) {
        if (e.type == FileType::kDirectory) dirs.push_back(e.ino);
        if (TakesGoal(e.type)) batch.push_back(e.ino);
        if (batch.size() < kGoalBatch) continue;
        REPLFS_RETURN_IF_ERROR(SetGoalBatch(batch, goal, changed));
        batch.clear();
      }
      if (!page.empty()) after = page.back().name;
    }
  }
  if (!batch.empty()) REPLFS_RETURN_IF_ERROR(SetGoalBatch(batch, goal, changed));
  return Status::OK();
}

}  // namespace replfs::metad
