// ServerRegistry: the datads metad knows, their usage, scrub progress and
// up/down/draining state. Known addresses and the DRAINING flag are persisted
// (`s` + addr) so they show as down after a restart until they register
// again. Thread-safe; mu_ is never held while
// calling the store or the chunk map.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"
#include "daemons/metad/chunk_map.h"
#include "daemons/metad/clock.h"
#include "daemons/metad/meta_store.h"
#include "daemons/metad/placement.h"
#include "daemons/metad/types.h"

namespace replfs::metad {

class ServerRegistry {
 public:
  struct Options {
    int32_t block_size = 64 << 10;  // the cluster's; a datad must agree
    int64_t dead_after_ms = 10000;  // silence after which a datad is down
    size_t max_deletes_per_reply = 10000;
  };
  // `store`, `chunks` and `clock` outlive this object.
  ServerRegistry(MetaStore* store, ChunkMap* chunks, const Clock* clock, Options opts);

  // Loads the known addresses (all down). Call once before serving.
  Status Load();

  // A datad (re)starts: block size check, marks it up and persists its
  // address. Its inventory is reconciled by ReplicaManager (MetaCore does
  // both).
  Status Register(const ServerUsage& usage);
  // Called (with no lock held) whenever a datad goes UP or DOWN: wakes the
  // repair scheduler. Set once before serving.
  void SetOnChange(std::function<void()> fn) { on_change_ = std::move(fn); }
  // Called (after on_change) when a datad registers or comes back up.
  void SetOnUp(std::function<void()> fn) { on_up_ = std::move(fn); }
  // True if `addr` registered since metad started (BlockReport needs it).
  bool IsRegistered(const std::string& addr) const;
  // Records usage and liveness; NotFound for a datad not registered since
  // metad started. *deletes: replicas it should drop.
  Status Heartbeat(const ServerUsage& usage, std::vector<ReplicaHeld>* deletes);

  // Marks down every up datad silent for dead_after_ms. Returns how many.
  int CheckLiveness();

  // UP datads (draining ones included: they still serve reads and copies).
  std::vector<PlacementCandidate> UpServers() const;
  // UP datads that may receive new replicas (not draining).
  std::vector<PlacementCandidate> PlacementServers() const;
  std::set<std::string> UpAddrs() const;
  // UP and not draining: replicas there count toward a chunk's goal.
  std::set<std::string> GoodAddrs() const;
  std::set<std::string> DrainingAddrs() const;  // up or down
  bool IsUp(const std::string& addr) const;
  bool IsDraining(const std::string& addr) const;
  bool IsKnown(const std::string& addr) const;

  // Drain/Undrain: persists the DRAINING flag of a known server (NotFound
  // otherwise) and wakes repair.
  Status SetDraining(const std::string& addr, bool draining);
  // Forgets `addr` (its record and state). NotFound if unknown.
  Status Forget(const std::string& addr);
  // Every known server; `chunks` from `per_server` (replicas metad placed).
  std::vector<ServerStatus> List(const std::map<std::string, int64_t>& per_server) const;
  FsStat Totals() const;  // bytes of UP servers

 private:
  struct Server {
    ServerUsage usage;
    bool up = false;
    bool registered = false;      // since metad started
    bool draining = false;        // persisted in the server record
    int64_t last_heartbeat_ms = 0;  // clock time
  };

  // Constant after construction.
  MetaStore* const store_;
  ChunkMap* const chunks_;
  const Clock* const clock_;
  const Options opts_;
  std::function<void()> on_change_;  // set before serving
  std::function<void()> on_up_;      // set before serving

  mutable Mutex mu_;  // protects servers_
  std::map<std::string, Server> servers_ GUARDED_BY(mu_);
};

}  // namespace replfs::metad
