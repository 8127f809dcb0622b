#include "ctl/prometheus.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <utility>
#include <vector>

namespace replfs::ctl {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Writes one metric family: the HELP and TYPE lines, then its samples.
class Family {
public:
  Family(std::ostream *out, const std::string &name, const char *type,
         const char *help)
      : out_(*out), name_(name) {
    out_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " "
         << type << "\n";
  }

  void Sample(const Labels &labels, int64_t value) {
    Line(labels) << value << "\n";
  }
  // Whole numbers (byte counts above all) exactly, fractions to 6 digits.
  void Sample(const Labels &labels, double value) {
    if (value == std::floor(value) && std::fabs(value) < 0x1p53) {
      Sample(labels, static_cast<int64_t>(value));
      return;
    }
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6g", value);
    Line(labels) << buf << "\n";
  }
  void Sample(int64_t value) { Sample({}, value); }

private:
  std::ostream &Line(const Labels &labels) {
    out_ << name_;
    if (!labels.empty()) {
      out_ << "{";
      for (size_t i = 0; i < labels.size(); ++i) {
        out_ << (i ? "," : "") << labels[i].first << "=\""
             << EscapeLabelValue(labels[i].second) << "\"";
      }
      out_ << "}";
    }
    return out_ << " ";
  }

  std::ostream &out_;
  const std::string name_;
};

constexpr const char *kGauge = "gauge";
constexpr const char *kCounter = "counter";

void WriteHealth(std::ostream &out, Health h) {
  Family f(
      &out, "replfs_health", kGauge,
      "1 for the cluster's health state (fsctl status), 0 for the others.");
  for (Health x : {Health::kHealthy, Health::kDegraded, Health::kUnavailable}) {
    std::string name = HealthName(x);
    for (char &c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    f.Sample({{"state", name}}, int64_t{x == h});
  }
}

void WriteServers(std::ostream &out, const ClusterStatus &s) {
  struct Gauge {
    const char *name;
    const char *type;
    const char *help;
    // NaN: the value is unknown for this server, no sample is written.
    double (*value)(const ServerInfo &);
  };
  static constexpr Gauge kGauges[] = {
      {"replfs_server_up", kGauge,
       "1 if the datad is up (or draining), 0 if down.",
       [](const ServerInfo &i) {
         return static_cast<double>(i.state != ServerState::kDown);
       }},
      {"replfs_server_draining", kGauge, "1 if the datad is being drained.",
       [](const ServerInfo &i) {
         return static_cast<double>(i.state == ServerState::kDraining);
       }},
      {"replfs_server_heartbeat_age_seconds", kGauge,
       "Age of the datad's last heartbeat (no sample: none since metad "
       "started).",
       [](const ServerInfo &i) {
         return i.last_heartbeat_ms < 0
                    ? std::nan("")
                    : static_cast<double>(i.last_heartbeat_ms) / 1000;
       }},
      {"replfs_server_bytes_used", kGauge,
       "Bytes of block data stored on the datad.",
       [](const ServerInfo &i) { return static_cast<double>(i.bytes_used); }},
      {"replfs_server_bytes_free", kGauge, "Free bytes on the datad's store.",
       [](const ServerInfo &i) { return static_cast<double>(i.bytes_free); }},
      {"replfs_server_bytes_capacity", kGauge, "Size of the datad's store.",
       [](const ServerInfo &i) { return static_cast<double>(i.bytes_total); }},
      {"replfs_server_chunks", kGauge, "Chunk replicas held by the datad.",
       [](const ServerInfo &i) { return static_cast<double>(i.chunks); }},
      {"replfs_server_corrupt_found_total", kCounter,
       "Blocks found corrupt since the datad started.",
       [](const ServerInfo &i) {
         return static_cast<double>(i.corrupt_found);
       }},
      {"replfs_server_scrub_running", kGauge,
       "1 while a scrub pass runs on the datad.",
       [](const ServerInfo &i) {
         return static_cast<double>(i.scrub.running);
       }},
      {"replfs_server_scrub_progress", kGauge,
       "Progress (0..1) of the current or last pass.",
       [](const ServerInfo &i) { return i.scrub.progress; }},
      {"replfs_server_scrub_last_full_pass_timestamp_seconds", kGauge,
       "When the last full scrub pass ended (Unix time; 0 = never).",
       [](const ServerInfo &i) {
         return static_cast<double>(i.scrub.last_full_pass_ms) / 1000;
       }},
      {"replfs_server_scrub_oldest_unverified_seconds", kGauge,
       "Age of the least recently verified block on the datad.",
       [](const ServerInfo &i) {
         return static_cast<double>(i.scrub.oldest_unverified_ms) / 1000;
       }},
      {"replfs_server_scrub_corrupt_found_pass", kGauge,
       "Corrupt blocks found in the current or last scrub pass.",
       [](const ServerInfo &i) {
         return static_cast<double>(i.scrub.corrupt_found_pass);
       }},
  };
  for (const Gauge &g : kGauges) {
    Family f(&out, g.name, g.type, g.help);
    for (const ServerInfo &i : s.servers) {
      const double v = g.value(i);
      if (!std::isnan(v))
        f.Sample({{"addr", i.addr}}, v);
    }
  }
}

void WriteChunks(std::ostream &out, const ClusterStatus &s) {
  const ChunkCounts &c = s.chunks;
  // A gauge: no "_total" (Prometheus reserves it for counters).
  Family(&out, "replfs_chunks_known", kGauge,
         "Chunks known to metad, in any state.")
      .Sample(c.total);
  {
    Family f(&out, "replfs_chunks", kGauge, "Chunks by state.");
    f.Sample({{"state", "healthy"}}, c.healthy);
    f.Sample({{"state", "under_replicated"}}, c.under_replicated);
    f.Sample({{"state", "unavailable"}}, c.unavailable);
  }
  {
    Family f(&out, "replfs_chunks_under_by_good", kGauge,
             "Chunks below their goal, by number of good replicas.");
    std::map<int, int64_t> by_good = c.under_by_good;
    for (int good : {0, 1, 2})
      by_good.try_emplace(good, 0);
    for (const auto &[good, n] : by_good)
      f.Sample({{"good", std::to_string(good)}}, n);
  }
  Family(&out, "replfs_corrupt_replicas", kGauge,
         "Corrupt replicas known to metad.")
      .Sample(c.corrupt_replicas);
  Family(&out, "replfs_stale_replicas", kGauge,
         "Stale replicas not yet deleted or refreshed.")
      .Sample(c.stale_replicas);
}

void WriteRepair(std::ostream &out, const ClusterStatus &s) {
  Family(&out, "replfs_repair_queued", kGauge, "Chunks waiting for repair.")
      .Sample(s.repair_queued);
  Family(&out, "replfs_repair_queued_bytes", kGauge,
         "Estimate of the bytes repair has to copy.")
      .Sample(s.repair_bytes_queued);
  Family(&out, "replfs_repair_done_total", kCounter,
         "Chunk repairs done since metad started.")
      .Sample(s.repair_done);
  Family(&out, "replfs_repair_bytes_per_second", kGauge,
         "Recent repair copy rate.")
      .Sample(s.repair_bytes_per_s);
  Family(&out, "replfs_heal_running", kGauge,
         "1 while an fsctl heal bypasses the throttle.")
      .Sample(int64_t{s.heal_running});
}

} // namespace

std::string EscapeLabelValue(const std::string &v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void WritePrometheus(std::ostream &out, const ClusterStatus &s,
                     const HealthVerdict &v, const std::string &meta_addr) {
  Family(&out, "replfs_up", kGauge, "1 if metad answered fsctl status.")
      .Sample({{"meta", meta_addr}}, int64_t{1});
  WriteHealth(out, v.health);
  Family(&out, "replfs_metad_uptime_seconds", kGauge,
         "Time since metad started.")
      .Sample(s.uptime_ms / 1000);
  Family(&out, "replfs_files", kGauge, "Regular files in the namespace.")
      .Sample(s.files);
  Family(&out, "replfs_directories", kGauge, "Directories in the namespace.")
      .Sample(s.directories);
  Family(&out, "replfs_replication_goal", kGauge, "Default replication goal.")
      .Sample(int64_t{s.replicas});
  WriteServers(out, s);
  WriteChunks(out, s);
  WriteRepair(out, s);
}

void WritePrometheusUnreachable(std::ostream &out,
                                const std::string &meta_addr) {
  Family(&out, "replfs_up", kGauge, "1 if metad answered fsctl status.")
      .Sample({{"meta", meta_addr}}, int64_t{0});
  WriteHealth(out, Health::kUnavailable);
}

} // namespace replfs::ctl
