// A datad layer for metad that answers every call with success and every
// check with "ok": for targets and tools that drive metad alone (fuzz_store,
// make_seeds). Header-only, so that fuzz_util needs no metad library.
#pragma once

#include <cstdint>
#include <string>

#include "daemons/metad/datad_api.h"

namespace replfs::fuzz {

class OkDatad : public metad::DatadApi {
 public:
  metad::ReplicaReport Check(const std::string& addr, metad::ChunkId, uint64_t) override {
    return {addr, metad::ReplicaState::kOk, ""};
  }
  Status CreateChunk(const std::string&, metad::ChunkId, uint64_t) override { return Status::OK(); }
  Status DeleteChunk(const std::string&, metad::ChunkId) override { return Status::OK(); }
  Status SetVersion(const std::string&, metad::ChunkId, uint64_t, uint64_t) override { return Status::OK(); }
  Status PushChunk(const std::string&, metad::ChunkId, uint64_t, const std::string&, uint64_t) override {
    return Status::OK();
  }
  Status InjectFault(const std::string&, metad::ChunkId, int32_t, metad::FaultMode) override {
    return Status::OK();
  }
  Status StartScrub(const std::string&) override { return Status::OK(); }
};

}  // namespace replfs::fuzz
