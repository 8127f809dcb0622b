#include "thrift/client_pool.h"

#include <poll.h>
#include <sys/socket.h>
#include <thrift/TOutput.h>

#include <mutex>

#include "common/log.h"

namespace replfs::net {

using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::transport::TSocket;

void RouteThriftLogging() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Thrift prints every failed connect to stderr itself; replfs reports
    // failures through Status with the peer named, so keep Thrift's own
    // lines for debugging only.
    apache::thrift::GlobalOutput.setOutputFunction(
        [](const char* msg) { LOG(DEBUG) << "thrift: " << msg; });
  });
}

Status Connection::Open(const HostPort& addr, const RpcOptions& opts, Role server_role, Connection* out) {
  RouteThriftLogging();
  std::shared_ptr<TSocket> socket =
      opts.tls ? opts.tls->ClientSocket(addr.host, addr.port, server_role, MakeConfiguration())
               : std::make_shared<TSocket>(addr.host, addr.port, MakeConfiguration());
  socket->setConnTimeout(static_cast<int>(opts.connect_timeout_ms));
  socket->setRecvTimeout(static_cast<int>(opts.rpc_timeout_ms));
  socket->setSendTimeout(static_cast<int>(opts.rpc_timeout_ms));
  socket->setNoDelay(true);
  auto transport = std::make_shared<ResettingBufferedTransport>(socket);
  try {
    transport->open();
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot connect to " + addr.ToString() + ": " + e.what());
  }
  out->socket = socket;
  out->transport = transport;
  out->protocol = std::make_shared<TBinaryProtocol>(transport, kMaxStringBytes, kMaxContainerElements,
                                                    /*strict_read=*/false, /*strict_write=*/true);
  return Status::OK();
}

void CallCanceller::Cancel() {
  MutexLock l(&mu_);
  cancelled_ = true;
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);  // the blocked call's recv ends
}

bool CallCanceller::cancelled() {
  MutexLock l(&mu_);
  return cancelled_;
}

bool CallCanceller::Attach(int fd) {
  MutexLock l(&mu_);
  if (cancelled_) return false;
  fd_ = fd;
  return true;
}

void CallCanceller::Detach() {
  MutexLock l(&mu_);
  fd_ = -1;
}

bool Connection::LooksDead() const {
  if (!socket || !socket->isOpen()) return true;
  struct pollfd p {};
  p.fd = static_cast<int>(socket->getSocketFD());
  p.events = POLLIN;
  // An idle connection must have nothing to read: readable means EOF, an
  // error, or a protocol desync — all reasons to drop it.
  int rc = ::poll(&p, 1, 0);
  return rc != 0;
}

}  // namespace replfs::net
