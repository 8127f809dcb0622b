#include "daemons/datad/datad.h"

#include <errno.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "common/host_port.h"
#include "common/log.h"

namespace replfs::datad {

namespace {

Status MakeDataDir(const std::string& dir) {
  std::error_code ec;
  const std::filesystem::path p(dir);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  if (ec) return Status::FromErrno(ec.value(), "create " + p.parent_path().string());
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST)
    return Status::FromErrno(errno, "create data dir " + dir);
  if (!std::filesystem::is_directory(p, ec))
    return Status::Invalid("data dir " + dir + " is not a directory");
  return Status::OK();
}

}  // namespace

Status ResolveDataDir(Config* config) {
  if (!config->datad_data_dir.empty()) return Status::OK();
  HostPort hp;
  REPLFS_RETURN_IF_ERROR(ParseHostPort(config->datad_listen, &hp, /*allow_zero_port=*/true));
  config->datad_data_dir = "/var/lib/replfs/datad-" + std::to_string(hp.port);
  return Status::OK();
}

Status AdvertisedAddress(const std::string& advertise, const std::string& listen, int bound_port,
                         std::string* out) {
  HostPort hp;
  if (!advertise.empty()) {
    REPLFS_RETURN_IF_ERROR(ParseHostPort(advertise, &hp));
    *out = hp.ToString();
    return Status::OK();
  }
  REPLFS_RETURN_IF_ERROR(ParseHostPort(listen, &hp, /*allow_zero_port=*/true));
  if (hp.host.empty() || hp.host == "0.0.0.0" || hp.host == "::" || hp.host == "*")
    hp.host = "127.0.0.1";
  hp.port = bound_port;
  *out = hp.ToString();
  return Status::OK();
}

Datad::Datad(Config config) : config_(std::move(config)) {}

Datad::~Datad() {
  Status s = Stop();
  if (!s.ok()) {
    LOG(ERROR) << "stopping datad: " << s.ToString();
  }
}

Status Datad::Start() {
  if (config_.datad_data_dir.empty()) return Status::Invalid("datad.data_dir is not set");
  HostPort meta;
  REPLFS_RETURN_IF_ERROR(ParseHostPort(config_.meta, &meta));
  REPLFS_RETURN_IF_ERROR(MakeDataDir(config_.datad_data_dir));
  REPLFS_RETURN_IF_ERROR(BlockStore::Open(config_.datad_data_dir, config_.block_size, &store_));

  REPLFS_RETURN_IF_ERROR(net::TlsContext::FromConfig(config_, &tls_));
  net::WarnAboutTransport("datad", tls_, config_.tls_insecure, Mask(net::Role::kDatad));
  workers_ = std::make_unique<WorkerPool>(kForwardThreads);
  // Calls to other datads (forwarded writes, repair copies) get half the
  // client's per-call timeout: a hung secondary then shows up in
  // WriteReply.failed before the client's own call to this primary times out
  // and wrongly blames the primary.
  net::RpcOptions peer_opts = net::RpcOptions::FromConfig(config_);
  peer_opts.tls = tls_;
  peer_opts.rpc_timeout_ms = std::max<int64_t>(1, peer_opts.rpc_timeout_ms / 2);
  peer_opts.connect_timeout_ms = std::min(peer_opts.connect_timeout_ms, peer_opts.rpc_timeout_ms);
  peers_ = std::make_unique<PeerPools>(peer_opts);
  replicator_ = std::make_unique<Replicator>(store_.get(), peers_.get(), workers_.get());
  ScrubOptions scrub;
  scrub.rate_bytes_per_s = config_.scrub_rate_mb_s << 20;
  scrub.interval_ms = config_.scrub_interval_s * 1000;
  scrubber_ = std::make_unique<Scrubber>(store_.get(), &activity_, scrub);
  handler_ = std::make_shared<DataServiceHandler>(store_.get(), replicator_.get(),
                                                  scrubber_.get(), &activity_);
  net::ServerOptions so;
  so.listen = config_.datad_listen;
  so.max_connections = config_.datad_max_connections;
  so.tls = tls_;
  server_ = std::make_unique<net::RpcServer>(
      std::make_shared<net::AuthorizingFactory<rpc::DataServiceProcessor, rpc::DataServiceIf>>(
          handler_, DatadPolicy(), DatadNoThrow(), net::AuthzOptions{tls_, config_.tls_insecure}),
      so);
  Status s = server_->Start();
  if (s.ok()) s = AdvertisedAddress(config_.datad_advertise, config_.datad_listen,
                                    server_->port(), &advertised_);
  if (!s.ok()) {
    Status stopped = Stop();
    if (!stopped.ok()) {
      LOG(ERROR) << "cleaning up: " << stopped.ToString();
    }
    return s;
  }
  handler_->set_advertised_addr(advertised_);

  HeartbeatOptions ho;
  ho.advertise = advertised_;
  ho.meta = meta;
  ho.rpc = net::RpcOptions::FromConfig(config_);
  ho.rpc.tls = tls_;
  ho.interval_ms = config_.heartbeat_interval_ms;
  ho.block_report_interval_ms = config_.block_report_interval_ms;
  ho.max_backoff_ms = std::max(config_.max_backoff_ms, config_.heartbeat_interval_ms);
  heartbeater_ = std::make_unique<Heartbeater>(store_.get(), ho, scrubber_.get(), &activity_);
  // Corruption found (by a read, a check, a push or the scrubber) goes to
  // metad with an early heartbeat. Found before this point, it waits for the
  // first one.
  store_->SetCorruptionListener([hb = heartbeater_.get()] { hb->Wake(); });
  heartbeater_->Start();
  scrubber_->Start();
  LOG(INFO) << "datad " << advertised_ << " serving " << store_->path() << ", metad "
            << meta.ToString();
  return Status::OK();
}

Status Datad::Stop() {
  // Order: no new metad traffic, no new clients, then make everything durable.
  if (stopped_) return Status::OK();
  stopped_ = true;
  if (scrubber_) scrubber_->Stop();
  if (store_) store_->SetCorruptionListener(nullptr);
  if (heartbeater_) heartbeater_->Stop();
  if (server_) server_->Stop();
  if (workers_) workers_->Stop();  // no handler runs any more
  Status s;
  if (store_) {
    s = store_->Close();
    if (s.ok()) {
      LOG(INFO) << "block store " << store_->path() << " synced and closed";
    }
  }
  return s;
}

}  // namespace replfs::datad
