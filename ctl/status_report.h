// `fsctl status`: health rules, JSON and human rendering of ClusterStatus.
//
// Health (also the exit code of `fsctl status`):
//   HEALTHY (0)     every datad up, every chunk healthy, no corrupt replica.
//   DEGRADED (1)    any datad down, any chunk not healthy (under-replicated),
//                   any corrupt replica known, or every datad draining (the
//                   data is readable, new chunks cannot be placed). Draining
//                   alone is healthy.
//   UNAVAILABLE (2) metad unreachable, no datad up or draining, or any chunk
//                   unavailable (some data cannot be read).
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "ctl/types.h"

namespace replfs::ctl {

enum class Health { kHealthy, kDegraded, kUnavailable };

struct HealthVerdict {
  Health health = Health::kHealthy;
  std::vector<std::string> reasons; // why it is not healthy, worst first
};

HealthVerdict ClassifyHealth(const ClusterStatus &s);
const char *HealthName(Health h); // "HEALTHY" | "DEGRADED" | "UNAVAILABLE"
int HealthExitCode(Health h);     // 0 | 1 | 2

// One entry of `servers` in `status --json` (and of `fsctl servers --json`):
// addr, state, chunks, bytes_used, bytes_free, bytes_total, corrupt_found,
// last_heartbeat_ms (-1: no heartbeat since metad started), scrub {running,
// progress, last_full_pass_ms, oldest_unverified_ms, bytes_verified,
// corrupt_found_pass}.
nlohmann::json ServerToJson(const ServerInfo &i);

// The `status --json` object (contract in DESIGN.md): health, reasons, meta
// {addr, uptime_ms}, uptime_ms, servers[], chunks{total, healthy,
// under_replicated, unavailable, corrupt_replicas, stale_replicas,
// under_by_good{"0","1","2",...}}, repair{queued, done, bytes_queued,
// bytes_per_s, eta_s (null when unknown), heal_running}, files, directories,
// replicas.
nlohmann::json StatusToJson(const ClusterStatus &s, const HealthVerdict &v,
                            const std::string &meta_addr);
// What `status --json` prints when metad cannot be reached.
nlohmann::json UnreachableJson(const std::string &meta_addr,
                               const std::string &error);

// The datad table of `status` and `servers`: address, state, heartbeat age,
// used, free, chunks, corrupt found, scrub state, oldest unverified block.
void PrintServerTable(std::ostream &out, const ClusterStatus &s);

// A datad's scrub in a few words: "42% running", "done 3h 02m ago", "never".
std::string DescribeScrub(const ScrubInfo &scrub, int64_t now_ms);

// The `ceph -s`-like human report.
void PrintStatus(std::ostream &out, const ClusterStatus &s,
                 const HealthVerdict &v, const std::string &meta_addr);

} // namespace replfs::ctl
