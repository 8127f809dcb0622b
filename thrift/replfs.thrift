// replfs wire contract. The only protocol spoken between replfs processes.
//
// Conventions:
//  - Every failure is an RpcError carrying an ErrorCode (a wire enum distinct
//    from errno; it is converted to errno only at the FUSE boundary).
//  - Times are nanoseconds since the Unix epoch.
//  - Offsets inside a chunk are bytes from the chunk start; block indices are
//    relative to the chunk.
//  - One RPC carries at most max_rpc_bytes (8 MiB) of file data.

namespace cpp replfs.rpc

enum ErrorCode {
  OK = 0,
  NOT_FOUND = 1,
  EXISTS = 2,
  NOT_DIR = 3,
  IS_DIR = 4,
  NOT_EMPTY = 5,
  PERMISSION = 6,
  INVALID = 7,
  NO_SPACE = 8,
  IO_ERROR = 9,
  CORRUPTION = 10,
  STALE = 11,
  UNAVAILABLE = 12,
  TIMED_OUT = 13,
  INTERNAL = 14,
  NAME_TOO_LONG = 15,
  NOT_SUPPORTED = 16,
  NO_XATTR = 17,     // xattr absent (ENODATA)
  RANGE = 18,        // buffer too small (ERANGE)
  TOO_MANY_LINKS = 19,
  TOO_BIG = 20,      // EFBIG
}

exception RpcError {
  1: ErrorCode code,
  2: string message,
}

enum FileType {
  REGULAR = 1,
  DIRECTORY = 2,
  SYMLINK = 3,
  FIFO = 4,
  SOCKET = 5,
  CHAR_DEV = 6,
  BLOCK_DEV = 7,
}

struct Attr {
  1: i64 ino,
  2: FileType type,
  3: i32 mode,        // permission bits only (07777)
  4: i32 uid,
  5: i32 gid,
  6: i64 size,
  7: i32 nlink,
  8: i64 atime_ns,
  9: i64 mtime_ns,
  10: i64 ctime_ns,
  11: i64 rdev,
  12: i32 goal,       // replication goal of a regular file
  13: i64 allocated_bytes,  // bytes of [0, size) in allocated chunks: st_blocks
  14: i32 xattrs = -1,      // how many xattrs it has; -1 unknown (ask)
  // In the answer to a change of a directory's entries (Mknod, Mkdir,
  // Symlink, Link, Create): that directory's attributes right after the
  // change, so that the client need not ask for them again.
  15: optional Attr & dir,
}

struct DirEntry {
  1: string name,
  2: i64 ino,
  3: FileType type,
  4: optional Attr attr,   // present when ReadDir was asked for attributes
}

struct DirPage {
  1: list<DirEntry> entries,
  2: bool eof,
}

// Fields that are set are applied; the rest are left alone.
struct SetAttrRequest {
  1: i64 ino,
  2: optional i32 mode,
  3: optional i32 uid,
  4: optional i32 gid,
  5: optional i64 size,
  6: optional i64 atime_ns,
  7: optional i64 mtime_ns,
  8: bool atime_now = false,
  9: bool mtime_now = false,
}

// What an operation that removes or replaces a name did to the inode behind
// it: the client invalidates the kernel's cache of that inode.
struct Unlinked {
  1: i64 ino,            // 0 when nothing was removed
  2: i32 nlink,          // links left
  3: optional Attr dir,  // Unlink, Rmdir: the parent's attributes after it
}

struct RenameFlags {
  1: bool noreplace = false,
  2: bool exchange = false,
}

// Where a chunk's replicas live. chunk_id 0 means the chunk does not exist
// (a hole).
struct ChunkLocation {
  1: i64 index,
  2: i64 chunk_id,
  3: i64 version,
  4: list<string> replicas,   // "host:port" of datads, placement order
  // Acknowledgements a write of this chunk needs: min(min_write_replicas,
  // the chunk's goal), so a goal-1 file can be written.
  5: i32 write_quorum,
}

struct OpenReply {
  1: Attr attr,
  2: list<ChunkLocation> chunks,   // existing chunks among the first asked for
}

// Cache coherence: what changed in the namespace, for clients that keep
// kernel caches long (see WatchChanges).
enum ChangeKind {
  INODE = 1,  // attributes, xattrs or contents of `ino` changed (or it went)
  ENTRY = 2,  // the name `name` in directory `ino` changed (added, removed, re-pointed)
}

struct Change {
  1: ChangeKind kind,
  2: i64 ino,
  3: string name,  // ENTRY only
}

struct ChangeBatch {
  1: i64 generation,     // this metad process's feed (new after a restart)
  2: i64 last,           // the feed position to ask after next time
  3: bool lost,          // changes were missed: drop every cache
  4: list<Change> changes,
}

struct FsStat {
  1: i64 bytes_total,
  2: i64 bytes_free,
  3: i64 bytes_used,
  4: i64 inodes,
  5: i32 replicas,
}

struct ClusterInfo {
  1: i64 chunk_size,
  2: i32 block_size,
  3: i32 replicas,
  4: i32 min_write_replicas,
  5: i64 max_rpc_bytes,
}


struct ChunkReplica {
  1: i64 chunk_id,
  2: i64 version,
}

struct ScrubInfo {
  1: bool running,
  2: double progress,            // 0..1 of the current (or last) pass
  3: i64 last_full_pass_ms,      // epoch ms when the last full pass ended; 0 = never
  4: i64 oldest_unverified_ms,   // age of the least recently verified block (ms)
  5: i64 bytes_verified,         // in the current pass
  6: i64 corrupt_found_pass,     // corrupt blocks found in the current/last pass
}

// ---- datad -> metad -------------------------------------------------------

struct ServerUsage {
  1: string addr,          // the address clients use to reach this datad
  2: i64 bytes_total,
  3: i64 bytes_free,
  4: i64 bytes_used,       // bytes of block data stored
  5: i64 chunks,
  6: i64 corrupt_found,    // blocks found corrupt since start
  7: i32 block_size,       // must equal the cluster's block_size
  // Replicas found corrupt (by the scrubber or a read) since the last
  // heartbeat; metad drops them and repairs the chunks.
  8: list<ChunkReplica> corrupt_chunks,
  9: ScrubInfo scrub,
}



// A secondary that did not apply a forwarded write.
struct ReplicaFailure {
  1: string addr,
  2: ErrorCode code,
  3: string message,
}

struct WriteReply {
  1: list<ReplicaFailure> failed,   // secondaries of `forward` that failed
  // The write asked for `sync`, and this datad's store and every secondary
  // that applied it are synced (a datad that does not know `sync` leaves it
  // false: the client then calls Sync as before).
  2: bool synced,
}

struct HeartbeatReply {
  // Field 1 (list<i64> delete_chunks, unconditional deletes) is retired.
  // Replicas this datad should drop: each only if the version it holds is
  // <= the version given, so a delete queued for an old copy never removes a
  // newer one (a repair may have copied the chunk here since).
  2: list<ChunkReplica> delete_replicas,
}

// ---- fsctl ----------------------------------------------------------------

enum ServerState {
  UP = 1,
  DOWN = 2,
  DRAINING = 3,
}

struct ServerStatus {
  1: string addr,
  2: ServerState state,
  3: i64 chunks,
  4: i64 bytes_used,
  5: i64 bytes_free,
  6: i64 bytes_total,
  7: i64 corrupt_found,
  8: i64 last_heartbeat_ms,     // age of the last heartbeat
  9: ScrubInfo scrub,
}

struct ChunkCounts {
  1: i64 total,
  2: i64 healthy,
  3: i64 under_replicated,
  4: i64 unavailable,
  5: i64 corrupt_replicas,
  // Chunks below goal by number of good (live, current) replicas: key 0, 1,
  // 2, ... -> chunks.
  6: map<i32, i64> under_by_good,
  7: i64 stale_replicas,        // replicas known stale, not yet deleted/refreshed
}

struct ClusterStatus {
  1: list<ServerStatus> servers,
  2: ChunkCounts chunks,
  3: i64 repair_queued,
  4: i64 repair_done,
  5: i64 uptime_ms,
  6: i64 files,
  7: i64 directories,
  8: i32 replicas,
  9: i64 repair_bytes_per_s,    // recent repair copy rate
  10: i64 repair_bytes_queued,  // estimate of bytes left to copy
  11: bool heal_running,        // a Heal() is bypassing the throttle
}

enum ReplicaState {
  OK = 1,
  CORRUPT = 2,
  MISSING = 3,
  STALE = 4,
  UNREACHABLE = 5,
}

struct ReplicaReport {
  1: string addr,
  2: ReplicaState state,
  3: string detail,
}

struct ChunkReport {
  1: i64 index,
  2: i64 chunk_id,
  3: i64 version,
  4: list<ReplicaReport> replicas,
}

struct FileReport {
  1: i64 ino,
  2: string path,
  3: i64 size,
  4: i32 goal,
  5: list<ChunkReport> chunks,
}

// ---- datad's own answers ----------------------------------------------------

struct BlockData {
  1: i32 index,          // block index within the chunk
  2: binary data,        // up to block_size bytes; shorter = zeros follow
  3: i32 crc,            // CRC32C of the block as stored
  // In the answer to a ranged Read: `data` holds the stored bytes from
  // `offset` on (as far as the range and the stored block go), and
  // prefix_crc / suffix_crc are the CRC32C of the stored bytes before and
  // after it, so that the reader checks `crc` without the rest of the bytes
  // (CRC32C combine). Beyond stored_length the block reads as zeros.
  4: i32 offset = 0,
  5: optional i32 prefix_crc,
  6: optional i32 suffix_crc,
  7: optional i32 stored_length,
}

enum FaultMode {
  FLIP = 1,    // flip one bit of the block's data (checksum left as is)
  ZERO = 2,    // overwrite the block's data with zeros (checksum left as is)
  DELETE = 3,  // remove the block record
}

struct CorruptResult {
  1: string addr,       // the replica damaged
  2: i64 chunk_id,
  3: i64 chunk_index,   // index of the chunk in the file
  4: i64 version,
  5: i32 block,         // block index inside the chunk
}

struct ChunkCheck {
  1: ReplicaState state,  // OK, CORRUPT, MISSING or STALE
  2: i64 version,         // version held (0 when missing)
  3: i32 blocks,
  4: i32 bad_blocks,
  5: string detail,
}

service MetaService {
  void Ping(),
  ClusterInfo GetClusterInfo(),

  // Namespace. Names are single components: 1..255 bytes, no '/' or NUL.
  Attr Lookup(1: i64 parent, 2: string name) throws (1: RpcError e),
  Attr GetAttr(1: i64 ino) throws (1: RpcError e),
  Attr SetAttr(1: SetAttrRequest req) throws (1: RpcError e),
  Attr Mknod(1: i64 parent, 2: string name, 3: FileType type, 4: i32 mode,
             5: i32 uid, 6: i32 gid, 7: i64 rdev) throws (1: RpcError e),
  Attr Mkdir(1: i64 parent, 2: string name, 3: i32 mode, 4: i32 uid,
             5: i32 gid) throws (1: RpcError e),
  Attr Symlink(1: i64 parent, 2: string name, 3: string target, 4: i32 uid,
               5: i32 gid) throws (1: RpcError e),
  string ReadLink(1: i64 ino) throws (1: RpcError e),
  Unlinked Unlink(1: i64 parent, 2: string name) throws (1: RpcError e),
  // Returns the directory removed (nlink 0) and the parent's attributes.
  Unlinked Rmdir(1: i64 parent, 2: string name) throws (1: RpcError e),
  // Returns the inode that lost its name (overwritten target), if any.
  Unlinked Rename(1: i64 parent, 2: string name, 3: i64 new_parent,
                  4: string new_name, 5: RenameFlags flags)
      throws (1: RpcError e),
  Attr Link(1: i64 ino, 2: i64 new_parent, 3: string new_name)
      throws (1: RpcError e),
  // Entries strictly after `after` in name order, at most `max`.
  DirPage ReadDir(1: i64 ino, 2: string after, 3: i32 max, 4: bool plus)
      throws (1: RpcError e),

  // flags: 1 = XATTR_CREATE, 2 = XATTR_REPLACE
  void SetXattr(1: i64 ino, 2: string name, 3: binary value, 4: i32 flags)
      throws (1: RpcError e),
  binary GetXattr(1: i64 ino, 2: string name) throws (1: RpcError e),
  list<string> ListXattr(1: i64 ino) throws (1: RpcError e),
  void RemoveXattr(1: i64 ino, 2: string name) throws (1: RpcError e),

  // Open handles keep an unlinked inode alive until its last Release.
  // The reply carries the locations of the file's existing chunks among
  // its first `chunks` (at most 64), so the first reads after an open need
  // no GetChunks.
  OpenReply Open(1: i64 ino, 2: i64 session, 3: i32 chunks) throws (1: RpcError e),
  void Release(1: i64 ino, 2: i64 session) throws (1: RpcError e),

  // Data placement.
  list<ChunkLocation> GetChunks(1: i64 ino, 2: i64 first_index, 3: i64 count)
      throws (1: RpcError e),
  ChunkLocation AllocChunk(1: i64 ino, 2: i64 index) throws (1: RpcError e),
  // Raises size to at least `size` (never shrinks) and sets mtime.
  Attr CommitWrite(1: i64 ino, 2: i64 size, 3: i64 mtime_ns)
      throws (1: RpcError e),
  FsStat StatFs() throws (1: RpcError e),

  // datad membership.
  void RegisterServer(1: ServerUsage usage, 2: list<ChunkReplica> inventory)
      throws (1: RpcError e),
  HeartbeatReply Heartbeat(1: ServerUsage usage) throws (1: RpcError e),
  // Periodic full inventory (every block_report_interval_ms); reconciled
  // like the one sent at registration. NOT_FOUND: register again.
  HeartbeatReply BlockReport(1: string addr, 2: list<ChunkReplica> inventory)
      throws (1: RpcError e),

  // A client met replicas of chunk (ino, index) at `version` that failed
  // (a secondary that missed a write, a primary that did not answer, a
  // corrupt or stale replica on read). metad drops them from the replica set
  // and moves the remaining replicas to a new version before answering, so
  // the dropped ones are recognisably stale; repair restores the goal later.
  // Returns the chunk's current location (unchanged if `version` is no
  // longer current: someone else already handled it).
  ChunkLocation ReportBadReplicas(1: i64 ino, 2: i64 index, 3: i64 chunk_id,
                                  4: i64 version, 5: list<string> bad,
                                  6: ErrorCode why) throws (1: RpcError e),

  // Operator.
  ClusterStatus Status() throws (1: RpcError e),
  i64 ResolvePath(1: string path) throws (1: RpcError e),
  FileReport Fsck(1: i64 ino) throws (1: RpcError e),
  // Fault injection into one replica of file block `block` (file offset /
  // block_size). `server` empty: metad picks a replica. Refuses (INVALID)
  // to damage the last good replica unless `force`.
  CorruptResult Corrupt(1: i64 ino, 2: i64 block, 3: string server,
                        4: FaultMode mode, 5: bool force) throws (1: RpcError e),
  // Starts an immediate full scrub pass on `server` ("" = every UP datad).
  void StartScrub(1: string server) throws (1: RpcError e),
  // Repairs everything degraded now, bypassing the background throttle,
  // until the queue is empty; progress in Status().
  void Heal() throws (1: RpcError e),
  // Move every replica off a server; new chunks avoid it. NOT_FOUND for an
  // unknown server.
  void Drain(1: string addr) throws (1: RpcError e),
  void Undrain(1: string addr) throws (1: RpcError e),
  // Forget a server; only when it holds no replica that is not elsewhere
  // (INVALID with the count otherwise).
  void RemoveServer(1: string addr) throws (1: RpcError e),
  // Sets the replication goal of `ino` (a directory's goal is inherited by
  // files created in it later); with `recursive`, of everything below a
  // directory. Returns how many inodes changed.
  i64 SetGoal(1: i64 ino, 2: i32 goal, 3: bool recursive) throws (1: RpcError e),

  // Client (last, so that fuzz inputs keep their method numbers). Makes
  // every metadata change acknowledged so far durable (fsync of a file with
  // nothing to commit, fsyncdir): namespace changes are otherwise synced
  // within metad.fsync_interval_ms.
  void Sync() throws (1: RpcError e),
  // open(2) with O_CREAT in one call: Mknod of a regular file, then Open of
  // it under `session` with the locations of up to `chunks` chunks (none
  // yet). attr.dir: the parent's attributes after the create.
  OpenReply Create(1: i64 parent, 2: string name, 3: i32 mode, 4: i32 uid,
                   5: i32 gid, 6: i64 session, 7: i32 chunks)
      throws (1: RpcError e),

  // Cache coherence (last, for the same reason). Identify names the client
  // session this connection works for (once, when it opens): changes made
  // through it are not sent back to that session by WatchChanges.
  void Identify(1: i64 session) throws (1: RpcError e),
  // Changes committed after feed position `after` of feed `generation`,
  // leaving out those made for `session`, waiting up to `wait_ms` (at most
  // 30,000) for one. after < 0: start following now (no changes, `last` is
  // the current position). A generation that is not this feed's (metad
  // restarted) or a position the feed no longer holds gives lost = true.
  ChangeBatch WatchChanges(1: i64 generation, 2: i64 after, 3: i64 session,
                           4: i32 wait_ms) throws (1: RpcError e),

  // Client (last, for the same reason). Release of each of `inos` (at most
  // 4,096; one that appears twice is released twice), in order: the
  // closes of a mount, sent together. All are applied; the first failure,
  // if any, is thrown after that.
  void ReleaseAll(1: list<i64> inos, 2: i64 session) throws (1: RpcError e),
}

service DataService {
  void Ping(),
  // Writes `data` at `offset` inside the chunk. `crc` is CRC32C of `data`
  // as the client computed it; a mismatch is CORRUPTION (nothing stored).
  // The chunk must exist (CreateChunk): absent is NOT_FOUND, another version
  // STALE, so a replica that lost a chunk never comes back holding a part of
  // it. With a non-empty `forward`
  // this datad is the chunk's primary: it applies the write, then forwards
  // it (with an empty forward list) to every address in `forward` in
  // parallel, holding the chunk's write lock until all have answered, so
  // every replica applies writes to a chunk in the primary's order. Fails
  // only if the local write fails; secondaries' failures are listed.
  // With `sync`, every replica also makes its store durable (as Sync) before
  // it answers, and the forwards carry `sync` (the client's flush of data it
  // held back: one round instead of Write, then Sync on every replica). A
  // failed local sync fails the call; a secondary's, lists it in `failed`.
  WriteReply Write(1: i64 chunk_id, 2: i64 version, 3: i64 offset,
                   4: binary data, 5: i32 crc, 6: list<string> forward,
                   7: bool sync = false)
      throws (1: RpcError e),
  // Creates an empty replica of the chunk at `version` (metad, when it
  // allocates a chunk; PushChunk, on its target). Present at `version`: OK
  // (idempotent); present at another version: STALE.
  void CreateChunk(1: i64 chunk_id, 2: i64 version) throws (1: RpcError e),
  // Changes the replica's version from old_version to new_version (under
  // the chunk's write lock). Already at new_version: OK (idempotent). Any
  // other version: STALE. Absent: NOT_FOUND.
  void SetVersion(1: i64 chunk_id, 2: i64 old_version, 3: i64 new_version)
      throws (1: RpcError e),
  // Repair: copies this replica, every block verified, to the datad at
  // `target` as version new_version (the target's old copy, if any, is
  // deleted first; holes stay holes), holding this chunk's write lock for the
  // whole copy, then sets this replica's own version to new_version.
  // CORRUPTION if a block of this replica is bad (nothing changed here).
  void PushChunk(1: i64 chunk_id, 2: i64 version, 3: string target,
                 4: i64 new_version) throws (1: RpcError e),
  // Blocks first_block .. first_block+count-1 that exist (holes omitted),
  // each verified against its stored checksum (mismatch: CORRUPTION). With
  // range_length > 0 (count 1 only): just bytes [range_offset,
  // range_offset + range_length) of that block, whose whole checksum is
  // still verified (BlockData.prefix_crc and suffix_crc).
  list<BlockData> Read(1: i64 chunk_id, 2: i64 version, 3: i32 first_block,
                       4: i32 count, 5: i32 range_offset = 0,
                       6: i32 range_length = 0) throws (1: RpcError e),
  // Drops every byte at or past `length`.
  void Truncate(1: i64 chunk_id, 2: i64 version, 3: i64 length)
      throws (1: RpcError e),
  void DeleteChunk(1: i64 chunk_id) throws (1: RpcError e),
  // Makes every acknowledged write durable.
  void Sync() throws (1: RpcError e),
  // Verifies every block of the replica.
  ChunkCheck CheckChunk(1: i64 chunk_id, 2: i64 version) throws (1: RpcError e),
  ServerUsage Usage() throws (1: RpcError e),
  // Fault injection (fsctl corrupt): damages block `block` of this replica.
  void InjectFault(1: i64 chunk_id, 2: i32 block, 3: FaultMode mode)
      throws (1: RpcError e),
  // Starts an immediate full scrub pass (no-op if one is running).
  void StartScrub() throws (1: RpcError e),
}
