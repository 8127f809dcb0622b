// The metad calls fsctl makes, behind an interface so the commands can be
// tested against a fake metad.
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
  virtual const std::string &addr() const = 0;

  // Sets out->fetched_at_ms to the local epoch time of the answer.
  virtual Status GetStatus(ClusterStatus *out) = 0;
  // Inode of an absolute path inside the file system.
  virtual Status ResolvePath(const std::string &path, int64_t *ino) = 0;
  virtual Status GetType(int64_t ino, FileType *type) = 0;
  // Entries strictly after `after`, at most `max`; *eof when no more follow.
  virtual Status ReadDir(int64_t ino, const std::string &after, int max,
                         std::vector<DirEntryInfo> *entries, bool *eof) = 0;
  // Replica report of a regular file (metad checks every replica).
  virtual Status Fsck(int64_t ino, FileInfo *out) = 0;
  // Replication goal of an inode (Attr.goal).
  virtual Status GetGoal(int64_t ino, int *goal) = 0;

  // Operator actions (PROTOCOL.md "Operator tools"). On failure the out
  // parameters are left alone.
  // Damages one replica of one block; Invalid when it would be the last good
  // replica and !req.force.
  virtual Status Corrupt(const CorruptRequest &req, CorruptResult *out) = 0;
  // Immediate full scrub pass on `server` ("" = every up datad).
  virtual Status StartScrub(const std::string &server) = 0;
  // Repair everything degraded now, throttle off.
  virtual Status Heal() = 0;
  // NotFound for an unknown server.
  virtual Status Drain(const std::string &addr) = 0;
  virtual Status Undrain(const std::string &addr) = 0;
  // Invalid (message with the count) when the server holds the last replica
  // of some chunk.
  virtual Status RemoveServer(const std::string &addr) = 0;
  // Sets the goal of `ino` (and everything below with `recursive`); *changed
  // is how many inodes changed.
  virtual Status SetGoal(int64_t ino, int goal, bool recursive,
                         int64_t *changed) = 0;
};

// MetaApi over Thrift, retried under `opts`: reads and calls whose repetition
// is harmless (StartScrub, Heal, Drain, Undrain, SetGoal) on any transient
// failure, Corrupt and RemoveServer only when the request never left.
std::unique_ptr<MetaApi> NewThriftMetaApi(const HostPort &addr,
                                          const net::RpcOptions &opts);

} // namespace replfs::ctl
