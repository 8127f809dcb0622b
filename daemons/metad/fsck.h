// Fsck: the state of every replica of one file, asked of the datads.
#pragma once

#include <string>

#include "common/status.h"
#include "daemons/metad/chunk_map.h"
#include "daemons/metad/datad_api.h"
#include "daemons/metad/namespace.h"
#include "daemons/metad/server_registry.h"
#include "daemons/metad/types.h"

namespace replfs::metad {

// Builds the report of `ino`: for each chunk and replica, UNREACHABLE if the
// server is down, else the checker's answer. Called without any lock held;
// the checks are RPCs. `out->path` is left empty.
Status RunFsck(const Namespace& ns, const ChunkMap& chunks, const ServerRegistry& servers,
               DatadApi* checker, Ino ino, FileReport* out);

}  // namespace replfs::metad
