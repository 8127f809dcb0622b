// The metad calls fsctl makes, behind an interface so the fsck walk can be
// tested against a fake namespace.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/host_port.h"
#include "common/status.h"
#include "ctl/types.h"
#include "thrift/rpc_options.h"

namespace replfs::ctl {

class MetaApi {
 public:
  virtual ~MetaApi() = default;

  // The address calls go to, for messages ("127.0.0.1:9190").
  virtual const std::string& addr() const = 0;

  virtual Status GetStatus(ClusterStatus* out) = 0;
  // Inode of an absolute path inside the file system.
  virtual Status ResolvePath(const std::string& path, int64_t* ino) = 0;
  virtual Status GetType(int64_t ino, FileType* type) = 0;
  // Entries strictly after `after`, at most `max`; *eof when no more follow.
  virtual Status ReadDir(int64_t ino, const std::string& after, int max,
                         std::vector<DirEntryInfo>* entries, bool* eof) = 0;
  // Replica report of a regular file (metad checks every replica).
  virtual Status Fsck(int64_t ino, FileInfo* out) = 0;
};

// MetaApi over Thrift. Every call is read-only, hence retried under `opts`.
std::unique_ptr<MetaApi> NewThriftMetaApi(const HostPort& addr, const net::RpcOptions& opts);

}  // namespace replfs::ctl
