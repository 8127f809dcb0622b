#include "daemons/metad/metad.h"

#include <algorithm>
#include <chrono>

#include "common/log.h"
#include "daemons/metad/meta_service.h"

namespace replfs::metad {

Metad::Metad(Config config, const Clock* clock)
    : config_(std::move(config)), clock_(clock ? clock : &steady_) {}

Metad::~Metad() { Stop(); }

Status Metad::Start() {
  REPLFS_RETURN_IF_ERROR(net::TlsContext::FromConfig(config_, &tls_));
  net::WarnAboutTransport("metad", tls_, config_.tls_insecure, Mask(net::Role::kMetad));
  net::RpcOptions datad_opts = net::RpcOptions::FromConfig(config_);
  datad_opts.tls = tls_;
  REPLFS_RETURN_IF_ERROR(MetaCore::Open(config_, clock_, std::make_unique<RpcDatadApi>(datad_opts), &core_));
  RepairScheduler::Options ro;
  ro.max_concurrent = std::max(config_.repair_max_concurrent, 1);
  ro.rate_bytes_s = config_.repair_rate_mb_s << 20;
  ro.start_delay_ms = config_.dead_after_ms;
  ro.return_hold_ms = std::min<int64_t>(config_.dead_after_ms / 2, 10000);
  ro.chunk_size = config_.chunk_size;
  ro.block_size = config_.block_size;
  repair_ = std::make_unique<RepairScheduler>(&core_->replicas(), &core_->ns(), clock_, ro);
  core_->AttachRepair(repair_.get());
  auto handler = std::make_shared<MetaServiceHandler>(core_.get());
  net::ServerOptions so;
  so.listen = config_.metad_listen;
  so.max_connections = config_.metad_max_connections;
  so.max_container_elements = static_cast<int32_t>(kMaxInventory);
  so.tls = tls_;
  server_ = std::make_unique<net::RpcServer>(
      std::make_shared<net::AuthorizingFactory<rpc::MetaServiceProcessor, rpc::MetaServiceIf>>(
          handler, MetadPolicy(), MetadNoThrow(), net::AuthzOptions{tls_, config_.tls_insecure}),
      so);
  REPLFS_RETURN_IF_ERROR(server_->Start());
  liveness_ = std::thread([this] { LivenessLoop(); });
  repair_->Start();
  LOG(INFO) << "metad serving on port " << server_->port() << ", store " << config_.metad_data_dir;
  return Status::OK();
}

void Metad::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (liveness_.joinable()) liveness_.join();
  if (core_) core_->changes().Stop();  // long polls end before their connections
  if (server_) server_->Stop();
  if (repair_) repair_->Stop();
}

void Metad::LivenessLoop() {
  // Checking a few times per dead_after period bounds how late a datad is
  // declared down.
  const auto period = std::chrono::milliseconds(std::clamp<int64_t>(config_.dead_after_ms / 4, 10, 1000));
  std::unique_lock<std::mutex> l(mu_);
  while (!cv_.wait_for(l, period, [this] { return stop_; })) {
    l.unlock();
    core_->servers().CheckLiveness();
    l.lock();
  }
}

}  // namespace replfs::metad
