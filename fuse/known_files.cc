#include "fuse/known_files.h"

namespace replfs::client {

uint64_t KnownFiles::Stamp() const {
  MutexLock l(&mu_);
  return epoch_;
}

bool KnownFiles::TakeStampLocked(uint64_t stamp) {
  return epoch_++ == stamp;
}

void KnownFiles::MakeRoomLocked(size_t more) {
  if (names_.size() + inodes_.size() + more <= max_entries_) return;
  names_.clear();
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
  names_[Key{parent, std::string(name)}] = attr.ino;
  inodes_[attr.ino] = Known{attr, now_()};
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
  auto n = names_.find(Key{parent, std::string(name)});
  if (n == names_.end()) return false;
  auto i = inodes_.find(n->second);
  if (i == inodes_.end()) return false;
  const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now_() - i->second.at);
  if (age >= ttl_) return false;
  *out = i->second.attr;
  *left = ttl_ - age;
  return true;
}

void KnownFiles::EraseNameLocked(uint64_t parent, std::string_view name) {
  auto n = names_.find(Key{parent, std::string(name)});
  if (n == names_.end()) return;
  inodes_.erase(n->second);
  names_.erase(n);
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
  names_.clear();
  inodes_.clear();
}

size_t KnownFiles::entries() const {
  MutexLock l(&mu_);
  return names_.size() + inodes_.size();
}

}  // namespace replfs::client
