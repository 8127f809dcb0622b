#include "thrift/rpc_options.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "common/log.h"

namespace replfs::net {

RpcOptions RpcOptions::FromConfig(const Config& c) {
  RpcOptions o;
  o.connect_timeout_ms = c.connect_timeout_ms;
  o.rpc_timeout_ms = c.rpc_timeout_ms;
  o.attempts = c.retry_attempts;
  o.backoff_ms = c.retry_backoff_ms;
  o.budget_ms = c.retry_budget_ms;
  o.max_backoff_ms = c.max_backoff_ms;
  return o;
}

Status RetryCall(const RpcOptions& opts, Idempotency idem, std::string_view what,
                 const std::function<Status(bool* sent)>& attempt) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(opts.budget_ms);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  int64_t backoff = opts.backoff_ms;
  Status s;
  for (int i = 1;; ++i) {
    bool sent = true;
    s = attempt(&sent);
    if (s.ok() || !s.IsRetryable()) return s;
    if (idem == Idempotency::kNotIdempotent && sent) return s;
    if (i >= opts.attempts) break;
    std::uniform_int_distribution<int64_t> jitter(backoff / 2, backoff + backoff / 2);
    auto pause = std::chrono::milliseconds(jitter(rng));
    if (Clock::now() + pause >= deadline) break;
    LOG(DEBUG) << what << ": attempt " << i << " failed (" << s.ToString() << "), retrying";
    std::this_thread::sleep_for(pause);
    backoff = std::min(backoff * 2, opts.max_backoff_ms);
  }
  return s.WithContext(std::string(what) + " gave up");
}

}  // namespace replfs::net
