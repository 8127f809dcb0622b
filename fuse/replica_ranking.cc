#include "fuse/replica_ranking.h"

#include <algorithm>

namespace replfs::client {

namespace {
// Weight of a new sample: a few calls are enough to notice a slow link.
constexpr double kAlpha = 0.3;
}  // namespace

void ReplicaRanking::MarkFailed(const std::string& addr) {
  MutexLock l(&mu_);
  failed_at_[addr] = Clock::now();
}

void ReplicaRanking::MarkOk(const std::string& addr) {
  MutexLock l(&mu_);
  failed_at_.erase(addr);
}

void ReplicaRanking::MarkOk(const std::string& addr, std::chrono::microseconds took) {
  MutexLock l(&mu_);
  failed_at_.erase(addr);
  const Clock::time_point now = Clock::now();
  const double us = static_cast<double>(took.count());
  auto [it, fresh] = latency_.try_emplace(addr, Sample{us, now});
  if (!fresh) {
    Sample& s = it->second;
    s.avg_us = now - s.at > kLatencyMemory ? us : (1 - kAlpha) * s.avg_us + kAlpha * us;
    s.at = now;
  }
}

bool ReplicaRanking::RecentlyFailedLocked(const std::string& addr, Clock::time_point now) {
  auto it = failed_at_.find(addr);
  if (it == failed_at_.end()) return false;
  if (now - it->second < memory_) return true;
  failed_at_.erase(it);  // expired: worth trying again
  return false;
}

double ReplicaRanking::LatencyLocked(const std::string& addr, Clock::time_point now) {
  auto it = latency_.find(addr);
  if (it == latency_.end()) return 0;
  if (now - it->second.at > kLatencyMemory) {
    latency_.erase(it);  // old news: measure it again
    return 0;
  }
  return it->second.avg_us;
}

bool ReplicaRanking::RecentlyFailed(const std::string& addr) {
  MutexLock l(&mu_);
  return RecentlyFailedLocked(addr, Clock::now());
}

std::chrono::microseconds ReplicaRanking::Latency(const std::string& addr) {
  MutexLock l(&mu_);
  return std::chrono::microseconds(static_cast<int64_t>(LatencyLocked(addr, Clock::now())));
}

std::vector<std::string> ReplicaRanking::Order(const std::vector<std::string>& replicas) {
  struct Ranked {
    bool failed;
    double latency_us;
    size_t placement;
    const std::string* addr;
  };
  std::vector<Ranked> r;
  r.reserve(replicas.size());
  {
    MutexLock l(&mu_);
    const Clock::time_point now = Clock::now();
    for (size_t i = 0; i < replicas.size(); ++i)
      r.push_back({RecentlyFailedLocked(replicas[i], now), LatencyLocked(replicas[i], now), i, &replicas[i]});
  }
  std::sort(r.begin(), r.end(), [](const Ranked& a, const Ranked& b) {
    if (a.failed != b.failed) return !a.failed;
    if (a.latency_us != b.latency_us) return a.latency_us < b.latency_us;
    return a.placement < b.placement;
  });
  std::vector<std::string> out;
  out.reserve(r.size());
  for (const Ranked& x : r) out.push_back(*x.addr);
  return out;
}

}  // namespace replfs::client
