#include "daemons/metad/core.h"

#include <algorithm>
#include <random>

#include "common/log.h"
#include "daemons/metad/repair.h"
#include "thrift/rpc_options.h"

namespace replfs::metad {

inline constexpr size_t kMaxDeletesPerReply = 10000;

namespace {
// A feed generation no earlier metad process used (random, never 0).
uint64_t FeedGeneration() {
  std::random_device rd;
  const uint64_t g = (uint64_t{rd()} << 32) ^ rd();
  return g == 0 ? 1 : g;
}
}  // namespace

MetaCore::MetaCore(const Config& config, const Clock* clock)
    : config_(config),
      clock_(clock),
      start_ms_(clock->NowMs()),
      changes_(std::make_unique<ChangeFeed>(FeedGeneration())) {}

Status MetaCore::Open(const Config& config, const Clock* clock, std::unique_ptr<DatadApi> datad,
                      std::unique_ptr<MetaCore>* out) {
  std::unique_ptr<MetaCore> c(new MetaCore(config, clock));
  MetaStoreOptions store_options;
  store_options.fsync = config.metad_fsync;
  store_options.sync_interval_ms = config.metad_fsync_interval_ms;
  REPLFS_RETURN_IF_ERROR(MetaStore::Open(config.metad_data_dir, store_options, &c->store_));
  // Before any thread of ours mutates (the orphan sweeper Init starts):
  // every committed change reaches the feed.
  ChangeFeed* feed = c->changes_.get();
  c->store_->SetCommitObserver(
      [feed](int64_t origin, const std::vector<std::string>& keys) { feed->RecordKeys(origin, keys); });
  c->chunks_ = std::make_unique<ChunkMap>(c->store_.get(), config.EffectiveMinWriteReplicas(),
                                          config.block_size);
  REPLFS_RETURN_IF_ERROR(c->chunks_->Load());
  c->ns_ = std::make_unique<Namespace>(c->store_.get(), c->chunks_.get(),
                                       Namespace::Options{config.replicas, config.chunk_size});
  REPLFS_RETURN_IF_ERROR(c->ns_->Init());
  ServerRegistry::Options ro;
  ro.block_size = static_cast<int32_t>(config.block_size);
  ro.dead_after_ms = config.dead_after_ms;
  ro.max_deletes_per_reply = kMaxDeletesPerReply;
  c->servers_ = std::make_unique<ServerRegistry>(c->store_.get(), c->chunks_.get(), clock, ro);
  REPLFS_RETURN_IF_ERROR(c->servers_->Load());
  c->datad_ = datad ? std::move(datad) : std::make_unique<RpcDatadApi>(net::RpcOptions::FromConfig(config));
  ReplicaManager::Options mo;
  mo.missing_grace_ms = std::max<int64_t>(config.dead_after_ms, 10000);
  mo.wait_change_ms = std::clamp<int64_t>(config.rpc_timeout_ms / 2, 100, 30000);
  c->replicas_ = std::make_unique<ReplicaManager>(c->chunks_.get(), c->servers_.get(), c->datad_.get(), clock, mo);
  *out = std::move(c);
  return Status::OK();
}

void MetaCore::AttachRepair(RepairScheduler* repair) {
  repair_ = repair;
  std::function<void()> wake, servers_changed, server_up;
  if (repair) {
    wake = [repair] { repair->Wake(); };
    servers_changed = [repair] { repair->ServersChanged(); };
    server_up = [repair] { repair->ServerCameUp(); };
  }
  servers_->SetOnChange(servers_changed);
  servers_->SetOnUp(server_up);
  replicas_->SetWake(wake);
}

Status MetaCore::AllocChunk(Ino ino, int64_t index, ChunkInfo* out) {
  // A new chunk is created on its datads first and recorded after, so that
  // a record never names a datad that does not hold the chunk (also when
  // metad dies in between: the copies are then unknown, and deleted by
  // reconciliation).
  bool exists = false;
  REPLFS_RETURN_IF_ERROR(chunks_->PlanAlloc(ino, index, servers_->PlacementServers(), out, &exists));
  if (!exists) {
    ChunkInfo plan = *out;
    // A block report listing a copy before CommitNew must not have it
    // deleted as unknown: reconciliation leaves chunks in grace alone.
    replicas_->Touch(plan.id);
    plan.replicas = replicas_->CreateOnDatads(plan);
    if (plan.replicas.empty())
      return Status::Unavailable("no datad could create chunk " + std::to_string(plan.id) + " for inode " +
                                 std::to_string(ino));
    bool won = false;
    REPLFS_RETURN_IF_ERROR(chunks_->CommitNew(plan, out, &won));
    if (won) {
      replicas_->Touch(out->id);
      if (static_cast<int>(out->replicas.size()) < out->goal) replicas_->Wake();  // below goal from the start
      return Status::OK();
    }
    for (const auto& a : plan.replicas) chunks_->QueueDelete(a, plan.id, ChunkMap::kAnyVersion);
  }
  if (replicas_->WaitIdle({out->id})) {  // a version change ran: answer its result
    std::vector<ChunkInfo> now;
    REPLFS_RETURN_IF_ERROR(chunks_->GetChunks(ino, index, 1, &now));
    if (now.empty()) return Status::NotFound("chunk " + std::to_string(out->id) + " was dropped");
    *out = now[0];
  }
  replicas_->Touch(out->id);  // about to be written: not "missing" on a block report
  return Status::OK();
}

Status MetaCore::SetAttr(const SetAttrRequest& r, Inode* out) {
  if (!r.has_size || r.size < 0) return ns_->SetAttr(r, out);
  const int64_t cs = config_.chunk_size;
  const int64_t first = r.size / cs + (r.size % cs != 0);
  std::vector<ChunkInfo> doomed;
  if (!chunks_->GetChunks(r.ino, first, INT64_MAX - first, &doomed).ok() || doomed.empty())
    return ns_->SetAttr(r, out);  // no chunk to fence (or no inode: SetAttr says so)
  std::vector<ReplicaManager::Guard> guards(doomed.size());
  std::map<std::string, std::vector<ChunkId>> by_server;
  for (size_t i = 0; i < doomed.size(); ++i) {
    REPLFS_RETURN_IF_ERROR(replicas_->AcquireBounded(doomed[i].id, &guards[i]));
    for (const auto& a : doomed[i].replicas) by_server[a].push_back(doomed[i].id);
  }
  std::vector<std::string> servers;
  for (const auto& [a, ids] : by_server) servers.push_back(a);
  const std::vector<Status> st = replicas_->CallEach(servers, [&](const std::string& addr) {
    for (ChunkId id : by_server[addr]) REPLFS_RETURN_IF_ERROR(datad_->DeleteChunk(addr, id));
    return Status::OK();
  });
  for (size_t i = 0; i < servers.size(); ++i)
    if (!st[i].ok())
      LOG(INFO) << "truncation of inode " << r.ino << ": " << servers[i]
                << " did not delete its chunks now (" << st[i].ToString() << "); it will when it answers";
  Status s = ns_->SetAttr(r, out);
  if (!s.ok())
    LOG(ERROR) << "truncation of inode " << r.ino << " to " << r.size << " failed after " << doomed.size()
               << " chunk(s) past the new end were deleted on their datads: " << s.ToString();
  return s;
}

Status MetaCore::GetChunks(Ino ino, int64_t first, int64_t count, std::vector<ChunkInfo>* out) {
  REPLFS_RETURN_IF_ERROR(chunks_->GetChunks(ino, first, count, out));
  std::vector<ChunkId> ids;
  for (const auto& c : *out) ids.push_back(c.id);
  if (!replicas_->WaitIdle(ids)) return Status::OK();
  return chunks_->GetChunks(ino, first, count, out);
}

int64_t MetaCore::AllocatedBytes(const Inode& in) const {
  if (in.type != FileType::kRegular) return 0;
  return chunks_->AllocatedBytes(in.ino, in.size, config_.chunk_size);
}

Status MetaCore::RegisterServer(const ServerUsage& usage, const std::vector<ReplicaHeld>& inventory) {
  REPLFS_RETURN_IF_ERROR(servers_->Register(usage));
  replicas_->Reconcile(usage.addr, inventory);
  return Status::OK();
}

Status MetaCore::BlockReport(const std::string& addr, const std::vector<ReplicaHeld>& inventory,
                             std::vector<ReplicaHeld>* deletes) {
  deletes->clear();
  if (!servers_->IsRegistered(addr))
    return Status::NotFound("datad " + addr + " is not registered; register again");
  replicas_->Reconcile(addr, inventory);
  *deletes = chunks_->TakeDeletes(addr, kMaxDeletesPerReply);
  return Status::OK();
}

Status MetaCore::ReportBadReplicas(Ino ino, int64_t index, ChunkId id, uint64_t version,
                                   const std::vector<std::string>& bad, Status::Code why,
                                   const std::string& reporter, ChunkInfo* out) {
  return replicas_->ReportBad(ino, index, id, version, bad, why, reporter, out);
}

Status MetaCore::Heartbeat(const ServerUsage& usage, std::vector<ReplicaHeld>* deletes) {
  REPLFS_RETURN_IF_ERROR(servers_->Heartbeat(usage, deletes));
  if (usage.corrupt_chunks.empty()) return Status::OK();
  for (const auto& r : usage.corrupt_chunks) {
    Status s = replicas_->DropCorrupt(usage.addr, r.id, r.version, "datad " + usage.addr);
    if (!s.ok())
      LOG(WARNING) << "chunk " << r.id << ": corrupt replica on " << usage.addr << " not dropped: " << s.ToString();
  }
  // The drops queued deletions of the corrupt copies: hand them out now.
  for (const ReplicaHeld& d : chunks_->TakeDeletes(usage.addr, kMaxDeletesPerReply)) deletes->push_back(d);
  replicas_->Wake();
  return Status::OK();
}

ClusterStatus MetaCore::GetStatus() const {
  ClusterStatus st;
  std::map<std::string, int64_t> per_server;
  st.chunks = chunks_->Count(servers_->UpAddrs(), servers_->GoodAddrs(), &per_server);
  replicas_->CountDropped(chunks_->StaleQueued(), &st.chunks.corrupt_replicas, &st.chunks.stale_replicas);
  st.servers = servers_->List(per_server);
  if (repair_) {
    st.repair_queued = repair_->queued();
    st.repair_done = repair_->done();
    st.repair_bytes_per_s = repair_->BytesPerSecond();
    st.repair_bytes_queued = repair_->bytes_queued();
    st.heal_running = repair_->healing();
  }
  st.uptime_ms = clock_->NowMs() - start_ms_;
  st.files = ns_->files();
  st.directories = ns_->directories();
  st.replicas = config_.replicas;
  return st;
}

FsStat MetaCore::StatFs() const {
  FsStat f = servers_->Totals();
  f.inodes = ns_->inodes();
  f.replicas = config_.replicas;
  return f;
}


}  // namespace replfs::metad
