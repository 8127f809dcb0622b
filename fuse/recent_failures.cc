#include "fuse/recent_failures.h"

namespace replfs::client {

void RecentFailures::MarkFailed(const std::string& addr) {
  MutexLock l(&mu_);
  failed_at_[addr] = Clock::now();
}

void RecentFailures::MarkOk(const std::string& addr) {
  MutexLock l(&mu_);
  failed_at_.erase(addr);
}

bool RecentFailures::RecentlyFailedLocked(const std::string& addr, Clock::time_point now) {
  auto it = failed_at_.find(addr);
  if (it == failed_at_.end()) return false;
  if (now - it->second < memory_) return true;
  failed_at_.erase(it);  // expired: worth trying again
  return false;
}

bool RecentFailures::RecentlyFailed(const std::string& addr) {
  MutexLock l(&mu_);
  return RecentlyFailedLocked(addr, Clock::now());
}

std::vector<std::string> RecentFailures::Order(const std::vector<std::string>& replicas) {
  std::vector<std::string> good, failed;
  {
    MutexLock l(&mu_);
    const Clock::time_point now = Clock::now();
    for (const std::string& a : replicas) (RecentlyFailedLocked(a, now) ? failed : good).push_back(a);
  }
  good.insert(good.end(), failed.begin(), failed.end());
  return good;
}

}  // namespace replfs::client
