// Domain types of metad. No generated Thrift header is included here: the
// handler (meta_service.cc) is the only place converting to and from IDL
// structs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace replfs::metad {

using Ino = uint64_t;
using ChunkId = uint64_t;

inline constexpr Ino kRootIno = 1;
inline constexpr size_t kMaxNameBytes = 255;
inline constexpr size_t kMaxXattrValueBytes = 64 << 10;
inline constexpr size_t kMaxSymlinkBytes = 4096;

// Same numbering as rpc::FileType.
enum class FileType : uint8_t {
  kRegular = 1,
  kDirectory = 2,
  kSymlink = 3,
  kFifo = 4,
  kSocket = 5,
  kCharDev = 6,
  kBlockDev = 7,
};
bool IsValidFileType(int t);

// One inode. `mode` holds permission bits only (07777).
struct Inode {
  Ino ino = 0;
  FileType type = FileType::kRegular;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t size = 0;
  uint32_t nlink = 0;
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  int64_t rdev = 0;
  int32_t goal = 0;            // replication goal (files; directories: inherited by new children)
  Ino parent = 0;              // directories only: the directory holding it
  std::string symlink_target;  // symlinks only
  // How many xattrs it has; kXattrsUnknown for records written before the
  // count was kept (clients then always ask).
  uint32_t xattrs = 0;
};
inline constexpr uint32_t kXattrsUnknown = UINT32_MAX;

struct DirEntry {
  std::string name;
  Ino ino = 0;
  FileType type = FileType::kRegular;
  Inode attr;  // filled only when ReadDir was asked for attributes
};

// What a name removal did to the inode behind it (ino 0: nothing).
struct Unlinked {
  Ino ino = 0;
  uint32_t nlink = 0;
};

struct RenameFlags {
  bool noreplace = false;
  bool exchange = false;
};

// Fields that are set are applied.
struct SetAttrRequest {
  Ino ino = 0;
  bool has_mode = false, has_uid = false, has_gid = false, has_size = false;
  bool has_atime = false, has_mtime = false;
  uint32_t mode = 0, uid = 0, gid = 0;
  int64_t size = 0, atime_ns = 0, mtime_ns = 0;
  bool atime_now = false, mtime_now = false;
};

// A chunk's identity and replica set.
struct ChunkInfo {
  Ino ino = 0;
  int64_t index = 0;
  ChunkId id = 0;
  uint64_t version = 0;
  int32_t goal = 0;                   // the file's replication goal at creation
  std::vector<std::string> replicas;  // "host:port", placement order
};

inline constexpr int32_t kMaxGoal = 16;

struct ReplicaHeld {
  ChunkId id = 0;
  uint64_t version = 0;
};

// A datad's scrubber progress (rpc::ScrubInfo).
struct ScrubInfo {
  bool running = false;
  double progress = 0;
  int64_t last_full_pass_ms = 0;
  int64_t oldest_unverified_ms = 0;
  int64_t bytes_verified = 0;
  int64_t corrupt_found_pass = 0;
};

// Usage a datad reports.
struct ServerUsage {
  std::string addr;
  int64_t bytes_total = 0;
  int64_t bytes_free = 0;
  int64_t bytes_used = 0;
  int64_t chunks = 0;
  int64_t corrupt_found = 0;
  int32_t block_size = 0;
  std::vector<ReplicaHeld> corrupt_chunks;  // found corrupt since the last heartbeat
  ScrubInfo scrub;
};

// Same numbering as rpc::ServerState.
enum class ServerState { kUp = 1, kDown = 2, kDraining = 3 };

struct ServerStatus {
  std::string addr;
  ServerState state = ServerState::kDown;
  int64_t chunks = 0;
  int64_t bytes_used = 0, bytes_free = 0, bytes_total = 0;
  int64_t corrupt_found = 0;
  int64_t last_heartbeat_ms = -1;  // age; -1 when never heard from since start
  ScrubInfo scrub;
};

struct ChunkCounts {
  int64_t total = 0, healthy = 0, under_replicated = 0, unavailable = 0;
  int64_t corrupt_replicas = 0;
  std::map<int32_t, int64_t> under_by_good;  // chunks below goal by good replicas
  int64_t stale_replicas = 0;
};

struct ClusterStatus {
  std::vector<ServerStatus> servers;
  ChunkCounts chunks;
  int64_t repair_queued = 0, repair_done = 0, uptime_ms = 0;
  int64_t files = 0, directories = 0;
  int32_t replicas = 0;
  int64_t repair_bytes_per_s = 0, repair_bytes_queued = 0;
  bool heal_running = false;
};

// Same numbering as rpc::FaultMode.
enum class FaultMode { kFlip = 1, kZero = 2, kDelete = 3 };

struct CorruptResult {
  std::string addr;
  ChunkId chunk_id = 0;
  int64_t chunk_index = 0;
  uint64_t version = 0;
  int32_t block = 0;
};

struct FsStat {
  int64_t bytes_total = 0, bytes_free = 0, bytes_used = 0, inodes = 0;
  int32_t replicas = 0;
};

// Same numbering as rpc::ReplicaState.
enum class ReplicaState { kOk = 1, kCorrupt = 2, kMissing = 3, kStale = 4, kUnreachable = 5 };

struct ReplicaReport {
  std::string addr;
  ReplicaState state = ReplicaState::kUnreachable;
  std::string detail;
};

struct ChunkReport {
  int64_t index = 0;
  ChunkId id = 0;
  uint64_t version = 0;
  std::vector<ReplicaReport> replicas;
};

struct FileReport {
  Ino ino = 0;
  std::string path;
  int64_t size = 0;
  int32_t goal = 0;
  std::vector<ChunkReport> chunks;
};

}  // namespace replfs::metad
