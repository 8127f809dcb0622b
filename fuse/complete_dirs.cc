#include "fuse/complete_dirs.h"

namespace replfs::client {

void CompleteDirs::Track(uint64_t dir) {
  MutexLock l(&mu_);
  auto it = dirs_.find(dir);
  if (it != dirs_.end()) EraseLocked(it);
  dirs_.emplace(dir, Names{});
}

bool CompleteDirs::KnownAbsent(uint64_t dir, std::string_view name) const {
  MutexLock l(&mu_);
  auto it = dirs_.find(dir);
  return it != dirs_.end() && it->second.find(name) == it->second.end();
}

void CompleteDirs::Insert(uint64_t dir, std::string_view name) {
  MutexLock l(&mu_);
  auto it = dirs_.find(dir);
  if (it == dirs_.end() || it->second.find(name) != it->second.end()) return;
  if (total_ >= max_names_) {
    // Forgetting a directory is always safe; forgetting a name is not.
    EraseLocked(it);
    return;
  }
  it->second.emplace(name);
  total_++;
}

void CompleteDirs::Removed(uint64_t dir, std::string_view name) {
  MutexLock l(&mu_);
  auto it = dirs_.find(dir);
  if (it == dirs_.end()) return;
  auto n = it->second.find(name);
  if (n == it->second.end()) return;
  it->second.erase(n);
  total_--;
}

void CompleteDirs::Untrack(uint64_t dir) {
  MutexLock l(&mu_);
  auto it = dirs_.find(dir);
  if (it != dirs_.end()) EraseLocked(it);
}

void CompleteDirs::UntrackAll() {
  MutexLock l(&mu_);
  dirs_.clear();
  total_ = 0;
}

bool CompleteDirs::tracked(uint64_t dir) const {
  MutexLock l(&mu_);
  return dirs_.count(dir) != 0;
}

size_t CompleteDirs::names() const {
  MutexLock l(&mu_);
  return total_;
}

void CompleteDirs::EraseLocked(std::unordered_map<uint64_t, Names>::iterator it) {
  total_ -= it->second.size();
  dirs_.erase(it);
}

}  // namespace replfs::client
