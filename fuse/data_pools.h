// Internal to ChunkIo (chunk_io.cc, chunk_write.cc, chunk_read.cc): the
// connection pools to datads. Not part of the client's API.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <string>

#include "DataService.h"
#include "fuse/chunk_io.h"
#include "thrift/client_pool.h"

namespace replfs::client {

using DataClient = rpc::DataServiceClient;
using DataPoolSet = net::PoolSet<DataClient>;

// `normal` carries writes, syncs, truncates and reads' last pass; `fast`
// differs only in a shorter rpc timeout, for a read's first try per replica;
// `synced` in a longer one, for writes with `sync`: the primary answers
// after its own store sync and then up to one rpc timeout of its
// secondaries' (each syncing too), and a slow disk must not make the
// client give up on a healthy primary first.
struct ChunkIo::Pools {
  explicit Pools(const DataPathOptions& o) : normal(o.rpc), fast(FastRead(o)), synced(SyncedWrite(o)) {}

  static net::RpcOptions SyncedWrite(const DataPathOptions& o) {
    net::RpcOptions s = o.rpc;
    s.rpc_timeout_ms = 2 * o.rpc.rpc_timeout_ms;
    return s;
  }

  static net::RpcOptions FastRead(const DataPathOptions& o) {
    net::RpcOptions f = o.rpc;
    f.rpc_timeout_ms = std::min(o.rpc.rpc_timeout_ms, o.read_timeout_ms);
    f.connect_timeout_ms = std::min(o.rpc.connect_timeout_ms, o.read_timeout_ms);
    return f;
  }

  // One try of `fn` against `addr` (the callers decide about retries).
  static Status Once(DataPoolSet& set, const std::string& addr,
                     const std::function<void(DataClient&)>& fn) {
    std::shared_ptr<net::ClientPool<DataClient>> pool;
    REPLFS_RETURN_IF_ERROR(set.Get(addr, &pool));
    bool sent = false;
    return pool->CallOnce(fn, &sent);
  }

  DataPoolSet normal;
  DataPoolSet fast;
  DataPoolSet synced;
};

}  // namespace replfs::client
