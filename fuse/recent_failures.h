// RecentFailures: a short memory of datads that failed a call (refused,
// timed out), so reads try the other replicas first instead of paying a
// connect attempt or a timeout on a dead server every time. Entries expire
// after `memory`; a success forgets the failure at once. Thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/thread_annotations.h"

namespace replfs::client {

class RecentFailures {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RecentFailures(std::chrono::milliseconds memory) : memory_(memory) {}

  void MarkFailed(const std::string& addr) LOCKS_EXCLUDED(mu_);
  void MarkOk(const std::string& addr) LOCKS_EXCLUDED(mu_);
  bool RecentlyFailed(const std::string& addr) LOCKS_EXCLUDED(mu_);
  // `replicas` with the recently failed ones moved to the end; the order is
  // otherwise kept (placement order).
  std::vector<std::string> Order(const std::vector<std::string>& replicas) LOCKS_EXCLUDED(mu_);

 private:
  bool RecentlyFailedLocked(const std::string& addr, Clock::time_point now)
      EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::chrono::milliseconds memory_;  // constant after construction
  Mutex mu_;                                // protects failed_at_
  std::unordered_map<std::string, Clock::time_point> failed_at_ GUARDED_BY(mu_);
};

}  // namespace replfs::client
