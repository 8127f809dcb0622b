#include "thrift/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TServerFramework.h>
#include <thrift/transport/TServerSocket.h>
#include <unistd.h>

#include <cstring>
#include <future>

#include "common/host_port.h"
#include "common/log.h"
#include "thrift/client_pool.h"
#include "thrift/transport.h"

namespace replfs::net {

using apache::thrift::protocol::TBinaryProtocolFactory;
using apache::thrift::server::TServerEventHandler;
using apache::thrift::server::TThreadedServer;
using apache::thrift::transport::TServerSocket;

// Tells Start() when the server is really accepting.
class RpcServer::Events : public TServerEventHandler {
 public:
  void preServe() override { ready_.set_value(); }
  std::future<void> ready() { return ready_.get_future(); }

 private:
  std::promise<void> ready_;
};

namespace {

// The listening socket systemd passed (socket activation), adopted by
// TServerSocket, which cannot take a descriptor: it creates a throw-away
// socket and listen() replaces it with systemd's (dup2) just before calling
// ::listen() (harmless on a socket that already listens).
//
// TServerSocket::close() shuts the listening socket down before closing it.
// On a dup of systemd's socket that would stop systemd's socket from
// listening too: while the daemon is stopped or restarting, clients would
// get "connection refused" instead of waiting in the backlog, and the next
// start would not be triggered by a connection. So close() first replaces
// the descriptor with an unconnected socket, which the base class then shuts
// down and closes; systemd's socket keeps listening.
//
// The adopted socket stays blocking (Thrift's own is non-blocking). accept()
// follows a poll(), and with O_NONBLOCK a connection reset in between makes
// accept() fail with EAGAIN, which TServerFramework treats as fatal: the
// server thread would end while the daemon (and its watchdog) ran on.
class AdoptedServerSocket : public TServerSocket {
 public:
  explicit AdoptedServerSocket(int systemd_fd) : TServerSocket("127.0.0.1", 0) {
    setListenCallback([this, systemd_fd](THRIFT_SOCKET s) {
      if (::dup2(systemd_fd, s) < 0) {
        LOG(ERROR) << "cannot adopt the systemd socket: " << strerror(errno);
        return;
      }
      ::close(systemd_fd);
      adopted_fd_ = s;
    });
  }
  ~AdoptedServerSocket() override { close(); }

  void close() override {
    if (adopted_fd_ >= 0) {
      const int placeholder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (placeholder >= 0) {
        ::dup2(placeholder, adopted_fd_);
        ::close(placeholder);
      }
      adopted_fd_ = -1;
    }
    TServerSocket::close();
  }

 private:
  int adopted_fd_ = -1;  // our dup of systemd's socket, while we hold it
};

int LocalPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

}  // namespace

RpcServer::RpcServer(std::shared_ptr<apache::thrift::TProcessor> processor, ServerOptions opts)
    : processor_(std::move(processor)), opts_(std::move(opts)) {}

RpcServer::~RpcServer() { Stop(); }

Status RpcServer::Start() {
  RouteThriftLogging();
  std::shared_ptr<TServerSocket> socket;
  int activated = opts_.allow_socket_activation ? sd_listen_fds(/*unset_environment=*/1) : 0;
  if (activated > 1) {
    return Status::Invalid("systemd passed " + std::to_string(activated) +
                           " sockets; expected exactly one");
  }
  if (activated == 1) {
    const int fd = SD_LISTEN_FDS_START;
    if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, /*listening=*/1) <= 0)
      return Status::Invalid("the socket passed by systemd is not a listening TCP socket");
    socket_activated_ = true;
    port_ = LocalPort(fd);
    socket = std::make_shared<AdoptedServerSocket>(fd);
  } else {
    HostPort hp;
    REPLFS_RETURN_IF_ERROR(ParseHostPort(opts_.listen, &hp, /*allow_zero_port=*/true));
    std::string host = hp.host;
    if (host == "0.0.0.0" || host == "*") host = "";  // all IPv4 and IPv6 addresses
    socket = host.empty() ? std::make_shared<TServerSocket>(hp.port)
                          : std::make_shared<TServerSocket>(host, hp.port);
    // Learn the bound port (for port 0) from the listening descriptor.
    socket->setListenCallback([this](THRIFT_SOCKET s) { port_ = LocalPort(s); });
  }

  server_ = std::make_shared<TThreadedServer>(
      processor_, socket, std::make_shared<ResettingBufferedTransportFactory>(),
      std::make_shared<TBinaryProtocolFactory>());
  server_->setConcurrentClientLimit(opts_.max_connections);
  events_ = std::make_shared<Events>();
  server_->setServerEventHandler(events_);
  std::future<void> ready = events_->ready();

  auto failed = std::make_shared<std::promise<std::string>>();
  std::future<std::string> failure = failed->get_future();
  thread_ = std::thread([this, failed] {
    try {
      server_->serve();
      failed->set_value("");
    } catch (const std::exception& e) {
      failed->set_value(e.what());
    }
  });
  // Whichever comes first: preServe() (listening) or serve() returning.
  for (;;) {
    if (ready.wait_for(std::chrono::milliseconds(10)) == std::future_status::ready) break;
    if (failure.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready) {
      std::string why = failure.get();
      thread_.join();
      stopped_ = true;
      return Status::Unavailable("cannot listen on " +
                                 (socket_activated_ ? std::string("the systemd socket")
                                                    : opts_.listen) +
                                 ": " + (why.empty() ? "server stopped" : why));
    }
  }
  if (port_ == 0 && !socket_activated_) port_ = socket->getPort();
  LOG(INFO) << "serving on "
            << (socket_activated_ ? "socket from systemd, port " + std::to_string(port_)
                                  : opts_.listen + " (port " + std::to_string(port_) + ")");
  return Status::OK();
}

void RpcServer::Stop() {
  if (stopped_.exchange(true)) return;
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

int64_t RpcServer::connections() const {
  return server_ ? server_->getConcurrentClientCount() : 0;
}

}  // namespace replfs::net
