#include "thrift/rpc_status.h"

#include <thrift/TApplicationException.h>
#include <thrift/transport/TSSLSocket.h>
#include <thrift/transport/TTransportException.h>

namespace replfs::net {

using apache::thrift::TApplicationException;
using apache::thrift::transport::TTransportException;

rpc::ErrorCode::type ToErrorCode(Status::Code code) {
  using C = Status::Code;
  switch (code) {
    case C::kOk: return rpc::ErrorCode::OK;
    case C::kNotFound: return rpc::ErrorCode::NOT_FOUND;
    case C::kExists: return rpc::ErrorCode::EXISTS;
    case C::kNotDir: return rpc::ErrorCode::NOT_DIR;
    case C::kIsDir: return rpc::ErrorCode::IS_DIR;
    case C::kNotEmpty: return rpc::ErrorCode::NOT_EMPTY;
    case C::kPermission: return rpc::ErrorCode::PERMISSION;
    case C::kInvalid: return rpc::ErrorCode::INVALID;
    case C::kNoSpace: return rpc::ErrorCode::NO_SPACE;
    case C::kIOError: return rpc::ErrorCode::IO_ERROR;
    case C::kCorruption: return rpc::ErrorCode::CORRUPTION;
    case C::kStale: return rpc::ErrorCode::STALE;
    case C::kUnavailable: return rpc::ErrorCode::UNAVAILABLE;
    case C::kTimedOut: return rpc::ErrorCode::TIMED_OUT;
    case C::kInternal: return rpc::ErrorCode::INTERNAL;
    case C::kNameTooLong: return rpc::ErrorCode::NAME_TOO_LONG;
    case C::kNotSupported: return rpc::ErrorCode::NOT_SUPPORTED;
    case C::kNoData: return rpc::ErrorCode::NO_XATTR;
    case C::kRange: return rpc::ErrorCode::RANGE;
    case C::kTooManyLinks: return rpc::ErrorCode::TOO_MANY_LINKS;
    case C::kTooBig: return rpc::ErrorCode::TOO_BIG;
  }
  return rpc::ErrorCode::INTERNAL;
}

Status::Code FromErrorCode(rpc::ErrorCode::type code) {
  using C = Status::Code;
  switch (code) {
    case rpc::ErrorCode::OK: return C::kOk;
    case rpc::ErrorCode::NOT_FOUND: return C::kNotFound;
    case rpc::ErrorCode::EXISTS: return C::kExists;
    case rpc::ErrorCode::NOT_DIR: return C::kNotDir;
    case rpc::ErrorCode::IS_DIR: return C::kIsDir;
    case rpc::ErrorCode::NOT_EMPTY: return C::kNotEmpty;
    case rpc::ErrorCode::PERMISSION: return C::kPermission;
    case rpc::ErrorCode::INVALID: return C::kInvalid;
    case rpc::ErrorCode::NO_SPACE: return C::kNoSpace;
    case rpc::ErrorCode::IO_ERROR: return C::kIOError;
    case rpc::ErrorCode::CORRUPTION: return C::kCorruption;
    case rpc::ErrorCode::STALE: return C::kStale;
    case rpc::ErrorCode::UNAVAILABLE: return C::kUnavailable;
    case rpc::ErrorCode::TIMED_OUT: return C::kTimedOut;
    case rpc::ErrorCode::INTERNAL: return C::kInternal;
    case rpc::ErrorCode::NAME_TOO_LONG: return C::kNameTooLong;
    case rpc::ErrorCode::NOT_SUPPORTED: return C::kNotSupported;
    case rpc::ErrorCode::NO_XATTR: return C::kNoData;
    case rpc::ErrorCode::RANGE: return C::kRange;
    case rpc::ErrorCode::TOO_MANY_LINKS: return C::kTooManyLinks;
    case rpc::ErrorCode::TOO_BIG: return C::kTooBig;
  }
  // An unknown code from a newer peer: not retryable, clearly reported.
  return C::kInternal;
}

rpc::RpcError ToRpcError(const Status& s) {
  rpc::RpcError e;
  e.code = ToErrorCode(s.code());
  e.message = s.message();
  return e;
}

Status FromRpcError(const rpc::RpcError& e) {
  Status::Code c = FromErrorCode(e.code);
  if (c == Status::Code::kOk) return Status::Internal("peer sent an error with code OK: " + e.message);
  return Status(c, e.message);
}

void ThrowIfError(const Status& s) {
  if (!s.ok()) throw ToRpcError(s);
}

Status StatusFromException(const std::exception& e, const std::string& peer, bool* sent) {
  *sent = true;
  if (const auto* re = dynamic_cast<const rpc::RpcError*>(&e)) return FromRpcError(*re);
  if (const auto* se = dynamic_cast<const apache::thrift::transport::TSSLException*>(&e)) {
    // A certificate the other side (or we) refused: retrying cannot help.
    const std::string what = se->what();
    for (const char* word : {"certificate", "verify", "role", "alert"}) {
      if (what.find(word) != std::string::npos)
        return Status::Permission("TLS with " + peer + " refused: " + what);
    }
    return Status::Unavailable("TLS connection to " + peer + " failed: " + what);
  }
  if (const auto* te = dynamic_cast<const TTransportException*>(&e)) {
    switch (te->getType()) {
      case TTransportException::NOT_OPEN:
        *sent = false;
        return Status::Unavailable("cannot connect to " + peer + ": " + te->what());
      case TTransportException::TIMED_OUT:
        return Status::TimedOut("no answer from " + peer + " in time: " + te->what());
      default:
        return Status::Unavailable("connection to " + peer + " failed: " + te->what());
    }
  }
  if (dynamic_cast<const TApplicationException*>(&e) != nullptr)
    return Status::Internal(peer + " could not process the call: " + e.what());
  return Status::Unavailable("call to " + peer + " failed: " + e.what());
}

}  // namespace replfs::net
