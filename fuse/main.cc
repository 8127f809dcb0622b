// replfs META_HOST:PORT MOUNTPOINT [-o OPTIONS] [-f] [-d] [-s]
// Thin: parse, check that metad answers, mount, serve.
#include <string>  // thrift/TOutput.h uses std::string without including it
#include <thrift/TOutput.h>

#include <algorithm>
#include <csignal>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/host_port.h"
#include "common/log.h"
#include "fuse/chunk_io.h"
#include "fuse/file_system.h"
#include "fuse/fuse_adapter.h"
#include "fuse/meta_client.h"
#include "fuse/mount_options.h"
#include "fuse/stats_reporter.h"
#include "thrift/tls.h"

namespace replfs::client {
namespace {

// Threads that fan writes out to replicas.
constexpr int kIoThreads = 16;

int Main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  StatsReporter stats;  // first: blocks SIGUSR1 before any thread exists
  SetLogPrefix("replfs");
  // Thrift's own chatter goes to our debug log; our errors name the server.
  apache::thrift::GlobalOutput.setOutputFunction([](const char* msg) { LOG(DEBUG) << msg; });
  MountArgs args;
  Status s = ParseMountArgs(std::vector<std::string>(argv + 1, argv + argc), &args);
  if (!s.ok()) {
    std::cerr << "replfs: " << s.message() << "\n" << MountUsage("replfs");
    return 1;
  }
  if (args.help) {
    std::cout << MountUsage("replfs");
    return 0;
  }
  if (args.version) {
    std::cout << "replfs " << REPLFS_VERSION << "\n";
    return 0;
  }
  Config cfg;
  s = LoadMountConfig(args, &cfg);
  if (!s.ok()) {
    std::cerr << "replfs: " << s.message() << "\n";
    return 1;
  }
  LogLevel level;
  if (ParseLogLevel(cfg.log_level, &level)) SetLogLevel(args.debug ? LogLevel::kDebug : level);
  HostPort meta_addr;
  s = ParseHostPort(args.meta, &meta_addr);
  if (!s.ok()) {
    std::cerr << "replfs: bad metad address '" << args.meta << "': " << s.message() << "\n";
    return 1;
  }

  std::shared_ptr<net::TlsContext> tls;
  s = net::TlsContext::FromConfig(cfg, &tls);
  if (!s.ok()) {
    std::cerr << "replfs: " << s.message() << "\n";
    return 1;
  }
  // Refuse to mount (and never hang a boot) when metad does not answer.
  // The budget is one call's timeout: a socket-activated metad that is
  // just starting (opening its store) has that long to answer.
  net::RpcOptions probe = net::RpcOptions::FromConfig(cfg);
  probe.tls = tls;
  probe.budget_ms = cfg.rpc_timeout_ms;
  MetaClient prober(meta_addr, probe);
  ClusterInfo info;
  s = prober.GetClusterInfo(&info);
  if (!s.ok()) {
    std::cerr << "replfs: cannot reach metad at " << args.meta << ": " << s.message() << "\n";
    return 1;
  }
  // Whether metad lets this client use the file system at all (TLS roles):
  // a refusal fails the mount, not every later call.
  Attr root;
  s = prober.GetAttr(1, &root);
  if (!s.ok()) {
    std::cerr << "replfs: metad at " << args.meta << " does not serve this client: " << s.message() << "\n";
    return 1;
  }
  Geometry geo;
  geo.chunk_size = info.chunk_size;
  geo.block_size = info.block_size;
  if (info.max_rpc_bytes > 0) geo.max_rpc_bytes = info.max_rpc_bytes;
  s = geo.Validate();
  if (!s.ok()) {
    std::cerr << "replfs: metad at " << args.meta << " sent a bad geometry: " << s.message() << "\n";
    return 1;
  }

  // Bounded retries (soft, the default) or practically unbounded (hard):
  // see MetaClient and ChunkIo for what is retried.
  net::RpcOptions base = net::RpcOptions::FromConfig(cfg);
  base.tls = tls;
  const net::RpcOptions opts = MetaRpcOptions(base, args.hard);
  DataPathOptions data;
  data.rpc = opts;
  data.min_write_replicas = std::max(1, info.min_write_replicas);
  LOG(INFO) << "mounting " << args.meta << " on " << args.mountpoint << " ("
            << (args.hard ? "hard" : "soft, retry budget " + std::to_string(opts.budget_ms) + " ms")
            << ", min_write_replicas " << data.min_write_replicas << ")";
  return RunFuse(args, cfg, [&](std::unique_ptr<FileSystem>* out) -> Status {
    auto meta = std::make_unique<MetaClient>(meta_addr, opts);
    auto io = std::make_unique<ChunkIo>(meta.get(), geo, data, kIoThreads);
    stats.Start(meta->counters(), io->counters());
    *out = std::make_unique<FileSystem>(
        std::move(meta), std::move(io), info, kOpenRenewalInterval,
        std::chrono::milliseconds(static_cast<int64_t>(cfg.attr_timeout_s * 1000)),
        std::chrono::milliseconds(static_cast<int64_t>(cfg.coherent_timeout_s * 1000)));
    return Status::OK();
  });
}

}  // namespace
}  // namespace replfs::client

int main(int argc, char** argv) { return replfs::client::Main(argc, argv); }
