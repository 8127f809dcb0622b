// DataService handler: the Thrift edge of datad. The only place converting
// IDL types to BlockStore calls and Status to RpcError (net::ThrowIfError).
// Every argument is validated here; malformed input is INVALID, never a
// crash. Operations that change a chunk go through the Replicator (under the
// chunk's write lock, InjectFault too); Read, CheckChunk, Sync and Usage go
// straight to the store. Client I/O (Write, Read, Truncate, Sync) is counted
// in the IoActivity while it runs, so the scrubber yields to it.
//
// Reads do not take the chunk's write lock: a read must not wait behind a
// primary's forwards to slow secondaries. It still never sees a torn block:
// BlockStore serialises a chunk's readers against its writers (striped
// reader/writer lock) and each block is one Kyoto Cabinet record whose
// get/set is atomic, so a read racing a write of the same block returns the
// whole old or the whole new block.
#pragma once

#include <cstdint>
#include <string>

#include "DataService.h"
#include "common/thread_annotations.h"
#include "daemons/datad/block_store.h"
#include "daemons/datad/io_activity.h"
#include "daemons/datad/replicator.h"
#include "daemons/datad/scrubber.h"
#include "thrift/authz.h"

namespace replfs::datad {

// Limits on what one call may ask for.
inline constexpr int64_t kMaxWriteBytes = 16ll << 20;
inline constexpr int32_t kMaxReadBlocks = 512;
inline constexpr int64_t kMaxReadBytes = 16ll << 20;
inline constexpr size_t kMaxForward = 16;  // secondaries in one Write's forward list

// The wire ServerUsage of the datad advertised as `addr`: the store's usage,
// the scrubber's state (`scrubber` nullptr: scrub left empty) and the chunks
// found corrupt and not yet reported (store->CorruptChunks()); those are
// also put in *corrupt unless it is nullptr, so that a caller that delivers
// them to metad can ForgetCorrupt() them. On failure *out is unspecified.
Status CollectUsage(BlockStore* store, const Scrubber* scrubber, const std::string& addr,
                    rpc::ServerUsage* out, std::vector<ChunkVersion>* corrupt);

class DataServiceHandler : public rpc::DataServiceIf {
 public:
  // `store` and `replicator` (working on that store) outlive the handler, so
  // do `scrubber` and `activity` unless nullptr (no scrubber: StartScrub is
  // UNAVAILABLE and Usage has no scrub info; no activity: nothing counted).
  // Thread-safe (the server calls it from one thread per connection).
  DataServiceHandler(BlockStore* store, Replicator* replicator, Scrubber* scrubber = nullptr,
                     IoActivity* activity = nullptr);

  // The address reported by Usage() and refused in `forward` and PushChunk
  // targets (a datad never forwards to itself); known once the server is
  // bound. Until set, no address counts as this datad's own.
  void set_advertised_addr(const std::string& addr);

  void Ping() override {}
  // `forward`: at most kMaxForward distinct host:port addresses, none this
  // datad's own, else INVALID (nothing stored). `sync`: Replicator::Write.
  void Write(rpc::WriteReply& out, int64_t chunk_id, int64_t version, int64_t offset,
             const std::string& data, int32_t crc, const std::vector<std::string>& forward,
             bool sync) override;
  void CreateChunk(int64_t chunk_id, int64_t version) override;
  void SetVersion(int64_t chunk_id, int64_t old_version, int64_t new_version) override;
  // `target` must be a host:port other than this datad, new_version >
  // version, else INVALID.
  void PushChunk(int64_t chunk_id, int64_t version, const std::string& target,
                 int64_t new_version) override;
  void Read(std::vector<rpc::BlockData>& out, int64_t chunk_id, int64_t version,
            int32_t first_block, int32_t count, int32_t range_offset, int32_t range_length) override;
  void Truncate(int64_t chunk_id, int64_t version, int64_t length) override;
  void DeleteChunk(int64_t chunk_id) override;
  void Sync() override;
  void CheckChunk(rpc::ChunkCheck& out, int64_t chunk_id, int64_t version) override;
  // Includes the pending corrupt chunks without marking them reported.
  void Usage(rpc::ServerUsage& out) override;
  // block: 0..(1 GiB / block_size - 1) else INVALID; NOT_FOUND for an absent
  // chunk, or a block without data (FLIP, ZERO) or never written (DELETE).
  void InjectFault(int64_t chunk_id, int32_t block, rpc::FaultMode::type mode) override;
  void StartScrub() override;

 private:
  // Checks a peer address given by a caller: parses, is not this datad.
  Status CheckPeer(const std::string& addr, const std::string& what);

  // Constant after construction.
  BlockStore* const store_;
  Replicator* const replicator_;
  Scrubber* const scrubber_;    // may be nullptr
  IoActivity* const activity_;  // may be nullptr

  Mutex mu_;
  std::string addr_ GUARDED_BY(mu_);
};

// Who may call what on a datad (thrift/authz.h), by the role in the
// caller's certificate: clients and admins read and write bytes (and other
// datads: forwarded writes, repair copies); metad creates, re-versions,
// checks, scrubs and damages (fault injection on an admin's behalf).
const net::Policy& DatadPolicy();
// Methods of DataService that declare no exception.
const std::set<std::string>& DatadNoThrow();

}  // namespace replfs::datad
