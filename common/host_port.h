// "host:port" addresses ("127.0.0.1:2222", "[::1]:9190", "node1:2222").
#pragma once

#include <string>

#include "common/status.h"

namespace replfs {

struct HostPort {
  std::string host;
  int port = 0;

  // Canonical text: host:port, with IPv6 hosts in brackets.
  std::string ToString() const;
  bool operator==(const HostPort&) const = default;
};

// Parses "host:port"; port must be 0..65535 (0 only if allow_zero_port).
Status ParseHostPort(const std::string& text, HostPort* out, bool allow_zero_port = false);

}  // namespace replfs
