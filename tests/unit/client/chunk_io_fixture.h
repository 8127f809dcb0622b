// The ChunkIo fixture: a fake metad and three fake datads served in process.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "fakes.h"
#include "fuse/chunk_io.h"

namespace replfs::client::testing {

inline constexpr uint64_t kIno = 42;

inline std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed * 7) % 251);
  return s;
}

class ChunkIoTest : public ::testing::Test {
 protected:
  ChunkIoTest() {
    for (auto& d : data_) meta_.handler->replicas.push_back(d.addr);
    meta_client_ = std::make_unique<MetaClient>(HostPort{"127.0.0.1", meta_.server->port()},
                                                FastOptions());
    io_ = MakeIo(FastDataOptions());
  }

  std::unique_ptr<ChunkIo> MakeIo(const DataPathOptions& o) {
    Geometry g;
    g.chunk_size = kChunkSize;
    g.block_size = kBlockSize;
    g.max_rpc_bytes = 2 * kBlockSize;
    return std::make_unique<ChunkIo>(meta_client_.get(), g, o, 4);
  }

  std::string ReadAll(int64_t off, int64_t size, int64_t file_size) {
    std::string out;
    Status s = io_->Read(kIno, off, size, file_size, &out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  ServedMeta meta_;
  ServedData data_[3];
  std::unique_ptr<MetaClient> meta_client_;
  std::unique_ptr<ChunkIo> io_;
};

}  // namespace replfs::client::testing
