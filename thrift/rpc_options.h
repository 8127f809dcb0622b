// One place for the timeouts and the retry policy of every remote call.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "common/config.h"
#include "common/status.h"

namespace replfs::net {

class TlsContext;

struct RpcOptions {
  int64_t connect_timeout_ms = 2000;  // TCP connect
  int64_t rpc_timeout_ms = 10000;     // send and receive of one call
  int attempts = 4;                   // tries per call, first one included
  int64_t backoff_ms = 50;            // before the 2nd try; doubles, +-50% jitter
  int64_t budget_ms = 30000;          // a call never spends longer than this retrying
  int64_t max_backoff_ms = 1000;      // cap of the doubling backoff
  // Mutual TLS for every connection (thrift/tls.h); null: plain TCP.
  std::shared_ptr<TlsContext> tls;

  static RpcOptions FromConfig(const Config& c);
};

enum class Idempotency {
  kIdempotent,     // safe to repeat after the server may have executed it
  kNotIdempotent,  // repeated only when the request certainly never left
};

// The one retry loop. Calls `attempt` until it succeeds, fails with a
// non-retryable Status, or the attempts/budget of `opts` run out; sleeps with
// jittered exponential backoff between tries. `attempt` sets *sent = false
// when the failure certainly happened before the server saw the request.
Status RetryCall(const RpcOptions& opts, Idempotency idem, std::string_view what,
                 const std::function<Status(bool* sent)>& attempt);

}  // namespace replfs::net
