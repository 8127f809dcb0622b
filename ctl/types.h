// fsctl's view of the cluster: plain structs converted from the wire types in
// meta_api.cc, so that formatting, health rules and the fsck walk can be unit
// tested without Thrift.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace replfs::ctl {

enum class ServerState { kUp, kDown, kDraining };

// A datad's scrubber, as last reported in its heartbeat.
struct ScrubInfo {
  bool running = false;
  double progress = 0;           // 0..1 of the current (or last) pass
  int64_t last_full_pass_ms = 0; // epoch ms the last full pass ended; 0 = never
  int64_t oldest_unverified_ms = 0; // age of the least recently verified block
  int64_t bytes_verified = 0;       // in the current pass
  int64_t corrupt_found_pass =
      0; // corrupt blocks found in the current/last pass
};

struct ServerInfo {
  std::string addr;
  ServerState state = ServerState::kUp;
  int64_t chunks = 0;
  int64_t bytes_used = 0;
  int64_t bytes_free = 0;
  int64_t bytes_total = 0;
  int64_t corrupt_found = 0;     // blocks found corrupt since the datad started
  int64_t last_heartbeat_ms = 0; // age of the last heartbeat; -1: none since
                                 // metad started (not registered yet)
  ScrubInfo scrub;
};

struct ChunkCounts {
  int64_t total = 0;
  int64_t healthy = 0;
  int64_t under_replicated = 0;
  int64_t unavailable = 0;
  int64_t corrupt_replicas = 0;
  // Chunks below goal by number of good replicas (0, 1, 2, ...) -> chunks.
  std::map<int, int64_t> under_by_good;
  int64_t stale_replicas = 0; // known stale, not yet deleted or refreshed
};

struct ClusterStatus {
  std::vector<ServerInfo> servers;
  ChunkCounts chunks;
  int64_t repair_queued = 0;
  int64_t repair_done = 0;
  int64_t uptime_ms = 0;
  int64_t files = 0;
  int64_t directories = 0;
  int replicas = 0;                // default replication goal
  int64_t repair_bytes_per_s = 0;  // recent repair copy rate
  int64_t repair_bytes_queued = 0; // estimate of the bytes left to copy
  bool heal_running = false;       // a Heal() is bypassing the throttle
  // fsctl's clock (epoch ms) when the answer arrived, to age the epoch times
  // above (scrub last_full_pass_ms).
  int64_t fetched_at_ms = 0;
};

enum class ReplicaState { kOk, kCorrupt, kMissing, kStale, kUnreachable };

struct ReplicaInfo {
  std::string addr;
  ReplicaState state = ReplicaState::kOk;
  std::string detail; // why it is not ok; may be empty
};

struct ChunkInfo {
  int64_t index = 0;
  int64_t id = 0;
  int64_t version = 0;
  std::vector<ReplicaInfo> replicas;
};

struct FileInfo {
  std::string path; // path inside the file system ("/dir/file")
  int64_t ino = 0;
  int64_t size = 0;
  int goal = 0; // replication goal; 0 = unknown
  std::vector<ChunkInfo> chunks;
};

enum class FileType { kRegular, kDirectory, kOther };

struct DirEntryInfo {
  std::string name;
  int64_t ino = 0;
  FileType type = FileType::kOther;
};

enum class FaultMode { kFlip, kZero, kDelete };

// What `fsctl corrupt` asks for: one replica of file block `block` (file
// offset / block_size); `server` empty lets metad pick the chunk's primary.
struct CorruptRequest {
  int64_t ino = 0;
  int64_t block = 0;
  std::string server;
  FaultMode mode = FaultMode::kFlip;
  bool force = false; // allow damaging the last good replica
};

// The replica metad damaged.
struct CorruptResult {
  std::string addr;
  int64_t chunk_id = 0;
  int64_t chunk_index = 0; // index of the chunk in the file
  int64_t version = 0;
  int block = 0; // block index inside the chunk
};

const char *ServerStateName(ServerState s); // "up" | "down" | "draining"
// "ok" | "corrupt" | "missing" | "stale" | "unreachable" (fsck prints the
// last as "missing": FsckStateName in fsck.h).
const char *ReplicaStateName(ReplicaState s);
const char *FaultModeName(FaultMode m); // "flip" | "zero" | "delete"

} // namespace replfs::ctl
