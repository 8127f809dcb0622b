// Domain types of the replfs client: what the client logic and the FUSE
// adapter work with. The generated Thrift types never leave meta_client.cc and
// chunk_io.cc; these mirror replfs.thrift field for field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace replfs::client {

enum class FileType { kRegular = 1, kDirectory, kSymlink, kFifo, kSocket, kCharDev, kBlockDev };

// Inode attributes as metad keeps them. `mode` holds permission bits only.
struct Attr {
  uint64_t ino = 0;
  FileType type = FileType::kRegular;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t size = 0;
  uint32_t nlink = 0;
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t rdev = 0;
  int goal = 0;
  int64_t allocated_bytes = 0;  // bytes the file's chunks cover (st_blocks)
  int32_t xattrs = -1;          // how many xattrs it has; -1 unknown
};

struct DirEntry {
  std::string name;
  uint64_t ino = 0;
  FileType type = FileType::kRegular;
  std::optional<Attr> attr;  // set when the page was asked with plus
};

struct DirPage {
  std::vector<DirEntry> entries;
  bool eof = false;
};

// Unset fields are left alone by metad.
struct SetAttrRequest {
  uint64_t ino = 0;
  std::optional<uint32_t> mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<int64_t> size;
  std::optional<int64_t> atime_ns;
  std::optional<int64_t> mtime_ns;
  bool atime_now = false;
  bool mtime_now = false;
};

// The inode that lost a name in unlink/rename (ino 0: none) and its links left.
struct Unlinked {
  uint64_t ino = 0;
  uint32_t nlink = 0;
};

struct RenameFlags {
  bool noreplace = false;
  bool exchange = false;
};

// Where a chunk's replicas live; chunk_id 0 = hole.
struct ChunkLocation {
  int64_t index = 0;
  int64_t chunk_id = 0;
  int64_t version = 0;
  std::vector<std::string> replicas;  // "host:port", placement order
  int32_t write_quorum = 0;           // acks a write needs; 0: the cluster's minimum
};

struct FsStat {
  int64_t bytes_total = 0;
  int64_t bytes_free = 0;
  int64_t bytes_used = 0;
  int64_t inodes = 0;
  int replicas = 0;
};

struct ClusterInfo {
  int64_t chunk_size = 0;
  int64_t block_size = 0;
  int replicas = 0;
  int min_write_replicas = 0;
  int64_t max_rpc_bytes = 0;
};

// One change another client made, from metad's change feed.
struct NsChange {
  enum class Kind { kInode, kEntry };
  Kind kind = Kind::kInode;
  uint64_t ino = 0;  // kEntry: the directory
  std::string name;  // kEntry only
};

struct ChangeBatch {
  uint64_t generation = 0;
  int64_t last = 0;
  bool lost = false;
  std::vector<NsChange> changes;
};

// Identity of the process a request comes from (for new inodes' owner).
struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
};

}  // namespace replfs::client
