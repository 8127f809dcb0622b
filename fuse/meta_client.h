// MetaClient: typed access to metad's MetaService. Converts between the IDL
// and the domain types of types.h (the one place that does).
//
// Retries (net::RetryCall, the one policy): every call is retried on
// Unavailable/TimedOut for up to opts.budget_ms (rpc.retry_budget_ms) with
// backoff capped at opts.max_backoff_ms, however many attempts that takes
// (opts.attempts is ignored), so a metad that is killed and restarted within
// the budget is invisible to callers. Idempotent calls are repeated also after
// a timeout; namespace mutations that are not idempotent (Mknod, Mkdir,
// Unlink, Rename, ...) only when the request certainly never left (connect
// refused), since metad may have executed them. After the budget the call
// fails with the last Unavailable/TimedOut (EIO/ETIMEDOUT at the FUSE edge).
// A `hard` mount (MetaRpcOptions) makes the budget practically unlimited.
// Thread-safe (connections are pooled).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/host_port.h"
#include "common/status.h"
#include "fuse/rpc_counters.h"
#include "fuse/types.h"
#include "thrift/rpc_options.h"

namespace replfs::net {
class CallCanceller;
}  // namespace replfs::net

namespace replfs::client {

// A budget of ten years: what a `hard` mount uses instead of "forever" (it
// keeps steady_clock arithmetic far from overflow). kill -9 still ends it.
inline constexpr int64_t kHardBudgetMs = 10ll * 365 * 24 * 3600 * 1000;

// The options for metad calls: `base`, with the unlimited budget when `hard`.
net::RpcOptions MetaRpcOptions(net::RpcOptions base, bool hard);

class MetaClient {
 public:
  MetaClient(const HostPort& addr, const net::RpcOptions& opts);
  ~MetaClient();
  MetaClient(const MetaClient&) = delete;
  MetaClient& operator=(const MetaClient&) = delete;

  const std::string& peer() const;
  // Calls sent to metad (attempts, by method), for statistics; shared, so
  // a reporter may outlive this client.
  std::shared_ptr<const RpcCounters> counters() const;

  // Out-params are written only on success. `dir`, where given, receives
  // the parent directory's attributes as the change left it (ino 0: metad
  // did not send them).
  Status Ping();
  Status GetClusterInfo(ClusterInfo* out);
  Status Lookup(uint64_t parent, const std::string& name, Attr* out);
  Status GetAttr(uint64_t ino, Attr* out);
  Status SetAttr(const SetAttrRequest& req, Attr* out);
  Status Mknod(uint64_t parent, const std::string& name, FileType type, uint32_t mode,
               const Caller& who, uint64_t rdev, Attr* out, Attr* dir = nullptr);
  Status Mkdir(uint64_t parent, const std::string& name, uint32_t mode, const Caller& who,
               Attr* out, Attr* dir = nullptr);
  Status Symlink(uint64_t parent, const std::string& name, const std::string& target,
                 const Caller& who, Attr* out, Attr* dir = nullptr);
  Status ReadLink(uint64_t ino, std::string* out);
  Status Unlink(uint64_t parent, const std::string& name, Unlinked* out, Attr* dir = nullptr);
  // *out: the directory removed (ino 0 from a metad that does not say).
  Status Rmdir(uint64_t parent, const std::string& name, Unlinked* out = nullptr,
               Attr* dir = nullptr);
  Status Rename(uint64_t parent, const std::string& name, uint64_t new_parent,
                const std::string& new_name, RenameFlags flags, Unlinked* out);
  Status Link(uint64_t ino, uint64_t new_parent, const std::string& new_name, Attr* out,
              Attr* dir = nullptr);
  Status ReadDir(uint64_t ino, const std::string& after, int max, bool plus, DirPage* out);
  Status SetXattr(uint64_t ino, const std::string& name, const std::string& value, int flags);
  Status GetXattr(uint64_t ino, const std::string& name, std::string* out);
  Status ListXattr(uint64_t ino, std::vector<std::string>* out);
  Status RemoveXattr(uint64_t ino, const std::string& name);
  // With `chunks` > 0, *locations (if not null) receives the locations of
  // the file's existing chunks among its first `chunks` (metad sends at
  // most 64).
  Status Open(uint64_t ino, int64_t session, Attr* out, int32_t chunks = 0,
              std::vector<ChunkLocation>* locations = nullptr);
  // A regular file made and opened under `session` in one call (Mknod +
  // Open; Exists if the name is taken).
  Status Create(uint64_t parent, const std::string& name, uint32_t mode, const Caller& who,
                int64_t session, Attr* out, Attr* dir = nullptr);
  Status Release(uint64_t ino, int64_t session);
  // Release of each of `inos` (at most 4,096) in one call. NotSupported
  // from a metad that does not know the call (nothing was released; with
  // TLS an older metad's policy refuses it first: Permission).
  Status ReleaseAll(const std::vector<uint64_t>& inos, int64_t session);
  Status GetChunks(uint64_t ino, int64_t first_index, int64_t count,
                   std::vector<ChunkLocation>* out);
  Status AllocChunk(uint64_t ino, int64_t index, ChunkLocation* out);
  // Tells metad that `bad` replicas of `loc` (at loc.version) failed with
  // `why`; *out is the chunk's location afterwards (without them, at a new
  // version, or unchanged when loc.version is no longer current).
  Status ReportBadReplicas(uint64_t ino, const ChunkLocation& loc,
                           const std::vector<std::string>& bad, Status::Code why,
                           ChunkLocation* out);
  Status CommitWrite(uint64_t ino, int64_t size, int64_t mtime_ns, Attr* out);
  Status StatFs(FsStat* out);
  // Makes metad's metadata changes so far durable.
  Status Sync();

  // Every connection to metad opened from now on names `session`
  // (Identify), so that metad's change feed leaves out what this mount
  // changed itself.
  void SetSession(int64_t session);
  // One long poll of the change feed (see WatchChanges in the IDL), tried
  // once: the caller follows the feed in a loop of its own. `cancel` ends
  // it from another thread.
  Status WatchChanges(uint64_t generation, int64_t after, int64_t session, int32_t wait_ms,
                      net::CallCanceller* cancel, ChangeBatch* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace replfs::client
