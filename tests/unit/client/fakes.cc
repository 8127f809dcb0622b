#include "fakes.h"

#include <algorithm>
#include <chrono>

#include <thrift/TApplicationException.h>

#include "common/crc32c.h"
#include "thrift/rpc_status.h"
#include "thrift/client_pool.h"

namespace replfs::client::testing {

using net::ThrowIfError;

net::RpcOptions FastOptions() {
  net::RpcOptions o;
  o.connect_timeout_ms = 500;
  o.rpc_timeout_ms = 2000;
  o.attempts = 2;
  o.backoff_ms = 5;
  o.budget_ms = 2000;
  return o;
}

DataPathOptions FastDataOptions() {
  DataPathOptions o;
  o.rpc = FastOptions();
  o.min_write_replicas = 2;
  o.read_timeout_ms = 1000;
  return o;
}

std::string FakeData::Contents(int64_t chunk_id) {
  std::lock_guard<std::mutex> l(mu_);
  std::string out;
  for (const auto& [index, data] : blocks_[chunk_id]) {
    out.resize(static_cast<size_t>(index) * kBlockSize, '\0');
    out += data;
  }
  return out;
}

std::vector<std::string> FakeData::LastForward() {
  std::lock_guard<std::mutex> l(mu_);
  return last_forward_;
}

void FakeData::Write(rpc::WriteReply& r, int64_t chunk_id, int64_t version, int64_t offset,
                     const std::string& data, int32_t crc,
                     const std::vector<std::string>& forward, bool sync) {
  if (static_cast<uint32_t>(crc) != Crc32c(data))
    ThrowIfError(Status::Corruption("payload checksum mismatch"));
  if (fault == Fault::kStale) ThrowIfError(Status::Stale("stale"));
  if (fault == Fault::kNoSpace) ThrowIfError(Status::NoSpace("disk full"));
  if (fault == Fault::kNotFound) ThrowIfError(Status::NotFound("chunk is not held here"));
  int left = stale_writes.load();
  while (left > 0 && !stale_writes.compare_exchange_weak(left, left - 1)) {
  }
  if (left > 0) ThrowIfError(Status::Stale("stale (injected)"));
  ++writes;
  Apply(chunk_id, offset, data);
  const bool synced_here = sync && knows_sync;
  if (synced_here) ++synced_writes;
  r.synced = synced_here;
  if (forward.empty()) return;
  ++primary_writes;
  {
    std::lock_guard<std::mutex> l(mu_);
    last_forward_ = forward;
  }
  for (const std::string& addr : forward) {
    std::shared_ptr<net::ClientPool<rpc::DataServiceClient>> pool;
    Status s = peers_.Get(addr, &pool);
    bool sent = false;
    if (s.ok()) {
      s = pool->CallOnce(
          [&](rpc::DataServiceClient& c) {
            rpc::WriteReply fwd;
            c.Write(fwd, chunk_id, version, offset, data, crc, {}, sync);
            r.synced = r.synced && fwd.synced;
          },
          &sent);
    }
    if (s.ok()) continue;
    rpc::ReplicaFailure f;
    f.addr = addr;
    f.code = net::ToErrorCode(s.code());
    f.message = s.ToString();
    r.failed.push_back(f);
  }
}

void FakeData::Apply(int64_t chunk_id, int64_t offset, const std::string& data) {
  std::lock_guard<std::mutex> l(mu_);
  auto& chunk = blocks_[chunk_id];
  for (size_t i = 0; i < data.size();) {
    const int64_t pos = offset + static_cast<int64_t>(i);
    const int32_t b = static_cast<int32_t>(pos / kBlockSize);
    const size_t in = static_cast<size_t>(pos % kBlockSize);
    const size_t n = std::min(data.size() - i, kBlockSize - in);
    std::string& blk = chunk[b];
    if (blk.size() < in + n) blk.resize(in + n, '\0');
    blk.replace(in, n, data, i, n);
    i += n;
  }
}

void FakeData::Read(std::vector<rpc::BlockData>& out, int64_t chunk_id, int64_t, int32_t first,
                    int32_t count, int32_t range_offset, int32_t range_length) {
  ++reads;
  if (range_length > 0) ++ranged_reads;
  if (fault == Fault::kCorruptionError) ThrowIfError(Status::Corruption("block checksum mismatch"));
  if (fault == Fault::kStale) ThrowIfError(Status::Stale("stale"));
  if (fault == Fault::kNotFound) ThrowIfError(Status::NotFound("chunk is not held here"));
  std::lock_guard<std::mutex> l(mu_);
  auto& chunk = blocks_[chunk_id];
  for (auto it = chunk.lower_bound(first); it != chunk.end() && it->first < first + count; ++it) {
    rpc::BlockData b;
    b.index = it->first;
    b.data = it->second;
    b.crc = static_cast<int32_t>(Crc32c(b.data));
    if (range_length > 0) {
      const std::string whole = std::move(b.data);
      const size_t begin = std::min(whole.size(), static_cast<size_t>(range_offset));
      const size_t end = std::min(whole.size(), static_cast<size_t>(range_offset + range_length));
      b.data = whole.substr(begin, end - begin);
      b.offset = static_cast<int32_t>(begin);
      b.__set_prefix_crc(static_cast<int32_t>(Crc32c(whole.data(), begin)));
      b.__set_suffix_crc(static_cast<int32_t>(Crc32c(whole.data() + end, whole.size() - end)));
      b.__set_stored_length(static_cast<int32_t>(whole.size()));
    }
    // Silent corruption on the wire or disk: the CRC no longer matches.
    if (fault == Fault::kFlipByte && !b.data.empty()) b.data[0] ^= 0x40;
    out.push_back(std::move(b));
  }
}

void FakeData::Truncate(int64_t chunk_id, int64_t, int64_t length) {
  ++truncates;
  std::lock_guard<std::mutex> l(mu_);
  auto& chunk = blocks_[chunk_id];
  for (auto it = chunk.begin(); it != chunk.end();) {
    const int64_t start = static_cast<int64_t>(it->first) * kBlockSize;
    if (start >= length) {
      it = chunk.erase(it);
      continue;
    }
    if (start + static_cast<int64_t>(it->second.size()) > length)
      it->second.resize(static_cast<size_t>(length - start));
    ++it;
  }
}

void FakeMeta::No() { throw net::ToRpcError(Status::NotSupported("not in the fake")); }

void FakeMeta::GetClusterInfo(rpc::ClusterInfo& r) {
  r.chunk_size = kChunkSize;
  r.block_size = kBlockSize;
  r.replicas = 3;
  r.min_write_replicas = 2;
  r.max_rpc_bytes = 2 * kBlockSize;
}

void FakeMeta::Lookup(rpc::Attr& r, int64_t parent, const std::string& name) {
  ++lookups;
  std::lock_guard<std::mutex> l(mu_);
  auto it = names_.find(name);
  if (parent != 1 || it == names_.end()) ThrowIfError(Status::NotFound(name));
  r = inodes_[it->second];
}

rpc::Attr& FakeMeta::RootLocked() {
  auto [it, made] = inodes_.try_emplace(1);
  if (made) {
    it->second.ino = 1;
    it->second.type = rpc::FileType::DIRECTORY;
    it->second.mode = 0755;
    it->second.nlink = 2;
    it->second.mtime_ns = 1;
  }
  return it->second;
}

void FakeMeta::GetAttr(rpc::Attr& r, int64_t ino) {
  ++getattrs;
  std::lock_guard<std::mutex> l(mu_);
  if (ino == 1) RootLocked();
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) ThrowIfError(Status::NotFound("inode " + std::to_string(ino)));
  r = it->second;
  r.allocated_bytes = AllocatedLocked(ino, r.size);
}

int64_t FakeMeta::AllocatedLocked(int64_t ino, int64_t size) const {
  int64_t chunks = 0;
  for (const auto& [key, loc] : chunks_) chunks += key.first == ino;
  return std::min(size, chunks * kChunkSize);
}

void FakeMeta::SetAttr(rpc::Attr& r, const rpc::SetAttrRequest& req) {
  std::lock_guard<std::mutex> l(mu_);
  rpc::Attr& a = inodes_.at(req.ino);
  if (req.__isset.size) {
    a.size = req.size;
    for (auto it = chunks_.begin(); it != chunks_.end();) {
      if (it->first.first == req.ino && it->first.second * kChunkSize >= req.size)
        it = chunks_.erase(it);
      else
        ++it;
    }
  }
  if (req.__isset.mode) a.mode = req.mode;
  if (req.__isset.mtime_ns) a.mtime_ns = req.mtime_ns;
  // metad's clock, as metad does.
  a.ctime_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
  r = a;
}

void FakeMeta::Mknod(rpc::Attr& r, int64_t parent, const std::string& name,
                     rpc::FileType::type type, int32_t mode, int32_t uid, int32_t gid, int64_t) {
  std::lock_guard<std::mutex> l(mu_);
  if (parent != 1) ThrowIfError(Status::NotFound("parent"));
  if (names_.count(name)) ThrowIfError(Status::Exists(name));
  rpc::Attr a;
  a.ino = next_ino_++;
  a.type = type;
  a.mode = mode;
  a.uid = uid;
  a.gid = gid;
  a.nlink = 1;
  a.mtime_ns = 1;
  names_[name] = a.ino;
  inodes_[a.ino] = a;
  r = a;
  rpc::Attr& root = RootLocked();
  root.mtime_ns = root.ctime_ns = root.mtime_ns + 1;
  r.__set_dir(std::make_shared<rpc::Attr>(root));
}

void FakeMeta::Create(rpc::OpenReply& r, int64_t parent, const std::string& name, int32_t mode,
                      int32_t uid, int32_t gid, int64_t session, int32_t chunks) {
  ++creates;
  rpc::Attr made;
  Mknod(made, parent, name, rpc::FileType::REGULAR, mode, uid, gid, 0);
  Open(r, made.ino, session, chunks);
  r.attr.__set_dir(made.dir);
}

void FakeMeta::Open(rpc::OpenReply& r, int64_t ino, int64_t, int32_t chunks) {
  ++opens;
  GetAttr(r.attr, ino);
  std::lock_guard<std::mutex> l(mu_);
  for (int64_t i = 0; i < chunks; ++i) {
    auto it = chunks_.find({ino, i});
    if (it != chunks_.end()) r.chunks.push_back(it->second);
  }
}

void FakeMeta::Release(int64_t, int64_t) {
  ++releases;
  ++release_calls;
}

void FakeMeta::ReleaseAll(const std::vector<int64_t>& inos, int64_t) {
  if (refuse_release_all) ThrowIfError(Status::Permission("permission denied: ReleaseAll"));
  releases += static_cast<int>(inos.size());
  ++release_calls;
}

void FakeMeta::ScriptWatch(std::vector<rpc::ChangeBatch> batches) {
  {
    std::lock_guard<std::mutex> l(mu_);
    watch_scripted_ = true;
    watch_script_ = std::move(batches);
    std::reverse(watch_script_.begin(), watch_script_.end());  // popped from the back
  }
  watch_cv_.notify_all();
}

std::vector<std::pair<int64_t, int64_t>> FakeMeta::Watches() {
  std::lock_guard<std::mutex> l(mu_);
  return watches_;
}

void FakeMeta::WatchChanges(rpc::ChangeBatch& r, int64_t generation, int64_t after, int64_t,
                            int32_t wait_ms) {
  std::unique_lock<std::mutex> l(mu_);
  watches_.emplace_back(generation, after);
  if (!watch_scripted_) No();
  // Like metad: the poll ends with the next batch, or empty after wait_ms.
  if (watch_cv_.wait_for(l, std::chrono::milliseconds(wait_ms), [&] { return !watch_script_.empty(); })) {
    r = watch_script_.back();
    watch_script_.pop_back();
    watch_last_ = r;
    return;
  }
  r.generation = watch_last_.generation;
  r.last = watch_last_.last;
}

void FakeMeta::GetChunks(std::vector<rpc::ChunkLocation>& r, int64_t ino, int64_t first,
                         int64_t count) {
  ++get_chunks_calls;
  std::lock_guard<std::mutex> l(mu_);
  for (int64_t i = first; i < first + count; ++i) {
    auto it = chunks_.find({ino, i});
    if (it != chunks_.end()) r.push_back(it->second);
  }
}

void FakeMeta::AllocChunk(rpc::ChunkLocation& r, int64_t ino, int64_t index) {
  ++alloc_calls;
  std::lock_guard<std::mutex> l(mu_);
  auto it = chunks_.find({ino, index});
  if (it == chunks_.end()) {
    rpc::ChunkLocation loc;
    loc.index = index;
    loc.chunk_id = next_chunk_++;
    loc.version = 1;
    loc.replicas = replicas;
    loc.write_quorum = write_quorum;
    it = chunks_.emplace(std::make_pair(ino, index), loc).first;
  }
  r = it->second;
}

void FakeMeta::CommitWrite(rpc::Attr& r, int64_t ino, int64_t size, int64_t mtime_ns) {
  ++commits;
  std::lock_guard<std::mutex> l(mu_);
  rpc::Attr& a = inodes_.at(ino);
  a.size = std::max(a.size, size);
  a.mtime_ns = a.ctime_ns = mtime_ns;  // as metad's CommitWrite
  r = a;
  r.allocated_bytes = AllocatedLocked(ino, r.size);  // as metad's answer has it
}

void FakeMeta::StatFs(rpc::FsStat& r) {
  r.bytes_total = 300ll << 30;
  r.bytes_free = 150ll << 30;
  r.bytes_used = 150ll << 30;
  r.inodes = 10;
  r.replicas = 3;
}

void FakeMeta::ReportBadReplicas(rpc::ChunkLocation& r, int64_t ino, int64_t index,
                                 int64_t chunk_id, int64_t version,
                                 const std::vector<std::string>& bad, rpc::ErrorCode::type why) {
  ++reports;
  std::lock_guard<std::mutex> l(mu_);
  reports_.push_back(Report{chunk_id, version, bad, why});
  auto it = chunks_.find({ino, index});
  if (it == chunks_.end()) ThrowIfError(Status::NotFound("chunk"));
  rpc::ChunkLocation& loc = it->second;
  std::vector<std::string> kept = loc.replicas;
  std::erase_if(kept, [&](const std::string& a) {
    return std::find(bad.begin(), bad.end(), a) != bad.end();
  });
  // Like metad, never drop the last replica (it may be the only copy).
  if (loc.version == version && !kept.empty()) {
    loc.replicas = kept;
    ++loc.version;
  }
  r = loc;
}

std::vector<FakeMeta::Report> FakeMeta::Reports() {
  std::lock_guard<std::mutex> l(mu_);
  return reports_;
}

rpc::ChunkLocation FakeMeta::Location(int64_t ino, int64_t index) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = chunks_.find({ino, index});
  return it == chunks_.end() ? rpc::ChunkLocation() : it->second;
}

void FakeMeta::SetLocation(int64_t ino, const rpc::ChunkLocation& loc) {
  std::lock_guard<std::mutex> l(mu_);
  chunks_[{ino, loc.index}] = loc;
}

int64_t FakeMeta::Size(int64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  return inodes_.at(ino).size;
}

bool MetaWithoutReleaseAllProcessor::dispatchCall(apache::thrift::protocol::TProtocol* in,
                                                  apache::thrift::protocol::TProtocol* out,
                                                  const std::string& fname, int32_t seqid, void* ctx) {
  if (fname != "ReleaseAll") return rpc::MetaServiceProcessor::dispatchCall(in, out, fname, seqid, ctx);
  ++refused;
  in->skip(apache::thrift::protocol::T_STRUCT);
  in->readMessageEnd();
  in->getTransport()->readEnd();
  apache::thrift::TApplicationException x(apache::thrift::TApplicationException::UNKNOWN_METHOD,
                                          "Invalid method name: '" + fname + "'");
  out->writeMessageBegin(fname, apache::thrift::protocol::T_EXCEPTION, seqid);
  x.write(out);
  out->writeMessageEnd();
  out->getTransport()->writeEnd();
  out->getTransport()->flush();
  return true;
}

}  // namespace replfs::client::testing
