// Heartbeater: keeps this datad registered with metad. A background thread
// RegisterServer()s with the usage and inventory of the store (retrying with
// backoff while metad is unreachable), then Heartbeat()s every interval and
// sends a BlockReport (the full inventory) every block_report_interval_ms
// (the first one that long after registration, which carried the inventory
// itself). It re-registers when metad answers either with NOT_FOUND (it
// restarted) and deletes the chunks metad lists in both kinds of reply.
//
// After each heartbeat the store compacts a bounded step (BlockStore::
// Compact), and keeps compacting while the datad is idle (no client request
// since the previous heartbeat) or its disk is nearly full, and there are
// holes left to reclaim.
//
// Every RegisterServer/Heartbeat carries the scrubber's state and the
// chunks the store found corrupt (BlockStore::CorruptChunks); once metad has
// accepted them they are forgotten (ForgetCorrupt). Wake() makes the next
// heartbeat go out at once (the store's corruption listener calls it).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "MetaService.h"
#include "common/host_port.h"
#include "common/thread_annotations.h"
#include "daemons/datad/block_store.h"
#include "daemons/datad/io_activity.h"
#include "daemons/datad/scrubber.h"
#include "thrift/client_pool.h"

namespace replfs::datad {

struct HeartbeatOptions {
  std::string advertise;          // this datad's address as clients reach it
  HostPort meta;                  // metad
  net::RpcOptions rpc;            // timeouts of one call
  int64_t interval_ms = 1000;     // between heartbeats
  int64_t block_report_interval_ms = 60000;  // between full inventories
  int64_t max_backoff_ms = 5000;  // cap of the retry delay while metad is down
  int64_t invalid_retry_ms = 30000;  // retry delay after metad refused us (INVALID)
  // Below this share of its disk free, the store compacts after every beat
  // as if idle, client requests or not: space matters more than latency.
  int64_t urgent_compact_free_percent = 10;
};

class Heartbeater {
 public:
  // `store`, `scrubber` (nullptr: no scrub info) and `activity` (nullptr:
  // never idle, so no idle compaction) outlive the heartbeater.
  Heartbeater(BlockStore* store, HeartbeatOptions opts, const Scrubber* scrubber = nullptr,
              const IoActivity* activity = nullptr);
  ~Heartbeater();  // Stop()s
  Heartbeater(const Heartbeater&) = delete;
  Heartbeater& operator=(const Heartbeater&) = delete;

  // Starts the thread. Call once.
  void Start();
  // Wakes and joins the thread; returns after at most one in-flight RPC
  // (bounded by its timeout). Idempotent.
  void Stop();
  // Ends the current wait (between heartbeats, or a retry backoff) now.
  // Cheap; callable from any thread and at any time.
  void Wake();

  // For tests and status: successful RegisterServer and Heartbeat calls.
  int64_t registrations() const { return registrations_.load(); }
  int64_t heartbeats() const { return heartbeats_.load(); }
  int64_t block_reports() const { return block_reports_.load(); }

 private:
  // Records moved per heartbeat by the store's incremental defragmentation,
  // however busy the datad: up to 4 MiB of 64 KiB blocks. (256 cost random
  // writes right after a 1 GiB delete ~15 %: the moves landed among them.)
  static constexpr int64_t kCompactSteps = 64;
  // After a beat with no client request since the previous one, compaction
  // goes on in batches of this many steps while the store has a backlog, for
  // at most a quarter of the interval (and 250 ms), until a request comes
  // (short of space: for that long whatever comes).
  static constexpr int64_t kIdleCompactSteps = 64;
  static constexpr int64_t kMaxIdleCompactMs = 250;

  void Loop();
  // One step: register or heartbeat. Returns how long to wait before the next.
  int64_t Step();
  Status Register();
  Status Beat();
  Status Report();
  // The store's compaction after a heartbeat (kCompactSteps, and more when
  // the datad was idle).
  void Compact();
  // Usage with scrub info and the pending corrupt chunks (put in *corrupt).
  Status WireUsage(rpc::ServerUsage* usage, std::vector<ChunkVersion>* corrupt) const;
  // The store's inventory in wire form.
  std::vector<rpc::ChunkReplica> WireInventory() const;
  // Deletes the chunks a Heartbeat/BlockReport reply lists; failures are
  // logged (the next block report shows metad what is still here).
  void ApplyDeletes(const rpc::HeartbeatReply& reply);
  // Logs a failed call once per outage (or every time for INVALID).
  void NoteFailure(const char* what, const Status& s);
  // Waits up to `ms` or until Wake(); false when Stop() was called.
  bool Sleep(int64_t ms);

  // Constant after construction.
  BlockStore* const store_;
  const HeartbeatOptions opts_;
  const Scrubber* const scrubber_;  // may be nullptr
  const IoActivity* const activity_;  // may be nullptr
  net::ClientPool<rpc::MetaServiceClient> pool_;

  // Loop state, touched only by the heartbeat thread.
  bool registered_ = false;
  bool in_outage_ = false;
  int64_t backoff_ms_ = 0;
  std::chrono::steady_clock::time_point next_report_;  // when the next BlockReport is due
  int64_t last_started_ = -1;  // activity_->started() after the last compaction

  std::atomic<int64_t> registrations_{0};
  std::atomic<int64_t> heartbeats_{0};
  std::atomic<int64_t> block_reports_{0};

  Mutex mu_;  // protects stop_ and wake_
  std::condition_variable cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  bool wake_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace replfs::datad
