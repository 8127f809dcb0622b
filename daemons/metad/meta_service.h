// The MetaService Thrift handler: the only place converting IDL structs to
// and from metad's domain types. Every argument is validated (INVALID on
// nonsense) and every failure leaves as an RpcError via net::ThrowIfError.
// Thread-safe (the core is).
#pragma once

#include "MetaService.h"
#include "daemons/metad/core.h"
#include "thrift/authz.h"
#include "thrift/transport.h"

namespace replfs::metad {

inline constexpr int32_t kMaxReadDir = 10000;
inline constexpr int64_t kMaxGetChunks = 4096;
inline constexpr int64_t kMaxRpcBytes = 8 << 20;
// Entries of one inventory (RegisterServer, BlockReport): metad's server
// accepts lists this long (net::ServerOptions::max_container_elements). A
// whole inventory travels in one message, so in practice kMaxMessageSize
// bounds it first (~4.5 M chunks a datad); reports are not paged yet.
inline constexpr size_t kMaxInventory = net::kMaxContainerElements;
// Chunk locations an Open may ask for.
inline constexpr int32_t kMaxOpenChunks = 64;
// The longest a WatchChanges may wait for a change.
inline constexpr int32_t kMaxWatchWaitMs = 30000;
// The most inodes one ReleaseAll may release.
inline constexpr size_t kMaxReleaseBatch = 4096;

class MetaServiceHandler : public rpc::MetaServiceIf {
 public:
  // `core` outlives this. WatchChanges waits at most `max_watch_wait_ms`
  // (the fuzzer's handler never blocks).
  explicit MetaServiceHandler(MetaCore* core, int32_t max_watch_wait_ms = kMaxWatchWaitMs)
      : core_(core), max_watch_wait_ms_(max_watch_wait_ms) {}

  void Ping() override {}
  void GetClusterInfo(rpc::ClusterInfo& out) override;
  void Lookup(rpc::Attr& out, int64_t parent, const std::string& name) override;
  void GetAttr(rpc::Attr& out, int64_t ino) override;
  void SetAttr(rpc::Attr& out, const rpc::SetAttrRequest& req) override;
  void Mknod(rpc::Attr& out, int64_t parent, const std::string& name, rpc::FileType::type type,
             int32_t mode, int32_t uid, int32_t gid, int64_t rdev) override;
  void Mkdir(rpc::Attr& out, int64_t parent, const std::string& name, int32_t mode, int32_t uid,
             int32_t gid) override;
  void Symlink(rpc::Attr& out, int64_t parent, const std::string& name, const std::string& target,
               int32_t uid, int32_t gid) override;
  void ReadLink(std::string& out, int64_t ino) override;
  void Unlink(rpc::Unlinked& out, int64_t parent, const std::string& name) override;
  void Rmdir(rpc::Unlinked& out, int64_t parent, const std::string& name) override;
  void Rename(rpc::Unlinked& out, int64_t parent, const std::string& name, int64_t new_parent,
              const std::string& new_name, const rpc::RenameFlags& flags) override;
  void Link(rpc::Attr& out, int64_t ino, int64_t new_parent, const std::string& new_name) override;
  void ReadDir(rpc::DirPage& out, int64_t ino, const std::string& after, int32_t max, bool plus) override;
  void SetXattr(int64_t ino, const std::string& name, const std::string& value, int32_t flags) override;
  void GetXattr(std::string& out, int64_t ino, const std::string& name) override;
  void ListXattr(std::vector<std::string>& out, int64_t ino) override;
  void RemoveXattr(int64_t ino, const std::string& name) override;
  void Open(rpc::OpenReply& out, int64_t ino, int64_t session, int32_t chunks) override;
  void Release(int64_t ino, int64_t session) override;
  void GetChunks(std::vector<rpc::ChunkLocation>& out, int64_t ino, int64_t first_index,
                 int64_t count) override;
  void AllocChunk(rpc::ChunkLocation& out, int64_t ino, int64_t index) override;
  void CommitWrite(rpc::Attr& out, int64_t ino, int64_t size, int64_t mtime_ns) override;
  void StatFs(rpc::FsStat& out) override;
  void Sync() override;
  void Create(rpc::OpenReply& out, int64_t parent, const std::string& name, int32_t mode, int32_t uid,
              int32_t gid, int64_t session, int32_t chunks) override;
  void RegisterServer(const rpc::ServerUsage& usage, const std::vector<rpc::ChunkReplica>& inventory) override;
  void Heartbeat(rpc::HeartbeatReply& out, const rpc::ServerUsage& usage) override;
  void BlockReport(rpc::HeartbeatReply& out, const std::string& addr,
                   const std::vector<rpc::ChunkReplica>& inventory) override;
  void ReportBadReplicas(rpc::ChunkLocation& out, int64_t ino, int64_t index, int64_t chunk_id, int64_t version,
                         const std::vector<std::string>& bad, rpc::ErrorCode::type why) override;
  void Status(rpc::ClusterStatus& out) override;
  int64_t ResolvePath(const std::string& path) override;
  void Fsck(rpc::FileReport& out, int64_t ino) override;
  void Corrupt(rpc::CorruptResult& out, int64_t ino, int64_t block, const std::string& server,
               rpc::FaultMode::type mode, bool force) override;
  void StartScrub(const std::string& server) override;
  void Heal() override;
  void Drain(const std::string& addr) override;
  void Undrain(const std::string& addr) override;
  void RemoveServer(const std::string& addr) override;
  int64_t SetGoal(int64_t ino, int32_t goal, bool recursive) override;
  void Identify(int64_t session) override;
  void WatchChanges(rpc::ChangeBatch& out, int64_t generation, int64_t after, int64_t session,
                    int32_t wait_ms) override;
  void ReleaseAll(const std::vector<int64_t>& inos, int64_t session) override;

 private:
  // Fills every field of the wire Attr, allocated_bytes included.
  void ToAttr(const Inode& in, rpc::Attr* a) const;
  // `u` with the parent directory's attributes (Unlink, Rmdir).
  void ToUnlinkedWithDir(const Unlinked& u, const Inode& dir, rpc::Unlinked* out) const;
  // Attaches the parent directory's attributes to a reply (Attr.dir).
  void SetDir(const Inode& dir, rpc::Attr* a) const;
  // The locations of the first `chunks` chunks of `in` (a regular file).
  void FillOpenChunks(const Inode& in, int32_t chunks, rpc::OpenReply* out);

  MetaCore* const core_;
  const int32_t max_watch_wait_ms_;
};

// Who may call what on metad (thrift/authz.h), by the role in the caller's
// certificate: datads register, heartbeat and report; admins (fsctl with an
// admin certificate) run fault injection, scrub, heal, drain, remove and
// set goals; clients and admins use the file system and read status.
const net::Policy& MetadPolicy();
// Methods of MetaService that declare no exception.
const std::set<std::string>& MetadNoThrow();

}  // namespace replfs::metad
