#include "daemons/metad/repair.h"

#include <algorithm>
#include <chrono>
#include <unordered_set>

#include "common/log.h"
#include "daemons/metad/placement.h"

namespace replfs::metad {

RepairScheduler::RepairScheduler(ReplicaManager* replicas, const Namespace* ns, const Clock* clock, Options opts)
    : replicas_(replicas), ns_(ns), clock_(clock), opts_(opts), start_ms_(clock->NowMs()) {
  MutexLock l(&mu_);
  refill_ms_ = start_ms_;
}

RepairScheduler::~RepairScheduler() { Stop(); }

void RepairScheduler::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void RepairScheduler::Stop() {
  {
    std::lock_guard<std::mutex> l(loop_mu_);
    stop_ = true;
  }
  loop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RepairScheduler::Wake() {
  {
    std::lock_guard<std::mutex> l(loop_mu_);
    wake_ = true;
  }
  loop_cv_.notify_all();
}

void RepairScheduler::ServersChanged() {
  {
    MutexLock l(&mu_);
    backoff_.clear();
  }
  Wake();
}

void RepairScheduler::ServerCameUp() {
  {
    MutexLock l(&mu_);
    hold_until_ms_ = clock_->NowMs() + opts_.return_hold_ms;
  }
  ServersChanged();
}

void RepairScheduler::Heal() {
  {
    MutexLock l(&mu_);
    backoff_.clear();  // a heal retries everything now
  }
  heal_ = true;
  LOG(INFO) << "heal: repairing everything now, throttle off";
  Wake();
}

void RepairScheduler::Loop() {
  const auto period = std::chrono::milliseconds(std::max<int64_t>(opts_.scan_period_ms, 10));
  std::unique_lock<std::mutex> l(loop_mu_);
  while (!stop_) {
    wake_ = false;
    l.unlock();
    const int repaired = RunOnce();
    l.lock();
    // While healing, or while rounds make progress on a longer queue, the
    // next round starts at once (RunOnce ends the heal; the rate limit
    // still applies outside a heal).
    const bool delayed = clock_->NowMs() - start_ms_ < opts_.start_delay_ms;
    if (!delayed && (heal_ || (repaired > 0 && queued_ > repaired))) continue;
    loop_cv_.wait_for(l, period, [this] { return stop_ || wake_; });
  }
}

std::vector<RepairScheduler::Item> RepairScheduler::Scan() const {
  const std::set<std::string> up = replicas_->servers().UpAddrs();
  const std::set<std::string> draining = replicas_->servers().DrainingAddrs();
  std::vector<Item> items;
  for (auto& c : replicas_->chunks().Snapshot()) {
    int live = 0, good = 0;
    bool holds_draining = false;
    for (const auto& r : c.replicas) {
      const bool d = draining.count(r) > 0;
      holds_draining |= d;
      live += up.count(r) ? 1 : 0;
      good += up.count(r) && !d ? 1 : 0;
    }
    if (good < c.goal) {
      items.push_back({live, good, false, std::move(c)});
    } else if (good > c.goal || holds_draining) {
      items.push_back({live, good, true, std::move(c)});
    }
  }
  // Danger first: fewest good replicas; then by id for a stable order.
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.good != b.good) return a.good < b.good;
    return a.chunk.id < b.chunk.id;
  });
  return items;
}

int RepairScheduler::RunOnce() {
  std::vector<Item> items = Scan();
  queued_ = static_cast<int64_t>(items.size());
  bytes_queued_ = EstimateQueued(items);
  const bool heal = heal_.load();
  if (items.empty()) {
    if (heal_.exchange(false)) LOG(INFO) << "heal: done, every chunk is at its goal";
    return 0;
  }
  if (clock_->NowMs() - start_ms_ < opts_.start_delay_ms) return 0;
  const int64_t now = clock_->NowMs();
  {
    // Forget the backoff of chunks that left the queue.
    std::unordered_set<ChunkId> queued_ids;
    for (const Item& it : items) queued_ids.insert(it.chunk.id);
    MutexLock l(&mu_);
    for (auto b = backoff_.begin(); b != backoff_.end();)
      b = queued_ids.count(b->first) ? std::next(b) : backoff_.erase(b);
  }
  std::vector<const Item*> batch;
  const size_t max = static_cast<size_t>(std::max(opts_.max_concurrent, 1)) * (heal ? 4 : 1);
  bool held = false;
  {
    MutexLock l(&mu_);
    held = !heal && now < hold_until_ms_;
  }
  for (const Item& it : items) {
    if (batch.size() >= max) break;
    if (it.live == 0) continue;  // nothing to copy from: waits for a server to return
    if (held && !it.over) continue;  // others may be returning too (ServerCameUp)
    if (!Due(it.chunk.id, now)) continue;  // failed recently: others go first
    if (!heal && !it.over && !TakeTokens(EstimateBytes(it.chunk))) break;  // rate limit: next round
    batch.push_back(&it);
  }
  std::vector<char> ok(batch.size(), 0);
  std::vector<std::thread> workers;
  for (size_t i = 0; i < batch.size(); ++i)
    workers.emplace_back([this, &batch, &ok, i] { ok[i] = RunItem(*batch[i]).ok() ? 1 : 0; });
  for (auto& t : workers) t.join();
  const int n = static_cast<int>(std::count(ok.begin(), ok.end(), 1));
  if (heal && n == 0 && heal_.exchange(false))
    LOG(WARNING) << "heal: stopped with " << items.size() << " chunk(s) off goal that cannot be repaired now";
  return n;
}

Status RepairScheduler::RunItem(const Item& it) {
  Status s = it.over ? Trim(it.chunk.id) : AddReplica(it.chunk.id);
  // A failure that changed the chunk (a bad source dropped) is progress:
  // the next round retries at once.
  ChunkInfo now;
  const bool changed = !s.ok() && replicas_->chunks().Get(it.chunk.id, &now).ok() && now.version != it.chunk.version;
  NoteResult(it.chunk.id, changed ? Status::OK() : s);
  if (changed) LOG(INFO) << "repair of chunk " << it.chunk.id << " not done yet: " << s.ToString();
  if (s.ok() && !it.over) NoteCopied(EstimateBytes(it.chunk));
  return s;
}

bool RepairScheduler::Due(ChunkId id, int64_t now) const {
  MutexLock l(&mu_);
  auto b = backoff_.find(id);
  return b == backoff_.end() || now >= b->second.next_ms;
}

void RepairScheduler::NoteResult(ChunkId id, const Status& s) {
  MutexLock l(&mu_);
  if (s.ok()) {
    backoff_.erase(id);
    return;
  }
  Backoff& b = backoff_[id];
  ++b.failures;
  int64_t delay = std::max<int64_t>(opts_.backoff_min_ms, 0);
  for (int i = 1; i < b.failures && delay < opts_.backoff_max_ms; ++i) delay *= 2;
  delay = std::min(delay, opts_.backoff_max_ms);
  b.next_ms = clock_->NowMs() + delay;
  const int every = std::max(opts_.warn_every, 1);
  if (b.failures == 1 || b.failures % every == 0)
    LOG(WARNING) << "repair of chunk " << id << " failed (" << b.failures << " time(s) in a row, next try in "
                 << delay << " ms): " << s.ToString();
}

int64_t RepairScheduler::EstimateQueued(const std::vector<Item>& items) const {
  // Exact for the first kExact chunks to copy (one inode read each), the
  // rest at their average: the scan stays cheap with 100,000s queued.
  constexpr size_t kExact = 1000;
  int64_t exact = 0;
  size_t n = 0, copies = 0;
  for (const Item& it : items) {
    if (it.over) continue;
    ++copies;
    if (n < kExact) {
      exact += EstimateBytes(it.chunk) * std::max(it.chunk.goal - it.good, 1);
      ++n;
    }
  }
  if (n == 0) return 0;
  return exact + exact / static_cast<int64_t>(n) * static_cast<int64_t>(copies - n);
}

void RepairScheduler::NoteCopied(int64_t bytes) {
  MutexLock l(&mu_);
  copied_.emplace_back(clock_->NowMs(), bytes);
}

int64_t RepairScheduler::BytesPerSecond() const {
  constexpr int64_t kWindowMs = 10000;
  MutexLock l(&mu_);
  const int64_t now = clock_->NowMs();
  while (!copied_.empty() && now - copied_.front().first > kWindowMs) copied_.pop_front();
  int64_t sum = 0;
  for (const auto& [ms, b] : copied_) sum += b;
  return sum * 1000 / kWindowMs;
}

int64_t RepairScheduler::EstimateBytes(const ChunkInfo& c) const {
  Inode in;
  int64_t bytes = opts_.chunk_size;
  if (ns_->GetAttr(c.ino, &in).ok()) {
    // Overflow-safe: an index past the file's end (or past any file) holds nothing.
    const int64_t chunks_in_file = in.size <= 0 ? 0 : (in.size - 1) / opts_.chunk_size + 1;
    bytes = c.index < 0 || c.index >= chunks_in_file
                ? 0
                : std::min<int64_t>(in.size - c.index * opts_.chunk_size, opts_.chunk_size);
  }
  return std::max<int64_t>(bytes, opts_.block_size);
}

bool RepairScheduler::TakeTokens(int64_t bytes) {
  if (opts_.rate_bytes_s <= 0) return true;
  MutexLock l(&mu_);
  const int64_t now = clock_->NowMs();
  const double cap = static_cast<double>(opts_.rate_bytes_s);  // one second of burst
  tokens_ = std::min(cap, tokens_ + cap * static_cast<double>(now - refill_ms_) / 1000.0);
  refill_ms_ = now;
  // A chunk larger than the burst starts when the bucket is full and leaves
  // a debt, so the long-run rate holds.
  if (tokens_ < static_cast<double>(bytes) && tokens_ < cap) return false;
  tokens_ -= static_cast<double>(bytes);
  return true;
}

}  // namespace replfs::metad
