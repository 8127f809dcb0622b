#include "daemons/datad/replicator.h"

#include <chrono>
#include <functional>

#include "common/crc32c.h"
#include "common/log.h"

namespace replfs::datad {

namespace {

std::string ChunkName(int64_t chunk) { return "chunk " + std::to_string(chunk); }

}  // namespace

Replicator::Replicator(BlockStore* store, PeerPools* peers, WorkerPool* workers)
    : store_(store), peers_(peers), workers_(workers) {}

Status Replicator::Write(int64_t chunk, int64_t version, int64_t offset, const std::string& data,
                         uint32_t crc, const std::vector<std::string>& forward, bool sync,
                         std::vector<ForwardFailure>* failed, bool* synced) {
  failed->clear();
  *synced = false;
  ChunkLockTable::Guard g = locks_.Lock(chunk);
  REPLFS_RETURN_IF_ERROR(store_->Write(chunk, version, offset, data));
  Status local;
  auto sync_here = [&] {
    if (sync) local = store_->Sync();
  };
  const ForwardedWrite w{chunk, version, offset, data, static_cast<int32_t>(crc), sync};
  std::vector<Forwarded> results(forward.size());
  if (forward.empty()) {
    sync_here();
  } else if (data.size() <= kSmallForwardBytes) {
    ForwardSmall(forward, w, sync_here, &results);
  } else {
    // One task per secondary, each writing only its own slot, and the local
    // sync alongside.
    std::vector<std::function<void()>> tasks;
    tasks.reserve(forward.size() + 1);
    for (size_t i = 0; i < forward.size(); ++i)
      tasks.emplace_back([&, i] { results[i] = Forward(forward[i], w); });
    if (sync) tasks.emplace_back(sync_here);
    workers_->RunAll(std::move(tasks));
  }
  REPLFS_RETURN_IF_ERROR(local.WithContext("sync after the write of " + ChunkName(chunk)));
  bool all_synced = sync;
  for (size_t i = 0; i < forward.size(); ++i) {
    if (results[i].status.ok()) {
      all_synced = all_synced && results[i].synced;
      continue;
    }
    LOG(WARNING) << "forwarding write of " << ChunkName(chunk) << " v" << version << " to "
                 << forward[i] << " failed: " << results[i].status.ToString();
    failed->push_back({forward[i], results[i].status});
  }
  *synced = all_synced;
  return Status::OK();
}

void Replicator::ForwardSmall(const std::vector<std::string>& forward, const ForwardedWrite& w,
                              const std::function<void()>& meanwhile,
                              std::vector<Forwarded>* results) {
  const std::vector<std::string> none;
  std::vector<std::shared_ptr<Pool>> pools(forward.size());
  std::vector<Pool::PendingCall> calls(forward.size());
  for (size_t i = 0; i < forward.size(); ++i) {
    Status& r = (*results)[i].status;
    r = peers_->Get(forward[i], &pools[i]);
    if (!r.ok()) continue;
    bool sent = false;
    r = pools[i]->Send(
        [&](rpc::DataServiceClient& c) {
          c.send_Write(w.chunk, w.version, w.offset, w.data, w.crc, none, w.sync);
        },
        &calls[i], &sent);
  }
  meanwhile();
  // One deadline bounds all the answers together, as if they were awaited
  // in parallel; it starts after `meanwhile` (this store's sync), which the
  // secondaries' own syncs ran alongside.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(peers_->options().rpc_timeout_ms);
  for (size_t i = 0; i < forward.size(); ++i) {
    Forwarded& r = (*results)[i];
    if (!r.status.ok()) continue;
    r.status = calls[i].Finish(
        [&](rpc::DataServiceClient& c) {
          rpc::WriteReply reply;
          c.recv_Write(reply);
          r.synced = reply.synced;
        },
        deadline);
  }
}

Replicator::Forwarded Replicator::Forward(const std::string& addr, const ForwardedWrite& w) {
  Forwarded out;
  std::shared_ptr<Pool> pool;
  out.status = peers_->Get(addr, &pool);
  if (!out.status.ok()) return out;
  const std::vector<std::string> none;
  bool sent = false;
  out.status = pool->CallOnce(
      [&](rpc::DataServiceClient& c) {
        rpc::WriteReply reply;
        c.Write(reply, w.chunk, w.version, w.offset, w.data, w.crc, none, w.sync);
        out.synced = reply.synced;
      },
      &sent);
  return out;
}

Status Replicator::Truncate(int64_t chunk, int64_t version, int64_t length) {
  ChunkLockTable::Guard g = locks_.Lock(chunk);
  return store_->Truncate(chunk, version, length);
}

Status Replicator::Create(int64_t chunk, int64_t version) {
  ChunkLockTable::Guard g = locks_.Lock(chunk);
  return store_->Create(chunk, version);
}

Status Replicator::DeleteChunk(int64_t chunk) {
  ChunkLockTable::Guard g = locks_.Lock(chunk);
  return store_->DeleteChunk(chunk);
}

Status Replicator::SetVersion(int64_t chunk, int64_t old_version, int64_t new_version) {
  ChunkLockTable::Guard g = locks_.Lock(chunk);
  return store_->SetVersion(chunk, old_version, new_version);
}

Status Replicator::InjectFault(int64_t chunk, int64_t block, FaultMode mode) {
  ChunkLockTable::Guard g = locks_.Lock(chunk);
  return store_->InjectFault(chunk, block, mode);
}

Status Replicator::PushChunk(int64_t chunk, int64_t version, const std::string& target,
                             int64_t new_version) {
  const std::string what = "PushChunk of " + ChunkName(chunk) + " v" + std::to_string(version) +
                           " to " + target + " as v" + std::to_string(new_version);
  std::shared_ptr<Pool> pool;
  REPLFS_RETURN_IF_ERROR(peers_->Get(target, &pool));
  ChunkLockTable::Guard g = locks_.Lock(chunk);
  ChunkStat st;
  REPLFS_RETURN_IF_ERROR(store_->Stat(chunk, &st).WithContext(what));
  if (st.version != version)
    return Status::Stale(what + ": this replica holds version " + std::to_string(st.version));
  REPLFS_RETURN_IF_ERROR(
      pool->Call("DeleteChunk " + std::to_string(chunk), net::Idempotency::kIdempotent,
                 [&](rpc::DataServiceClient& c) { c.DeleteChunk(chunk); })
          .WithContext(what));
  REPLFS_RETURN_IF_ERROR(
      pool->Call("CreateChunk " + std::to_string(chunk), net::Idempotency::kIdempotent,
                 [&](rpc::DataServiceClient& c) { c.CreateChunk(chunk, new_version); })
          .WithContext(what));
  Status s = CopyBlocks(pool.get(), chunk, version, new_version, st.end_block);
  if (s.IsCorruption()) {
    // Not needed for correctness (metad deletes replicas it does not know
    // of), but do not leave a partial copy behind when we can help it.
    Status d = pool->Call("DeleteChunk " + std::to_string(chunk), net::Idempotency::kIdempotent,
                          [&](rpc::DataServiceClient& c) { c.DeleteChunk(chunk); });
    if (!d.ok()) {
      LOG(WARNING) << what << ": removing the partial copy: " << d.ToString();
    }
  }
  REPLFS_RETURN_IF_ERROR(s.WithContext(what));
  REPLFS_RETURN_IF_ERROR(pool->Call("Sync", net::Idempotency::kIdempotent,
                                    [](rpc::DataServiceClient& c) { c.Sync(); })
                             .WithContext(what));
  REPLFS_RETURN_IF_ERROR(store_->SetVersion(chunk, version, new_version).WithContext(what));
  LOG(INFO) << what << ": done (" << st.end_block << " block slots)";
  return Status::OK();
}

Status Replicator::CopyBlocks(Pool* target, int64_t chunk, int64_t version, int64_t new_version,
                              int64_t end_block) {
  const int64_t bs = store_->block_size();
  const int64_t batch = kPushRunBytes / bs;  // block slots read at once
  std::string run;
  int64_t run_first = 0;
  for (int64_t first = 0; first < end_block; first += batch) {
    std::vector<Block> blocks;
    REPLFS_RETURN_IF_ERROR(store_->Read(chunk, version, first, batch, &blocks));
    // A run is consecutive blocks of which all but the last are full, so
    // that the target stores exactly the same records (a short block stays
    // short); runs never cross a batch.
    for (const Block& b : blocks) {
      const auto run_bytes = static_cast<int64_t>(run.size());
      const bool extends = !run.empty() && run_bytes % bs == 0 && b.index == run_first + run_bytes / bs;
      if (!run.empty() && !extends) {
        REPLFS_RETURN_IF_ERROR(PushRun(target, chunk, new_version, run_first, run));
        run.clear();
      }
      if (run.empty()) run_first = b.index;
      run += b.data;
    }
    if (!run.empty()) {
      REPLFS_RETURN_IF_ERROR(PushRun(target, chunk, new_version, run_first, run));
      run.clear();
    }
  }
  return Status::OK();
}

Status Replicator::PushRun(Pool* target, int64_t chunk, int64_t new_version, int64_t first_block,
                           const std::string& data) {
  const int64_t offset = first_block * store_->block_size();
  const auto crc = static_cast<int32_t>(Crc32c(data));
  const std::vector<std::string> none;
  return target->Call("Write " + ChunkName(chunk) + " at " + std::to_string(offset),
                      net::Idempotency::kIdempotent, [&](rpc::DataServiceClient& c) {
                        rpc::WriteReply reply;
                        c.Write(reply, chunk, new_version, offset, data, crc, none, false);
                      });
}

}  // namespace replfs::datad
