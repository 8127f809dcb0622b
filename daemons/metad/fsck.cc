// MetaCore::Fsck: the state of every replica of one file, asked of the
// datads, followed by the replicas dropped since the chunk was last at its
// goal (PROTOCOL.md "What fsck shows").
//
// Bounds. CheckChunk makes a datad re-read and verify a whole replica, so a
// file's check costs time in proportion to its size. Chunks are checked
// kParallelChunks at a time, the replicas of each in parallel (at most
// kMaxGoal), and no chunk is started once kBudgetMs has passed: the call
// then answers TimedOut saying how far it got, well before fsctl stops
// waiting (120 s), instead of running on unseen. MetaService.Fsck has no
// chunk range to continue from (replfs.thrift), so a file that needs longer
// cannot be checked in one call.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>

#include "common/log.h"
#include "daemons/metad/core.h"

namespace replfs::metad {
namespace {

constexpr int kParallelChunks = 4;
constexpr int64_t kBudgetMs = 60'000;

const char* StateName(ReplicaState s) {
  switch (s) {
    case ReplicaState::kOk: return "ok";
    case ReplicaState::kCorrupt: return "corrupt";
    case ReplicaState::kMissing: return "missing";
    case ReplicaState::kStale: return "stale";
    default: return "unreachable";
  }
}

// Runs fn(0) .. fn(n-1), `width` at a time (the calling thread is one of
// them). fn must be thread-safe.
template <typename Fn>
void ParallelFor(size_t n, size_t width, const Fn& fn) {
  std::atomic<size_t> next{0};
  const auto worker = [&] {
    for (size_t i = next++; i < n; i = next++) fn(i);
  };
  std::vector<std::thread> extra;
  for (size_t t = 1; t < std::min(n, width); ++t) extra.emplace_back(worker);
  worker();
  for (auto& t : extra) t.join();
}

}  // namespace

Status MetaCore::Fsck(Ino ino, FileReport* out) {
  Inode in;
  REPLFS_RETURN_IF_ERROR(ns_->GetAttr(ino, &in));
  *out = FileReport{};
  out->ino = ino;
  out->size = in.size;
  out->goal = in.goal;
  std::vector<ChunkInfo> list;
  REPLFS_RETURN_IF_ERROR(chunks_->GetChunks(ino, 0, INT64_MAX, &list));
  std::vector<ChunkReport> reports(list.size());
  std::vector<char> done(list.size(), 0);
  const int64_t deadline = clock_->NowMs() + kBudgetMs;
  ParallelFor(list.size(), kParallelChunks, [&](size_t i) {
    if (clock_->NowMs() >= deadline) return;  // budget spent: not started
    FsckChunk(list[i], &reports[i]);
    done[i] = 1;
  });
  const size_t checked = static_cast<size_t>(std::count(done.begin(), done.end(), 1));
  if (checked < list.size()) {
    LOG(WARNING) << "fsck of inode " << ino << ": " << checked << " of " << list.size() << " chunks checked in "
                 << kBudgetMs / 1000 << " s, the rest not";
    return Status::TimedOut("fsck of inode " + std::to_string(ino) + " checked " + std::to_string(checked) + " of " +
                            std::to_string(list.size()) + " chunks within metad's budget of " +
                            std::to_string(kBudgetMs / 1000) +
                            " s and stopped: the file is too large to check in one call (the chunks checked "
                            "went to repair as usual; fsctl scrub verifies every replica)");
  }
  out->chunks = std::move(reports);
  return Status::OK();
}

void MetaCore::FsckChunk(const ChunkInfo& c, ChunkReport* cr) {
  cr->index = c.index;
  cr->id = c.id;
  cr->version = c.version;
  // Members first, each checked by its own call at once (a chunk has at
  // most kMaxGoal members, and each datad verifies only its own copy).
  cr->replicas.resize(c.replicas.size());
  ParallelFor(c.replicas.size(), c.replicas.size(), [&](size_t i) {
    const std::string& addr = c.replicas[i];
    if (!servers_->IsUp(addr)) {
      cr->replicas[i] = {addr, ReplicaState::kUnreachable, "server is down"};
      return;
    }
    cr->replicas[i] = datad_->Check(addr, c.id, c.version);
    cr->replicas[i].addr = addr;
  });
  std::vector<std::string> corrupt;
  for (const auto& r : cr->replicas)
    if (r.state == ReplicaState::kCorrupt) corrupt.push_back(r.addr);
  // Corrupt members go the way of a client's CORRUPTION report: dropped
  // (version change) and repaired. Every member corrupt: nothing dropped.
  if (!corrupt.empty()) {
    ChunkInfo now;
    Status s = replicas_->ReportBad(c.ino, c.index, c.id, c.version, corrupt, Status::Code::kCorruption,
                                    "fsck", &now);
    if (!s.ok()) LOG(WARNING) << "fsck: corrupt replica(s) of chunk " << c.id << " not dropped: " << s.ToString();
  }
  std::vector<ReplicaReport> dropped;
  for (const auto& d : replicas_->DroppedOf(c.id)) {
    if (Contains(c.replicas, d.addr) || Contains(corrupt, d.addr)) continue;  // back in the set / just reported
    dropped.push_back({d.addr, d.state, "dropped: " + d.why});
  }
  ParallelFor(dropped.size(), static_cast<size_t>(kMaxGoal), [&](size_t i) {
    ReplicaReport& r = dropped[i];
    if (servers_->IsUp(r.addr)) {
      const ReplicaReport now = datad_->Check(r.addr, c.id, c.version);
      r.detail += "; now " + std::string(StateName(now.state)) + (now.detail.empty() ? "" : ": " + now.detail);
    } else {
      r.detail += "; server is down";
    }
  });
  for (auto& r : dropped) cr->replicas.push_back(std::move(r));
}

}  // namespace replfs::metad
