// Mutual TLS for every replfs connection (thrift/PROTOCOL.md "Security").
//
// Every process has one certificate, issued by the cluster CA (`fsctl ca`),
// whose subject carries its name (CN) and its role (OU): metad, datad,
// client or admin. Both ends present their certificate and verify the
// other's against the CA (TLS 1.2 at least, 1.3 when both offer it, strong
// ciphers only). A client also checks the role of the server it meant to
// reach (a metad connection must end at a "metad" certificate, a datad
// connection at a "datad" one); servers decide per call what each role may
// do (thrift/authz.h).
//
// Without TLS configured, no peer is authenticated: servers then serve only
// loopback peers unless the operator sets tls.insecure (server.h).
#pragma once

#include <thrift/transport/TSSLSocket.h>
#include <thrift/transport/TServerSocket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/config.h"
#include "common/status.h"

namespace replfs::net {

enum class Role : uint8_t { kNone = 0, kMetad = 1, kDatad = 2, kClient = 4, kAdmin = 8 };
using RoleMask = uint8_t;
inline constexpr RoleMask Mask(Role r) { return static_cast<RoleMask>(r); }
inline constexpr RoleMask kAnyRole = 0xff;

// "metad", "datad", "client", "admin" ("none" for kNone).
const char* RoleName(Role r);
// INVALID for anything but the four names.
Status ParseRole(std::string_view s, Role* out);

// The oldest error on OpenSSL's error queue as text ("no details" if the
// queue is empty); clears the queue.
std::string OpenSslError();

// What a certificate says about its holder.
struct CertIdentity {
  std::string name;  // subject CN
  Role role = Role::kNone;
};

// The TLS socket of every replfs connection. After the handshake (which
// happens at the first read or write) OpenSSL has verified the peer's chain
// against the CA; authorize() then reads the peer's name and role and, on a
// client, checks that the role is the expected one (TSSLException if not).
class PeerTlsSocket : public apache::thrift::transport::TSSLSocket {
 public:
  // An accepted connection (server side).
  PeerTlsSocket(std::shared_ptr<apache::thrift::transport::SSLContext> ctx, THRIFT_SOCKET s,
                std::shared_ptr<THRIFT_SOCKET> interrupt,
                std::shared_ptr<apache::thrift::TConfiguration> config);
  // A connection to host:port whose certificate must say `expect`.
  PeerTlsSocket(std::shared_ptr<apache::thrift::transport::SSLContext> ctx, const std::string& host,
                int port, Role expect, std::shared_ptr<apache::thrift::TConfiguration> config);

  // The peer's certificate; empty (kNone) until the handshake completed.
  CertIdentity peer() const;

 protected:
  void authorize() override;

 private:
  const Role expect_;  // kNone on the server side
  CertIdentity peer_;  // written once by authorize(), on the connection's thread
};

// A process's certificate, key and the cluster CA, loaded once. Thread-safe
// after Load.
class TlsContext {
 public:
  // Reads the three PEM files; a clear error naming the file otherwise
  // (missing, unreadable, key not matching the certificate, certificate
  // without a replfs role).
  static Status Load(const std::string& ca, const std::string& cert, const std::string& key,
                     std::shared_ptr<TlsContext>* out);
  // From tls.ca/tls.cert/tls.key of `c`: *out stays null when none is set,
  // an error when only some are.
  static Status FromConfig(const Config& c, std::shared_ptr<TlsContext>* out);

  // This process's own certificate.
  const CertIdentity& self() const { return self_; }
  // A socket to host:port (not yet connected) that authenticates with this
  // process's certificate and accepts only a server certificate of `expect`.
  std::shared_ptr<PeerTlsSocket> ClientSocket(const std::string& host, int port, Role expect,
                                              std::shared_ptr<apache::thrift::TConfiguration> config) const;
  // The server-side SSL context (for accepted sockets).
  std::shared_ptr<apache::thrift::transport::SSLContext> server_ctx() const { return server_ctx_; }

 private:
  TlsContext() = default;
  std::shared_ptr<apache::thrift::transport::SSLContext> client_ctx_, server_ctx_;
  CertIdentity self_;
};

// A TServerSocket whose accepted connections are PeerTlsSockets of `tls`
// (plain TSockets when `tls` is null).
class TlsServerSocket : public apache::thrift::transport::TServerSocket {
 public:
  TlsServerSocket(const std::string& host, int port, std::shared_ptr<TlsContext> tls);
  explicit TlsServerSocket(int port, std::shared_ptr<TlsContext> tls);

 protected:
  std::shared_ptr<apache::thrift::transport::TSocket> createSocket(THRIFT_SOCKET client) override;

 private:
  const std::shared_ptr<TlsContext> tls_;
};

// The daemon's startup line about its transport: TLS with whose
// certificate (a WARNING if its role is not in `expect`), plain TCP to
// loopback peers only, or plain TCP to anyone (tls.insecure).
void WarnAboutTransport(const char* daemon, const std::shared_ptr<TlsContext>& tls, bool insecure,
                        RoleMask expect);

// True for 127.0.0.0/8, ::1 and IPv4-mapped loopback addresses.
bool IsLoopback(const sockaddr_storage& a);

}  // namespace replfs::net
