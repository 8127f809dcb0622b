#include "thrift/tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fstream>
#include <mutex>

#include "common/log.h"
#include "thrift/transport.h"

namespace replfs::net {

using apache::thrift::TConfiguration;
using apache::thrift::transport::SSLContext;
using apache::thrift::transport::TSocket;
using apache::thrift::transport::TSSLException;
using apache::thrift::transport::TSSLSocket;

namespace {

// TLS 1.2 suites with forward secrecy and AEAD only; TLS 1.3's defaults are
// all strong.
constexpr char kCiphers12[] = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!RC4:!3DES";

std::string SubjectField(X509* cert, int nid) {
  char buf[256];
  const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), nid, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

CertIdentity IdentityOf(X509* cert) {
  CertIdentity id;
  id.name = SubjectField(cert, NID_commonName);
  Role r = Role::kNone;
  if (ParseRole(SubjectField(cert, NID_organizationalUnitName), &r).ok()) id.role = r;
  return id;
}

// One of the two SSL contexts of a process: its certificate and key, the
// CA to verify peers against, peers must present a certificate.
Status MakeContext(const std::string& ca, const std::string& cert, const std::string& key, bool server,
                   std::shared_ptr<SSLContext>* out) {
  auto ctx = std::make_shared<SSLContext>(apache::thrift::transport::SSLTLS);
  SSL_CTX* c = ctx->get();
  if (c == nullptr) return Status::Internal("cannot create an SSL context: " + OpenSslError());
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 || SSL_CTX_set_cipher_list(c, kCiphers12) != 1)
    return Status::Internal("cannot restrict TLS versions and ciphers: " + OpenSslError());
  if (SSL_CTX_use_certificate_chain_file(c, cert.c_str()) != 1)
    return Status::Invalid("tls.cert " + cert + ": cannot load the certificate: " + OpenSslError());
  if (SSL_CTX_use_PrivateKey_file(c, key.c_str(), SSL_FILETYPE_PEM) != 1)
    return Status::Invalid("tls.key " + key + ": cannot load the private key: " + OpenSslError());
  if (SSL_CTX_check_private_key(c) != 1)
    return Status::Invalid("tls.key " + key + " does not belong to the certificate " + cert);
  if (SSL_CTX_load_verify_locations(c, ca.c_str(), nullptr) != 1)
    return Status::Invalid("tls.ca " + ca + ": cannot load the CA certificate: " + OpenSslError());
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  if (server) {
    // Resumed sessions skip the certificate exchange on reconnects.
    static const unsigned char kSessionContext[] = "replfs";
    SSL_CTX_set_session_id_context(c, kSessionContext, sizeof kSessionContext - 1);
  }
  *out = std::move(ctx);
  return Status::OK();
}

}  // namespace

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "no details";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

const char* RoleName(Role r) {
  switch (r) {
    case Role::kMetad: return "metad";
    case Role::kDatad: return "datad";
    case Role::kClient: return "client";
    case Role::kAdmin: return "admin";
    case Role::kNone: break;
  }
  return "none";
}

Status ParseRole(std::string_view s, Role* out) {
  for (Role r : {Role::kMetad, Role::kDatad, Role::kClient, Role::kAdmin}) {
    if (s == RoleName(r)) {
      *out = r;
      return Status::OK();
    }
  }
  return Status::Invalid("'" + std::string(s) + "' is not a role (metad, datad, client, admin)");
}

PeerTlsSocket::PeerTlsSocket(std::shared_ptr<SSLContext> ctx, THRIFT_SOCKET s,
                             std::shared_ptr<THRIFT_SOCKET> interrupt, std::shared_ptr<TConfiguration> config)
    : TSSLSocket(std::move(ctx), s, std::move(interrupt), std::move(config)), expect_(Role::kNone) {
  server(true);
}

PeerTlsSocket::PeerTlsSocket(std::shared_ptr<SSLContext> ctx, const std::string& host, int port, Role expect,
                             std::shared_ptr<TConfiguration> config)
    : TSSLSocket(std::move(ctx), host, port, std::move(config)), expect_(expect) {}

CertIdentity PeerTlsSocket::peer() const { return peer_; }

void PeerTlsSocket::authorize() {
  // The chain was verified against the CA during the handshake (peer
  // certificate required); the base class checks that verdict again.
  TSSLSocket::authorize();
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (cert == nullptr) throw TSSLException("the peer sent no certificate");
  peer_ = IdentityOf(cert);
  X509_free(cert);
  if (peer_.role == Role::kNone)
    throw TSSLException("the certificate of " + (peer_.name.empty() ? std::string("the peer") : peer_.name) +
                        " carries no replfs role (subject OU must be metad, datad, client or admin)");
  if (expect_ != Role::kNone && peer_.role != expect_)
    throw TSSLException("the server's certificate (" + peer_.name + ") is for role " + RoleName(peer_.role) +
                        ", expected " + RoleName(expect_));
}

Status TlsContext::Load(const std::string& ca, const std::string& cert, const std::string& key,
                        std::shared_ptr<TlsContext>* out) {
  static std::once_flag init;
  std::call_once(init, [] { apache::thrift::transport::initializeOpenSSL(); });
  for (const auto& [what, path] : {std::pair<const char*, const std::string&>{"tls.ca", ca}, {"tls.cert", cert},
                                   {"tls.key", key}}) {
    if (!std::ifstream(path).good()) return Status::Invalid(std::string(what) + ": cannot read " + path);
  }
  std::shared_ptr<TlsContext> t(new TlsContext());
  REPLFS_RETURN_IF_ERROR(MakeContext(ca, cert, key, /*server=*/false, &t->client_ctx_));
  REPLFS_RETURN_IF_ERROR(MakeContext(ca, cert, key, /*server=*/true, &t->server_ctx_));
  X509* own = SSL_CTX_get0_certificate(t->client_ctx_->get());
  if (own == nullptr) return Status::Invalid("tls.cert " + cert + ": no certificate");
  t->self_ = IdentityOf(own);
  if (t->self_.role == Role::kNone)
    return Status::Invalid("tls.cert " + cert + " carries no replfs role (issue it with `fsctl ca issue ... --role`)");
  *out = std::move(t);
  return Status::OK();
}

Status TlsContext::FromConfig(const Config& c, std::shared_ptr<TlsContext>* out) {
  out->reset();
  const int set = !c.tls_ca.empty() + !c.tls_cert.empty() + !c.tls_key.empty();
  if (set == 0) return Status::OK();
  if (set != 3) return Status::Invalid("tls.ca, tls.cert and tls.key must be set together (or none of them)");
  return Load(c.tls_ca, c.tls_cert, c.tls_key, out);
}

std::shared_ptr<PeerTlsSocket> TlsContext::ClientSocket(const std::string& host, int port, Role expect,
                                                        std::shared_ptr<TConfiguration> config) const {
  return std::make_shared<PeerTlsSocket>(client_ctx_, host, port, expect, std::move(config));
}

TlsServerSocket::TlsServerSocket(const std::string& host, int port, std::shared_ptr<TlsContext> tls)
    : TServerSocket(host, port), tls_(std::move(tls)) {}

TlsServerSocket::TlsServerSocket(int port, std::shared_ptr<TlsContext> tls)
    : TServerSocket(port), tls_(std::move(tls)) {}

std::shared_ptr<TSocket> TlsServerSocket::createSocket(THRIFT_SOCKET client) {
  if (!tls_) return TServerSocket::createSocket(client);
  return std::make_shared<PeerTlsSocket>(tls_->server_ctx(), client,
                                         interruptableChildren_ ? pChildInterruptSockReader_ : nullptr,
                                         MakeConfiguration());
}

void WarnAboutTransport(const char* daemon, const std::shared_ptr<TlsContext>& tls, bool insecure,
                        RoleMask expect) {
  if (tls) {
    const CertIdentity& me = tls->self();
    if ((Mask(me.role) & expect) == 0) {
      LOG(WARNING) << daemon << " runs with the certificate of '" << me.name << "', role " << RoleName(me.role)
                   << ": its peers will refuse it (issue a certificate of the right role)";
    } else {
      LOG(INFO) << "mutual TLS as '" << me.name << "' (role " << RoleName(me.role) << ")";
    }
  } else if (insecure) {
    LOG(WARNING) << "no TLS and tls.insecure = true: anyone who can connect may read, write and "
                    "administer the cluster";
  } else {
    LOG(WARNING) << "no TLS configured: serving loopback peers only (set tls.ca, tls.cert and tls.key "
                    "to serve other hosts, or tls.insecure = true)";
  }
}

bool IsLoopback(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (a.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace replfs::net
