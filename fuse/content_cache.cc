#include "fuse/content_cache.h"

#include <utility>

namespace replfs::client {

void ContentCache::Put(const Attr& committed, std::string bytes) {
  if (committed.ino == 0 || static_cast<int64_t>(bytes.size()) != committed.size ||
      bytes.size() > max_bytes_)
    return;
  MutexLock l(&mu_);
  if (auto it = entries_.find(committed.ino); it != entries_.end()) EraseLocked(it);
  while (!order_.empty() && bytes_ + bytes.size() > max_bytes_) EraseLocked(entries_.find(order_.front()));
  bytes_ += bytes.size();
  order_.push_back(committed.ino);
  Entry& e = entries_[committed.ino];
  e.mtime_ns = committed.mtime_ns;
  e.ctime_ns = committed.ctime_ns;
  e.bytes = std::make_shared<const std::string>(std::move(bytes));
  e.age = std::prev(order_.end());
}

ContentCache::Bytes ContentCache::Find(const Attr& a) {
  MutexLock l(&mu_);
  auto it = entries_.find(a.ino);
  if (it == entries_.end()) return nullptr;
  const Entry& e = it->second;
  if (static_cast<int64_t>(e.bytes->size()) != a.size || e.mtime_ns != a.mtime_ns ||
      e.ctime_ns != a.ctime_ns) {
    EraseLocked(it);
    return nullptr;
  }
  return e.bytes;
}

void ContentCache::Forget(uint64_t ino) {
  MutexLock l(&mu_);
  if (auto it = entries_.find(ino); it != entries_.end()) EraseLocked(it);
}

void ContentCache::Clear() {
  MutexLock l(&mu_);
  entries_.clear();
  order_.clear();
  bytes_ = 0;
}

size_t ContentCache::bytes() const {
  MutexLock l(&mu_);
  return bytes_;
}

void ContentCache::EraseLocked(std::unordered_map<uint64_t, Entry>::iterator it) {
  bytes_ -= it->second.bytes->size();
  order_.erase(it->second.age);
  entries_.erase(it);
}

}  // namespace replfs::client
