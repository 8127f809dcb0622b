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

// What one string or container in a message may claim. Thrift 0.17 sizes a
// string or list to the length a message declares before reading a byte of
// it, so without limits a 12-byte request makes a daemon allocate gigabytes
// (tests/fuzz found it). A longer claim fails the message
// (TProtocolException SIZE_LIMIT): the server drops that connection, a
// client sees the call fail. Strings: twice the largest payload a handler
// accepts (datad takes 16 MiB in one Write), so a payload just too large still
// gets the handler's clear INVALID. Containers: the largest legal list is a datad's inventory,
// which must fit in one message anyway (~23 bytes an entry, so ~4.5 M
// entries in kMaxMessageSize); servers whose requests carry no such list set
// a far lower limit (ServerOptions).
inline constexpr int32_t kMaxStringBytes = 32 << 20;
inline constexpr int32_t kMaxContainerElements = 8 << 20;

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
