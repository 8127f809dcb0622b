// ReplicaRanking: which replica a read tries first. It remembers datads that
// failed a call (refused, timed out) for `memory`, so reads try the others
// first instead of paying a connect attempt or a timeout on a dead server
// every time (a success forgets the failure at once), and how long each
// datad took to answer recently (an exponentially weighted average of call
// times), so reads prefer the fastest replica: a datad behind a slow or lossy
// link is read only when the others fail. Latency samples older than
// kLatencyMemory are forgotten, so a datad that was slow is measured again.
// Thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/thread_annotations.h"

namespace replfs::client {

class ReplicaRanking {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kLatencyMemory{10};

  explicit ReplicaRanking(std::chrono::milliseconds memory) : memory_(memory) {}

  void MarkFailed(const std::string& addr) LOCKS_EXCLUDED(mu_);
  // A call to `addr` succeeded.
  void MarkOk(const std::string& addr) LOCKS_EXCLUDED(mu_);
  // ... and took `took` (a read: the latency sample).
  void MarkOk(const std::string& addr, std::chrono::microseconds took) LOCKS_EXCLUDED(mu_);
  bool RecentlyFailed(const std::string& addr) LOCKS_EXCLUDED(mu_);
  // Recent average call time of `addr` (0 if unknown).
  std::chrono::microseconds Latency(const std::string& addr) LOCKS_EXCLUDED(mu_);
  // `replicas` ordered for a read: fastest first (servers without a recent
  // sample count as fastest: they get measured), recently failed ones last;
  // ties keep placement order.
  std::vector<std::string> Order(const std::vector<std::string>& replicas) LOCKS_EXCLUDED(mu_);

 private:
  struct Sample {
    double avg_us = 0;
    Clock::time_point at;
  };
  bool RecentlyFailedLocked(const std::string& addr, Clock::time_point now)
      EXCLUSIVE_LOCKS_REQUIRED(mu_);
  double LatencyLocked(const std::string& addr, Clock::time_point now) EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::chrono::milliseconds memory_;  // constant after construction
  Mutex mu_;                                // protects everything below
  std::unordered_map<std::string, Clock::time_point> failed_at_ GUARDED_BY(mu_);
  std::unordered_map<std::string, Sample> latency_ GUARDED_BY(mu_);
};

}  // namespace replfs::client
