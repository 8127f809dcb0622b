#include "fuse/known_files.h"

#include <algorithm>

namespace replfs::client {

uint64_t KnownFiles::Stamp() const {
  MutexLock l(&mu_);
  return epoch_;
}

bool KnownFiles::TakeStampLocked(uint64_t stamp) {
  return epoch_++ == stamp;
}

void KnownFiles::MakeRoomLocked(size_t more) {
  if (names_ + inodes_.size() + more <= max_entries_) return;
  dirs_.clear();
  names_ = 0;
  inodes_.clear();
}

void KnownFiles::Note(uint64_t parent, std::string_view name, const Attr& attr, uint64_t stamp) {
  if (ttl_.count() <= 0 || attr.ino == 0) return;
  MutexLock l(&mu_);
  const bool current = TakeStampLocked(stamp);
  if (!current || attr.type != FileType::kRegular) {
    // A name that is not (or may not be) a regular file, or an answer that
    // may be older than a change made meanwhile.
    EraseNameLocked(parent, name);
    inodes_.erase(attr.ino);
    return;
  }
  MakeRoomLocked(2);
  const Clock::time_point now = now_();
  Names& names = dirs_[parent];
  auto it = names.find(name);
  if (it == names.end()) {
    names.emplace(std::string(name), Name{attr.ino, now});
    names_++;
  } else {
    it->second = Name{attr.ino, now};
  }
  inodes_[attr.ino] = Known{attr, now};
}

void KnownFiles::NoteAttrs(const Attr& attr, uint64_t stamp) {
  if (ttl_.count() <= 0 || attr.ino == 0) return;
  MutexLock l(&mu_);
  const bool current = TakeStampLocked(stamp);
  if (!current || attr.type != FileType::kRegular) {
    inodes_.erase(attr.ino);
    return;
  }
  MakeRoomLocked(1);
  inodes_[attr.ino] = Known{attr, now_()};
}

bool KnownFiles::Find(uint64_t parent, std::string_view name, Attr* out,
                      std::chrono::milliseconds* left) const {
  if (ttl_.count() <= 0) return false;
  MutexLock l(&mu_);
  auto d = dirs_.find(parent);
  if (d == dirs_.end()) return false;
  auto n = d->second.find(name);
  if (n == d->second.end()) return false;
  auto i = inodes_.find(n->second.ino);
  if (i == inodes_.end()) return false;
  // The older of the two answers bounds how long the kernel may keep it.
  const Clock::time_point since = std::min(n->second.at, i->second.at);
  const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now_() - since);
  if (age >= ttl_) return false;
  *out = i->second.attr;
  *left = ttl_ - age;
  return true;
}

void KnownFiles::EraseNameLocked(uint64_t parent, std::string_view name) {
  auto d = dirs_.find(parent);
  if (d == dirs_.end()) return;
  auto n = d->second.find(name);
  if (n == d->second.end()) return;
  inodes_.erase(n->second.ino);
  d->second.erase(n);
  names_--;
  if (d->second.empty()) dirs_.erase(d);
}

void KnownFiles::ForgetName(uint64_t parent, std::string_view name) {
  MutexLock l(&mu_);
  epoch_++;
  EraseNameLocked(parent, name);
}

void KnownFiles::ForgetIno(uint64_t ino) {
  MutexLock l(&mu_);
  epoch_++;
  inodes_.erase(ino);
}

void KnownFiles::ForgetAll() {
  MutexLock l(&mu_);
  epoch_++;
  dirs_.clear();
  names_ = 0;
  inodes_.clear();
}

size_t KnownFiles::entries() const {
  MutexLock l(&mu_);
  return names_ + inodes_.size();
}

}  // namespace replfs::client
