#include "daemons/metad/placement.h"

#include <algorithm>
#include <set>

namespace replfs::metad {
namespace {

double FreeRatio(const PlacementCandidate& c) {
  if (c.bytes_total <= 0) return 0.0;
  return static_cast<double>(c.bytes_free) / static_cast<double>(c.bytes_total);
}

}  // namespace

Status PlaceReplicas(const std::vector<PlacementCandidate>& up, int goal, int min_replicas,
                     int64_t min_free, std::vector<std::string>* out) {
  out->clear();
  std::vector<PlacementCandidate> usable;
  std::set<std::string> seen;
  size_t distinct_up = 0;
  for (const auto& c : up) {
    if (!seen.insert(c.addr).second) continue;
    ++distinct_up;
    if (c.bytes_free >= min_free) usable.push_back(c);
  }
  std::sort(usable.begin(), usable.end(), [](const PlacementCandidate& a, const PlacementCandidate& b) {
    double ra = FreeRatio(a), rb = FreeRatio(b);
    if (ra != rb) return ra > rb;
    if (a.bytes_used != b.bytes_used) return a.bytes_used < b.bytes_used;
    if (a.chunks != b.chunks) return a.chunks < b.chunks;
    return a.addr < b.addr;
  });
  const size_t want = goal > 0 ? static_cast<size_t>(goal) : 0;
  const size_t need = min_replicas > 0 ? static_cast<size_t>(min_replicas) : 1;
  if (usable.size() < need) {
    const std::string what = std::to_string(usable.size()) + " usable datad(s) of " +
                             std::to_string(distinct_up) + " up, " + std::to_string(need) +
                             " needed";
    if (distinct_up >= need) return Status::NoSpace("datads are full: " + what);
    return Status::Unavailable("not enough datads up: " + what);
  }
  for (size_t i = 0; i < usable.size() && i < want; ++i) out->push_back(usable[i].addr);
  return Status::OK();
}

}  // namespace replfs::metad
