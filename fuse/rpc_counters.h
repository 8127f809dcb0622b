// RpcCounters: how many calls of each kind a client sent (every attempt,
// retries included), for the statistics the client logs on SIGUSR1 and the
// tests that count round trips. Thread-safe; Add is a short critical
// section next to a network round trip.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/thread_annotations.h"

namespace replfs::client {

class RpcCounters {
 public:
  void Add(std::string_view method) {
    MutexLock l(&mu_);
    auto it = counts_.find(method);
    if (it == counts_.end()) it = counts_.emplace(std::string(method), 0).first;
    ++it->second;
  }
  std::map<std::string, int64_t, std::less<>> Snapshot() const {
    MutexLock l(&mu_);
    return counts_;
  }
  int64_t Total() const {
    MutexLock l(&mu_);
    int64_t n = 0;
    for (const auto& [m, k] : counts_) n += k;
    return n;
  }
  // "total N: Lookup=3 Open=1 ..." (methods in name order).
  std::string ToString() const {
    const auto snap = Snapshot();
    int64_t n = 0;
    std::string s;
    for (const auto& [m, k] : snap) {
      n += k;
      s += " " + m + "=" + std::to_string(k);
    }
    return "total " + std::to_string(n) + ":" + s;
  }

 private:
  mutable Mutex mu_;
  std::map<std::string, int64_t, std::less<>> counts_ GUARDED_BY(mu_);
};

}  // namespace replfs::client
