// The Thrift <-> Status translation points. Handlers return Status and
// convert it with ThrowIfError() at the edge; clients turn whatever a call
// threw into a Status with StatusFromException() (inside RpcCall).
#pragma once

#include <exception>
#include <string>

#include "common/status.h"
#include "replfs_types.h"

namespace replfs::net {

rpc::ErrorCode::type ToErrorCode(Status::Code code);
Status::Code FromErrorCode(rpc::ErrorCode::type code);

rpc::RpcError ToRpcError(const Status& s);
Status FromRpcError(const rpc::RpcError& e);

// Throws rpc::RpcError when !s.ok(). The one way a handler reports failure.
void ThrowIfError(const Status& s);

// Classifies an exception caught around a client call to `peer`.
// `sent` is false when the failure happened before the request could have
// reached the server (connect failed), which makes any call safe to retry.
Status StatusFromException(const std::exception& e, const std::string& peer, bool* sent);

}  // namespace replfs::net
