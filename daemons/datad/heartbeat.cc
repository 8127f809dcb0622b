#include "daemons/datad/heartbeat.h"

#include <algorithm>
#include <chrono>

#include "common/log.h"
#include "daemons/datad/data_service.h"

namespace replfs::datad {

Heartbeater::Heartbeater(BlockStore* store, HeartbeatOptions opts, const Scrubber* scrubber,
                         const IoActivity* activity)
    : store_(store),
      opts_(std::move(opts)),
      scrubber_(scrubber),
      activity_(activity),
      pool_(opts_.meta, opts_.rpc) {}

Heartbeater::~Heartbeater() { Stop(); }

void Heartbeater::Start() { thread_ = std::thread([this] { Loop(); }); }

void Heartbeater::Stop() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Heartbeater::Wake() {
  {
    MutexLock l(&mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

// Uses the native mutex for the condition variable, hence no analysis.
bool Heartbeater::Sleep(int64_t ms) NO_THREAD_SAFETY_ANALYSIS {
  std::unique_lock<std::mutex> l(mu_.native());
  cv_.wait_for(l, std::chrono::milliseconds(ms), [this]() NO_THREAD_SAFETY_ANALYSIS {
    return stop_ || wake_;
  });
  wake_ = false;
  return !stop_;
}

void Heartbeater::Loop() {
  backoff_ms_ = opts_.interval_ms;
  while (Sleep(0)) {
    const int64_t wait_ms = Step();
    if (!Sleep(wait_ms)) break;
  }
}

int64_t Heartbeater::Step() {
  if (!registered_) {
    Status s = Register();
    if (!s.ok()) {
      NoteFailure("RegisterServer", s);
      if (s.code() == Status::Code::kInvalid) return opts_.invalid_retry_ms;
      backoff_ms_ = std::min(backoff_ms_ * 2, opts_.max_backoff_ms);
      return backoff_ms_;
    }
    registered_ = true;
    next_report_ = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(opts_.block_report_interval_ms);
  } else {
    const bool report = std::chrono::steady_clock::now() >= next_report_;
    Status s = Beat();
    if (s.ok() && report) s = Report();
    if (s.IsNotFound()) {
      LOG(INFO) << "metad " << pool_.peer() << " does not know this datad (restarted?); "
                << "registering again";
      registered_ = false;
      return 0;
    }
    if (!s.ok()) {
      NoteFailure(report ? "Heartbeat/BlockReport" : "Heartbeat", s);
      return opts_.interval_ms;  // a failed report is retried with the next beat
    }
    if (report) {
      next_report_ = std::chrono::steady_clock::now() +
                     std::chrono::milliseconds(opts_.block_report_interval_ms);
    }
  }
  if (in_outage_) {
    LOG(INFO) << "metad " << pool_.peer() << " reachable again";
  }
  in_outage_ = false;
  backoff_ms_ = opts_.interval_ms;
  return opts_.interval_ms;
}

void Heartbeater::NoteFailure(const char* what, const Status& s) {
  if (s.code() == Status::Code::kInvalid) {
    LOG(ERROR) << "metad " << pool_.peer() << " refused " << what << " of " << opts_.advertise
               << ": " << s.message();
    return;
  }
  if (!in_outage_) {
    LOG(WARNING) << what << " to metad " << pool_.peer() << " failed: " << s.ToString()
                 << "; retrying quietly until it answers";
    in_outage_ = true;
  }
}

std::vector<rpc::ChunkReplica> Heartbeater::WireInventory() const {
  std::vector<rpc::ChunkReplica> inventory;
  for (const ChunkVersion& cv : store_->Inventory()) {
    rpc::ChunkReplica r;
    r.chunk_id = cv.chunk_id;
    r.version = cv.version;
    inventory.push_back(r);
  }
  return inventory;
}

void Heartbeater::ApplyDeletes(const rpc::HeartbeatReply& reply) {
  if (reply.delete_replicas.empty()) return;
  size_t kept = 0;
  for (const rpc::ChunkReplica& r : reply.delete_replicas) {
    bool deleted = false;
    Status s = store_->DeleteChunkUpTo(r.chunk_id, r.version, &deleted);
    if (!s.ok()) {
      LOG(WARNING) << "deleting chunk " << r.chunk_id << ": " << s.ToString();
    } else if (!deleted) {
      ++kept;
    }
  }
  LOG(INFO) << "metad asked to delete " << reply.delete_replicas.size() << " chunks"
            << (kept ? " (" + std::to_string(kept) + " absent or held at a newer version: kept)"
                     : std::string());
}

Status Heartbeater::WireUsage(rpc::ServerUsage* usage, std::vector<ChunkVersion>* corrupt) const {
  REPLFS_RETURN_IF_ERROR(CollectUsage(store_, scrubber_, opts_.advertise, usage, corrupt));
  if (!corrupt->empty()) {
    LOG(INFO) << "reporting " << corrupt->size() << " corrupt replicas to metad " << pool_.peer();
  }
  return Status::OK();
}

Status Heartbeater::Register() {
  rpc::ServerUsage usage;
  std::vector<ChunkVersion> corrupt;
  REPLFS_RETURN_IF_ERROR(WireUsage(&usage, &corrupt));
  const std::vector<rpc::ChunkReplica> inventory = WireInventory();
  bool sent = false;
  REPLFS_RETURN_IF_ERROR(pool_.CallOnce(
      [&](rpc::MetaServiceClient& c) { c.RegisterServer(usage, inventory); }, &sent));
  store_->ForgetCorrupt(corrupt);
  registrations_.fetch_add(1);
  LOG(INFO) << "registered " << opts_.advertise << " with metad " << pool_.peer() << " ("
            << inventory.size() << " chunks)";
  return Status::OK();
}

Status Heartbeater::Beat() {
  rpc::ServerUsage usage;
  std::vector<ChunkVersion> corrupt;
  REPLFS_RETURN_IF_ERROR(WireUsage(&usage, &corrupt));
  rpc::HeartbeatReply reply;
  bool sent = false;
  REPLFS_RETURN_IF_ERROR(pool_.CallOnce(
      [&](rpc::MetaServiceClient& c) { c.Heartbeat(reply, usage); }, &sent));
  store_->ForgetCorrupt(corrupt);
  heartbeats_.fetch_add(1);
  ApplyDeletes(reply);
  Compact();
  return Status::OK();
}

void Heartbeater::Compact() {
  // Space of deleted blocks goes back to the file system a step per beat
  // (a few milliseconds at most); the next heartbeat reports it free.
  Status c = store_->Compact(kCompactSteps);
  if (!c.ok()) {
    LOG(WARNING) << c.ToString();
    return;
  }
  // An idle datad goes on, so a large delete is reclaimed in seconds, but
  // stops at the first client request: the store is locked during a step.
  // One short of space goes on regardless.
  StoreUsage u;
  const bool urgent = store_->Usage(&u).ok() &&
                      u.bytes_free < u.bytes_total / 100 * opts_.urgent_compact_free_percent;
  if (activity_ == nullptr && !urgent) return;
  const int64_t started = activity_ != nullptr ? activity_->started() : 0;
  const bool idle = activity_ != nullptr && started == last_started_ && activity_->in_flight() == 0;
  if (idle || urgent) {
    using Clock = std::chrono::steady_clock;
    const auto until = Clock::now() + std::chrono::milliseconds(std::clamp<int64_t>(
                                          opts_.interval_ms / 4, 1, kMaxIdleCompactMs));
    while (store_->CompactionBacklog() > 0 &&
           (urgent || activity_->started() == started) && Clock::now() < until) {
      c = store_->Compact(kIdleCompactSteps);
      if (!c.ok()) {
        LOG(WARNING) << c.ToString();
        break;
      }
    }
  }
  if (activity_ != nullptr) last_started_ = activity_->started();
}

Status Heartbeater::Report() {
  const std::vector<rpc::ChunkReplica> inventory = WireInventory();
  rpc::HeartbeatReply reply;
  bool sent = false;
  REPLFS_RETURN_IF_ERROR(pool_.CallOnce(
      [&](rpc::MetaServiceClient& c) { c.BlockReport(reply, opts_.advertise, inventory); },
      &sent));
  block_reports_.fetch_add(1);
  LOG(DEBUG) << "block report to metad " << pool_.peer() << ": " << inventory.size() << " chunks";
  ApplyDeletes(reply);
  return Status::OK();
}

}  // namespace replfs::datad
