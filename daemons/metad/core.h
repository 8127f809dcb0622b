// MetaCore: everything metad knows, without the network server: the store,
// namespace, chunk map, server registry, datad layer and replica manager,
// wired together. Unit tests and the RPC handler use it; Metad adds the
// server, the liveness thread and the repair scheduler (AttachRepair).
#pragma once

#include <memory>

#include "common/config.h"
#include "common/status.h"
#include "daemons/metad/change_feed.h"
#include "daemons/metad/chunk_map.h"
#include "daemons/metad/clock.h"
#include "daemons/metad/datad_api.h"
#include "daemons/metad/meta_store.h"
#include "daemons/metad/namespace.h"
#include "daemons/metad/replica_manager.h"
#include "daemons/metad/server_registry.h"

namespace replfs::metad {

class RepairScheduler;

class MetaCore {
 public:
  // Opens the store in config.metad_data_dir (which must exist), loads the
  // chunk map and known servers, creates the root / purges orphans.
  // `clock` outlives the core. `datad` null: DataService RPCs.
  static Status Open(const Config& config, const Clock* clock, std::unique_ptr<DatadApi> datad,
                     std::unique_ptr<MetaCore>* out);
  MetaCore(const MetaCore&) = delete;
  MetaCore& operator=(const MetaCore&) = delete;

  const Config& config() const { return config_; }
  Namespace& ns() { return *ns_; }
  ChunkMap& chunks() { return *chunks_; }
  ServerRegistry& servers() { return *servers_; }
  ReplicaManager& replicas() { return *replicas_; }
  // Every committed namespace change, for clients' caches (WatchChanges).
  ChangeFeed& changes() { return *changes_; }

  // Wires `repair` (outlives the core, or is detached with nullptr before
  // it dies): woken by server up/down, reports and reconciliation, and its
  // counters appear in GetStatus(). Call before serving.
  void AttachRepair(RepairScheduler* repair);

  // Chunk (ino, index), created on the UP servers if absent. Like
  // GetChunks, waits for a running version change of the chunk.
  Status AllocChunk(Ino ino, int64_t index, ChunkInfo* out);
  // Namespace::SetAttr. With a size, the chunks it drops are fenced first:
  // deleted on their replicas (in parallel, once each, under their change
  // guards), so that a client still writing into one through a location
  // cached before the truncation gets NOT_FOUND and allocates a new chunk,
  // instead of writing into a chunk metad is about to forget (its write
  // would be acknowledged and lost). Replicas on DOWN servers are deleted
  // later (heartbeat replies). Makes RPCs: call with no lock held.
  Status SetAttr(const SetAttrRequest& r, Inode* out);
  Status GetChunks(Ino ino, int64_t first, int64_t count, std::vector<ChunkInfo>* out);
  // Attr.allocated_bytes: bytes of the file that lie in allocated chunks.
  int64_t AllocatedBytes(const Inode& in) const;

  // Membership (PROTOCOL.md): register + reconcile the inventory; a block
  // report (NotFound if `addr` has not registered since metad started) is
  // reconciled and answered with queued deletions.
  Status RegisterServer(const ServerUsage& usage, const std::vector<ReplicaHeld>& inventory);
  Status BlockReport(const std::string& addr, const std::vector<ReplicaHeld>& inventory,
                     std::vector<ReplicaHeld>* deletes);
  // ReplicaManager::ReportBad.
  Status ReportBadReplicas(Ino ino, int64_t index, ChunkId id, uint64_t version,
                           const std::vector<std::string>& bad, Status::Code why, const std::string& reporter,
                           ChunkInfo* out);

  // Heartbeat (PROTOCOL.md): usage and scrub progress recorded, replicas in
  // usage.corrupt_chunks dropped as CORRUPTION (version change, repair
  // woken); *deletes: replicas the datad should drop.
  Status Heartbeat(const ServerUsage& usage, std::vector<ReplicaHeld>* deletes);

  // Health counts use GOOD members (on UP servers that are not draining);
  // corrupt/stale replicas are the remembered dropped ones (plus queued
  // deletions of stale copies). O(chunks), no RPC, no store scan.
  ClusterStatus GetStatus() const;
  FsStat StatFs() const;
  // Every metadata change committed so far made durable (MetaStore::Sync).
  Status SyncMetadata() { return store_->Sync(); }
  // Makes RPCs to datads: call with no lock held. Members found CORRUPT are
  // dropped and repaired like a client's report; remembered dropped
  // replicas follow the members.
  Status Fsck(Ino ino, FileReport* out);

  // Operator tools (PROTOCOL.md "Operator tools"); all may make RPCs.
  // Fault injection into one replica of file block `block`.
  Status Corrupt(Ino ino, int64_t block, const std::string& server, FaultMode mode, bool force,
                 CorruptResult* out);
  // "" = every UP datad; NotFound for an unknown one, Unavailable if down.
  Status StartScrub(const std::string& server);
  Status Heal();  // Unavailable without a repair scheduler
  Status Drain(const std::string& addr);
  Status Undrain(const std::string& addr);
  // Invalid (with the count) if some chunk would lose its last live
  // replica, or if the server is UP and not draining.
  Status RemoveServer(const std::string& addr);
  // Goal 1..16 of `ino` (and with `recursive` everything below it);
  // *changed: inodes changed. Wakes repair.
  Status SetGoal(Ino ino, int32_t goal, bool recursive, int64_t* changed);

 private:
  MetaCore(const Config& config, const Clock* clock);
  // Fsck of one chunk: members, then remembered dropped replicas.
  void FsckChunk(const ChunkInfo& c, ChunkReport* out);

  // Constant after Open.
  const Config config_;
  const Clock* const clock_;
  const int64_t start_ms_;
  // Before store_: the store's commit observer feeds it until the end.
  const std::unique_ptr<ChangeFeed> changes_;
  std::unique_ptr<MetaStore> store_;
  std::unique_ptr<ChunkMap> chunks_;
  std::unique_ptr<Namespace> ns_;
  std::unique_ptr<ServerRegistry> servers_;
  std::unique_ptr<DatadApi> datad_;
  std::unique_ptr<ReplicaManager> replicas_;
  RepairScheduler* repair_ = nullptr;  // set before serving
};

}  // namespace replfs::metad
