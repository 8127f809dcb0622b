#include "fuse/complete_dirs.h"

namespace replfs::client {

void CompleteDirs::Track(uint64_t dir) {
  MutexLock l(&mu_);
  auto it = dirs_.find(dir);
  if (it != dirs_.end()) EraseLocked(it);
  if (total_ >= max_entries_) return;  // full: this one is not worth a lookup saved
  dirs_.emplace(dir, Dir{});
  total_++;
}

uint64_t CompleteDirs::Stamp(uint64_t dir) const {
  MutexLock l(&mu_);
  auto it = dirs_.find(dir);
  return it == dirs_.end() ? 0 : it->second.changes;
}

bool CompleteDirs::KnownAbsent(uint64_t dir, std::string_view name) const {
  MutexLock l(&mu_);
  auto it = dirs_.find(dir);
  return it != dirs_.end() && it->second.names.find(name) == it->second.names.end();
}

void CompleteDirs::Insert(uint64_t dir, std::string_view name, bool theirs) {
  MutexLock l(&mu_);
  auto it = dirs_.find(dir);
  if (it == dirs_.end()) return;
  if (theirs) it->second.changes++;
  if (it->second.names.find(name) != it->second.names.end()) return;
  if (total_ >= max_entries_) {
    // Forgetting a directory is always safe; forgetting a name is not.
    EraseLocked(it);
    return;
  }
  it->second.names.emplace(name);
  total_++;
}

void CompleteDirs::Removed(uint64_t dir, std::string_view name, uint64_t stamp) {
  MutexLock l(&mu_);
  auto it = dirs_.find(dir);
  if (it == dirs_.end()) return;
  if (it->second.changes != stamp) {
    // Another mount changed the directory meanwhile, perhaps this name.
    EraseLocked(it);
    return;
  }
  auto n = it->second.names.find(name);
  if (n == it->second.names.end()) return;
  it->second.names.erase(n);
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

size_t CompleteDirs::entries() const {
  MutexLock l(&mu_);
  return total_;
}

void CompleteDirs::EraseLocked(Dirs::iterator it) {
  total_ -= 1 + it->second.names.size();
  dirs_.erase(it);
}

}  // namespace replfs::client
