#include "ctl/status_report.h"

#include <algorithm>
#include <functional>
#include <iomanip>
#include <map>

#include "ctl/format.h"

namespace replfs::ctl {
namespace {

std::string Plural(int64_t n, const std::string &what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

} // namespace

const char *ServerStateName(ServerState s) {
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

const char *ReplicaStateName(ReplicaState s) {
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

const char *FaultModeName(FaultMode m) {
  switch (m) {
  case FaultMode::kFlip:
    return "flip";
  case FaultMode::kZero:
    return "zero";
  case FaultMode::kDelete:
    return "delete";
  }
  return "flip";
}

const char *HealthName(Health h) {
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

HealthVerdict ClassifyHealth(const ClusterStatus &s) {
  HealthVerdict v;
  std::vector<std::string> unavailable;
  std::vector<std::string> degraded;
  const int64_t up = std::count_if(
      s.servers.begin(), s.servers.end(),
      [](const ServerInfo &i) { return i.state == ServerState::kUp; });
  const int64_t down = std::count_if(
      s.servers.begin(), s.servers.end(),
      [](const ServerInfo &i) { return i.state == ServerState::kDown; });
  const int64_t draining = static_cast<int64_t>(s.servers.size()) - up - down;
  if (up + draining == 0) {
    unavailable.push_back("no datad is up");
  } else if (up == 0) {
    // Draining datads still serve reads (and repair sources): the data is
    // there, but no new chunk can be placed.
    degraded.push_back("every datad is draining: no new chunk can be placed");
  }
  if (s.chunks.unavailable > 0) {
    unavailable.push_back(Plural(s.chunks.unavailable, "chunk") +
                          " unavailable");
  }
  if (down > 0) {
    degraded.push_back(std::to_string(down) + " of " +
                       std::to_string(s.servers.size()) + " datads down");
  }
  if (s.chunks.under_replicated > 0) {
    degraded.push_back(Plural(s.chunks.under_replicated, "chunk") +
                       " under-replicated");
  }
  if (s.chunks.corrupt_replicas > 0) {
    degraded.push_back(Plural(s.chunks.corrupt_replicas, "corrupt replica") +
                       " known");
  }
  const int64_t accounted =
      s.chunks.healthy + s.chunks.under_replicated + s.chunks.unavailable;
  if (s.chunks.healthy < s.chunks.total && accounted == s.chunks.healthy) {
    // Not healthy, yet neither counter says why: still not HEALTHY.
    degraded.push_back(Plural(s.chunks.total - s.chunks.healthy, "chunk") +
                       " not healthy");
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

nlohmann::json ServerToJson(const ServerInfo &i) {
  const ScrubInfo &sc = i.scrub;
  return {{"addr", i.addr},
          {"state", ServerStateName(i.state)},
          {"chunks", i.chunks},
          {"bytes_used", i.bytes_used},
          {"bytes_free", i.bytes_free},
          {"bytes_total", i.bytes_total},
          {"corrupt_found", i.corrupt_found},
          {"last_heartbeat_ms", i.last_heartbeat_ms},
          {"scrub",
           {{"running", sc.running},
            {"progress", sc.progress},
            {"last_full_pass_ms", sc.last_full_pass_ms},
            {"oldest_unverified_ms", sc.oldest_unverified_ms},
            {"bytes_verified", sc.bytes_verified},
            {"corrupt_found_pass", sc.corrupt_found_pass}}}};
}

nlohmann::json StatusToJson(const ClusterStatus &s, const HealthVerdict &v,
                            const std::string &meta_addr) {
  nlohmann::json servers = nlohmann::json::array();
  for (const ServerInfo &i : s.servers)
    servers.push_back(ServerToJson(i));
  nlohmann::json by_good = nlohmann::json::object();
  for (int good : {2, 1, 0})
    by_good[std::to_string(good)] = 0;
  for (const auto &[good, n] : s.chunks.under_by_good)
    by_good[std::to_string(good)] = n;
  const int64_t eta = EtaSeconds(s.repair_bytes_queued, s.repair_bytes_per_s);
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
            {"corrupt_replicas", s.chunks.corrupt_replicas},
            {"stale_replicas", s.chunks.stale_replicas},
            {"under_by_good", std::move(by_good)}}},
          {"repair",
           {{"queued", s.repair_queued},
            {"done", s.repair_done},
            {"bytes_queued", s.repair_bytes_queued},
            {"bytes_per_s", s.repair_bytes_per_s},
            {"eta_s", eta < 0 ? nlohmann::json(nullptr) : nlohmann::json(eta)},
            {"heal_running", s.heal_running}}},
          {"files", s.files},
          {"directories", s.directories},
          {"replicas", s.replicas}};
}

nlohmann::json UnreachableJson(const std::string &meta_addr,
                               const std::string &error) {
  return {{"health", HealthName(Health::kUnavailable)},
          {"reasons", {"metad unreachable"}},
          {"meta", {{"addr", meta_addr}}},
          {"error", error}};
}

std::string DescribeScrub(const ScrubInfo &scrub, int64_t now_ms) {
  if (scrub.running) {
    return std::to_string(static_cast<int>(scrub.progress * 100)) + "% running";
  }
  if (scrub.last_full_pass_ms <= 0)
    return "never";
  if (now_ms <= 0)
    return "done";
  return "done " +
         FormatDuration(
             std::max<int64_t>(0, now_ms - scrub.last_full_pass_ms)) +
         " ago";
}

void PrintServerTable(std::ostream &out, const ClusterStatus &s) {
  size_t addr_width = 7;
  for (const ServerInfo &i : s.servers)
    addr_width = std::max(addr_width, i.addr.size());
  const auto row = [&](const std::vector<std::string> &cols) {
    static constexpr int kWidths[] = {0, 10, 11, 12, 12, 9, 9, 18};
    out << "  " << std::left << std::setw(static_cast<int>(addr_width) + 2)
        << cols[0];
    for (size_t c = 1; c + 1 < cols.size(); ++c)
      out << std::setw(kWidths[c]) << cols[c];
    out << cols.back() << "\n";
  };
  row({"ADDRESS", "STATE", "HEARTBEAT", "USED", "FREE", "CHUNKS", "CORRUPT",
       "SCRUB", "UNVERIFIED"});
  for (const ServerInfo &i : s.servers) {
    row({i.addr, ServerStateName(i.state),
         // -1: not registered since metad started.
         i.last_heartbeat_ms < 0 ? "never"
                                 : FormatDuration(i.last_heartbeat_ms) + " ago",
         FormatBytes(i.bytes_used), FormatBytes(i.bytes_free),
         std::to_string(i.chunks), std::to_string(i.corrupt_found),
         DescribeScrub(i.scrub, s.fetched_at_ms),
         FormatDuration(i.scrub.oldest_unverified_ms)});
  }
}

void PrintStatus(std::ostream &out, const ClusterStatus &s,
                 const HealthVerdict &v, const std::string &meta_addr) {
  out << "cluster:\n";
  out << "  health:    " << HealthName(v.health) << "\n";
  for (const std::string &r : v.reasons)
    out << "             " << r << "\n";
  out << "  metad:     " << meta_addr << ", up " << FormatDuration(s.uptime_ms)
      << "\n";
  out << "  namespace: " << Plural(s.files, "file") << ", "
      << Plural(s.directories, "directory") << ", goal " << s.replicas
      << " replicas\n\n";

  int64_t up = 0, down = 0, draining = 0;
  for (const ServerInfo &i : s.servers) {
    up += i.state == ServerState::kUp;
    down += i.state == ServerState::kDown;
    draining += i.state == ServerState::kDraining;
  }
  out << "datads: " << s.servers.size() << " total, " << up << " up, " << down
      << " down";
  if (draining > 0)
    out << ", " << draining << " draining";
  out << "\n";
  if (!s.servers.empty())
    PrintServerTable(out, s);

  const ChunkCounts &c = s.chunks;
  out << "\nchunks: " << c.total << " total, " << c.healthy << " healthy, "
      << c.under_replicated << " under-replicated, " << c.unavailable
      << " unavailable, " << c.corrupt_replicas << " corrupt replicas\n";
  if (c.under_replicated > 0 || !c.under_by_good.empty()) {
    // Worst last, 2/1/0 always shown, higher counts (goals above 3) if any.
    std::map<int, int64_t, std::greater<>> by_good(c.under_by_good.begin(),
                                                   c.under_by_good.end());
    for (int good : {2, 1, 0})
      by_good.try_emplace(good, 0);
    out << "  under goal by good replicas:";
    const char *sep = " ";
    for (const auto &[good, n] : by_good) {
      out << sep << good << " good: " << n;
      sep = ", ";
    }
    out << "\n";
  }
  out << "  replicas: " << c.corrupt_replicas << " corrupt known, "
      << c.stale_replicas << " stale\n";
  out << "repair: " << s.repair_queued << " queued ("
      << FormatBytes(s.repair_bytes_queued) << "), "
      << FormatRate(s.repair_bytes_per_s) << ", ETA "
      << FormatEta(s.repair_bytes_queued, s.repair_bytes_per_s) << ", "
      << s.repair_done << " done";
  if (s.heal_running)
    out << ", heal running";
  out << "\n";
}

} // namespace replfs::ctl
