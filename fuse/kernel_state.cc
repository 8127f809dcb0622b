#include "fuse/kernel_state.h"

#include <cstdlib>

#include "common/log.h"

namespace replfs::client {

void LookupCounts::Add(uint64_t ino, uint64_t n) {
  MutexLock l(&mu_);
  counts_[ino] += n;
}

bool LookupCounts::Forget(uint64_t ino, uint64_t n) {
  MutexLock l(&mu_);
  auto it = counts_.find(ino);
  const uint64_t have = it == counts_.end() ? 0 : it->second;
  if (have < n) {
    LOG(ERROR) << "FATAL: kernel forgot inode " << ino << " " << n << " times, but it was looked up "
               << have << " times: lookup count bookkeeping is broken";
    std::abort();
  }
  it->second -= n;
  if (it->second > 0) return false;
  counts_.erase(it);
  return true;
}

uint64_t LookupCounts::Get(uint64_t ino) {
  MutexLock l(&mu_);
  auto it = counts_.find(ino);
  return it == counts_.end() ? 0 : it->second;
}

Invalidator::Invalidator(std::function<void(uint64_t)> notify)
    : notify_(std::move(notify)), thread_([this] { Run(); }) {}

Invalidator::~Invalidator() { Stop(); }

void Invalidator::Queue(uint64_t ino) {
  {
    MutexLock l(&mu_);
    if (stop_) return;
    for (uint64_t q : queue_)
      if (q == ino) return;
    queue_.push_back(ino);
  }
  cv_.notify_one();
}

void Invalidator::Stop() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Invalidator::Run() {
  for (;;) {
    uint64_t ino;
    {
      std::unique_lock<std::mutex> l(mu_.native());
      cv_.wait(l, [this]() NO_THREAD_SAFETY_ANALYSIS { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      ino = queue_.front();
      queue_.pop_front();
    }
    notify_(ino);
  }
}

DirListing::DirListing(FileSystem* fs, uint64_t ino, uint64_t parent) : fs_(fs), ino_(ino) {
  DirEntry dot;
  dot.name = ".";
  dot.ino = ino;
  dot.type = FileType::kDirectory;
  DirEntry dotdot = dot;
  dotdot.name = "..";
  dotdot.ino = parent;
  MutexLock l(&mu_);
  entries_.push_back(std::move(dot));
  entries_.push_back(std::move(dotdot));
}

Status DirListing::EntryAt(size_t index, DirEntry* out, bool* end) {
  MutexLock l(&mu_);
  while (index >= entries_.size() && !eof_) {
    // Only "." and ".." so far means: start from the beginning.
    const std::string after = entries_.size() > 2 ? entries_.back().name : "";
    DirPage page;
    REPLFS_RETURN_IF_ERROR(fs_->ReadDir(ino_, after, kPageSize, &page));
    for (DirEntry& e : page.entries) entries_.push_back(std::move(e));
    eof_ = page.eof || page.entries.empty();
  }
  *end = index >= entries_.size();
  if (!*end) *out = entries_[index];
  return Status::OK();
}

void ParentHints::Set(uint64_t dir, uint64_t parent) {
  MutexLock l(&mu_);
  parents_[dir] = parent;
}

uint64_t ParentHints::Get(uint64_t dir) {
  MutexLock l(&mu_);
  auto it = parents_.find(dir);
  return it == parents_.end() ? dir : it->second;
}

void ParentHints::Erase(uint64_t dir) {
  MutexLock l(&mu_);
  parents_.erase(dir);
}

}  // namespace replfs::client
