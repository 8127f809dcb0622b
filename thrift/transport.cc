#include "thrift/transport.h"

namespace replfs::net {

std::shared_ptr<apache::thrift::TConfiguration> MakeConfiguration() {
  static const auto config = std::make_shared<apache::thrift::TConfiguration>(
      kMaxMessageSize, apache::thrift::TConfiguration::DEFAULT_MAX_FRAME_SIZE,
      apache::thrift::TConfiguration::DEFAULT_RECURSION_DEPTH);
  return config;
}

}  // namespace replfs::net
