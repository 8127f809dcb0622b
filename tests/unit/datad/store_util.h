// Helpers for tests that use a BlockStore directly.
#pragma once

#include <cstdint>
#include <string_view>

#include "daemons/datad/block_store.h"

namespace replfs::datad {

// Creates the chunk if absent (as metad does when it allocates one), then
// writes: how the tests put bytes into a replica.
inline Status Put(BlockStore* store, int64_t chunk, int64_t version, int64_t off,
                  std::string_view data) {
  REPLFS_RETURN_IF_ERROR(store->Create(chunk, version));
  return store->Write(chunk, version, off, data);
}

}  // namespace replfs::datad
