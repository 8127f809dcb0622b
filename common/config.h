// replfs configuration: one INI file (`/etc/replfs/replfs.conf`) shared by
// every binary, with sections [cluster], [metad], [datad], [rpc], [client],
// [log]. Every key has a default (below) and can be overridden on the command
// line with `--set section.key=value`. Unknown sections or keys and bad values
// are errors whose message names the file, line and key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace replfs {

inline constexpr char kDefaultConfigPath[] = "/etc/replfs/replfs.conf";

struct Config {
  // [cluster] — must agree across the cluster; metad is authoritative for
  // chunk_size, block_size and replicas and hands them to clients.
  std::string meta = "127.0.0.1:9190";     // metad address used by datad, replfs, fsctl
  int64_t chunk_size = 64ll << 20;         // placement unit; multiple of block_size
  int64_t block_size = 64 << 10;           // checksum unit; power of two, 4 KiB..1 MiB
  int replicas = 3;                        // default replication goal, 1..16
  int min_write_replicas = 2;              // replicas that must ack a write (clamped to replicas)

  // [metad]
  std::string metad_listen = "0.0.0.0:9190";
  std::string metad_data_dir = "/var/lib/replfs/metad";
  int64_t dead_after_ms = 10000;           // a datad silent this long is down
  bool metad_fsync = true;                 // fsync every metadata commit
  int metad_fsync_interval_ms = 100;        // namespace changes synced within N ms (0: before answering)
  int metad_max_connections = 1024;
  int repair_max_concurrent = 2;           // chunk repairs running at once
  int64_t repair_rate_mb_s = 200;          // background repair copy rate; 0 = unlimited

  // [datad]
  std::string datad_listen = "0.0.0.0:2222";
  std::string datad_data_dir;              // empty: /var/lib/replfs/datad-<port>
  std::string datad_advertise;             // empty: the listen address (0.0.0.0 -> 127.0.0.1)
  int64_t heartbeat_interval_ms = 1000;
  int64_t block_report_interval_ms = 60000;  // full inventory to metad
  int64_t scrub_rate_mb_s = 50;            // background verification rate
  int64_t scrub_interval_s = 7 * 24 * 3600;  // a full pass at least this often
  int datad_max_connections = 1024;

  // [rpc] — one place for timeouts and the retry policy of every remote call.
  int64_t connect_timeout_ms = 2000;
  int64_t rpc_timeout_ms = 10000;          // send/receive timeout of one call
  int retry_attempts = 4;                  // tries per call before giving up
  int64_t retry_backoff_ms = 50;           // first backoff, doubled per try, jittered
  int64_t retry_budget_ms = 30000;         // total time one operation may spend retrying
  int64_t max_backoff_ms = 1000;           // backoff never grows past this

  // [client]
  double attr_timeout_s = 1.0;
  double entry_timeout_s = 1.0;
  // How long the kernel may cache attributes and names while the mount
  // follows metad's change feed (which invalidates them when another mount
  // changes them); 0: not followed, attr/entry_timeout always.
  double coherent_timeout_s = 30.0;
  int client_max_threads = 16;

  // [tls] Mutual TLS (thrift/tls.h): this process's certificate and key
  // and the cluster CA, all three or none. Without them daemons serve only
  // loopback peers, unless `insecure` (then anyone who can connect may do
  // anything).
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  bool tls_insecure = false;

  // [log]
  std::string log_level = "info";

  // Loads `path` over the defaults. A missing file is an error unless
  // `missing_ok` (used for the default path).
  Status LoadFile(const std::string& path, bool missing_ok);
  // Applies one "section.key" = "value" setting.
  Status Set(const std::string& section_key, const std::string& value);
  // Applies "section.key=value".
  Status SetAssignment(const std::string& assignment);
  // Cross-key checks (chunk_size multiple of block_size...). Call after all
  // settings are applied.
  Status Validate() const;
  int EffectiveMinWriteReplicas() const {
    return min_write_replicas < replicas ? min_write_replicas : replicas;
  }
  // Every key as "section.key = value" lines (for --print-config).
  std::string Dump() const;
};

// Value parsers, exposed for tests and command-line flags.
Status ParseSize(const std::string& text, int64_t* out);   // 4096, 64K, 64KiB, 1M, 2G
Status ParseBool(const std::string& text, bool* out);      // true/false/yes/no/1/0/on/off

// Loads config the way every binary does: `path` (empty = default path,
// missing allowed), then each `--set` assignment, then Validate().
Status LoadConfig(const std::string& path, const std::vector<std::string>& sets, Config* out);

}  // namespace replfs
