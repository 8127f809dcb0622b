#include "daemons/datad/chunk_locks.h"

namespace replfs::datad {

ChunkLockTable::Guard::~Guard() {
  if (table_ != nullptr) table_->Unlock(chunk_);
}

ChunkLockTable::Guard ChunkLockTable::Lock(int64_t chunk) {
  Entry* e;
  {
    MutexLock l(&mu_);
    std::unique_ptr<Entry>& slot = entries_[chunk];
    if (!slot) slot = std::make_unique<Entry>();
    ++slot->users;  // keeps the entry alive while we wait outside mu_
    e = slot.get();
  }
  e->mu.lock();
  return Guard(this, chunk);
}

void ChunkLockTable::Unlock(int64_t chunk) {
  MutexLock l(&mu_);
  auto it = entries_.find(chunk);
  // The entry exists: our own `users` count kept it.
  it->second->mu.unlock();
  if (--it->second->users == 0) entries_.erase(it);
}

size_t ChunkLockTable::entries() const {
  MutexLock l(&mu_);
  return entries_.size();
}

}  // namespace replfs::datad
