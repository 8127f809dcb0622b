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

// Failed calls come in two kinds, told apart because they mean different
// things to an operator (and exit codes: 2 vs 1):
//  - an error metad answered ("datad X is down", NotFound, a refusal): its
//    code and message as metad sent them;
//  - no answer from metad (connection refused or lost, no answer within the
//    receive timeout: the call may or may not have run there). A MetaApi
//    reports these through NoAnswer(), and only these satisfy IsNoAnswer().
// `transport` is the failure (Unavailable or TimedOut), `what` the call
// ("Fsck") and `timeout_ms` the receive timeout it had.
Status NoAnswer(const std::string &meta_addr, const std::string &what,
                int64_t timeout_ms, const Status &transport);
// True for a Status made by NoAnswer(), also after WithContext().
bool IsNoAnswer(const Status &s);

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
  // Replica report of a regular file (metad checks every replica). Sent at
  // most once: a check that timed out is not silently repeated. TimedOut
  // answered by metad: the file is too large to check within metad's
  // budget (the message says how far it got).
  virtual Status Fsck(int64_t ino, FileInfo *out) = 0;
  // Replication goal of an inode (Attr.goal).
  virtual Status GetGoal(int64_t ino, int *goal) = 0;

  // Operator actions (PROTOCOL.md "Operator tools"). On failure the out
  // parameters are left alone. Every call: see NoAnswer() above for what a
  // failure means.
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

// MetaApi over Thrift, retried under `opts` when metad did not answer: reads
// and calls whose repetition is harmless (StartScrub, Heal, Drain, Undrain,
// SetGoal) on any transport failure; Fsck, Corrupt and RemoveServer only when
// the request never left. An error metad answered is final (never retried).
std::unique_ptr<MetaApi> NewThriftMetaApi(const HostPort &addr,
                                          const net::RpcOptions &opts);

} // namespace replfs::ctl
