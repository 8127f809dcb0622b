#include "thrift/server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TServerFramework.h>
#include <thrift/transport/TServerSocket.h>
#include <thrift/transport/TTransportException.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <map>
#include <mutex>

#include "common/daemon.h"
#include "common/log.h"
#include "thrift/transport.h"

namespace replfs::net {

using apache::thrift::protocol::TBinaryProtocolFactory;
using apache::thrift::server::TServerEventHandler;
using apache::thrift::server::TThreadedServer;
using apache::thrift::transport::TServerSocket;
using apache::thrift::transport::TTransport;
using apache::thrift::transport::TTransportException;

// Connections open per peer IP address, so that one host (idle or
// trickling connections, a flood of new ones) cannot take every one of
// max_connections. Thread-safe.
class PeerLimiter {
 public:
  explicit PeerLimiter(int limit) : limit_(limit) {}
  // Counts a new connection of `ip`; false (nothing counted) at the limit.
  bool Admit(const std::string& ip) {
    std::lock_guard<std::mutex> l(mu_);
    int& n = open_[ip];
    if (n >= limit_) return false;
    ++n;
    return true;
  }
  void Release(const std::string& ip) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = open_.find(ip);
    if (it != open_.end() && --it->second <= 0) open_.erase(it);
  }
  int limit() const { return limit_; }

 private:
  const int limit_;
  std::mutex mu_;
  std::map<std::string, int> open_;
};

namespace {

// The peer IP of a server-side connection's transport ("" if unknown).
std::string PeerIp(const std::shared_ptr<TTransport>& t) {
  std::shared_ptr<TTransport> inner = t;
  if (auto b = std::dynamic_pointer_cast<apache::thrift::transport::TBufferedTransport>(t))
    inner = b->getUnderlyingTransport();
  auto s = std::dynamic_pointer_cast<apache::thrift::transport::TSocket>(inner);
  return s ? s->getPeerAddress() : "";
}

}  // namespace

// Tells Start() when the server is really accepting; gives a connection's
// slot of the per-peer limit back when it ends.
class RpcServer::Events : public TServerEventHandler {
 public:
  Events(std::atomic<bool>* serving, PeerLimiter* limiter) : serving_(serving), limiter_(limiter) {}
  void preServe() override {
    serving_->store(true);
    ready_.set_value();
  }
  void deleteContext(void*, std::shared_ptr<apache::thrift::protocol::TProtocol> in,
                     std::shared_ptr<apache::thrift::protocol::TProtocol>) override {
    if (in) limiter_->Release(PeerIp(in->getTransport()));
  }
  std::future<void> ready() { return ready_.get_future(); }

 private:
  std::atomic<bool>* const serving_;  // RpcServer::serving_, outlives this
  PeerLimiter* const limiter_;        // RpcServer::limiter_, outlives this
  std::promise<void> ready_;
};

namespace {

// A TServerSocket that reports the end of its accept loop. TServerFramework
// closes its server transport exactly when the accept loop ends (Stop(), or
// an accept() that failed with anything but a timeout), while
// TThreadedServer::serve() returns only after every open connection ended:
// close() is when the server stops serving. The accept error is remembered
// because Thrift itself reports it only through its (debug) log.
// Accepted connections are TLS sockets when the server has a TlsContext.
class WatchedServerSocket : public TlsServerSocket {
 public:
  using OnClose = std::function<void(const std::string& why)>;

  WatchedServerSocket(const std::string& host, int port, std::shared_ptr<TlsContext> tls, OnClose on_close)
      : TlsServerSocket(host, port, std::move(tls)), on_close_(std::move(on_close)) {}
  WatchedServerSocket(int port, std::shared_ptr<TlsContext> tls, OnClose on_close)
      : TlsServerSocket(port, std::move(tls)), on_close_(std::move(on_close)) {}
  // Connections beyond the limiter's per-peer limit are closed at once.
  void set_limiter(PeerLimiter* limiter) { limiter_ = limiter; }
  ~WatchedServerSocket() override { WatchedServerSocket::close(); }

  void close() override {
    const bool was_listening = isOpen();
    TServerSocket::close();
    if (was_listening) on_close_(accept_error_);
  }

 protected:
  // Only records the error: Thrift's own accept loop decides what it means.
  std::shared_ptr<TTransport> acceptImpl() override {
    try {
      std::shared_ptr<TTransport> t = TServerSocket::acceptImpl();
      if (limiter_ == nullptr) return t;
      const std::string ip = PeerIp(t);
      if (limiter_->Admit(ip)) return t;
      if (refusals_++ % 100 == 0)
        LOG(WARNING) << "refusing a connection from " << ip << ": it has " << limiter_->limit()
                     << " open already (the per-peer limit)";
      t->close();
      // The accept loop goes on after a client disconnect.
      throw TTransportException(TTransportException::CLIENT_DISCONNECT, "per-peer connection limit");
    } catch (const TTransportException& e) {
      if (e.getType() != TTransportException::INTERRUPTED && e.getType() != TTransportException::TIMED_OUT &&
          e.getType() != TTransportException::CLIENT_DISCONNECT) {
        accept_error_ = e.what();
      }
      throw;
    }
  }

 private:
  const OnClose on_close_;
  std::string accept_error_;  // serving thread only
  PeerLimiter* limiter_ = nullptr;  // set before serving; outlives this
  uint64_t refusals_ = 0;           // serving thread only
};

// The listening socket systemd passed (socket activation), adopted by
// TServerSocket, which cannot take a descriptor: it creates a throw-away
// socket and listen() replaces it with systemd's (dup2) just before calling
// ::listen() (harmless on a socket that already listens). If that dup2
// fails, listen() fails and with it Start(): the server never serves on the
// throw-away socket.
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
class AdoptedServerSocket : public WatchedServerSocket {
 public:
  AdoptedServerSocket(int systemd_fd, std::shared_ptr<TlsContext> tls, OnClose on_close)
      : WatchedServerSocket("127.0.0.1", 0, std::move(tls), std::move(on_close)) {
    setListenCallback([this, systemd_fd](THRIFT_SOCKET s) {
      if (::dup2(systemd_fd, s) < 0) {
        const int err = errno;
        throw TTransportException(TTransportException::NOT_OPEN,
                                  "cannot adopt the socket systemd passed (descriptor " +
                                      std::to_string(systemd_fd) + "): dup2",
                                  err);
      }
      ::close(systemd_fd);
      adopted_fd_ = s;
    });
  }
  ~AdoptedServerSocket() override { AdoptedServerSocket::close(); }

  void close() override {
    if (adopted_fd_ >= 0) {
      const int placeholder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (placeholder >= 0) {
        ::dup2(placeholder, adopted_fd_);
        ::close(placeholder);
      }
      adopted_fd_ = -1;
    }
    WatchedServerSocket::close();
  }

 private:
  int adopted_fd_ = -1;  // our dup of systemd's socket, while we hold it
};

bool LocalAddress(int fd, sockaddr_storage* ss) {
  socklen_t len = sizeof *ss;
  *ss = {};
  return getsockname(fd, reinterpret_cast<sockaddr*>(ss), &len) == 0;
}

int PortOf(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
  return 0;
}

int LocalPort(int fd) {
  sockaddr_storage ss;
  return LocalAddress(fd, &ss) ? PortOf(ss) : 0;
}

// A listening TCP socket bound to `port`?
bool ListensOn(int fd, int port) {
  int accepting = 0;
  socklen_t len = sizeof accepting;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 || !accepting) return false;
  return LocalPort(fd) == port;
}

// The bound address as text (`*dial`: where a local client connects; a
// wildcard becomes loopback). A dual-stack IPv6 socket (systemd's
// BindIPv6Only=both) is dialled over IPv4, which works even where the
// loopback interface has no ::1.
void DescribeBound(int fd, std::string* address, HostPort* dial) {
  sockaddr_storage ss;
  char text[INET6_ADDRSTRLEN] = "?";
  HostPort bound{"?", 0};
  if (LocalAddress(fd, &ss)) bound.port = PortOf(ss);
  *dial = {"127.0.0.1", bound.port};
  if (ss.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
    bound.host = text;
    if (in.sin_addr.s_addr != htonl(INADDR_ANY)) dial->host = text;
  } else if (ss.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
    inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
    bound.host = text;
    int v6only = 0;
    socklen_t len = sizeof v6only;
    getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len);
    if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
      inet_ntop(AF_INET, &in6.sin6_addr.s6_addr[12], text, sizeof text);
      dial->host = text;
    } else if (!IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr)) {
      dial->host = bound.host;
    } else if (v6only) {
      dial->host = "::1";
    }
  }
  *address = bound.ToString();
}

}  // namespace

RpcServer::RpcServer(std::shared_ptr<apache::thrift::TProcessorFactory> processors, ServerOptions opts)
    : processors_(std::move(processors)), opts_(std::move(opts)) {}

RpcServer::RpcServer(std::shared_ptr<apache::thrift::TProcessor> processor, ServerOptions opts)
    : RpcServer(std::make_shared<apache::thrift::TSingletonProcessorFactory>(std::move(processor)),
                std::move(opts)) {}

RpcServer::~RpcServer() { Stop(); }

Status RpcServer::Start() {
  RouteThriftLogging();
  auto on_close = [this](const std::string& why) { AcceptLoopEnded(why); };
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
    address_ = "the socket from systemd, port " + std::to_string(port_);
    socket = std::make_shared<AdoptedServerSocket>(fd, opts_.tls, on_close);
  } else {
    HostPort hp;
    REPLFS_RETURN_IF_ERROR(ParseHostPort(opts_.listen, &hp, /*allow_zero_port=*/true));
    std::string host = hp.host;
    if (host == "0.0.0.0" || host == "*") host = "";  // all IPv4 and IPv6 addresses
    socket = host.empty() ? std::make_shared<WatchedServerSocket>(hp.port, opts_.tls, on_close)
                          : std::make_shared<WatchedServerSocket>(host, hp.port, opts_.tls, on_close);
    address_ = opts_.listen;
    // Learn the bound port (for port 0) from the listening descriptor.
    socket->setListenCallback([this](THRIFT_SOCKET s) { port_ = LocalPort(s); });
  }

  // An idle or trickling connection is closed after idle_timeout_ms
  // without a byte (clients reconnect); max_connections bounds the rest.
  if (opts_.idle_timeout_ms > 0) socket->setRecvTimeout(static_cast<int>(opts_.idle_timeout_ms));
  server_ = std::make_shared<TThreadedServer>(
      processors_, socket, std::make_shared<ResettingBufferedTransportFactory>(),
      std::make_shared<TBinaryProtocolFactory>(opts_.max_string_bytes, opts_.max_container_elements,
                                               /*strict_read=*/false, /*strict_write=*/true));
  server_->setConcurrentClientLimit(opts_.max_connections);
  const int per_peer = opts_.max_connections_per_peer > 0 ? opts_.max_connections_per_peer
                                                         : std::max(16, opts_.max_connections / 4);
  limiter_ = std::make_unique<PeerLimiter>(per_peer);
  std::static_pointer_cast<WatchedServerSocket>(socket)->set_limiter(limiter_.get());
  events_ = std::make_shared<Events>(&serving_, limiter_.get());
  server_->setServerEventHandler(events_);
  std::future<void> ready = events_->ready();

  auto failed = std::make_shared<std::promise<std::string>>();
  std::future<std::string> failure = failed->get_future();
  thread_ = std::thread([this, failed, socket] {
    std::string why;
    try {
      server_->serve();
    } catch (const std::exception& e) {
      why = e.what();
    }
    // An exception out of the accept loop (e.g. no thread for a new
    // connection) skips TServerFramework's close of the listening socket.
    if (serving_) {
      AcceptLoopEnded(why.empty() ? "the accept loop returned" : why);
      socket->close();
    }
    failed->set_value(why);
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
  if (!socket_activated_) address_ = opts_.listen + " (port " + std::to_string(port_) + ")";
  LOG(INFO) << "serving on " << address_;
  return Status::OK();
}

void RpcServer::AcceptLoopEnded(const std::string& why) {
  if (!serving_.exchange(false) || stopped_) return;
  LOG(ERROR) << "RPC server on " << address_ << " stopped accepting connections"
             << (why.empty() ? "" : ": " + why);
}

void RpcServer::Stop() {
  if (stopped_.exchange(true)) return;
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  serving_ = false;
}

int64_t RpcServer::connections() const {
  return server_ ? server_->getConcurrentClientCount() : 0;
}

Status SelfProbe::Find(int port, PingFn ping, std::unique_ptr<SelfProbe>* out) {
  // The descriptors of this process, from the kernel's list of them.
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return Status::FromErrno(errno, "list /proc/self/fd");
  const int dir_fd = dirfd(dir);
  int found = -1;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == dir_fd) continue;
    if (ListensOn(static_cast<int>(fd), port)) {
      found = static_cast<int>(fd);
      break;
    }
  }
  closedir(dir);
  if (found < 0) {
    return Status::NotFound("no listening socket on port " + std::to_string(port) +
                            " in this process");
  }
  std::string address;
  HostPort dial;
  DescribeBound(found, &address, &dial);
  out->reset(new SelfProbe(found, port, std::move(address), std::move(dial), std::move(ping)));
  return Status::OK();
}

bool SelfProbe::Listening() const { return ListensOn(fd_, port_); }

int SelfProbe::ServeUntilSignal(const std::string& daemon) const {
  WatchdogPinger watchdog([this] { return Healthy(kHealthTimeoutMs); });
  const int sig = WaitForTermination([this] { return Listening(); });
  int rc = 0;
  if (sig == 0) {
    // The RPC server logged why. Exit non-zero: Restart=on-failure.
    LOG(ERROR) << "no longer serving on " << address() << ": exiting with status 1 (systemd restarts "
               << daemon << ")";
    rc = 1;
  } else {
    LOG(INFO) << "signal " << sig << ": shutting down";
  }
  NotifyStopping();
  return rc;
}

bool SelfProbe::Healthy(int64_t timeout_ms) const {
  if (!Listening()) {
    LOG(WARNING) << "health probe: nothing listens on " << address_ << " any more";
    return false;
  }
  Status s = ping_(dial_, timeout_ms);
  if (!s.ok()) {
    LOG(WARNING) << "health probe: Ping to " << dial_.ToString() << " (" << address_
                 << ") failed: " << s.ToString();
    return false;
  }
  return true;
}

}  // namespace replfs::net
