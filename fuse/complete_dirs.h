// CompleteDirs: directories of which this mount knows every name, so that
// the kernel's lookup of a name that is not there (the one it sends before
// each create, mkdir, symlink or link of a new name) is answered without a
// metad call.
//
// A directory is tracked from its mkdir through this mount, when it is
// empty (Track). From then on every name that may exist in it is in its
// set: this mount's own changes are applied as metad confirms them
// (Added/Removed), and another mount's change of a name arrives on metad's
// change feed and puts that name in the set (MayExist), which means "ask
// metad". A name outside the set of a tracked directory does not exist.
// Only a name in the set, or in an untracked directory, is worth a lookup.
//
// A removal is applied only if no change of another mount in that
// directory arrived since the call was sent (Stamp before it, Removed with
// the stamp after): such a change may have made the name again after
// metad removed it, or been of a name the removal did not expect. Else the
// directory is untracked.
//
// What must make the knowledge go: a change of unknown outcome (a failed
// call: Untrack), changes missed on the feed (UntrackAll), the kernel
// forgetting the directory (Untrack). The caller answers from here only
// while the change feed is followed and nothing arrived on it since the
// request began (ChangeWatcher::Coherent), exactly when it may let the
// kernel cache a negative entry for long, and starts tracking a new
// directory only under the same condition: a change of the new directory
// by another mount cannot be committed before its mkdir, so it either
// arrives after Track or makes the request incoherent.
//
// Memory is bounded: past kMaxEntries directories and names in all sets,
// a directory that would grow stops being tracked and a new one is not
// tracked. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "common/thread_annotations.h"

namespace replfs::client {

class CompleteDirs {
 public:
  static constexpr size_t kMaxEntries = 262144;

  explicit CompleteDirs(size_t max_entries = kMaxEntries) : max_entries_(max_entries) {}

  // `dir` was just made by this mount: empty, every later name known.
  void Track(uint64_t dir) LOCKS_EXCLUDED(mu_);
  // Taken before a call that removes a name from `dir`, for Removed.
  uint64_t Stamp(uint64_t dir) const LOCKS_EXCLUDED(mu_);
  // True only if `dir` is tracked and `name` is not in it.
  bool KnownAbsent(uint64_t dir, std::string_view name) const LOCKS_EXCLUDED(mu_);
  // This mount made `name` in `dir` (create, mkdir, link, rename target).
  void Added(uint64_t dir, std::string_view name) LOCKS_EXCLUDED(mu_) { Insert(dir, name, false); }
  // Another mount changed `name` in `dir`: it may exist now.
  void MayExist(uint64_t dir, std::string_view name) LOCKS_EXCLUDED(mu_) { Insert(dir, name, true); }
  // This mount removed `name` from `dir` (unlink, rmdir) with a call sent
  // after Stamp(dir) returned `stamp`.
  void Removed(uint64_t dir, std::string_view name, uint64_t stamp) LOCKS_EXCLUDED(mu_);
  void Untrack(uint64_t dir) LOCKS_EXCLUDED(mu_);
  void UntrackAll() LOCKS_EXCLUDED(mu_);

  bool tracked(uint64_t dir) const LOCKS_EXCLUDED(mu_);
  // Directories tracked plus the names in their sets.
  size_t entries() const LOCKS_EXCLUDED(mu_);

 private:
  // Lookups by string_view without building a std::string.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Dir {
    std::unordered_set<std::string, Hash, std::equal_to<>> names;
    uint64_t changes = 0;  // MayExist calls: what Stamp returns
  };
  using Dirs = std::unordered_map<uint64_t, Dir>;

  void Insert(uint64_t dir, std::string_view name, bool theirs) LOCKS_EXCLUDED(mu_);
  void EraseLocked(Dirs::iterator it) EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_entries_;
  mutable Mutex mu_;
  Dirs dirs_ GUARDED_BY(mu_);
  size_t total_ GUARDED_BY(mu_) = 0;  // dirs_.size() + every set's size
};

}  // namespace replfs::client
