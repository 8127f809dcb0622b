#include "daemons/datad/scrubber.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "common/log.h"

namespace replfs::datad {

namespace {

class RealClock : public ScrubClock {
 public:
  int64_t MonotonicMs() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  int64_t WallMs() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  void WaitFor(std::condition_variable* cv, std::unique_lock<std::mutex>* lock, int64_t ms,
               const std::function<bool()>& done) override {
    cv->wait_for(*lock, std::chrono::milliseconds(std::max<int64_t>(ms, 0)), done);
  }
};

}  // namespace

ScrubClock* RealScrubClock() {
  static RealClock clock;  // stateless
  return &clock;
}

Scrubber::Scrubber(BlockStore* store, const IoActivity* activity, ScrubOptions opts)
    : store_(store),
      activity_(activity),
      opts_(opts),
      clock_(opts.clock != nullptr ? opts.clock : RealScrubClock()),
      start_ms_(clock_->MonotonicMs()) {}

Scrubber::~Scrubber() { Stop(); }

void Scrubber::Start() { thread_ = std::thread([this] { Loop(); }); }

void Scrubber::Stop() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scrubber::StartPass() {
  {
    MutexLock l(&mu_);
    if (status_.running) {
      unlimited_ = true;
    } else {
      demand_ = true;
    }
  }
  cv_.notify_all();
}

ScrubStatus Scrubber::Info() const {
  // The inventory first, without mu_ (it takes the store's index lock).
  const std::vector<ChunkVersion> chunks = store_->Inventory();
  const int64_t now = clock_->MonotonicMs();
  MutexLock l(&mu_);
  ScrubStatus s = status_;
  int64_t oldest = now;
  for (const ChunkVersion& cv : chunks) {
    auto it = verified_ms_.find(cv.chunk_id);
    oldest = std::min(oldest, it == verified_ms_.end() ? start_ms_ : it->second);
  }
  s.oldest_unverified_ms = std::max<int64_t>(now - oldest, 0);
  return s;
}

// Uses the native mutex for the condition variable, hence no analysis.
bool Scrubber::Pause(int64_t ms, bool until_unlimited) NO_THREAD_SAFETY_ANALYSIS {
  std::unique_lock<std::mutex> l(mu_.native());
  clock_->WaitFor(&cv_, &l, ms, [this, until_unlimited]() NO_THREAD_SAFETY_ANALYSIS {
    return stop_ || (until_unlimited && unlimited_);
  });
  return !stop_;
}

void Scrubber::Loop() NO_THREAD_SAFETY_ANALYSIS {
  int64_t next_start = clock_->MonotonicMs();
  std::unique_lock<std::mutex> l(mu_.native());
  while (!stop_) {
    const int64_t wait = next_start - clock_->MonotonicMs();
    if (!demand_ && wait > 0) {
      clock_->WaitFor(&cv_, &l, wait, [this]() NO_THREAD_SAFETY_ANALYSIS {
        return stop_ || demand_;
      });
      continue;  // re-evaluate: stopped, demanded, or due
    }
    const bool on_demand = demand_;
    demand_ = false;
    unlimited_ = on_demand;
    status_.running = true;
    status_.progress = 0;
    status_.bytes_verified = 0;
    status_.corrupt_found_pass = 0;
    // A background pass is due `interval` after this one starts; an
    // on-demand pass does not move the background schedule.
    if (!on_demand) next_start = clock_->MonotonicMs() + opts_.interval_ms;
    l.unlock();
    RunPass(on_demand);
    l.lock();
    status_.running = false;
  }
}

void Scrubber::RunPass(bool on_demand) {
  const int64_t started = clock_->MonotonicMs();
  tokens_ = 0;  // empty bucket: a pass over N bytes takes at least N / rate
  refilled_ms_ = started;
  const std::vector<ChunkVersion> chunks = store_->Inventory();  // sorted: key order
  LOG(INFO) << "scrub: " << (on_demand ? "on-demand" : "background") << " pass over "
            << chunks.size() << " chunks started";
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (!ScrubChunk(chunks[i], i, chunks.size())) {
      LOG(INFO) << "scrub: pass interrupted (stopping)";
      return;
    }
  }
  const int64_t ended = clock_->MonotonicMs();
  MutexLock l(&mu_);
  // Forget chunks that were not in this pass (deleted since).
  std::unordered_map<int64_t, int64_t> kept;
  for (const ChunkVersion& cv : chunks) {
    auto it = verified_ms_.find(cv.chunk_id);
    if (it != verified_ms_.end()) kept.emplace(*it);
  }
  verified_ms_.swap(kept);
  status_.progress = 1.0;
  status_.last_full_pass_ms = clock_->WallMs();
  status_.last_pass_duration_ms = ended - started;
  ++status_.passes;
  LOG(INFO) << "scrub: pass done: " << chunks.size() << " chunks, " << status_.bytes_verified
            << " bytes verified in " << ended - started << " ms, "
            << status_.corrupt_found_pass << " corrupt blocks";
}

int64_t Scrubber::BatchBlocks(bool limited) const {
  int64_t bytes = opts_.max_batch_bytes;
  // Small batches at low rates, so the reading is spread evenly.
  if (limited && opts_.rate_bytes_per_s > 0) bytes = std::min(bytes, opts_.rate_bytes_per_s / 20);
  return std::max<int64_t>(1, bytes / store_->block_size());
}

bool Scrubber::ScrubChunk(const ChunkVersion& cv, size_t index, size_t total) {
  ChunkStat st;
  // Gone or changed version since the inventory: the new replica is
  // verified in the next pass.
  if (!store_->Stat(cv.chunk_id, &st).ok() || st.version != cv.version) return true;
  for (int64_t first = 0; first < st.end_block;) {
    if (!YieldToClients()) return false;
    bool limited = false;
    {
      MutexLock l(&mu_);
      if (stop_) return false;
      limited = !unlimited_ && opts_.rate_bytes_per_s > 0;
    }
    const int64_t count = BatchBlocks(limited);
    VerifyResult r;
    Status s = store_->Verify(cv.chunk_id, cv.version, first, count, &r);
    if (s.IsNotFound() || s.code() == Status::Code::kStale) return true;  // deleted or re-versioned meanwhile
    if (!s.ok()) {
      LOG(WARNING) << "scrub: chunk " << cv.chunk_id << ": " << s.ToString() << "; skipped";
      return true;
    }
    first += count;
    {
      MutexLock l(&mu_);
      status_.bytes_verified += r.bytes;
      status_.corrupt_found_pass += r.bad_blocks;
      const double in_chunk = std::min(1.0, static_cast<double>(first) / st.end_block);
      status_.progress = (static_cast<double>(index) + in_chunk) / static_cast<double>(total);
    }
    if (limited && !Throttle(r.bytes)) return false;
  }
  MutexLock l(&mu_);
  verified_ms_[cv.chunk_id] = clock_->MonotonicMs();
  status_.progress = static_cast<double>(index + 1) / static_cast<double>(total);
  return true;
}

bool Scrubber::Throttle(int64_t bytes) {
  const auto rate = static_cast<double>(opts_.rate_bytes_per_s);
  const double burst = std::max(rate, static_cast<double>(opts_.max_batch_bytes));
  tokens_ -= static_cast<double>(bytes);
  for (;;) {
    const int64_t now = clock_->MonotonicMs();
    tokens_ = std::min(burst, tokens_ + static_cast<double>(now - refilled_ms_) * rate / 1000.0);
    refilled_ms_ = now;
    if (tokens_ >= 0) return true;
    // Whole milliseconds, rounded up: the debt is paid off on waking.
    const auto ms = static_cast<int64_t>(-tokens_ * 1000.0 / rate) + 1;
    if (!Pause(ms, /*until_unlimited=*/true)) return false;
    MutexLock l(&mu_);
    if (unlimited_) return true;  // StartPass() lifted the limit meanwhile
  }
}

bool Scrubber::YieldToClients() {
  if (activity_ == nullptr) return true;
  for (int64_t waited = 0; activity_->in_flight() > 0 && waited < opts_.max_yield_ms;
       waited += opts_.yield_ms) {
    if (!Pause(opts_.yield_ms)) return false;
  }
  return true;
}

}  // namespace replfs::datad
