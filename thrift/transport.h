// Transport details shared by every replfs client and server.
#pragma once

#include <thrift/TConfiguration.h>
#include <thrift/transport/TBufferTransports.h>

#include <cstdint>
#include <memory>

namespace replfs::net {

// 64 KiB buffers on both ends: Thrift's default of 512 B costs ~10x on 1 MiB
// transfers.
inline constexpr uint32_t kTransportBufferSize = 64 << 10;
// One message may be at most this large; file data per RPC is bounded far
// below it (ClusterInfo.max_rpc_bytes).
inline constexpr int kMaxMessageSize = 100 << 20;

std::shared_ptr<apache::thrift::TConfiguration> MakeConfiguration();

// TBufferedTransport that forgets how many bytes it has read at the end of
// every message. Thrift 0.17 counts every byte read on a connection against
// maxMessageSize and never resets the count, so a long-lived connection is
// closed after ~100 MiB of traffic (fixed upstream in 0.23). With the
// buffered transport and binary protocol used here the count did not trip in
// our test (tests/unit/rpc: > 1 GiB over one connection passes with and
// without the reset), but the reset costs nothing and keeps long-lived
// connections safe whatever path the library takes. Used on both ends.
class ResettingBufferedTransport : public apache::thrift::transport::TBufferedTransport {
 public:
  explicit ResettingBufferedTransport(
      std::shared_ptr<apache::thrift::transport::TTransport> inner)
      : TBufferedTransport(std::move(inner), kTransportBufferSize, MakeConfiguration()) {}

  uint32_t readEnd() override {
    resetConsumedMessageSize();
    return TBufferedTransport::readEnd();
  }
};

class ResettingBufferedTransportFactory : public apache::thrift::transport::TTransportFactory {
 public:
  std::shared_ptr<apache::thrift::transport::TTransport> getTransport(
      std::shared_ptr<apache::thrift::transport::TTransport> trans) override {
    return std::make_shared<ResettingBufferedTransport>(std::move(trans));
  }
};

}  // namespace replfs::net
