// RpcServer: a Thrift TThreadedServer (one thread per connection, bounded
// number of connections) on a host:port, or on the socket systemd passes
// (socket activation). Serves on a background thread it owns.
#pragma once

#include <thrift/TProcessor.h>
#include <thrift/server/TThreadedServer.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"

namespace replfs::net {

struct ServerOptions {
  // "host:port" to bind when systemd passed no socket. Port 0 binds an
  // ephemeral port (tests); port() tells which.
  std::string listen;
  // Connections served at once; further clients wait in the accept queue.
  int max_connections = 1024;
  // Adopt the first socket from sd_listen_fds() when there is one.
  bool allow_socket_activation = true;
};

class RpcServer {
 public:
  RpcServer(std::shared_ptr<apache::thrift::TProcessor> processor, ServerOptions opts);
  ~RpcServer();  // Stop()s
  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

  // Binds (or adopts the systemd socket) and starts serving. Returns once the
  // server accepts connections, or an error naming the address.
  Status Start();
  // Stops accepting, interrupts open connections, joins the serving thread.
  // Idempotent.
  void Stop();

  int port() const { return port_; }
  bool socket_activated() const { return socket_activated_; }
  // Connections currently open.
  int64_t connections() const;

 private:
  class Events;

  const std::shared_ptr<apache::thrift::TProcessor> processor_;
  const ServerOptions opts_;
  std::shared_ptr<apache::thrift::server::TThreadedServer> server_;
  std::shared_ptr<Events> events_;
  std::thread thread_;
  int port_ = 0;
  bool socket_activated_ = false;
  std::atomic<bool> stopped_{false};
};

}  // namespace replfs::net
