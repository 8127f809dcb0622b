// MetaApi over Thrift: the only file of fsctl that sees generated types.
#include "ctl/meta_api.h"

#include <chrono>
#include <functional>
#include <optional>

#include "MetaService.h"
#include "ctl/format.h"
#include "thrift/client_pool.h"
#include "thrift/rpc_status.h"

namespace replfs::ctl {
namespace {

// The words NoAnswer() puts in its messages; IsNoAnswer() looks for them
// together with the code, which metad's own answers never combine.
constexpr char kCannotReach[] = "cannot reach metad at ";
constexpr char kNoAnswerFrom[] = "no answer from metad at ";

using net::Idempotency;
using Client = rpc::MetaServiceClient;

ServerState FromWire(rpc::ServerState::type s) {
  switch (s) {
  case rpc::ServerState::UP:
    return ServerState::kUp;
  case rpc::ServerState::DRAINING:
    return ServerState::kDraining;
  case rpc::ServerState::DOWN:
    break;
  }
  return ServerState::kDown;
}

ReplicaState FromWire(rpc::ReplicaState::type s) {
  switch (s) {
  case rpc::ReplicaState::OK:
    return ReplicaState::kOk;
  case rpc::ReplicaState::CORRUPT:
    return ReplicaState::kCorrupt;
  case rpc::ReplicaState::MISSING:
    return ReplicaState::kMissing;
  case rpc::ReplicaState::STALE:
    return ReplicaState::kStale;
  case rpc::ReplicaState::UNREACHABLE:
    break;
  }
  return ReplicaState::kUnreachable;
}

FileType FromWire(rpc::FileType::type t) {
  switch (t) {
  case rpc::FileType::REGULAR:
    return FileType::kRegular;
  case rpc::FileType::DIRECTORY:
    return FileType::kDirectory;
  default:
    return FileType::kOther;
  }
}

ClusterStatus FromWire(const rpc::ClusterStatus &w) {
  ClusterStatus s;
  for (const rpc::ServerStatus &ws : w.servers) {
    ServerInfo i;
    i.addr = ws.addr;
    i.state = FromWire(ws.state);
    i.chunks = ws.chunks;
    i.bytes_used = ws.bytes_used;
    i.bytes_free = ws.bytes_free;
    i.bytes_total = ws.bytes_total;
    i.corrupt_found = ws.corrupt_found;
    i.last_heartbeat_ms = ws.last_heartbeat_ms;
    i.scrub.running = ws.scrub.running;
    i.scrub.progress = ws.scrub.progress;
    i.scrub.last_full_pass_ms = ws.scrub.last_full_pass_ms;
    i.scrub.oldest_unverified_ms = ws.scrub.oldest_unverified_ms;
    i.scrub.bytes_verified = ws.scrub.bytes_verified;
    i.scrub.corrupt_found_pass = ws.scrub.corrupt_found_pass;
    s.servers.push_back(std::move(i));
  }
  s.chunks.total = w.chunks.total;
  s.chunks.healthy = w.chunks.healthy;
  s.chunks.under_replicated = w.chunks.under_replicated;
  s.chunks.unavailable = w.chunks.unavailable;
  s.chunks.corrupt_replicas = w.chunks.corrupt_replicas;
  for (const auto &[good, n] : w.chunks.under_by_good)
    s.chunks.under_by_good[good] = n;
  s.chunks.stale_replicas = w.chunks.stale_replicas;
  s.repair_queued = w.repair_queued;
  s.repair_done = w.repair_done;
  s.uptime_ms = w.uptime_ms;
  s.files = w.files;
  s.directories = w.directories;
  s.replicas = w.replicas;
  s.repair_bytes_per_s = w.repair_bytes_per_s;
  s.repair_bytes_queued = w.repair_bytes_queued;
  s.heal_running = w.heal_running;
  return s;
}

FileInfo FromWire(const rpc::FileReport &w) {
  FileInfo f;
  f.path = w.path;
  f.ino = w.ino;
  f.size = w.size;
  f.goal = w.goal;
  for (const rpc::ChunkReport &wc : w.chunks) {
    ChunkInfo c;
    c.index = wc.index;
    c.id = wc.chunk_id;
    c.version = wc.version;
    for (const rpc::ReplicaReport &wr : wc.replicas) {
      c.replicas.push_back({wr.addr, FromWire(wr.state), wr.detail});
    }
    f.chunks.push_back(std::move(c));
  }
  return f;
}

rpc::FaultMode::type ToWire(FaultMode m) {
  switch (m) {
  case FaultMode::kFlip:
    return rpc::FaultMode::FLIP;
  case FaultMode::kZero:
    return rpc::FaultMode::ZERO;
  case FaultMode::kDelete:
    return rpc::FaultMode::DELETE;
  }
  return rpc::FaultMode::FLIP;
}

int64_t NowEpochMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace

Status NoAnswer(const std::string &meta_addr, const std::string &what,
                int64_t timeout_ms, const Status &transport) {
  if (transport.code() == Status::Code::kTimedOut) {
    return Status::TimedOut(kNoAnswerFrom + meta_addr + " to " + what +
                            " within " + FormatDuration(timeout_ms) + " (" +
                            transport.message() + ")");
  }
  return Status::Unavailable(kCannotReach + meta_addr + ": " +
                             transport.message());
}

bool IsNoAnswer(const Status &s) {
  switch (s.code()) {
  case Status::Code::kUnavailable:
    return s.message().find(kCannotReach) != std::string::npos;
  case Status::Code::kTimedOut:
    return s.message().find(kNoAnswerFrom) != std::string::npos;
  default:
    return false;
  }
}

namespace {

class ThriftMetaApi : public MetaApi {
public:
  ThriftMetaApi(const HostPort &addr, const net::RpcOptions &opts)
      : pool_(addr, opts) {}

  const std::string &addr() const override { return pool_.peer(); }

  Status GetStatus(ClusterStatus *out) override {
    rpc::ClusterStatus w;
    REPLFS_RETURN_IF_ERROR(Call("Status", Idempotency::kIdempotent,
                                [&](Client &c) { c.Status(w); }));
    *out = FromWire(w);
    out->fetched_at_ms = NowEpochMs();
    return Status::OK();
  }

  Status ResolvePath(const std::string &path, int64_t *ino) override {
    return Call("ResolvePath", Idempotency::kIdempotent,
                [&](Client &c) { *ino = c.ResolvePath(path); });
  }

  Status GetType(int64_t ino, FileType *type) override {
    rpc::Attr a;
    REPLFS_RETURN_IF_ERROR(Call("GetAttr", Idempotency::kIdempotent,
                                [&](Client &c) { c.GetAttr(a, ino); }));
    *type = FromWire(a.type);
    return Status::OK();
  }

  Status ReadDir(int64_t ino, const std::string &after, int max,
                 std::vector<DirEntryInfo> *entries, bool *eof) override {
    rpc::DirPage page;
    REPLFS_RETURN_IF_ERROR(
        Call("ReadDir", Idempotency::kIdempotent, [&](Client &c) {
          c.ReadDir(page, ino, after, max, /*plus=*/false);
        }));
    entries->clear();
    for (const rpc::DirEntry &e : page.entries) {
      entries->push_back({e.name, e.ino, FromWire(e.type)});
    }
    *eof = page.eof;
    return Status::OK();
  }

  Status Fsck(int64_t ino, FileInfo *out) override {
    rpc::FileReport w;
    // Not repeated once sent: metad may have spent its whole budget on it.
    REPLFS_RETURN_IF_ERROR(Call("Fsck", Idempotency::kNotIdempotent,
                                [&](Client &c) { c.Fsck(w, ino); }));
    *out = FromWire(w);
    return Status::OK();
  }

  Status GetGoal(int64_t ino, int *goal) override {
    rpc::Attr a;
    REPLFS_RETURN_IF_ERROR(Call("GetAttr", Idempotency::kIdempotent,
                                [&](Client &c) { c.GetAttr(a, ino); }));
    *goal = a.goal;
    return Status::OK();
  }

  Status Corrupt(const CorruptRequest &req, CorruptResult *out) override {
    rpc::CorruptResult w;
    // Not repeated: a second injection could damage a second replica.
    REPLFS_RETURN_IF_ERROR(
        Call("Corrupt", Idempotency::kNotIdempotent, [&](Client &c) {
          c.Corrupt(w, req.ino, req.block, req.server, ToWire(req.mode),
                    req.force);
        }));
    *out = {w.addr, w.chunk_id, w.chunk_index, w.version, w.block};
    return Status::OK();
  }

  Status StartScrub(const std::string &server) override {
    return Call("StartScrub", Idempotency::kIdempotent,
                [&](Client &c) { c.StartScrub(server); });
  }

  Status Heal() override {
    return Call("Heal", Idempotency::kIdempotent, [&](Client &c) { c.Heal(); });
  }

  Status Drain(const std::string &addr) override {
    return Call("Drain", Idempotency::kIdempotent,
                [&](Client &c) { c.Drain(addr); });
  }

  Status Undrain(const std::string &addr) override {
    return Call("Undrain", Idempotency::kIdempotent,
                [&](Client &c) { c.Undrain(addr); });
  }

  Status RemoveServer(const std::string &addr) override {
    // A repeat after success would answer NotFound for a removed server.
    return Call("RemoveServer", Idempotency::kNotIdempotent,
                [&](Client &c) { c.RemoveServer(addr); });
  }

  Status SetGoal(int64_t ino, int goal, bool recursive,
                 int64_t *changed) override {
    int64_t n = 0;
    REPLFS_RETURN_IF_ERROR(
        Call("SetGoal", Idempotency::kIdempotent,
             [&](Client &c) { n = c.SetGoal(ino, goal, recursive); }));
    *changed = n;
    return Status::OK();
  }

private:
  // One call through the pool's retry loop. An RpcError is metad's answer:
  // caught here, so the loop sees a completed call (the connection is still
  // good) and never repeats it, and returned with metad's code and message.
  // A transport failure left after the retries is NoAnswer().
  Status Call(const char *what, Idempotency idem,
              const std::function<void(Client &)> &fn) {
    std::optional<Status> answer;
    Status s = pool_.Call(what, idem, [&](Client &c) {
      answer.reset();
      try {
        fn(c);
      } catch (const rpc::RpcError &e) {
        answer = net::FromRpcError(e);
      }
    });
    if (answer.has_value())
      return *answer;
    if (!s.ok() && s.IsRetryable()) {
      return NoAnswer(pool_.peer(), what, pool_.options().rpc_timeout_ms, s);
    }
    return s; // OK, or metad could not process the call (Internal)
  }

  net::ClientPool<Client> pool_;
};

} // namespace

std::unique_ptr<MetaApi> NewThriftMetaApi(const HostPort &addr,
                                          const net::RpcOptions &opts) {
  return std::make_unique<ThriftMetaApi>(addr, opts);
}

} // namespace replfs::ctl
