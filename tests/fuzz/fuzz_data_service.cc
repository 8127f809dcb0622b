// libFuzzer target: datad's Thrift handler. Each input is a sequence of
// DataService messages (fuzz_util.h) run through DataServiceProcessor
// against a real BlockStore (Kyoto Cabinet HashDB on /dev/shm, 4 KiB
// blocks) and the real Replicator with its worker pool and peer pools.
//
// Peers: a forward target or push target that parses as host:port is
// rewritten to 127.x.y.z:1 (derived from the text, so equal addresses stay
// equal), which refuses at once: the fuzzer exercises the forwarding and
// push failure paths without reaching any real process (other tests' datads
// listen on loopback) or DNS. This datad's own address (kSelf) is passed on
// unchanged, so the "is this datad itself" check is exercised too.
//
// The special call, by body[0] % 4: 0 verifies every chunk (what the
// scrubber does) and checks the inventory; 1 closes and reopens the store
// (a restart: what the handler wrote must load again, else abort); 2
// collects usage as the heartbeat does and forgets the reported corrupt
// chunks; 3 sends a Write whose arguments come from the rest of the body
// with a correct CRC32C (random bytes almost never carry one).
//
// Every input starts from an empty store; REPLFS_FUZZ_PERSIST=N keeps it
// for N inputs (see fuzz_meta_service.cc).
#include <fuzzer/FuzzedDataProvider.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "DataService.h"
#include "common/crc32c.h"
#include "common/host_port.h"
#include "daemons/datad/block_store.h"
#include "daemons/datad/data_service.h"
#include "daemons/datad/replicator.h"
#include "common/worker_pool.h"
#include "tests/fuzz/fuzz_methods.h"
#include "tests/fuzz/fuzz_util.h"
#include "thrift/server.h"

namespace replfs::fuzz {
namespace {

using datad::BlockStore;

constexpr char kSelf[] = "127.0.0.1:7";
// What datad's server allows a request's lists (datad.cc keeps the default).
const int32_t kDatadContainerLimit = net::ServerOptions{}.max_container_elements;
constexpr int64_t kBlockSize = 4096;

// Where a peer address from the input really goes (see the file comment).
std::string Peer(const std::string& addr) {
  HostPort hp;
  if (!ParseHostPort(addr, &hp).ok() || hp.ToString() == kSelf) return addr;
  const uint64_t h = Hash(addr);
  return "127." + std::to_string(h & 0xff) + "." + std::to_string((h >> 8) & 0xff) + "." +
         std::to_string(1 + (h >> 16) % 254) + ":1";
}

class FuzzHandler : public datad::DataServiceHandler {
 public:
  using DataServiceHandler::DataServiceHandler;
  void Write(rpc::WriteReply& out, int64_t chunk_id, int64_t version, int64_t offset,
             const std::string& data, int32_t crc, const std::vector<std::string>& forward,
             bool sync) override {
    std::vector<std::string> peers;
    peers.reserve(forward.size());
    for (const std::string& a : forward) peers.push_back(Peer(a));
    DataServiceHandler::Write(out, chunk_id, version, offset, data, crc, peers, sync);
  }
  void PushChunk(int64_t chunk_id, int64_t version, const std::string& target,
                 int64_t new_version) override {
    DataServiceHandler::PushChunk(chunk_id, version, Peer(target), new_version);
  }
};

net::RpcOptions PeerOptions() {
  net::RpcOptions o;
  o.connect_timeout_ms = 200;
  o.rpc_timeout_ms = 500;
  o.attempts = 2;  // a retry path, still bounded: every attempt is refused at once
  o.backoff_ms = 0;
  o.budget_ms = 1000;
  o.max_backoff_ms = 1;
  return o;
}

class World {
 public:
  World() : dir_("replfs-fuzz-datad"), workers_(2), peers_(PeerOptions()) { Open(); }
  ~World() { Close(); }

  void Run(const uint8_t* data, size_t size) {
    uint8_t knobs = 0;
    const auto calls = ParseCalls(data, size, kDataMethods.size(), &knobs);
    int32_t seqid = 0;
    for (const Call& c : calls) {
      switch (c.kind) {
        case Call::kMethod:
          RunMessage(processor_.get(), FrameMessage(kDataMethods[c.method], c.body, ++seqid), kDatadContainerLimit);
          break;
        case Call::kRaw:
          RunMessage(processor_.get(), c.body, kDatadContainerLimit);
          break;
        case Call::kSpecial:
          Special(c.body, ++seqid);
          break;
      }
    }
  }

 private:
  void Open() {
    Status s = BlockStore::Open(dir_.path(), kBlockSize, &store_);
    if (!s.ok()) {
      std::fprintf(stderr, "FINDING: the block store does not open again: %s\n", s.ToString().c_str());
      std::abort();
    }
    replicator_ = std::make_unique<datad::Replicator>(store_.get(), &peers_, &workers_);
    auto handler = std::make_shared<FuzzHandler>(store_.get(), replicator_.get());
    handler->set_advertised_addr(kSelf);
    processor_ = std::make_unique<rpc::DataServiceProcessor>(handler);
  }
  void Close() {
    processor_.reset();
    replicator_.reset();
    store_.reset();
  }

  void Special(std::string_view body, int32_t seqid) {
    const uint8_t what = body.empty() ? 0 : static_cast<uint8_t>(body[0]);
    switch (what % 4) {
      case 0: {
        const auto inv = store_->Inventory();
        for (size_t i = 1; i < inv.size(); ++i)
          if (!(inv[i - 1] < inv[i])) {
            std::fprintf(stderr, "FINDING: Inventory() is not sorted by chunk id\n");
            std::abort();
          }
        for (const auto& cv : inv) {
          datad::CheckResult r;
          (void)store_->Check(cv.chunk_id, cv.version, &r);
          datad::VerifyResult v;
          (void)store_->Verify(cv.chunk_id, cv.version, 0, 1 << 18, &v);
        }
        break;
      }
      case 1:
        Close();
        Open();
        break;
      case 2: {
        rpc::ServerUsage u;
        std::vector<datad::ChunkVersion> corrupt;
        if (datad::CollectUsage(store_.get(), nullptr, kSelf, &u, &corrupt).ok())
          store_->ForgetCorrupt(corrupt);
        break;
      }
      default:
        RunMessage(processor_.get(), FrameMessage("Write", GoodWrite(body.substr(1)), seqid), kDatadContainerLimit);
        break;
    }
  }

  // Write arguments with a small chunk id and version, an offset near the
  // blocks already written and a correct checksum.
  static std::string GoodWrite(std::string_view body) {
    FuzzedDataProvider p(reinterpret_cast<const uint8_t*>(body.data()), body.size());
    const int64_t chunk = p.ConsumeIntegralInRange<int64_t>(1, 4);
    const int64_t version = p.ConsumeIntegralInRange<int64_t>(1, 3);
    const int64_t offset = p.ConsumeBool() ? p.ConsumeIntegralInRange<int64_t>(0, 16 * kBlockSize)
                                           : p.ConsumeIntegral<int64_t>();
    std::vector<std::string> forward;
    for (int n = p.ConsumeIntegralInRange(0, 3); n > 0; --n) forward.push_back(p.ConsumeRandomLengthString(24));
    const bool sync = p.ConsumeBool();
    const std::string data = p.ConsumeRemainingBytesAsString();
    const auto crc = static_cast<int32_t>(Crc32c(data));
    auto buf = std::make_shared<apache::thrift::transport::TMemoryBuffer>();
    apache::thrift::protocol::TBinaryProtocol proto(buf);
    rpc::DataService_Write_pargs args;
    args.chunk_id = &chunk;
    args.version = &version;
    args.offset = &offset;
    args.data = &data;
    args.crc = &crc;
    args.forward = &forward;
    args.sync = &sync;  // every field: pargs holds pointers
    args.write(&proto);
    return buf->getBufferAsString();
  }

  ScratchDir dir_;
  WorkerPool workers_;
  datad::PeerPools peers_;
  std::unique_ptr<BlockStore> store_;
  std::unique_ptr<datad::Replicator> replicator_;
  std::unique_ptr<rpc::DataServiceProcessor> processor_;
};

}  // namespace
}  // namespace replfs::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  replfs::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  replfs::fuzz::RunInWorld<replfs::fuzz::World>(data, size);
  return 0;
}
