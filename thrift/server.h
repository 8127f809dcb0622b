// RpcServer: a Thrift TThreadedServer (one thread per connection, bounded
// number of connections) on a host:port, or on the socket systemd passes
// (socket activation). Serves on a background thread it owns.
//
// SelfProbe: how a daemon's main() checks that its own server still serves.
#pragma once

#include <thrift/TProcessor.h>
#include <thrift/server/TThreadedServer.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/host_port.h"
#include "common/status.h"
#include "thrift/client_pool.h"
#include "thrift/rpc_options.h"
#include "thrift/tls.h"
#include "thrift/transport.h"

namespace replfs::net {

class PeerLimiter;

struct ServerOptions {
  // "host:port" to bind when systemd passed no socket. Port 0 binds an
  // ephemeral port (tests); port() tells which.
  std::string listen;
  // Connections served at once; further clients wait in the accept queue.
  int max_connections = 1024;
  // Adopt the first socket from sd_listen_fds() when there is one.
  bool allow_socket_activation = true;
  // Accepted connections speak TLS with this context (null: plain TCP).
  // Who may call what is the processor factory's business (thrift/authz.h).
  std::shared_ptr<TlsContext> tls;
  // A connection that sends nothing for this long is closed (0: never);
  // clients reconnect transparently.
  int64_t idle_timeout_ms = 60000;
  // Connections one peer address may hold at once (0: max_connections / 4,
  // at least 16); more are closed at once, so one host cannot take them all.
  int max_connections_per_peer = 0;
  // Longest string and largest list/set/map a request may declare
  // (thrift/transport.h); a larger claim drops the connection before
  // anything is allocated for it.
  int32_t max_string_bytes = kMaxStringBytes;
  int32_t max_container_elements = 4096;
};

class RpcServer {
 public:
  // A processor per connection from `processors` (thrift/authz.h).
  RpcServer(std::shared_ptr<apache::thrift::TProcessorFactory> processors, ServerOptions opts);
  // One processor for every connection (tests, tools).
  RpcServer(std::shared_ptr<apache::thrift::TProcessor> processor, ServerOptions opts);
  ~RpcServer();  // Stop()s
  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

  // Binds (or adopts the systemd socket) and starts serving. Returns once the
  // server accepts connections, or an error naming the address (also when
  // the socket systemd passed cannot be adopted: the server never serves on
  // anything else).
  Status Start();
  // Stops accepting, interrupts open connections, joins the serving thread.
  // Idempotent.
  void Stop();

  int port() const { return port_; }
  bool socket_activated() const { return socket_activated_; }
  // What the server listens on, for messages: "0.0.0.0:9190" or "the socket
  // from systemd, port 9190". Valid after Start().
  const std::string& address() const { return address_; }
  // True from a successful Start() until the server stops accepting
  // connections: by Stop(), or because accepting failed. A failure is
  // logged as an ERROR naming address() and closes the listening socket, so
  // clients are not left waiting on a socket nobody accepts from (and
  // SelfProbe::Listening() turns false). Connections already open may still
  // be served to their end. Thread-safe.
  bool serving() const { return serving_.load(); }
  // Connections currently open.
  int64_t connections() const;

 private:
  class Events;

  // The accept loop ended (`why`: the error, if any). Runs once per Start().
  void AcceptLoopEnded(const std::string& why);

  const std::shared_ptr<apache::thrift::TProcessorFactory> processors_;
  const ServerOptions opts_;
  // Declared before server_: the listening socket reports its close (also
  // from its destructor) through AcceptLoopEnded().
  std::atomic<bool> serving_{false};
  std::atomic<bool> stopped_{false};
  std::shared_ptr<apache::thrift::server::TThreadedServer> server_;
  std::shared_ptr<Events> events_;
  std::unique_ptr<PeerLimiter> limiter_;
  std::thread thread_;
  int port_ = 0;
  bool socket_activated_ = false;
  std::string address_;
};

// A daemon's health check of its own RPC server, for the watchdog and for
// main(). main() has no handle on the RpcServer (Metad and Datad keep theirs
// private), so SelfProbe finds the server through its listening socket, which
// RpcServer holds exactly while serving() (it closes it when accepting
// fails), and checks it the way a client would. Thread-safe (read-only
// after Find()).
class SelfProbe {
 public:
  // Sends one Ping to `addr` over a new connection, connect and reply each
  // bounded by `timeout_ms`.
  using PingFn = std::function<Status(const HostPort& addr, int64_t timeout_ms)>;

  // Ping for a generated client type with a `void Ping()` method, over TLS
  // with the daemon's own certificate when `tls` is set.
  template <class Client>
  static PingFn PingWith(std::shared_ptr<TlsContext> tls = nullptr) {
    return [tls](const HostPort& addr, int64_t timeout_ms) {
      RpcOptions o;
      o.tls = tls;
      o.connect_timeout_ms = timeout_ms;
      o.rpc_timeout_ms = timeout_ms;
      o.attempts = 1;
      // An empty pool: the call opens a new connection, closed on return.
      ClientPool<Client> fresh(addr, o);
      bool sent = false;
      return fresh.CallOnce([](Client& c) { c.Ping(); }, &sent);
    };
  }

  // Finds this process's listening TCP socket on `port` (call after the
  // server's Start() succeeded). Fails if there is none.
  static Status Find(int port, PingFn ping, std::unique_ptr<SelfProbe>* out);

  // Whether the socket still listens: false once the server stopped
  // accepting. Cheap (two system calls).
  bool Listening() const;
  // Listening(), and a Ping over a new connection answered within
  // `timeout_ms`: the accept loop, a new connection thread and the Thrift
  // stack all work. Logs a WARNING saying why not.
  bool Healthy(int64_t timeout_ms) const;

  // A daemon's main loop once it serves: pings the systemd watchdog while
  // Healthy(kHealthTimeoutMs) and waits for SIGTERM/SIGINT, or for the
  // server to stop listening. Healthy is deliberately about the RPC path
  // only (accept loop, a connection thread, the Thrift stack), not a store
  // operation: a slow disk under a large write, a scrub pass or a long
  // commit must not get the daemon killed; stores report their errors to
  // callers rather than hanging. Sends STOPPING=1 before returning 0 after a
  // signal, or 1 (logged, naming `daemon`) when the server stopped serving,
  // so that Restart=on-failure restarts it.
  int ServeUntilSignal(const std::string& daemon) const;
  // The health probe's Ping: connect and reply each within this, well below
  // the watchdog's probe period (WatchdogSec=30 in the units: 7.5 s).
  static constexpr int64_t kHealthTimeoutMs = 2000;

  // The listening address ("0.0.0.0:9190", "[::]:2222"), for messages.
  const std::string& address() const { return address_; }
  // Where the probe connects: address() with a wildcard host replaced by
  // the loopback address.
  const HostPort& dial() const { return dial_; }

 private:
  SelfProbe(int fd, int port, std::string address, HostPort dial, PingFn ping)
      : fd_(fd), port_(port), address_(std::move(address)), dial_(std::move(dial)),
        ping_(std::move(ping)) {}

  const int fd_;  // borrowed: the server's listening descriptor
  const int port_;
  const std::string address_;
  const HostPort dial_;
  const PingFn ping_;
};

}  // namespace replfs::net
