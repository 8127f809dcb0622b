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

std::vector<uint64_t> LookupCounts::Held() {
  MutexLock l(&mu_);
  std::vector<uint64_t> out;
  out.reserve(counts_.size());
  for (const auto& [ino, n] : counts_) out.push_back(ino);
  return out;
}

void SentAttrs::Note(uint64_t ino, int64_t size, int64_t mtime_ns) {
  MutexLock l(&mu_);
  sent_[ino] = {size, mtime_ns};
}

bool SentAttrs::Differs(uint64_t ino, int64_t size, int64_t mtime_ns) {
  MutexLock l(&mu_);
  auto it = sent_.find(ino);
  return it == sent_.end() || it->second != std::make_pair(size, mtime_ns);
}

void SentAttrs::Erase(uint64_t ino) {
  MutexLock l(&mu_);
  sent_.erase(ino);
}

Invalidator::Invalidator(std::function<void(const Invalidation&)> notify)
    : notify_(std::move(notify)), thread_([this] { Run(); }) {}

Invalidator::~Invalidator() { Stop(); }

void Invalidator::Queue(Invalidation what) {
  {
    MutexLock l(&mu_);
    if (stop_ || !queued_.insert(what).second) return;
    queue_.push_back(std::move(what));
  }
  cv_.notify_one();
}

void Invalidator::Stop() {
  {
    MutexLock l(&mu_);
    stop_ = true;
    queue_.clear();
    queued_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Invalidator::Run() {
  for (;;) {
    Invalidation what;
    {
      std::unique_lock<std::mutex> l(mu_.native());
      cv_.wait(l, [this]() NO_THREAD_SAFETY_ANALYSIS { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      what = std::move(queue_.front());
      queue_.pop_front();
      queued_.erase(what);
    }
    notify_(what);
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

void ParentHints::UnindexLocked(uint64_t dir, const Where& w) {
  if (w.name.empty()) return;
  auto it = by_name_.find(NameKey(w.parent, w.name));
  if (it != by_name_.end() && it->second == dir) by_name_.erase(it);
}

void ParentHints::Set(uint64_t dir, uint64_t parent, std::string_view name) {
  MutexLock l(&mu_);
  Where& w = parents_[dir];
  UnindexLocked(dir, w);
  w.parent = parent;
  w.name = std::string(name);
  if (!w.name.empty()) by_name_[NameKey(parent, w.name)] = dir;
}

uint64_t ParentHints::Get(uint64_t dir) {
  MutexLock l(&mu_);
  auto it = parents_.find(dir);
  return it == parents_.end() ? dir : it->second.parent;
}

void ParentHints::Erase(uint64_t dir) {
  MutexLock l(&mu_);
  auto it = parents_.find(dir);
  if (it == parents_.end()) return;
  UnindexLocked(dir, it->second);
  parents_.erase(it);
}

void ParentHints::Renamed(uint64_t parent, std::string_view name, uint64_t new_parent,
                          std::string_view new_name, bool exchange) {
  MutexLock l(&mu_);
  const NameKey from(parent, std::string(name)), to(new_parent, std::string(new_name));
  uint64_t src = 0, dst = 0;
  if (auto it = by_name_.find(from); it != by_name_.end()) {
    src = it->second;
    by_name_.erase(it);
  }
  if (auto it = by_name_.find(to); it != by_name_.end()) {
    dst = it->second;
    by_name_.erase(it);
  }
  if (src != 0) {
    parents_[src] = Where{new_parent, to.second};
    by_name_[to] = src;
  }
  // Replaced (not exchanged): dst is gone; its forget will erase the rest.
  if (dst != 0 && exchange) {
    parents_[dst] = Where{parent, from.second};
    by_name_[from] = dst;
  }
}

void ParentHints::Removed(uint64_t parent, std::string_view name) {
  MutexLock l(&mu_);
  by_name_.erase(NameKey(parent, std::string(name)));
}

}  // namespace replfs::client
