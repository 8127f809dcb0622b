#include "ctl/status_report.h"

#include <algorithm>
#include <iomanip>

#include "ctl/format.h"

namespace replfs::ctl {
namespace {

std::string Plural(int64_t n, const std::string& what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace

const char* ServerStateName(ServerState s) {
  switch (s) {
    case ServerState::kUp:
      return "up";
    case ServerState::kDown:
      return "down";
    case ServerState::kDraining:
      return "draining";
  }
  return "down";
}

const char* ReplicaStateName(ReplicaState s) {
  switch (s) {
    case ReplicaState::kOk:
      return "ok";
    case ReplicaState::kCorrupt:
      return "corrupt";
    case ReplicaState::kMissing:
      return "missing";
    case ReplicaState::kStale:
      return "stale";
    case ReplicaState::kUnreachable:
      return "unreachable";
  }
  return "unreachable";
}

const char* HealthName(Health h) {
  switch (h) {
    case Health::kHealthy:
      return "HEALTHY";
    case Health::kDegraded:
      return "DEGRADED";
    case Health::kUnavailable:
      return "UNAVAILABLE";
  }
  return "UNAVAILABLE";
}

int HealthExitCode(Health h) {
  switch (h) {
    case Health::kHealthy:
      return 0;
    case Health::kDegraded:
      return 1;
    case Health::kUnavailable:
      return 2;
  }
  return 2;
}

HealthVerdict ClassifyHealth(const ClusterStatus& s) {
  HealthVerdict v;
  std::vector<std::string> unavailable;
  std::vector<std::string> degraded;
  const int64_t up = std::count_if(s.servers.begin(), s.servers.end(),
                                   [](const ServerInfo& i) { return i.state == ServerState::kUp; });
  const int64_t down = std::count_if(s.servers.begin(), s.servers.end(), [](const ServerInfo& i) {
    return i.state == ServerState::kDown;
  });
  if (up == 0) unavailable.push_back("no datad is up");
  if (s.chunks.unavailable > 0) {
    unavailable.push_back(Plural(s.chunks.unavailable, "chunk") + " unavailable");
  }
  if (down > 0) {
    degraded.push_back(std::to_string(down) + " of " + std::to_string(s.servers.size()) +
                       " datads down");
  }
  if (s.chunks.under_replicated > 0) {
    degraded.push_back(Plural(s.chunks.under_replicated, "chunk") + " under-replicated");
  }
  if (s.chunks.corrupt_replicas > 0) {
    degraded.push_back(Plural(s.chunks.corrupt_replicas, "corrupt replica") + " known");
  }
  const int64_t accounted = s.chunks.healthy + s.chunks.under_replicated + s.chunks.unavailable;
  if (s.chunks.healthy < s.chunks.total && accounted == s.chunks.healthy) {
    // Not healthy, yet neither counter says why: still not HEALTHY.
    degraded.push_back(Plural(s.chunks.total - s.chunks.healthy, "chunk") + " not healthy");
  }
  if (!unavailable.empty()) {
    v.health = Health::kUnavailable;
  } else if (!degraded.empty()) {
    v.health = Health::kDegraded;
  }
  v.reasons = std::move(unavailable);
  v.reasons.insert(v.reasons.end(), degraded.begin(), degraded.end());
  return v;
}

nlohmann::json StatusToJson(const ClusterStatus& s, const HealthVerdict& v,
                            const std::string& meta_addr) {
  nlohmann::json servers = nlohmann::json::array();
  for (const ServerInfo& i : s.servers) {
    servers.push_back({{"addr", i.addr},
                       {"state", ServerStateName(i.state)},
                       {"chunks", i.chunks},
                       {"bytes_used", i.bytes_used},
                       {"bytes_free", i.bytes_free},
                       {"bytes_total", i.bytes_total},
                       {"corrupt_found", i.corrupt_found},
                       {"last_heartbeat_ms", i.last_heartbeat_ms}});
  }
  return {{"health", HealthName(v.health)},
          {"reasons", v.reasons},
          {"meta", {{"addr", meta_addr}, {"uptime_ms", s.uptime_ms}}},
          {"uptime_ms", s.uptime_ms},
          {"servers", std::move(servers)},
          {"chunks",
           {{"total", s.chunks.total},
            {"healthy", s.chunks.healthy},
            {"under_replicated", s.chunks.under_replicated},
            {"unavailable", s.chunks.unavailable},
            {"corrupt_replicas", s.chunks.corrupt_replicas}}},
          {"repair", {{"queued", s.repair_queued}, {"done", s.repair_done}}},
          {"files", s.files},
          {"directories", s.directories},
          {"replicas", s.replicas}};
}

nlohmann::json UnreachableJson(const std::string& meta_addr, const std::string& error) {
  return {{"health", HealthName(Health::kUnavailable)},
          {"reasons", {"metad unreachable"}},
          {"meta", {{"addr", meta_addr}}},
          {"error", error}};
}

void PrintStatus(std::ostream& out, const ClusterStatus& s, const HealthVerdict& v,
                 const std::string& meta_addr) {
  out << "cluster:\n";
  out << "  health:    " << HealthName(v.health) << "\n";
  for (const std::string& r : v.reasons) out << "             " << r << "\n";
  out << "  metad:     " << meta_addr << ", up " << FormatDuration(s.uptime_ms) << "\n";
  out << "  namespace: " << Plural(s.files, "file") << ", " << Plural(s.directories, "directory")
      << ", goal " << s.replicas << " replicas\n\n";

  int64_t up = 0, down = 0, draining = 0;
  size_t addr_width = 7;
  for (const ServerInfo& i : s.servers) {
    up += i.state == ServerState::kUp;
    down += i.state == ServerState::kDown;
    draining += i.state == ServerState::kDraining;
    addr_width = std::max(addr_width, i.addr.size());
  }
  out << "datads: " << s.servers.size() << " total, " << up << " up, " << down << " down";
  if (draining > 0) out << ", " << draining << " draining";
  out << "\n";
  if (!s.servers.empty()) {
    const auto row = [&](const std::string& a, const std::string& st, const std::string& hb,
                         const std::string& used, const std::string& free,
                         const std::string& chunks, const std::string& corrupt) {
      out << "  " << std::left << std::setw(static_cast<int>(addr_width) + 2) << a << std::setw(10)
          << st << std::setw(11) << hb << std::setw(12) << used << std::setw(12) << free
          << std::setw(9) << chunks << corrupt << "\n";
    };
    row("ADDRESS", "STATE", "HEARTBEAT", "USED", "FREE", "CHUNKS", "CORRUPT");
    for (const ServerInfo& i : s.servers) {
      row(i.addr, ServerStateName(i.state), FormatDuration(i.last_heartbeat_ms) + " ago",
          FormatBytes(i.bytes_used), FormatBytes(i.bytes_free), std::to_string(i.chunks),
          std::to_string(i.corrupt_found));
    }
  }
  out << "\nchunks: " << s.chunks.total << " total, " << s.chunks.healthy << " healthy, "
      << s.chunks.under_replicated << " under-replicated, " << s.chunks.unavailable
      << " unavailable, " << s.chunks.corrupt_replicas << " corrupt replicas\n";
  out << "repair: " << s.repair_queued << " queued, " << s.repair_done << " done\n";
}

}  // namespace replfs::ctl
