// `fsctl status --prometheus`: the status counts in the Prometheus text
// exposition format (version 0.0.4), for the node_exporter textfile collector.
#pragma once

#include <ostream>
#include <string>

#include "ctl/status_report.h"
#include "ctl/types.h"

namespace replfs::ctl {

// Every metric family with its # HELP and # TYPE lines; label values escaped.
// Names follow the Prometheus conventions `promtool check metrics` enforces:
// counters end in "_total" and nothing else does (replfs_chunks_known, not
// replfs_chunks_total), base units (seconds, bytes), snake_case. A value that
// is unknown (the heartbeat age of a datad that has not registered since
// metad started) has no sample rather than a made-up one.
void WritePrometheus(std::ostream &out, const ClusterStatus &s,
                     const HealthVerdict &v, const std::string &meta_addr);

// What is written when metad cannot be reached: replfs_up 0 and
// replfs_health{state="unavailable"} 1.
void WritePrometheusUnreachable(std::ostream &out,
                                const std::string &meta_addr);

// A label value escaped for the text format: backslash, double quote and
// newline become \\, \" and \n.
std::string EscapeLabelValue(const std::string &v);

} // namespace replfs::ctl
