// libFuzzer target: opening a damaged store. The input is a set of raw
// Kyoto Cabinet records, written into a fresh database with the Kyoto
// Cabinet API (the database file itself stays valid: Kyoto Cabinet's own
// format is not what is fuzzed), which the daemon's store then opens and
// uses: every record goes through replfs's decoding, none through a
// replfs encoder.
//
//   input  := which:u8 record*
//   record := klen:u8 key[klen] vlen:u16 (little endian) value[vlen]
//
// which % 2 == 0: datad. BlockStore::Open (4 KiB blocks) over
//   <dir>/blocks.kch; if it opens, the DataService handler reads, checks,
//   writes and truncates every chunk it lists, then the store is closed and
//   must open again (abort otherwise: a datad would refuse to restart on a
//   store it accepted and then wrote through its own API).
// which % 2 == 1: metad. MetaCore::Open over <dir>/meta.kct (fake datad
//   layer that always succeeds); if it opens, the MetaService handler walks
//   the tree from the root (ReadDir, GetAttr, ReadLink, xattrs, chunks,
//   Fsck), asks Status and StatFs, creates, renames and removes a file, then
//   the store is closed and must open again.
// Refusing to open is fine (it must be a clear error, never a crash).
#include <kchashdb.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/crc32c.h"
#include "daemons/datad/block_store.h"
#include "daemons/datad/data_service.h"
#include "daemons/datad/replicator.h"
#include "daemons/datad/store_format.h"
#include "common/worker_pool.h"
#include "daemons/metad/core.h"
#include "daemons/metad/meta_service.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/ok_datad.h"

namespace replfs::fuzz {
namespace {

struct Record {
  std::string key, value;
};

std::vector<Record> ParseRecords(std::string_view in) {
  std::vector<Record> out;
  size_t pos = 0;
  while (pos < in.size() && out.size() < 4096) {
    const size_t klen = static_cast<uint8_t>(in[pos++]);
    Record r;
    r.key = std::string(in.substr(pos, klen));
    pos = std::min(in.size(), pos + klen);
    size_t vlen = 0;
    if (pos + 2 <= in.size()) vlen = static_cast<uint8_t>(in[pos]) | static_cast<uint8_t>(in[pos + 1]) << 8;
    pos = std::min(in.size(), pos + 2);
    r.value = std::string(in.substr(pos, vlen));
    pos = std::min(in.size(), pos + vlen);
    out.push_back(std::move(r));
  }
  return out;
}

template <class DB>
void WriteDb(DB* db, const std::string& path, const std::vector<Record>& records) {
  if (!db->open(path, kyotocabinet::BasicDB::OWRITER | kyotocabinet::BasicDB::OCREATE | kyotocabinet::BasicDB::OTRUNCATE)) {
    std::fprintf(stderr, "fuzz: cannot create %s: %s\n", path.c_str(), db->error().message());
    std::abort();
  }
  for (const Record& r : records) db->set(r.key, r.value);
  db->close();
}

template <class F>
void Try(F&& f) {
  try {
    f();
  } catch (const rpc::RpcError&) {
    // An answer: the store said no.
  }
}

[[noreturn]] void Finding(const std::string& what) {
  std::fprintf(stderr, "FINDING: %s\n", what.c_str());
  std::abort();
}

// ---- datad ------------------------------------------------------------------

void Datad(const ScratchDir& dir, const std::vector<Record>& records) {
  const std::string path = dir.path() + "/" + datad::BlockStore::kFileName;
  {
    kyotocabinet::HashDB db;
    db.tune_buckets(1024);  // BlockStore's own tuning applies to new files only
    db.tune_map(0);
    WriteDb(&db, path, records);
  }
  std::unique_ptr<datad::BlockStore> store;
  if (!datad::BlockStore::Open(dir.path(), 4096, &store).ok()) return;
  {
    WorkerPool workers(0);
    net::RpcOptions o;
    o.connect_timeout_ms = 100;
    o.attempts = 1;
    datad::PeerPools peers(o);
    datad::Replicator replicator(store.get(), &peers, &workers);
    datad::DataServiceHandler h(store.get(), &replicator);
    const auto inventory = store->Inventory();
    size_t n = 0;
    for (const datad::ChunkVersion& cv : inventory) {
      if (++n > 32) break;
      std::vector<rpc::BlockData> blocks;
      Try([&] { h.Read(blocks, cv.chunk_id, cv.version, 0, 64, 0, 0); });
      Try([&] { h.Read(blocks, cv.chunk_id, cv.version, 1, 1, 100, 4000); });  // a part of block 1
      rpc::ChunkCheck check;
      Try([&] { h.CheckChunk(check, cv.chunk_id, cv.version); });
      datad::VerifyResult v;
      (void)store->Verify(cv.chunk_id, cv.version, 0, 1 << 18, &v);
      const std::string data = "fuzz";
      rpc::WriteReply reply;
      Try([&] {
        h.Write(reply, cv.chunk_id, cv.version, 4090, data, static_cast<int32_t>(Crc32c(data)), {},
                /*sync=*/false);
      });
      Try([&] { h.Truncate(cv.chunk_id, cv.version, 4096 * 2 + 7); });
    }
    rpc::ServerUsage u;
    Try([&] { h.Usage(u); });
  }
  store.reset();
  Status s = datad::BlockStore::Open(dir.path(), 4096, &store);
  if (!s.ok()) Finding("a block store that opened, then was written through the API, does not open again: " + s.ToString());
}

// ---- metad ------------------------------------------------------------------

Status OpenCore(const std::string& dir, const metad::Clock* clock, std::unique_ptr<metad::MetaCore>* out) {
  Config c;
  c.metad_data_dir = dir;
  c.metad_fsync = false;
  c.chunk_size = 1 << 20;
  c.rpc_timeout_ms = 200;
  return metad::MetaCore::Open(c, clock, std::make_unique<OkDatad>(), out);
}

// Visits the tree below `ino` (bounded), asking everything about each inode.
void Walk(metad::MetaServiceHandler* h, int64_t ino, int depth, int* budget) {
  if (depth > 8 || --*budget < 0) return;
  rpc::Attr a;
  Try([&] { h->GetAttr(a, ino); });
  std::vector<std::string> names;
  Try([&] { h->ListXattr(names, ino); });
  for (const std::string& n : names) {
    std::string v;
    Try([&] { h->GetXattr(v, ino, n); });
  }
  std::vector<rpc::ChunkLocation> chunks;
  Try([&] { h->GetChunks(chunks, ino, 0, 16); });
  rpc::FileReport report;
  Try([&] { h->Fsck(report, ino); });
  std::string target;
  Try([&] { h->ReadLink(target, ino); });
  rpc::DirPage page;
  Try([&] { h->ReadDir(page, ino, "", 64, true); });
  for (const rpc::DirEntry& e : page.entries) {
    rpc::Attr child;
    Try([&] { h->Lookup(child, ino, e.name); });
    if (e.ino != ino) Walk(h, e.ino, depth + 1, budget);
  }
}

void Metad(const ScratchDir& dir, const std::vector<Record>& records) {
  {
    kyotocabinet::TreeDB db;
    WriteDb(&db, dir.path() + "/meta.kct", records);
  }
  metad::FakeClock clock;
  std::unique_ptr<metad::MetaCore> core;
  if (!OpenCore(dir.path(), &clock, &core).ok()) return;
  {
    metad::MetaServiceHandler h(core.get());
    int budget = 256;
    Walk(&h, 1, 0, &budget);
    rpc::ClusterStatus st;
    Try([&] { h.Status(st); });
    rpc::FsStat fs;
    Try([&] { h.StatFs(fs); });
    rpc::Attr a;
    Try([&] { h.Mknod(a, 1, "fuzz-new", rpc::FileType::REGULAR, 0644, 0, 0, 0); });
    rpc::Unlinked u;
    Try([&] { h.Rename(u, 1, "fuzz-new", 1, "fuzz-renamed", rpc::RenameFlags()); });
    rpc::SetAttrRequest sa;
    sa.ino = a.ino;
    sa.__set_size(0);
    Try([&] { h.SetAttr(a, sa); });
    Try([&] { h.Unlink(u, 1, "fuzz-renamed"); });
  }
  core.reset();
  Status s = OpenCore(dir.path(), &clock, &core);
  if (!s.ok()) Finding("a metadata store that opened, then was changed through the API, does not open again: " + s.ToString());
}

}  // namespace
}  // namespace replfs::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  replfs::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace replfs::fuzz;
  if (size == 0) return 0;
  static ScratchDir dir("replfs-fuzz-store");  // reused: cleared per input
  dir.Clear();
  const auto records = ParseRecords(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  if (data[0] % 2 == 0) {
    Datad(dir, records);
  } else {
    Metad(dir, records);
  }
  return 0;
}
