// fsctl's view of the cluster: plain structs converted from the wire types in
// meta_api.cc, so that formatting, health rules and the fsck walk can be unit
// tested without Thrift.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace replfs::ctl {

enum class ServerState { kUp, kDown, kDraining };

struct ServerInfo {
  std::string addr;
  ServerState state = ServerState::kUp;
  int64_t chunks = 0;
  int64_t bytes_used = 0;
  int64_t bytes_free = 0;
  int64_t bytes_total = 0;
  int64_t corrupt_found = 0;      // blocks found corrupt since the datad started
  int64_t last_heartbeat_ms = 0;  // age of the last heartbeat
};

struct ChunkCounts {
  int64_t total = 0;
  int64_t healthy = 0;
  int64_t under_replicated = 0;
  int64_t unavailable = 0;
  int64_t corrupt_replicas = 0;
};

struct ClusterStatus {
  std::vector<ServerInfo> servers;
  ChunkCounts chunks;
  int64_t repair_queued = 0;
  int64_t repair_done = 0;
  int64_t uptime_ms = 0;
  int64_t files = 0;
  int64_t directories = 0;
  int replicas = 0;  // default replication goal
};

enum class ReplicaState { kOk, kCorrupt, kMissing, kStale, kUnreachable };

struct ReplicaInfo {
  std::string addr;
  ReplicaState state = ReplicaState::kOk;
  std::string detail;  // why it is not ok; may be empty
};

struct ChunkInfo {
  int64_t index = 0;
  int64_t id = 0;
  int64_t version = 0;
  std::vector<ReplicaInfo> replicas;
};

struct FileInfo {
  std::string path;  // path inside the file system ("/dir/file")
  int64_t ino = 0;
  int64_t size = 0;
  int goal = 0;  // replication goal; 0 = unknown
  std::vector<ChunkInfo> chunks;
};

enum class FileType { kRegular, kDirectory, kOther };

struct DirEntryInfo {
  std::string name;
  int64_t ino = 0;
  FileType type = FileType::kOther;
};

const char* ServerStateName(ServerState s);    // "up" | "down" | "draining"
const char* ReplicaStateName(ReplicaState s);  // "ok" | "corrupt" | ...

}  // namespace replfs::ctl
