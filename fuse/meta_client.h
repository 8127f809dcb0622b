// MetaClient: typed access to metad's MetaService. Converts between the IDL
// and the domain types of types.h (the one place that does). Idempotent calls
// are retried per the RpcOptions policy; namespace mutations that are not
// idempotent are repeated only when the request certainly never left.
// Thread-safe (connections are pooled).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/host_port.h"
#include "common/status.h"
#include "fuse/types.h"
#include "thrift/rpc_options.h"

namespace replfs::client {

class MetaClient {
 public:
  MetaClient(const HostPort& addr, const net::RpcOptions& opts);
  ~MetaClient();
  MetaClient(const MetaClient&) = delete;
  MetaClient& operator=(const MetaClient&) = delete;

  const std::string& peer() const;

  // Out-params are written only on success.
  Status Ping();
  Status GetClusterInfo(ClusterInfo* out);
  Status Lookup(uint64_t parent, const std::string& name, Attr* out);
  Status GetAttr(uint64_t ino, Attr* out);
  Status SetAttr(const SetAttrRequest& req, Attr* out);
  Status Mknod(uint64_t parent, const std::string& name, FileType type, uint32_t mode,
               const Caller& who, uint64_t rdev, Attr* out);
  Status Mkdir(uint64_t parent, const std::string& name, uint32_t mode, const Caller& who,
               Attr* out);
  Status Symlink(uint64_t parent, const std::string& name, const std::string& target,
                 const Caller& who, Attr* out);
  Status ReadLink(uint64_t ino, std::string* out);
  Status Unlink(uint64_t parent, const std::string& name, Unlinked* out);
  Status Rmdir(uint64_t parent, const std::string& name);
  Status Rename(uint64_t parent, const std::string& name, uint64_t new_parent,
                const std::string& new_name, RenameFlags flags, Unlinked* out);
  Status Link(uint64_t ino, uint64_t new_parent, const std::string& new_name, Attr* out);
  Status ReadDir(uint64_t ino, const std::string& after, int max, bool plus, DirPage* out);
  Status SetXattr(uint64_t ino, const std::string& name, const std::string& value, int flags);
  Status GetXattr(uint64_t ino, const std::string& name, std::string* out);
  Status ListXattr(uint64_t ino, std::vector<std::string>* out);
  Status RemoveXattr(uint64_t ino, const std::string& name);
  Status Open(uint64_t ino, int64_t session, Attr* out);
  Status Release(uint64_t ino, int64_t session);
  Status GetChunks(uint64_t ino, int64_t first_index, int64_t count,
                   std::vector<ChunkLocation>* out);
  Status AllocChunk(uint64_t ino, int64_t index, ChunkLocation* out);
  Status CommitWrite(uint64_t ino, int64_t size, int64_t mtime_ns, Attr* out);
  Status StatFs(FsStat* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace replfs::client
