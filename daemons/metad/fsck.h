// Fsck: the state of every replica of one file, asked of the datads.
#pragma once

#include <string>

#include "common/status.h"
#include "daemons/metad/chunk_map.h"
#include "daemons/metad/namespace.h"
#include "daemons/metad/server_registry.h"
#include "daemons/metad/types.h"

namespace replfs::metad {

// Asks a datad about its replica of a chunk. Implementations must be
// thread-safe and bounded in time.
class ReplicaChecker {
 public:
  virtual ~ReplicaChecker() = default;
  // state is kOk/kCorrupt/kMissing/kStale, or kUnreachable (detail says why).
  virtual ReplicaReport Check(const std::string& addr, ChunkId id, uint64_t version) = 0;
};

// Builds the report of `ino`: for each chunk and replica, UNREACHABLE if the
// server is down, else the checker's answer. Called without any lock held;
// the checks are RPCs. `out->path` is left empty.
Status RunFsck(const Namespace& ns, const ChunkMap& chunks, const ServerRegistry& servers,
               ReplicaChecker* checker, Ino ino, FileReport* out);

}  // namespace replfs::metad
