// In-process fake metad and datads on 127.0.0.1 port 0 for client tests.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "DataService.h"
#include "MetaService.h"
#include "fuse/chunk_io.h"
#include "thrift/client_pool.h"
#include "thrift/rpc_options.h"
#include "thrift/server.h"

namespace replfs::client::testing {

constexpr int32_t kBlockSize = 4096;
constexpr int64_t kChunkSize = 4 * kBlockSize;

net::RpcOptions FastOptions();
// FastOptions for the data path with min_write_replicas 2 (as FakeMeta says).
DataPathOptions FastDataOptions();

// A datad keeping blocks in memory, with injectable faults. As a primary
// (non-empty forward) it applies a write, then forwards it to the others and
// lists those that failed, like datad.
class FakeData : public rpc::DataServiceIf {
 public:
  // kNotFound: the replica lost the chunk (reads and writes answer NOT_FOUND).
  enum class Fault { kNone, kFlipByte, kCorruptionError, kStale, kNoSpace, kNotFound };
  std::atomic<Fault> fault{Fault::kNone};
  std::atomic<int> stale_writes{0};  // this many writes answer STALE first
  std::atomic<int> writes{0};
  std::atomic<int> primary_writes{0};
  std::atomic<int> reads{0};
  std::atomic<int> ranged_reads{0};  // reads of part of one block
  std::atomic<int> syncs{0};
  std::atomic<int> synced_writes{0};  // writes that asked for sync
  // false: an older datad, which does not know Write's `sync` (never synced).
  std::atomic<bool> knows_sync{true};
  std::atomic<int> truncates{0};

  // Bytes of a chunk as stored (blocks concatenated, holes as zeros).
  std::string Contents(int64_t chunk_id);
  // The forward list of the last write received as primary.
  std::vector<std::string> LastForward();

  void Ping() override {}
  void Write(rpc::WriteReply& r, int64_t chunk_id, int64_t version, int64_t offset,
             const std::string& data, int32_t crc, const std::vector<std::string>& forward,
             bool sync) override;
  void CreateChunk(int64_t, int64_t) override {}
  void SetVersion(int64_t, int64_t, int64_t) override {}
  void PushChunk(int64_t, int64_t, const std::string&, int64_t) override {}
  // A ranged read answers as datad does (BlockData.prefix_crc ...).
  void Read(std::vector<rpc::BlockData>& out, int64_t chunk_id, int64_t version, int32_t first,
            int32_t count, int32_t range_offset, int32_t range_length) override;
  void Truncate(int64_t chunk_id, int64_t version, int64_t length) override;
  void DeleteChunk(int64_t) override {}
  void Sync() override { ++syncs; }
  void CheckChunk(rpc::ChunkCheck&, int64_t, int64_t) override {}
  void Usage(rpc::ServerUsage&) override {}
  void InjectFault(int64_t, int32_t, rpc::FaultMode::type) override {}
  void StartScrub() override {}

 private:
  void Apply(int64_t chunk_id, int64_t offset, const std::string& data);

  net::PoolSet<rpc::DataServiceClient> peers_{FastOptions()};
  std::mutex mu_;
  std::map<int64_t, std::map<int32_t, std::string>> blocks_;
  std::vector<std::string> last_forward_;
};

// A metad that knows one flat directory (root 1) and a chunk map whose every
// chunk is placed on `replicas`.
class FakeMeta : public rpc::MetaServiceIf {
 public:
  std::vector<std::string> replicas;
  std::atomic<int> write_quorum{0};  // ChunkLocation.write_quorum of new chunks
  std::atomic<int> alloc_calls{0};
  std::atomic<int> get_chunks_calls{0};
  std::atomic<int> commits{0};
  std::atomic<int> meta_syncs{0};  // Sync calls
  std::atomic<int> opens{0};
  std::atomic<int> releases{0};      // inodes released, by Release or ReleaseAll
  std::atomic<int> release_calls{0};  // Release and ReleaseAll calls
  // ReleaseAll answers PERMISSION, as an older metad's policy does (TLS).
  std::atomic<bool> refuse_release_all{false};
  std::atomic<int> lookups{0};
  std::atomic<int> getattrs{0};
  std::atomic<int> creates{0};  // Create calls
  std::atomic<int> reports{0};

  // One ReportBadReplicas call as received.
  struct Report {
    int64_t chunk_id;
    int64_t version;
    std::vector<std::string> bad;
    rpc::ErrorCode::type why;
  };
  std::vector<Report> Reports();
  // The location metad holds for chunk (ino, index); chunk_id 0 if none.
  rpc::ChunkLocation Location(int64_t ino, int64_t index);
  // Replaces it behind the clients' backs (a repair, another client's report).
  void SetLocation(int64_t ino, const rpc::ChunkLocation& loc);

  void Ping() override {}
  void GetClusterInfo(rpc::ClusterInfo& r) override;
  void Lookup(rpc::Attr& r, int64_t parent, const std::string& name) override;
  void GetAttr(rpc::Attr& r, int64_t ino) override;
  void SetAttr(rpc::Attr& r, const rpc::SetAttrRequest& req) override;
  void Mknod(rpc::Attr& r, int64_t parent, const std::string& name, rpc::FileType::type type,
             int32_t mode, int32_t uid, int32_t gid, int64_t rdev) override;
  void Mkdir(rpc::Attr&, int64_t, const std::string&, int32_t, int32_t, int32_t) override { No(); }
  void Symlink(rpc::Attr&, int64_t, const std::string&, const std::string&, int32_t,
               int32_t) override { No(); }
  void ReadLink(std::string&, int64_t) override { No(); }
  void Unlink(rpc::Unlinked&, int64_t, const std::string&) override { No(); }
  void Rmdir(rpc::Unlinked&, int64_t, const std::string&) override { No(); }
  void Rename(rpc::Unlinked&, int64_t, const std::string&, int64_t, const std::string&,
              const rpc::RenameFlags&) override { No(); }
  void Link(rpc::Attr&, int64_t, int64_t, const std::string&) override { No(); }
  void ReadDir(rpc::DirPage&, int64_t, const std::string&, int32_t, bool) override { No(); }
  void SetXattr(int64_t, const std::string&, const std::string&, int32_t) override { No(); }
  void GetXattr(std::string&, int64_t, const std::string&) override { No(); }
  void ListXattr(std::vector<std::string>&, int64_t) override { No(); }
  void RemoveXattr(int64_t, const std::string&) override { No(); }
  void Open(rpc::OpenReply& r, int64_t ino, int64_t session, int32_t chunks) override;
  void Release(int64_t ino, int64_t session) override;
  void ReleaseAll(const std::vector<int64_t>& inos, int64_t session) override;
  void GetChunks(std::vector<rpc::ChunkLocation>& r, int64_t ino, int64_t first,
                 int64_t count) override;
  void AllocChunk(rpc::ChunkLocation& r, int64_t ino, int64_t index) override;
  void CommitWrite(rpc::Attr& r, int64_t ino, int64_t size, int64_t mtime_ns) override;
  void Sync() override { ++meta_syncs; }
  void Create(rpc::OpenReply& r, int64_t parent, const std::string& name, int32_t mode, int32_t uid,
              int32_t gid, int64_t session, int32_t chunks) override;
  void StatFs(rpc::FsStat& r) override;
  void RegisterServer(const rpc::ServerUsage&, const std::vector<rpc::ChunkReplica>&) override { No(); }
  void Heartbeat(rpc::HeartbeatReply&, const rpc::ServerUsage&) override { No(); }
  void BlockReport(rpc::HeartbeatReply&, const std::string&,
                   const std::vector<rpc::ChunkReplica>&) override { No(); }
  // Drops `bad` from the chunk and bumps its version, if `version` is current
  // and a replica remains.
  void ReportBadReplicas(rpc::ChunkLocation& r, int64_t ino, int64_t index, int64_t chunk_id,
                         int64_t version, const std::vector<std::string>& bad,
                         rpc::ErrorCode::type why) override;
  void Status(rpc::ClusterStatus&) override { No(); }
  int64_t ResolvePath(const std::string&) override { No(); return 0; }
  void Fsck(rpc::FileReport&, int64_t) override { No(); }
  void Corrupt(rpc::CorruptResult&, int64_t, int64_t, const std::string&, rpc::FaultMode::type,
               bool) override {
    No();
  }
  void StartScrub(const std::string&) override { No(); }
  void Heal() override { No(); }
  void Drain(const std::string&) override { No(); }
  void Undrain(const std::string&) override { No(); }
  void RemoveServer(const std::string&) override { No(); }
  int64_t SetGoal(int64_t, int32_t, bool) override {
    No();
    return 0;
  }
  void Identify(int64_t) override { ++identifies; }
  // Answers the scripted batches in order; with none left (still
  // scripted), waits up to wait_ms for ScriptWatch to add one, then answers
  // nothing new. Unscripted: NOT_SUPPORTED like the rest.
  void WatchChanges(rpc::ChangeBatch& r, int64_t generation, int64_t after, int64_t session,
                    int32_t wait_ms) override;
  void ScriptWatch(std::vector<rpc::ChangeBatch> batches);
  // (generation, after) of every WatchChanges received.
  std::vector<std::pair<int64_t, int64_t>> Watches();
  std::atomic<int> identifies{0};

  // Size metad holds for `ino`.
  int64_t Size(int64_t ino);

 private:
  [[noreturn]] static void No();
  std::mutex mu_;
  int64_t next_ino_ = 2;
  int64_t next_chunk_ = 100;
  std::map<int64_t, rpc::Attr> inodes_;  // the root (1) from the first GetAttr or change
  rpc::Attr& RootLocked();
  // Attr.allocated_bytes of `ino` at `size`: its chunks, whole.
  int64_t AllocatedLocked(int64_t ino, int64_t size) const;
  std::map<std::string, int64_t> names_;  // in the root
  std::map<std::pair<int64_t, int64_t>, rpc::ChunkLocation> chunks_;
  std::vector<Report> reports_;
  std::condition_variable watch_cv_;  // ScriptWatch added batches
  bool watch_scripted_ = false;
  std::vector<rpc::ChangeBatch> watch_script_;
  rpc::ChangeBatch watch_last_;
  std::vector<std::pair<int64_t, int64_t>> watches_;
};

// The processor of a metad from before ReleaseAll: answers that call with
// UNKNOWN_METHOD, as a Thrift processor does for any name it lacks (the
// request is read and discarded, the connection stays usable).
class MetaWithoutReleaseAllProcessor : public rpc::MetaServiceProcessor {
 public:
  using rpc::MetaServiceProcessor::MetaServiceProcessor;
  std::atomic<int> refused{0};  // calls answered UNKNOWN_METHOD

 protected:
  bool dispatchCall(apache::thrift::protocol::TProtocol* in, apache::thrift::protocol::TProtocol* out,
                    const std::string& fname, int32_t seqid, void* ctx) override;
};

// Serves a handler on 127.0.0.1:0 until destroyed (or Stop()). Restart()
// serves the same handler (same state) on the same port again, like a
// daemon restarted on its address.
template <class Handler, class Processor>
struct Served {
  std::shared_ptr<Handler> handler = std::make_shared<Handler>();
  std::shared_ptr<Processor> processor;  // the one serving now
  std::unique_ptr<net::RpcServer> server;
  std::string addr;
  int port = 0;
  Served() { Listen("127.0.0.1:0"); }
  void Stop() { server->Stop(); }
  void Restart() {
    server.reset();
    Listen(addr);
  }

 private:
  void Listen(const std::string& listen) {
    net::ServerOptions o;
    o.listen = listen;
    o.allow_socket_activation = false;
    processor = std::make_shared<Processor>(handler);
    server = std::make_unique<net::RpcServer>(processor, o);
    Status s = server->Start();
    if (!s.ok()) throw std::runtime_error(s.ToString());
    port = server->port();
    addr = "127.0.0.1:" + std::to_string(port);
  }
};
using ServedData = Served<FakeData, rpc::DataServiceProcessor>;
using ServedMeta = Served<FakeMeta, rpc::MetaServiceProcessor>;
using ServedOlderMeta = Served<FakeMeta, MetaWithoutReleaseAllProcessor>;

}  // namespace replfs::client::testing
