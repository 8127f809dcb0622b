// libFuzzer target: metad's Thrift handler. Each input is a sequence of
// MetaService messages (fuzz_util.h) run through MetaServiceProcessor
// against a real MetaCore (Kyoto Cabinet store on /dev/shm, fsync off), a
// RepairScheduler driven synchronously, a fake clock and a fake datad layer
// whose answers are derived from the input (some calls fail).
//
// The special call ("tick") advances the clock by 16 * u16(body) ms, marks
// silent datads down and runs one repair round.
//
// Every input starts from an empty store, so a crash reproduces from its
// input alone. REPLFS_FUZZ_PERSIST=N keeps the state for N inputs instead
// (finds deeper states; a crash may then need the inputs before it).
#include <cstdint>
#include <memory>
#include <string>

#include "MetaService.h"
#include "daemons/metad/core.h"
#include "daemons/metad/meta_service.h"
#include "daemons/metad/repair.h"
#include "tests/fuzz/fuzz_methods.h"
#include "tests/fuzz/fuzz_util.h"

namespace replfs::fuzz {
namespace {

// What metad's server allows a request's lists (metad.cc): an inventory.
constexpr auto kMetadContainerLimit = static_cast<int32_t>(metad::kMaxInventory);

using metad::ChunkId;
using metad::FaultMode;
using metad::ReplicaReport;
using metad::ReplicaState;

// Answers at once; which calls fail follows from (knobs, call, addr, id).
// knobs & 3: failure rate 0, 1/8, 1/3 or every call; the rest seeds the hash.
class FakeDatad : public metad::DatadApi {
 public:
  void set_knobs(uint8_t k) { knobs_ = k; }

  ReplicaReport Check(const std::string& addr, ChunkId id, uint64_t version) override {
    const uint64_t h = Roll("check", addr, id + version);
    static constexpr ReplicaState kStates[] = {ReplicaState::kOk, ReplicaState::kCorrupt,
                                               ReplicaState::kMissing, ReplicaState::kStale,
                                               ReplicaState::kUnreachable};
    const ReplicaState st = Fails(h) ? kStates[1 + (h >> 8) % 4] : ReplicaState::kOk;
    return {addr, st, "fuzz"};
  }
  Status CreateChunk(const std::string& addr, ChunkId id, uint64_t) override {
    return Answer("create", addr, id);
  }
  Status DeleteChunk(const std::string& addr, ChunkId id) override { return Answer("delete", addr, id); }
  Status SetVersion(const std::string& addr, ChunkId id, uint64_t, uint64_t) override {
    return Answer("setversion", addr, id);
  }
  Status PushChunk(const std::string& source, ChunkId id, uint64_t, const std::string& target,
                   uint64_t) override {
    return Answer("push", source + ">" + target, id);
  }
  Status InjectFault(const std::string& addr, ChunkId id, int32_t, FaultMode) override {
    return Answer("fault", addr, id);
  }
  Status StartScrub(const std::string& addr) override { return Answer("scrub", addr, 0); }

 private:
  uint64_t Roll(const char* what, const std::string& addr, uint64_t id) const {
    return Hash(addr, Hash(what, knobs_ >> 2) ^ (id * 0x9e3779b97f4a7c15ull));
  }
  bool Fails(uint64_t h) const {
    switch (knobs_ & 3) {
      case 0: return false;
      case 1: return h % 8 == 0;
      case 2: return h % 3 == 0;
      default: return true;
    }
  }
  Status Answer(const char* what, const std::string& addr, uint64_t id) const {
    const uint64_t h = Roll(what, addr, id);
    if (!Fails(h)) return Status::OK();
    switch ((h >> 8) % 5) {
      case 0: return Status::NotFound("fuzz: not held");
      case 1: return Status::Stale("fuzz: other version");
      case 2: return Status::Corruption("fuzz: bad block");
      case 3: return Status::TimedOut("fuzz: timed out");
      default: return Status::Unavailable("fuzz: connection refused");
    }
  }

  uint8_t knobs_ = 0;  // written between inputs only (no call is running)
};

// One metad: store directory, clock, core, repair scheduler, handler.
class World {
 public:
  World() : dir_("replfs-fuzz-metad") {
    Config c;
    c.metad_data_dir = dir_.path();
    c.metad_fsync = false;
    c.metad_listen = "127.0.0.1:0";
    c.chunk_size = 1 << 20;  // more chunks per fuzzed size than 64 MiB
    c.dead_after_ms = 5000;
    c.rpc_timeout_ms = 200;  // waits for a running change: nothing runs concurrently here
    auto datad = std::make_unique<FakeDatad>();
    datad_ = datad.get();
    Status s = metad::MetaCore::Open(c, &clock_, std::move(datad), &core_);
    if (!s.ok()) {
      std::fprintf(stderr, "fuzz: MetaCore::Open on an empty dir: %s\n", s.ToString().c_str());
      std::abort();
    }
    metad::RepairScheduler::Options ro;
    ro.max_concurrent = 1;
    ro.rate_bytes_s = 0;
    ro.start_delay_ms = 0;
    ro.return_hold_ms = 1000;
    ro.chunk_size = c.chunk_size;
    ro.block_size = c.block_size;
    repair_ = std::make_unique<metad::RepairScheduler>(&core_->replicas(), &core_->ns(), &clock_, ro);
    core_->AttachRepair(repair_.get());  // never Start()ed: Tick() runs its rounds
    processor_ = std::make_unique<rpc::MetaServiceProcessor>(
        std::make_shared<metad::MetaServiceHandler>(core_.get(), /*max_watch_wait_ms=*/0));
  }
  ~World() { core_->AttachRepair(nullptr); }

  void Run(const uint8_t* data, size_t size) {
    metad::MetaStore::SetThreadOrigin(0);  // an earlier input's Identify
    uint8_t knobs = 0;
    const auto calls = ParseCalls(data, size, kMetaMethods.size(), &knobs);
    datad_->set_knobs(knobs);
    int32_t seqid = 0;
    for (const Call& c : calls) {
      switch (c.kind) {
        case Call::kMethod:
          RunMessage(processor_.get(), FrameMessage(kMetaMethods[c.method], c.body, ++seqid), kMetadContainerLimit);
          break;
        case Call::kRaw:
          RunMessage(processor_.get(), c.body, kMetadContainerLimit);
          break;
        case Call::kSpecial:
          Tick(c.body);
          break;
      }
    }
  }

 private:
  void Tick(std::string_view body) {
    int64_t ms = 0;
    if (body.size() >= 2) ms = static_cast<uint8_t>(body[0]) | static_cast<uint8_t>(body[1]) << 8;
    clock_.Advance(ms * 16);
    core_->servers().CheckLiveness();
    repair_->RunOnce();
  }

  ScratchDir dir_;
  metad::FakeClock clock_;
  FakeDatad* datad_ = nullptr;  // owned by core_
  std::unique_ptr<metad::MetaCore> core_;
  std::unique_ptr<metad::RepairScheduler> repair_;  // dies before core_
  std::unique_ptr<rpc::MetaServiceProcessor> processor_;
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
