// BlockStore: opening, the on-disk header, the in-memory chunk index, group
// commit and usage. The per-chunk operations are in block_store_ops.cc.
#include "daemons/datad/block_store.h"

#include <errno.h>
#include <kchashdb.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <unordered_set>

#include "common/log.h"
#include "daemons/datad/store_format.h"

namespace replfs::datad {

using kyotocabinet::BasicDB;
using kyotocabinet::HashDB;

namespace {

// The one place a Kyoto Cabinet error becomes a Status. `saved_errno` is
// errno right after the failing call: KC reports a full disk as a plain
// SYSTEM error.
Status KcToStatus(const BasicDB::Error& e, int saved_errno, std::string_view what) {
  std::string msg = std::string(what) + ": " + e.name() + ": " + e.message();
  switch (e.code()) {
    case BasicDB::Error::SUCCESS:
      return Status::Internal(msg + " (no error recorded)");
    case BasicDB::Error::NOREC:
      return Status::NotFound(msg);
    case BasicDB::Error::BROKEN:
      return Status::Corruption(msg);
    case BasicDB::Error::NOPERM:
      return Status::Permission(msg);
    case BasicDB::Error::INVALID:
    case BasicDB::Error::NOIMPL:
    case BasicDB::Error::LOGIC:
      return Status::Internal(msg);
    case BasicDB::Error::SYSTEM:
    case BasicDB::Error::NOREPOS:
    default:
      if (saved_errno == ENOSPC || saved_errno == EDQUOT)
        return Status::NoSpace(msg + ": no space left on device");
      if (saved_errno != 0) return Status::FromErrno(saved_errno, msg);
      return Status::IOError(msg);
  }
}

// Collects the chunk headers and block extents in one pass over the store.
// Block records with an index no chunk can reach (a flipped bit in a key:
// Kyoto Cabinet has no checksums of its own) are left out of the extents and
// listed in `impossible`: counting them would make a bitmap of up to 512 MiB
// and walks over 2^32 slots (check, scrub, removal).
class IndexScan : public BasicDB::Visitor {
 public:
  explicit IndexScan(uint32_t max_blocks) : max_blocks_(max_blocks) {}
  struct Header {
    int64_t version = 0;
    format::Bitmap written;
    bool has_bitmap = false;
  };
  struct Extent {
    format::Bitmap present;  // blocks with a record
    int64_t bytes = 0;
  };
  std::unordered_map<int64_t, Header> headers;
  std::unordered_map<int64_t, Extent> extents;
  std::unordered_set<int64_t> bad_headers;
  std::vector<std::pair<int64_t, uint32_t>> impossible;  // (chunk, block index)

  const char* visit_full(const char* kbuf, size_t ksiz, const char* vbuf, size_t vsiz,
                         size_t*) override {
    if (ksiz == format::kChunkKeySize && kbuf[0] == 'h') {
      const auto chunk = static_cast<int64_t>(format::GetBE(kbuf + 1, 8));
      Header h;
      if (!format::ParseHeader(vbuf, vsiz, &h.version, &h.written, &h.has_bitmap)) {
        LOG(ERROR) << "chunk " << chunk << ": malformed chunk header (" << vsiz
                   << " bytes); chunk ignored";
        bad_headers.insert(chunk);
      } else {
        headers[chunk] = std::move(h);
      }
    } else if (ksiz == format::kBlockKeySize && kbuf[0] == 'b') {
      const auto chunk = static_cast<int64_t>(format::GetBE(kbuf + 1, 8));
      const auto idx = static_cast<uint32_t>(format::GetBE(kbuf + 9, 4));
      if (idx >= max_blocks_) {
        impossible.emplace_back(chunk, idx);
        return NOP;
      }
      Extent& e = extents[chunk];
      e.present.Set(idx);
      if (vsiz >= format::kCrcSize) e.bytes += static_cast<int64_t>(vsiz - format::kCrcSize);
    }
    return NOP;
  }

 private:
  const uint32_t max_blocks_;
};

}  // namespace

const char* ReplicaStateName(ReplicaState s) {
  switch (s) {
    case ReplicaState::kOk: return "OK";
    case ReplicaState::kCorrupt: return "CORRUPT";
    case ReplicaState::kMissing: return "MISSING";
    case ReplicaState::kStale: return "STALE";
  }
  return "?";
}

BlockStore::BlockStore(std::string path, int64_t block_size, std::unique_ptr<HashDB> db)
    : path_(std::move(path)),
      dir_(path_.substr(0, path_.rfind('/') == std::string::npos ? 0 : path_.rfind('/'))),
      block_size_(block_size),
      db_(std::move(db)) {}

BlockStore::~BlockStore() {
  Status s = Close();
  if (!s.ok()) {
    LOG(ERROR) << "closing block store " << path_ << ": " << s.ToString();
  }
}

Status BlockStore::KcError(std::string_view what) const {
  const int saved = errno;
  return KcToStatus(db_->error(), saved, std::string(what) + " (" + path_ + ")");
}

Status BlockStore::Open(const std::string& dir, int64_t block_size,
                        std::unique_ptr<BlockStore>* out) {
  if (block_size < 512 || block_size > (1 << 20) || (block_size & (block_size - 1)) != 0)
    return Status::Invalid("block size " + std::to_string(block_size) +
                           " is not a power of two in 512..1MiB");
  const std::string path = (dir.empty() ? std::string(".") : dir) + "/" + kFileName;
  auto db = std::make_unique<HashDB>();
  // Default options: 6-byte offsets (no TSMALL), so the file may pass
  // 16 GiB. No memory map (tune_map 0): a write into a sparse mapped page on
  // a full disk would raise SIGBUS instead of failing with ENOSPC.
  db->tune_buckets(1ll << 20);
  db->tune_map(0);
  // No automatic defragmentation (tune_defrag): it moved records inside the
  // removes and writes that made holes, under the store's lock, so deleting
  // a file stalled the client I/O of the next heartbeat (4 KiB files written
  // right after a 256 MiB delete: 245-284/s with it, 343-355/s without, 454-489
  // with nothing deleted). Holes are reused for new records as far as the
  // free block pool reaches and are reclaimed by Compact (heartbeat.h).
  db->tune_defrag(0);
  // No OTRUNC: an existing store is never discarded. OTRYLOCK: a second
  // datad on the same directory fails instead of hanging.
  if (!db->open(path, HashDB::OWRITER | HashDB::OCREATE | HashDB::OTRYLOCK)) {
    const int saved = errno;
    Status s = KcToStatus(db->error(), saved, "cannot open block store " + path);
    return Status(s.code(), s.message() + " (damaged, not a block store, or in use by "
                                          "another datad?)");
  }
  std::unique_ptr<BlockStore> store(new BlockStore(path, block_size, std::move(db)));
  struct statvfs vfs{};
  const int64_t total = ::statvfs(store->dir_.empty() ? "." : store->dir_.c_str(), &vfs) == 0
                            ? static_cast<int64_t>(vfs.f_blocks) * static_cast<int64_t>(vfs.f_frsize)
                            : 0;
  store->reserve_bytes_ = std::clamp<int64_t>(total / 100, 2 * block_size + (1 << 20), 256ll << 20);
  REPLFS_RETURN_IF_ERROR(store->CheckHeader());
  REPLFS_RETURN_IF_ERROR(store->LoadIndex());
  bool has_chunks = false;
  {
    MutexLock l(&store->index_mu_);
    has_chunks = !store->index_.empty();
  }
  if (has_chunks) {
    // Holes an earlier run left (beyond the free block pool it saved) are
    // not counted anywhere: one pass finds them, when the datad is idle.
    MutexLock l(&store->compact_mu_);
    store->pass_left_ = std::max<int64_t>(store->db_->count(), 0);
  }
  *out = std::move(store);
  return Status::OK();
}

Status BlockStore::CheckHeader() {
  std::string header;
  if (!db_->get(format::HeaderKey(), &header)) {
    if (db_->error().code() != BasicDB::Error::NOREC) return KcError("read store header");
    if (db_->count() != 0)
      return Status::Corruption("block store " + path_ +
                                " has records but no header: not a replfs block store");
    std::string h(kMagic, 8);
    format::PutLE(&h, static_cast<uint64_t>(block_size_), 4);
    if (!db_->set(format::HeaderKey(), h) || !db_->synchronize(true))
      return KcError("write store header");
    LOG(INFO) << "created block store " << path_ << " (block size " << block_size_ << ")";
    return Status::OK();
  }
  if (header.size() != format::kHeaderSize || header.compare(0, 8, kMagic) != 0)
    return Status::Corruption("block store " + path_ + " has a bad header: not a replfs block store");
  const auto stored = static_cast<int64_t>(format::GetLE(header.data() + 8, 4));
  if (stored != block_size_)
    return Status::Invalid("block store " + path_ + " was created with block size " +
                           std::to_string(stored) + " but cluster.block_size is " +
                           std::to_string(block_size_));
  return Status::OK();
}

Status BlockStore::LoadIndex() {
  const auto start = std::chrono::steady_clock::now();
  const auto max_blocks = static_cast<uint32_t>(kMaxChunkBytes / block_size_);
  IndexScan scan(max_blocks);
  if (!db_->iterate(&scan, /*writable=*/false)) return KcError("scan block store");
  int64_t bytes = 0;
  int64_t old_format = 0;
  std::vector<std::pair<int64_t, uint32_t>> orphans;
  {
    MutexLock l(&index_mu_);
    for (auto& [chunk, h] : scan.headers) {
      if (!h.has_bitmap) ++old_format;
      if (h.written.End() > max_blocks) {
        // Bits past any block: damage, not data. The blocks below stay
        // marked; a missing one reads as corrupt and is repaired.
        LOG(ERROR) << "chunk " << chunk << ": header marks block " << h.written.End() - 1
                   << " written, past the last possible block " << max_blocks - 1
                   << " (damaged header); those marks are ignored";
        h.written.ClearFrom(max_blocks);
      }
      index_[chunk] = ChunkInfo{h.version, std::move(h.written)};
    }
    for (const auto& [chunk, extent] : scan.extents) {
      bytes += extent.bytes;
      auto it = index_.find(chunk);
      if (it != index_.end()) {
        // Present blocks count as written: an old header has no bitmap, and
        // a crash may fall between a block's record and its header update.
        it->second.written.Merge(extent.present);
      } else if (!scan.bad_headers.count(chunk)) {
        orphans.emplace_back(chunk, extent.present.End());
      }
    }
  }
  bytes_used_ = bytes;
  // Blocks without a chunk header are left by a DeleteChunk interrupted by a
  // crash (the header goes first). Nobody can read them, and a later replica
  // of the same chunk id must not inherit them.
  for (const auto& [chunk, end] : orphans) {
    LOG(WARNING) << "chunk " << chunk << ": removing blocks left by an interrupted delete";
    REPLFS_RETURN_IF_ERROR(RemoveBlocks(chunk, 0, end));
  }
  // Records no read can reach; the block they were (if a key bit flipped)
  // reads as missing and is repaired from another replica.
  for (const auto& [chunk, idx] : scan.impossible) {
    LOG(ERROR) << "chunk " << chunk << ": removing a block record at index " << idx
               << ", past the last possible block " << max_blocks - 1 << " (damaged key)";
    const std::string key = format::BlockKey(chunk, idx);
    if (!db_->remove(key) && db_->error().code() != BasicDB::Error::NOREC)
      return KcError("remove damaged block record of " + ChunkName(chunk));
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start).count();
  LOG(INFO) << "opened block store " << path_ << ": " << scan.headers.size() << " chunks ("
            << old_format << " with headers of the format without a bitmap), "
            << bytes_used_.load() << " bytes of blocks (scan " << ms << " ms)";
  return Status::OK();
}

bool BlockStore::LookUp(int64_t chunk, ChunkInfo* out) const {
  MutexLock l(&index_mu_);
  auto it = index_.find(chunk);
  if (it == index_.end()) return false;
  *out = it->second;
  return true;
}

Status BlockStore::PutHeader(int64_t chunk, const ChunkInfo& info) {
  if (!db_->set(format::ChunkKey(chunk), format::HeaderValue(info.version, info.written)))
    return KcError("write header of chunk " + std::to_string(chunk));
  MutexLock l(&index_mu_);
  index_[chunk] = info;
  return Status::OK();
}

std::vector<ChunkVersion> BlockStore::Inventory() const {
  std::vector<ChunkVersion> out;
  {
    MutexLock l(&index_mu_);
    out.reserve(index_.size());
    for (const auto& [chunk, info] : index_) out.push_back({chunk, info.version});
  }
  std::sort(out.begin(), out.end(),
            [](const ChunkVersion& a, const ChunkVersion& b) { return a.chunk_id < b.chunk_id; });
  return out;
}

// Group commit. The synchronize runs without sync_mu_ held so that callers
// arriving meanwhile queue up and share the next one. Uses the native mutex
// for the condition variable, hence no static analysis here.
Status BlockStore::Sync() NO_THREAD_SAFETY_ANALYSIS {
  std::unique_lock<std::mutex> l(sync_mu_.native());
  const int64_t need = sync_started_ + 1;  // a sync that starts after this call
  while (sync_completed_ < need) {
    if (syncing_) {
      sync_cv_.wait(l);
      continue;
    }
    syncing_ = true;
    const int64_t gen = ++sync_started_;
    l.unlock();
    Status s = db_->synchronize(/*hard=*/true) ? Status::OK() : KcError("sync block store");
    l.lock();
    syncing_ = false;
    sync_completed_ = gen;
    sync_status_ = s;
    sync_cv_.notify_all();
  }
  return sync_status_;
}

int64_t BlockStore::SyncsCompleted() NO_THREAD_SAFETY_ANALYSIS {
  std::lock_guard<std::mutex> l(sync_mu_.native());
  return sync_completed_;
}

Status BlockStore::CheckSpace(int64_t bytes) const {
  struct statvfs vfs{};
  if (::statvfs(dir_.empty() ? "." : dir_.c_str(), &vfs) != 0) return Status::OK();  // the write will tell
  const int64_t avail = static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize);
  if (avail - bytes >= reserve_bytes_) return Status::OK();
  return Status::NoSpace("the disk of " + path_ + " is full: " + std::to_string(avail) + " bytes free, " +
                         std::to_string(reserve_bytes_) + " kept in reserve");
}

Status BlockStore::Usage(StoreUsage* out) const {
  struct statvfs vfs{};
  if (::statvfs(dir_.empty() ? "." : dir_.c_str(), &vfs) != 0)
    return Status::FromErrno(errno, "statvfs " + dir_);
  out->bytes_total = static_cast<int64_t>(vfs.f_blocks) * static_cast<int64_t>(vfs.f_frsize);
  // The reserve is not for chunks: metad sees the disk full before it is.
  out->bytes_free = std::max<int64_t>(
      0, static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize) - reserve_bytes_);
  out->bytes_used = bytes_used_.load();
  out->corrupt_found = corrupt_found_.load();
  MutexLock l(&index_mu_);
  out->chunks = static_cast<int64_t>(index_.size());
  return Status::OK();
}

Status BlockStore::Compact(int64_t steps) {
  if (steps <= 0) return Status::Invalid("Compact needs a positive number of steps");
  if (compact_failed_) return Status::OK();
  // Kyoto Cabinet counts the holes made since its last defrag (which resets
  // the count): new ones start a pass over every record and hole again, the
  // most it takes to move them all to the end of the file, where they go.
  // (Holes made while the step runs go uncounted; the kCompactSteps of every
  // heartbeat still pass over them.)
  std::map<std::string, std::string> st;
  const int64_t holes = db_->status(&st) ? std::atoll(st["frgcnt"].c_str()) : 0;
  const int64_t records = db_->count();
  {
    MutexLock l(&compact_mu_);
    if (holes > 0) {
      holes_ += holes;
      pass_left_ = std::max<int64_t>(records, 0) + holes_;
    }
  }
  if (!db_->defrag(steps)) {
    compact_failed_ = true;
    return KcError("defragment block store").WithContext("compaction stopped until datad restarts");
  }
  MutexLock l(&compact_mu_);
  pass_left_ = std::max<int64_t>(pass_left_ - steps, 0);
  if (pass_left_ == 0) holes_ = 0;
  return Status::OK();
}

int64_t BlockStore::CompactionBacklog() const {
  MutexLock l(&compact_mu_);
  return pass_left_;
}

Status BlockStore::Close() {
  if (closed_.exchange(true)) return Status::OK();
  Status s = db_->synchronize(/*hard=*/true) ? Status::OK() : KcError("sync block store");
  if (!db_->close() && s.ok()) s = KcError("close block store");
  return s;
}

}  // namespace replfs::datad
