// Helpers for the fault-tolerance tests: `fsctl fsck --json` parsed into
// structs with health predicates, replicas read straight from each datad
// (DataService.Read) to compare them byte for byte, and deterministic file
// contents that can be written and verified without keeping them in memory.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/cluster.h"

namespace replfs::testing {

// ---- fsck --------------------------------------------------------------------

struct FsckReplica {
  std::string addr;
  std::string state;  // "ok", "corrupt", "missing", "stale", "unreachable"
  std::string detail;
};

struct FsckChunk {
  int64_t index = 0;
  int64_t id = 0;
  int64_t version = 0;
  std::vector<FsckReplica> replicas;  // metad's replica set, placement order
};

struct FsckFile {
  std::string path;
  int64_t ino = 0;
  int64_t size = 0;
  int goal = 0;
  std::vector<FsckChunk> chunks;
};

struct FsckResult {
  int exit_code = -1;
  std::vector<FsckFile> files;
  nlohmann::json summary;
  std::string raw;  // stdout and stderr, for failure messages

  const FsckFile* File(const std::string& path) const;
};

// Runs `fsctl fsck FS_PATH --json` and parses it. Fails if fsctl could not
// produce a report (exit 2 or no JSON); exit 1 (problems found) is a result.
::testing::AssertionResult RunFsck(Cluster& cluster, const std::string& fs_path,
                                   FsckResult* out);

// "" when every chunk of every file has exactly `goal` replicas, all "ok",
// on distinct servers that are all in `allowed` (empty: any server); else a
// description of the first few problems.
std::string ChunkProblems(const FsckResult& r, int goal, const std::vector<std::string>& allowed);

// Polls fsck of `fs_path` until ChunkProblems() is "" and fsck exits 0.
// *last holds the last report either way.
::testing::AssertionResult WaitFsckHealthy(Cluster& cluster, const std::string& fs_path, int goal,
                                           const std::vector<std::string>& allowed,
                                           std::chrono::milliseconds timeout,
                                           FsckResult* last = nullptr);

// ---- replicas read directly from datad ----------------------------------------

struct ClusterGeometry {
  int64_t chunk_size = 0;
  int64_t block_size = 0;
  int64_t max_rpc_bytes = 0;
  int replicas = 0;
  int min_write_replicas = 0;
};

// MetaService.GetClusterInfo.
::testing::AssertionResult GetGeometry(const std::string& meta_addr, ClusterGeometry* out);

// The first `length` logical bytes of one replica (chunk `chunk_id` at
// `version` on the datad at `addr`), read with DataService.Read in
// max_rpc_bytes batches: holes and the tail of short blocks are zeros. Every
// block's CRC32C is checked against the CRC datad sent.
::testing::AssertionResult ReadReplica(const std::string& addr, const ClusterGeometry& g,
                                       int64_t chunk_id, int64_t version, int64_t length,
                                       std::string* out);

// For every chunk of every file in `r`: reads each replica at the chunk's
// version and checks that they are byte-identical. *compared counts the
// replicas read.
::testing::AssertionResult ReplicasIdentical(const std::string& meta_addr, const FsckResult& r,
                                             int64_t* compared = nullptr);

// ---- deterministic contents ----------------------------------------------------

// Byte `offset` of the content stream `seed`: a pure function of (seed,
// offset), so a file can be written in pieces and verified without a copy.
std::string PatternBytes(uint64_t seed, uint64_t offset, size_t len);

// Writes PatternBytes(seed, 0, size) to `path` (create/truncate) in `io`-byte
// writes, fsync, close.
::testing::AssertionResult WritePatternFile(const std::string& path, uint64_t seed, int64_t size,
                                            size_t io = 1 << 20);
// Rewrites the existing `path` in place (no truncation, so its chunks stay
// the same) with PatternBytes(seed, 0, size) in `io`-byte writes, fsync, close.
::testing::AssertionResult OverwritePatternFile(const std::string& path, uint64_t seed, int64_t size,
                                                size_t io = 1 << 20);
// Reads `path` and compares it with PatternBytes(seed, 0, size) (its size too).
::testing::AssertionResult VerifyPatternFile(const std::string& path, uint64_t seed, int64_t size);

// Drops the kernel's cached pages of `path` (posix_fadvise DONTNEED), so the
// next read goes to the FUSE client and on to the datads.
void DropPageCache(const std::string& path);

// Seed of a test: `env` (e.g. "REPLFS_CHAOS_SEED") if set, else `fallback`;
// printed either way.
uint64_t SeedFromEnv(const char* env, uint64_t fallback);

// Joins `t` (after calling `stop`, which asks it to finish) when the scope
// ends, also when an ASSERT returns early.
class JoinOnExit {
 public:
  JoinOnExit(std::thread* t, std::function<void()> stop) : t_(t), stop_(std::move(stop)) {}
  ~JoinOnExit() { Join(); }
  JoinOnExit(const JoinOnExit&) = delete;
  JoinOnExit& operator=(const JoinOnExit&) = delete;
  void Join() {
    if (!t_->joinable()) return;
    if (stop_) stop_();
    t_->join();
  }

 private:
  std::thread* const t_;
  const std::function<void()> stop_;
};

// The usual fast timings of the fault tests (dead_after 2 s, heartbeats
// 200 ms, block reports 1 s, RPC timeout 2 s, retry budget 20 s).
Cluster::Options FaultOptions(int datads, int64_t chunk_size);

}  // namespace replfs::testing
