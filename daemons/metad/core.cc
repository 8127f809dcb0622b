#include "daemons/metad/core.h"

#include "daemons/metad/data_checker.h"
#include "thrift/rpc_options.h"

namespace replfs::metad {

MetaCore::MetaCore(const Config& config, const Clock* clock)
    : config_(config), clock_(clock), start_ms_(clock->NowMs()) {}

Status MetaCore::Open(const Config& config, const Clock* clock, std::unique_ptr<ReplicaChecker> checker,
                      std::unique_ptr<MetaCore>* out) {
  std::unique_ptr<MetaCore> c(new MetaCore(config, clock));
  REPLFS_RETURN_IF_ERROR(MetaStore::Open(config.metad_data_dir, config.metad_fsync, &c->store_));
  c->chunks_ = std::make_unique<ChunkMap>(c->store_.get(), config.EffectiveMinWriteReplicas(),
                                          config.block_size);
  REPLFS_RETURN_IF_ERROR(c->chunks_->Load());
  c->ns_ = std::make_unique<Namespace>(c->store_.get(), c->chunks_.get(),
                                       Namespace::Options{config.replicas, config.chunk_size});
  REPLFS_RETURN_IF_ERROR(c->ns_->Init());
  ServerRegistry::Options ro;
  ro.block_size = static_cast<int32_t>(config.block_size);
  ro.dead_after_ms = config.dead_after_ms;
  c->servers_ = std::make_unique<ServerRegistry>(c->store_.get(), c->chunks_.get(), clock, ro);
  REPLFS_RETURN_IF_ERROR(c->servers_->Load());
  c->checker_ = checker ? std::move(checker)
                        : std::make_unique<RpcReplicaChecker>(net::RpcOptions::FromConfig(config));
  *out = std::move(c);
  return Status::OK();
}

Status MetaCore::AllocChunk(Ino ino, int64_t index, ChunkInfo* out) {
  return chunks_->Alloc(ino, index, servers_->UpServers(), out);
}

ClusterStatus MetaCore::GetStatus() const {
  ClusterStatus st;
  std::map<std::string, int64_t> per_server;
  st.chunks = chunks_->Count(servers_->UpAddrs(), &per_server);
  st.servers = servers_->List(per_server);
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

Status MetaCore::Fsck(Ino ino, FileReport* out) {
  return RunFsck(*ns_, *chunks_, *servers_, checker_.get(), ino, out);
}

}  // namespace replfs::metad
