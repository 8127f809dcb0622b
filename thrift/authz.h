// Per-call authorization at the edge of every replfs server (thrift/tls.h
// explains identities and roles).
//
// Each connection gets a processor of its own (AuthorizingFactory), which
// knows the peer: its address and, with TLS, the name and role in its
// certificate. Before a call reaches the handler, its method name is looked
// up in the service's Policy; a call the peer may not make is answered with
// RpcError PERMISSION naming the method, the peer and what it lacks (logged
// at WARNING once per connection and method), and the handler never sees
// it. Without TLS nobody is authenticated: loopback peers may call
// everything, other peers nothing, unless `insecure`.
#pragma once

#include <thrift/TDispatchProcessor.h>
#include <thrift/TProcessor.h>
#include <thrift/protocol/TProtocol.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "thrift/tls.h"

namespace replfs::net {

// Roles allowed to call each method; a method not listed: nobody.
using Policy = std::map<std::string, RoleMask, std::less<>>;

struct AuthzOptions {
  std::shared_ptr<TlsContext> tls;  // null: plain TCP, nobody authenticated
  bool insecure = false;            // without TLS: serve non-loopback peers too
};

// Who is calling, as the server sees the connection.
struct PeerInfo {
  std::string addr;      // "ip:port"
  bool loopback = false;
  std::shared_ptr<PeerTlsSocket> tls;  // null without TLS
};

// Why `peer` may not call `method` under `policy` ("" if it may).
std::string Refusal(const Policy& policy, const AuthzOptions& opts, const PeerInfo& peer,
                    const std::string& method);
// Skips the call's arguments and answers it with RpcError PERMISSION
// (`throws`: the method declares `throws (1: RpcError e)`) or, for methods
// without exceptions, a TApplicationException carrying `why`.
void AnswerRefused(apache::thrift::protocol::TProtocol* in, apache::thrift::protocol::TProtocol* out,
                   const std::string& method, int32_t seqid, bool throws, const std::string& why);
// The peer of an accepted connection's transport.
PeerInfo PeerOf(const std::shared_ptr<apache::thrift::transport::TTransport>& transport);
// The WARNING line of a refused call.
void LogRefused(const std::string& method, const PeerInfo& peer, const std::string& why);

// `Processor` (a generated XxxProcessor) with the policy applied before
// every call. `no_throw`: methods that declare no exception.
template <class Processor, class Iface>
class AuthorizingProcessor : public Processor {
 public:
  AuthorizingProcessor(std::shared_ptr<Iface> handler, const Policy* policy, const std::set<std::string>* no_throw,
                       const AuthzOptions* opts, PeerInfo peer)
      : Processor(std::move(handler)), policy_(policy), no_throw_(no_throw), opts_(opts), peer_(std::move(peer)) {}

 protected:
  bool dispatchCall(apache::thrift::protocol::TProtocol* in, apache::thrift::protocol::TProtocol* out,
                    const std::string& fname, int32_t seqid, void* ctx) override {
    const std::string why = Refusal(*policy_, *opts_, peer_, fname);
    if (why.empty()) return Processor::dispatchCall(in, out, fname, seqid, ctx);
    if (logged_.insert(fname).second) LogRefused(fname, peer_, why);
    AnswerRefused(in, out, fname, seqid, no_throw_->count(fname) == 0, why);
    return true;
  }

 private:
  const Policy* const policy_;                 // outlives the server
  const std::set<std::string>* const no_throw_;  // outlives the server
  const AuthzOptions* const opts_;             // outlives the server
  const PeerInfo peer_;
  std::set<std::string> logged_;  // this connection's thread only
};

// A processor per connection, all sharing one handler. The pointees outlive
// the server.
template <class Processor, class Iface>
class AuthorizingFactory : public apache::thrift::TProcessorFactory {
 public:
  AuthorizingFactory(std::shared_ptr<Iface> handler, Policy policy, std::set<std::string> no_throw,
                     AuthzOptions opts)
      : handler_(std::move(handler)), policy_(std::move(policy)), no_throw_(std::move(no_throw)),
        opts_(std::move(opts)) {}

  std::shared_ptr<apache::thrift::TProcessor> getProcessor(const apache::thrift::TConnectionInfo& c) override {
    return std::make_shared<AuthorizingProcessor<Processor, Iface>>(handler_, &policy_, &no_throw_, &opts_,
                                                                     PeerOf(c.transport));
  }
  const AuthzOptions& options() const { return opts_; }

 private:
  const std::shared_ptr<Iface> handler_;
  const Policy policy_;
  const std::set<std::string> no_throw_;
  const AuthzOptions opts_;
};

}  // namespace replfs::net
