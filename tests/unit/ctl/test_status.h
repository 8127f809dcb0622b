// A ClusterStatus for fsctl's unit tests: three datads, all healthy.
#pragma once

#include <string>

#include "ctl/types.h"

namespace replfs::ctl {

inline ClusterStatus HealthyStatus() {
  ClusterStatus s;
  for (int p : {2222, 3333, 4444}) {
    ServerInfo i;
    i.addr = "127.0.0.1:" + std::to_string(p);
    i.chunks = 5;
    i.bytes_used = 300ll << 20;
    i.bytes_free = 50ll << 30;
    i.bytes_total = 60ll << 30;
    i.last_heartbeat_ms = 150;
    s.servers.push_back(i);
  }
  s.chunks.total = s.chunks.healthy = 5;
  s.uptime_ms = 3'600'000;
  s.files = 2;
  s.directories = 1;
  s.replicas = 3;
  return s;
}

} // namespace replfs::ctl
