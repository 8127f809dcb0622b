// Placement: which datads receive a new chunk's replicas. A pure function.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace replfs::metad {

struct PlacementCandidate {
  std::string addr;
  int64_t bytes_total = 0;
  int64_t bytes_free = 0;
  int64_t bytes_used = 0;  // by the datad's replicas (last heartbeat)
  int64_t chunks = 0;      // replicas metad placed there (allocations included at once)
};

// Chooses min(goal, distinct usable candidates) servers from `up` (the UP
// datads), the least full first (highest bytes_free / bytes_total), ties
// (datads sharing one filesystem) broken by fewest bytes_used, then fewest
// chunks, then address. A candidate with less than `min_free` bytes free is
// full and never chosen; duplicate addresses count once. Never returns one
// server twice. Fewer than `min_replicas` usable servers: NoSpace when there
// would be enough servers but some are full, else Unavailable; *out is then
// empty.
Status PlaceReplicas(const std::vector<PlacementCandidate>& up, int goal, int min_replicas,
                     int64_t min_free, std::vector<std::string>* out);

}  // namespace replfs::metad
