#include "thrift/authz.h"

#include <sys/socket.h>
#include <thrift/TApplicationException.h>
#include <thrift/transport/TSocket.h>

#include "common/log.h"
#include "replfs_types.h"

namespace replfs::net {

using apache::thrift::TApplicationException;
using apache::thrift::protocol::TProtocol;
using apache::thrift::transport::TSocket;

namespace {

std::string AllowedRoles(RoleMask m) {
  std::string s;
  for (Role r : {Role::kMetad, Role::kDatad, Role::kClient, Role::kAdmin})
    if (m & Mask(r)) s += (s.empty() ? "" : ", ") + std::string(RoleName(r));
  return s.empty() ? "nobody" : s;
}

}  // namespace

std::string Refusal(const Policy& policy, const AuthzOptions& opts, const PeerInfo& peer,
                    const std::string& method) {
  if (!peer.tls) {
    if (peer.loopback || opts.insecure) return "";
    return "this server runs without TLS and serves loopback peers only (configure tls.ca, tls.cert "
           "and tls.key, or set tls.insecure = true to serve anyone)";
  }
  const CertIdentity id = peer.tls->peer();
  auto it = policy.find(method);
  const RoleMask allowed = it == policy.end() ? 0 : it->second;
  if ((allowed & Mask(id.role)) != 0) return "";
  return "the certificate of '" + id.name + "' is for role " + RoleName(id.role) + "; " + method + " is for " +
         AllowedRoles(allowed) + " only";
}

void AnswerRefused(TProtocol* in, TProtocol* out, const std::string& method, int32_t seqid, bool throws,
                   const std::string& why) {
  using apache::thrift::protocol::T_EXCEPTION;
  using apache::thrift::protocol::T_REPLY;
  using apache::thrift::protocol::T_STRUCT;
  in->skip(T_STRUCT);
  in->readMessageEnd();
  in->getTransport()->readEnd();
  const std::string message = "permission denied: " + why;
  if (throws) {
    // The reply every `throws (1: RpcError e)` method's client understands.
    out->writeMessageBegin(method, T_REPLY, seqid);
    out->writeStructBegin("result");
    out->writeFieldBegin("e", T_STRUCT, 1);
    rpc::RpcError e;
    e.code = rpc::ErrorCode::PERMISSION;
    e.message = message;
    e.write(out);
    out->writeFieldEnd();
    out->writeFieldStop();
    out->writeStructEnd();
  } else {
    out->writeMessageBegin(method, T_EXCEPTION, seqid);
    TApplicationException(TApplicationException::UNKNOWN, message).write(out);
  }
  out->writeMessageEnd();
  out->getTransport()->writeEnd();
  out->getTransport()->flush();
}

PeerInfo PeerOf(const std::shared_ptr<apache::thrift::transport::TTransport>& transport) {
  PeerInfo p;
  auto sock = std::dynamic_pointer_cast<TSocket>(transport);
  if (!sock) return p;
  p.tls = std::dynamic_pointer_cast<PeerTlsSocket>(sock);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(sock->getSocketFD(), reinterpret_cast<sockaddr*>(&ss), &len) == 0) p.loopback = IsLoopback(ss);
  p.addr = sock->getPeerAddress() + ":" + std::to_string(sock->getPeerPort());
  return p;
}

void LogRefused(const std::string& method, const PeerInfo& peer, const std::string& why) {
  LOG(WARNING) << "refused " << method << " from " << peer.addr << ": " << why;
}

}  // namespace replfs::net
