// MetaCore: everything metad knows, without the network server: the store,
// namespace, chunk map, server registry and replica checker, wired together.
// Unit tests and the RPC handler use it; Metad adds the server and threads.
#pragma once

#include <memory>

#include "common/config.h"
#include "common/status.h"
#include "daemons/metad/chunk_map.h"
#include "daemons/metad/clock.h"
#include "daemons/metad/fsck.h"
#include "daemons/metad/meta_store.h"
#include "daemons/metad/namespace.h"
#include "daemons/metad/server_registry.h"

namespace replfs::metad {

class MetaCore {
 public:
  // Opens the store in config.metad_data_dir (which must exist), loads the
  // chunk map and known servers, creates the root / purges orphans.
  // `clock` outlives the core. `checker` null: DataService RPCs.
  static Status Open(const Config& config, const Clock* clock, std::unique_ptr<ReplicaChecker> checker,
                     std::unique_ptr<MetaCore>* out);
  MetaCore(const MetaCore&) = delete;
  MetaCore& operator=(const MetaCore&) = delete;

  const Config& config() const { return config_; }
  Namespace& ns() { return *ns_; }
  ChunkMap& chunks() { return *chunks_; }
  ServerRegistry& servers() { return *servers_; }

  // Chunk (ino, index), created on the UP servers if absent.
  Status AllocChunk(Ino ino, int64_t index, ChunkInfo* out);
  ClusterStatus GetStatus() const;
  FsStat StatFs() const;
  // Makes RPCs to datads: call with no lock held.
  Status Fsck(Ino ino, FileReport* out);

 private:
  MetaCore(const Config& config, const Clock* clock);

  // Constant after Open.
  const Config config_;
  const Clock* const clock_;
  const int64_t start_ms_;
  std::unique_ptr<MetaStore> store_;
  std::unique_ptr<ChunkMap> chunks_;
  std::unique_ptr<Namespace> ns_;
  std::unique_ptr<ServerRegistry> servers_;
  std::unique_ptr<ReplicaChecker> checker_;
};

}  // namespace replfs::metad
