#include "thrift/transport.h"

namespace replfs::net {

std::shared_ptr<apache::thrift::TConfiguration> MakeConfiguration() {
  // Thrift's defaults, spelled out: its DEFAULT_* static members have no
  // out-of-line definition, so binding them to the constructor's parameters
  // fails to link in unoptimised builds.
  constexpr int kMaxFrameSize = 16384000;
  constexpr int kRecursionDepth = 64;
  static const auto config = std::make_shared<apache::thrift::TConfiguration>(
      kMaxMessageSize, kMaxFrameSize, kRecursionDepth);
  return config;
}

}  // namespace replfs::net
