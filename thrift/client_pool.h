// A pool of connections to one server for a generated Thrift client type.
// Generated clients are single-threaded; the pool hands each caller its own
// connection and takes it back afterwards. Thread-safe.
#pragma once

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TSocket.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/host_port.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "thrift/rpc_options.h"
#include "thrift/rpc_status.h"
#include "thrift/tls.h"
#include "thrift/transport.h"

namespace replfs::rpc {
class MetaServiceClient;
class DataServiceClient;
}  // namespace replfs::rpc

namespace replfs::net {

// The role a server's certificate must carry for a client of type Client.
template <class Client>
inline constexpr Role kServerRole = Role::kNone;
template <>
inline constexpr Role kServerRole<rpc::MetaServiceClient> = Role::kMetad;
template <>
inline constexpr Role kServerRole<rpc::DataServiceClient> = Role::kDatad;

// Sends Thrift's internal diagnostics to LOG(DEBUG). Idempotent; called by
// Connection::Open and RpcServer::Start.
void RouteThriftLogging();

// An open connection: socket with timeouts, 64 KiB buffered transport.
struct Connection {
  std::shared_ptr<apache::thrift::transport::TSocket> socket;
  std::shared_ptr<apache::thrift::transport::TTransport> transport;
  std::shared_ptr<apache::thrift::protocol::TProtocol> protocol;

  // Opens a connection to `addr` (TLS with opts.tls: the server's
  // certificate must be for `server_role`); on failure returns non-OK with
  // *sent=false.
  static Status Open(const HostPort& addr, const RpcOptions& opts, Role server_role, Connection* out);
  // True when the idle connection was closed by the peer (or has stray data).
  bool LooksDead() const;
};

// Lets another thread end a call that blocks on its connection (a long
// poll, at shutdown): Cancel() shuts the connection's socket down, so the
// call fails at once, and every later call given this token fails unsent.
// Thread-safe.
class CallCanceller {
 public:
  void Cancel();
  bool cancelled();

 private:
  template <class>
  friend class ClientPool;
  // The socket of the call about to run; false (nothing attached) if
  // already cancelled. The caller keeps the socket open until Detach().
  bool Attach(int fd);
  void Detach();

  Mutex mu_;  // protects both
  int fd_ GUARDED_BY(mu_) = -1;
  bool cancelled_ GUARDED_BY(mu_) = false;
};

template <class Client>
class ClientPool {
  struct Entry;  // a pooled connection and its client

 public:
  ClientPool(HostPort addr, RpcOptions opts)
      : addr_(std::move(addr)), peer_(addr_.ToString()), opts_(opts) {}
  ClientPool(const ClientPool&) = delete;
  ClientPool& operator=(const ClientPool&) = delete;

  const std::string& peer() const { return peer_; }
  const RpcOptions& options() const { return opts_; }

  // Runs `fn` against a pooled client once. Any exception becomes a Status
  // naming the peer; after a transport failure the connection is discarded.
  // With `cancel`, Cancel() from another thread ends the call (Unavailable, "cancelled").
  Status CallOnce(const std::function<void(Client&)>& fn, bool* sent, CallCanceller* cancel = nullptr) {
    std::unique_ptr<Entry> e;
    Status s = Acquire(&e);
    if (!s.ok()) {
      *sent = false;
      return s;
    }
    if (cancel == nullptr) {
      s = Run(&e, fn, sent);
      if (e) Return(std::move(e));
      return s;
    }
    // The socket outlives a failed call's entry until it is detached, so
    // Cancel() never shuts down a descriptor reused meanwhile.
    const std::shared_ptr<apache::thrift::transport::TSocket> keep = e->conn.socket;
    if (!cancel->Attach(static_cast<int>(keep->getSocketFD()))) {
      *sent = false;
      Return(std::move(e));
      return Status::Unavailable("call to " + peer_ + " cancelled");
    }
    s = Run(&e, fn, sent);
    cancel->Detach();
    if (cancel->cancelled()) {
      return Status::Unavailable("call to " + peer_ + " cancelled");  // the connection is gone
    }
    if (e) Return(std::move(e));
    return s;
  }

  // One call split in two, so that one thread can have requests in flight
  // to several servers at once (a primary forwarding a write to its
  // secondaries): Send() writes the request, Finish() reads the answer.
  // Tried once, like CallOnce. The pool must outlive the call; dropping a
  // call that was sent but not finished discards its connection.
  class PendingCall {
   public:
    PendingCall() = default;
    PendingCall(PendingCall&&) noexcept = default;
    PendingCall& operator=(PendingCall&&) noexcept = default;

    // Reads the answer with `recv` (the generated recv_ method), waiting
    // no later than `deadline` (each socket read is bounded by the time
    // left). Errors as CallOnce's; a call not in flight (never sent, or
    // already finished) is an Internal error.
    Status Finish(const std::function<void(Client&)>& recv,
                  std::chrono::steady_clock::time_point deadline) {
      if (!entry_) return Status::Internal("no call to " + pool_peer() + " in flight");
      const int64_t left = std::chrono::ceil<std::chrono::milliseconds>(
                               deadline - std::chrono::steady_clock::now())
                               .count();
      const int64_t full = pool_->opts_.rpc_timeout_ms;  // the socket's own
      const bool shorten = full > 0 && left < full;
      if (shorten)
        entry_->conn.socket->setRecvTimeout(static_cast<int>(std::max<int64_t>(1, left)));
      bool sent = true;
      Status s = pool_->Run(&entry_, recv, &sent);
      if (entry_) {
        if (shorten) entry_->conn.socket->setRecvTimeout(static_cast<int>(full));
        pool_->Return(std::move(entry_));
      }
      return s;
    }

   private:
    friend class ClientPool;
    std::string pool_peer() const { return pool_ ? pool_->peer_ : std::string("nobody"); }

    ClientPool* pool_ = nullptr;
    std::unique_ptr<Entry> entry_;  // the connection the request went out on
  };

  // Sends a request with `send` (the generated send_ method) on a pooled
  // connection; on success *call holds it until Finish(). *sent as for
  // CallOnce.
  Status Send(const std::function<void(Client&)>& send, PendingCall* call, bool* sent) {
    std::unique_ptr<Entry> e;
    Status s = Acquire(&e);
    if (!s.ok()) {
      *sent = false;
      return s;
    }
    s = Run(&e, send, sent);
    if (!s.ok()) {
      if (e) Return(std::move(e));
      return s;
    }
    call->pool_ = this;
    call->entry_ = std::move(e);
    return Status::OK();
  }

  // Runs `fn` with the retry policy of the options. `what` names the call in
  // error messages and logs ("Lookup", "Write chunk 12").
  Status Call(std::string_view what, Idempotency idem, const std::function<void(Client&)>& fn) {
    return RetryCall(opts_, idem, std::string(what) + " @" + peer_,
                     [&](bool* sent) { return CallOnce(fn, sent); });
  }

  // Runs `greet` on each connection the pool opens from now on, before its
  // first call (metad's Identify); if it fails, the connection is dropped
  // and the call fails unsent. Idle connections opened before are dropped.
  void SetGreeting(std::function<void(Client&)> greet) {
    MutexLock l(&mu_);
    greet_ = std::move(greet);
    idle_.clear();
  }

  // Drops every idle connection (e.g. after the server restarted).
  void Reset() {
    MutexLock l(&mu_);
    idle_.clear();
  }

 private:
  struct Entry {
    Connection conn;
    std::unique_ptr<Client> client;
  };

  // Runs `fn` on the client of *e. An exception becomes a Status naming the
  // peer; a transport failure also drops *e (the stream may be mid-message,
  // never reuse it), an application error leaves the connection good.
  Status Run(std::unique_ptr<Entry>* e, const std::function<void(Client&)>& fn, bool* sent) {
    try {
      fn(*(*e)->client);
    } catch (const rpc::RpcError& err) {
      *sent = true;
      return FromRpcError(err);
    } catch (const std::exception& ex) {
      e->reset();
      return StatusFromException(ex, peer_, sent);
    }
    *sent = true;
    return Status::OK();
  }

  Status Acquire(std::unique_ptr<Entry>* out) {
    {
      MutexLock l(&mu_);
      while (!idle_.empty()) {
        std::unique_ptr<Entry> e = std::move(idle_.back());
        idle_.pop_back();
        if (!e->conn.LooksDead()) {
          *out = std::move(e);
          return Status::OK();
        }
      }
    }
    std::function<void(Client&)> greet;
    {
      MutexLock l(&mu_);
      greet = greet_;
    }
    auto e = std::make_unique<Entry>();
    REPLFS_RETURN_IF_ERROR(Connection::Open(addr_, opts_, kServerRole<Client>, &e->conn));
    e->client = std::make_unique<Client>(e->conn.protocol);
    if (greet) {
      bool sent = false;
      Status s = Run(&e, greet, &sent);
      if (!s.ok()) return s;
    }
    *out = std::move(e);
    return Status::OK();
  }

  void Return(std::unique_ptr<Entry> e) {
    MutexLock l(&mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(e));
  }

  static constexpr size_t kMaxIdle = 64;

  // Constant after construction.
  const HostPort addr_;
  const std::string peer_;
  const RpcOptions opts_;

  Mutex mu_;  // protects idle_ and greet_
  std::vector<std::unique_ptr<Entry>> idle_ GUARDED_BY(mu_);
  std::function<void(Client&)> greet_ GUARDED_BY(mu_);
};

// Pools keyed by "host:port", created on first use. Thread-safe.
template <class Client>
class PoolSet {
 public:
  explicit PoolSet(RpcOptions opts) : opts_(opts) {}

  // Returns the pool for `addr`, or an error if `addr` does not parse.
  Status Get(const std::string& addr, std::shared_ptr<ClientPool<Client>>* out) {
    MutexLock l(&mu_);
    auto it = pools_.find(addr);
    if (it != pools_.end()) {
      *out = it->second;
      return Status::OK();
    }
    HostPort hp;
    REPLFS_RETURN_IF_ERROR(ParseHostPort(addr, &hp));
    auto pool = std::make_shared<ClientPool<Client>>(hp, opts_);
    pools_[addr] = pool;
    *out = pool;
    return Status::OK();
  }

  const RpcOptions& options() const { return opts_; }

 private:
  const RpcOptions opts_;
  Mutex mu_;
  std::map<std::string, std::shared_ptr<ClientPool<Client>>> pools_ GUARDED_BY(mu_);
};

}  // namespace replfs::net
