#include "tests/integration/fault_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "DataService.h"
#include "MetaService.h"
#include "common/crc32c.h"
#include "common/host_port.h"
#include "tests/integration/fs_util.h"
#include "thrift/client_pool.h"

namespace replfs::testing {
namespace {

using std::chrono::milliseconds;

net::RpcOptions TestRpcOptions() {
  net::RpcOptions o;
  o.connect_timeout_ms = 2000;
  o.rpc_timeout_ms = 30000;  // a whole chunk may be read from disk
  o.attempts = 3;
  o.budget_ms = 60000;
  return o;
}

template <class Client>
::testing::AssertionResult MakePool(const std::string& addr,
                                    std::unique_ptr<net::ClientPool<Client>>* out) {
  HostPort hp;
  Status s = ParseHostPort(addr, &hp);
  if (!s.ok()) return ::testing::AssertionFailure() << "bad address " << addr << ": " << s.ToString();
  *out = std::make_unique<net::ClientPool<Client>>(hp, TestRpcOptions());
  return ::testing::AssertionSuccess();
}

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

const FsckFile* FsckResult::File(const std::string& path) const {
  for (const FsckFile& f : files) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

::testing::AssertionResult RunFsck(Cluster& cluster, const std::string& fs_path,
                                   FsckResult* out) {
  *out = FsckResult();
  CommandResult r = cluster.Fsctl({"fsck", fs_path, "--json"});
  out->exit_code = r.exit_code;
  out->raw = r.Describe();
  if (r.exit_code != 0 && r.exit_code != 1) {
    return ::testing::AssertionFailure() << "fsctl fsck " << fs_path << ": " << r.Describe();
  }
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.contains("files")) {
    return ::testing::AssertionFailure() << "fsctl fsck --json printed no report: " << r.Describe();
  }
  try {
    for (const nlohmann::json& jf : j["files"]) {
      FsckFile f;
      f.path = jf.value("path", "");
      f.ino = jf.value("ino", int64_t{0});
      f.size = jf.value("size", int64_t{0});
      f.goal = jf.value("goal", 0);
      for (const nlohmann::json& jc : jf["chunks"]) {
        FsckChunk c;
        c.index = jc.value("index", int64_t{-1});
        c.id = jc.value("id", int64_t{0});
        c.version = jc.value("version", int64_t{0});
        for (const nlohmann::json& jr : jc["replicas"]) {
          c.replicas.push_back(
              {jr.value("addr", ""), jr.value("state", ""), jr.value("detail", "")});
        }
        f.chunks.push_back(std::move(c));
      }
      out->files.push_back(std::move(f));
    }
    out->summary = j.value("summary", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    return ::testing::AssertionFailure() << "unexpected fsck JSON (" << e.what() << "): " << r.out;
  }
  return ::testing::AssertionSuccess();
}

std::string ChunkProblems(const FsckResult& r, int goal, const std::vector<std::string>& allowed) {
  std::ostringstream why;
  int problems = 0;
  for (const FsckFile& f : r.files) {
    for (const FsckChunk& c : f.chunks) {
      std::set<std::string> servers;
      std::string bad;
      for (const FsckReplica& rep : c.replicas) {
        if (rep.state != "ok") bad += " " + rep.addr + "=" + rep.state;
        if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), rep.addr) == allowed.end()) {
          bad += " " + rep.addr + "=not-allowed";
        }
        servers.insert(rep.addr);
      }
      if (servers.size() != c.replicas.size()) bad += " two-replicas-on-one-server";
      if (static_cast<int>(c.replicas.size()) != goal) {
        bad += " " + std::to_string(c.replicas.size()) + "/" + std::to_string(goal) + "-replicas";
      }
      if (bad.empty()) continue;
      if (++problems <= 5) {
        why << f.path << " chunk " << c.index << " (id " << c.id << " v" << c.version << "):" << bad
            << "; ";
      }
    }
  }
  if (problems > 5) why << "... " << problems << " chunks with problems";
  return why.str();
}

::testing::AssertionResult WaitFsckHealthy(Cluster& cluster, const std::string& fs_path, int goal,
                                           const std::vector<std::string>& allowed,
                                           milliseconds timeout, FsckResult* last) {
  FsckResult local;
  FsckResult* r = last != nullptr ? last : &local;
  std::string problems = "(no fsck report)";
  const bool healthy = PollUntil(
      [&] {
        if (!RunFsck(cluster, fs_path, r)) {
          problems = r->raw;
          return false;
        }
        problems = ChunkProblems(*r, goal, allowed);
        if (problems.empty() && r->exit_code == 0) return true;
        if (problems.empty()) problems = "fsck exit " + std::to_string(r->exit_code) + ": " + r->raw;
        return false;
      },
      timeout, milliseconds(100), milliseconds(1000));
  if (healthy) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "fsck of " << fs_path << " not healthy (" << goal << " ok replicas per chunk) after "
         << timeout.count() << " ms: " << problems;
}

::testing::AssertionResult GetGeometry(const std::string& meta_addr, ClusterGeometry* out) {
  std::unique_ptr<net::ClientPool<rpc::MetaServiceClient>> pool;
  auto made = MakePool(meta_addr, &pool);
  if (!made) return made;
  rpc::ClusterInfo info;
  Status s = pool->Call("GetClusterInfo", net::Idempotency::kIdempotent,
                        [&](rpc::MetaServiceClient& c) { c.GetClusterInfo(info); });
  if (!s.ok()) return ::testing::AssertionFailure() << "GetClusterInfo: " << s.ToString();
  out->chunk_size = info.chunk_size;
  out->block_size = info.block_size;
  out->max_rpc_bytes = info.max_rpc_bytes > 0 ? info.max_rpc_bytes : (8 << 20);
  out->replicas = info.replicas;
  out->min_write_replicas = info.min_write_replicas;
  if (out->block_size <= 0 || out->chunk_size <= 0) {
    return ::testing::AssertionFailure() << "GetClusterInfo: chunk_size " << out->chunk_size
                                         << ", block_size " << out->block_size;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult ReadReplica(const std::string& addr, const ClusterGeometry& g,
                                       int64_t chunk_id, int64_t version, int64_t length,
                                       std::string* out) {
  std::unique_ptr<net::ClientPool<rpc::DataServiceClient>> pool;
  auto made = MakePool(addr, &pool);
  if (!made) return made;
  out->assign(static_cast<size_t>(length), '\0');
  const int64_t blocks = (length + g.block_size - 1) / g.block_size;
  const int64_t per_call = std::max<int64_t>(1, g.max_rpc_bytes / g.block_size);
  for (int64_t first = 0; first < blocks; first += per_call) {
    const int32_t count = static_cast<int32_t>(std::min(per_call, blocks - first));
    std::vector<rpc::BlockData> got;
    Status s = pool->Call("Read", net::Idempotency::kIdempotent, [&](rpc::DataServiceClient& c) {
      c.Read(got, chunk_id, version, static_cast<int32_t>(first), count, 0, 0);
    });
    if (!s.ok()) {
      return ::testing::AssertionFailure() << "Read chunk " << chunk_id << " v" << version
                                           << " blocks " << first << "+" << count << " @" << addr
                                           << ": " << s.ToString();
    }
    for (const rpc::BlockData& b : got) {
      if (b.index < first || b.index >= first + count ||
          static_cast<int64_t>(b.data.size()) > g.block_size) {
        return ::testing::AssertionFailure()
               << "Read chunk " << chunk_id << " @" << addr << " returned block " << b.index
               << " of " << b.data.size() << " bytes for blocks " << first << "+" << count;
      }
      if (static_cast<uint32_t>(b.crc) != Crc32c(b.data)) {
        return ::testing::AssertionFailure() << "Read chunk " << chunk_id << " block " << b.index
                                             << " @" << addr << ": data does not match its CRC";
      }
      const int64_t at = b.index * g.block_size;
      const int64_t n = std::min<int64_t>(static_cast<int64_t>(b.data.size()), length - at);
      if (n > 0) std::memcpy(out->data() + at, b.data.data(), static_cast<size_t>(n));
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult ReplicasIdentical(const std::string& meta_addr, const FsckResult& r,
                                             int64_t* compared) {
  ClusterGeometry g;
  auto got = GetGeometry(meta_addr, &g);
  if (!got) return got;
  int64_t n = 0;
  for (const FsckFile& f : r.files) {
    for (const FsckChunk& c : f.chunks) {
      const int64_t length = std::clamp<int64_t>(f.size - c.index * g.chunk_size, 0, g.chunk_size);
      std::string first;
      std::string first_addr;
      for (const FsckReplica& rep : c.replicas) {
        std::string data;
        auto read = ReadReplica(rep.addr, g, c.id, c.version, length, &data);
        if (!read) return read << " (" << f.path << " chunk " << c.index << ")";
        ++n;
        if (first_addr.empty()) {
          first = std::move(data);
          first_addr = rep.addr;
          continue;
        }
        if (data != first) {
          size_t at = 0;
          while (at < data.size() && data[at] == first[at]) ++at;
          return ::testing::AssertionFailure()
                 << f.path << " chunk " << c.index << " (id " << c.id << " v" << c.version
                 << "): replica @" << rep.addr << " differs from @" << first_addr
                 << " first at chunk offset " << at << " (block " << at / g.block_size << ")";
        }
      }
    }
  }
  if (compared != nullptr) *compared = n;
  return ::testing::AssertionSuccess();
}

std::string PatternBytes(uint64_t seed, uint64_t offset, size_t len) {
  std::string out(len, '\0');
  const uint64_t key = SplitMix64(seed);
  size_t i = 0;
  while (i < len) {
    const uint64_t pos = offset + i;
    const uint64_t word = SplitMix64(key ^ (pos / 8));
    const size_t in_word = pos % 8;
    const size_t n = std::min<size_t>(8 - in_word, len - i);
    std::memcpy(&out[i], reinterpret_cast<const char*>(&word) + in_word, n);
    i += n;
  }
  return out;
}

namespace {

::testing::AssertionResult WritePattern(const std::string& path, int flags, uint64_t seed, int64_t size,
                                        size_t io) {
  const int fd = open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) return ::testing::AssertionFailure() << "open " << path << ": " << ErrnoText(errno);
  for (int64_t off = 0; off < size;) {
    const size_t n = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(io), size - off));
    const std::string buf = PatternBytes(seed, static_cast<uint64_t>(off), n);
    const ssize_t w = pwrite(fd, buf.data(), n, off);
    if (w <= 0) {
      const int err = errno;
      close(fd);
      return ::testing::AssertionFailure() << "pwrite " << path << " at " << off << ": "
                                           << ErrnoText(err);
    }
    off += w;
  }
  if (fsync(fd) != 0) {
    const int err = errno;
    close(fd);
    return ::testing::AssertionFailure() << "fsync " << path << ": " << ErrnoText(err);
  }
  if (close(fd) != 0) {
    return ::testing::AssertionFailure() << "close " << path << ": " << ErrnoText(errno);
  }
  return ::testing::AssertionSuccess();
}

}  // namespace

::testing::AssertionResult WritePatternFile(const std::string& path, uint64_t seed, int64_t size,
                                            size_t io) {
  return WritePattern(path, O_WRONLY | O_CREAT | O_TRUNC, seed, size, io);
}

::testing::AssertionResult OverwritePatternFile(const std::string& path, uint64_t seed, int64_t size,
                                                size_t io) {
  return WritePattern(path, O_WRONLY, seed, size, io);
}

::testing::AssertionResult VerifyPatternFile(const std::string& path, uint64_t seed, int64_t size) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ::testing::AssertionFailure() << "open " << path << ": " << ErrnoText(errno);
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size != size) {
    close(fd);
    return ::testing::AssertionFailure() << path << ": size " << st.st_size << ", expected " << size;
  }
  std::string buf(1 << 20, '\0');
  for (int64_t off = 0; off < size;) {
    const size_t want = static_cast<size_t>(std::min<int64_t>(1 << 20, size - off));
    const ssize_t r = pread(fd, buf.data(), want, off);
    if (r <= 0) {
      const int err = r < 0 ? errno : 0;
      close(fd);
      return ::testing::AssertionFailure()
             << "pread " << path << " at " << off << ": " << (r < 0 ? ErrnoText(err) : "EOF");
    }
    const std::string expect = PatternBytes(seed, static_cast<uint64_t>(off), static_cast<size_t>(r));
    if (std::memcmp(buf.data(), expect.data(), static_cast<size_t>(r)) != 0) {
      size_t at = 0;
      while (buf[at] == expect[at]) ++at;
      close(fd);
      return ::testing::AssertionFailure() << path << ": wrong data at offset " << off + static_cast<int64_t>(at);
    }
    off += r;
  }
  close(fd);
  return ::testing::AssertionSuccess();
}

void DropPageCache(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
}

uint64_t SeedFromEnv(const char* env, uint64_t fallback) {
  uint64_t seed = fallback;
  if (const char* v = std::getenv(env); v != nullptr && *v != '\0') {
    seed = std::strtoull(v, nullptr, 0);
  }
  std::cout << "[ seed ] " << env << "=" << seed << std::endl;
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

Cluster::Options FaultOptions(int datads, int64_t chunk_size) {
  Cluster::Options o;
  o.datads = datads;
  o.chunk_size = chunk_size;
  o.dead_after_ms = 2000;
  o.heartbeat_interval_ms = 200;
  o.sets = {"datad.block_report_interval_ms=1000", "rpc.timeout_ms=2000",
            "rpc.retry_budget_ms=20000"};
  return o;
}

}  // namespace replfs::testing
