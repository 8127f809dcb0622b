#include "ctl/cli.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iterator>
#include <sstream>

#include "common/config.h"
#include "common/host_port.h"
#include "ctl/commands.h"
#include "ctl/meta_api.h"
#include "ctl/mountinfo.h"

namespace replfs::ctl {
namespace {

struct Flags {
  std::string meta;
  std::string config;
  std::vector<std::string> sets;
  bool json = false;
  std::string path = "/";
};

// fsctl is interactive: fail fast rather than retry for half a minute.
net::RpcOptions CtlRpcOptions(const Config& c, int64_t rpc_timeout_ms) {
  net::RpcOptions o = net::RpcOptions::FromConfig(c);
  o.connect_timeout_ms = std::min<int64_t>(o.connect_timeout_ms, 2000);
  o.rpc_timeout_ms = rpc_timeout_ms;
  o.attempts = 2;
  o.budget_ms = 5000;
  return o;
}

std::string ReadMountInfo() {
  std::ifstream f("/proc/self/mountinfo");
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::string Cwd() {
  char buf[4096];
  return getcwd(buf, sizeof(buf)) ? buf : "/";
}

// Builds the Thrift client for `meta` (already chosen), or prints why not.
std::unique_ptr<MetaApi> Connect(const std::string& meta, const Config& c, int64_t rpc_timeout_ms,
                                 std::ostream& err) {
  HostPort hp;
  Status s = ParseHostPort(meta, &hp);
  if (!s.ok()) {
    err << "fsctl: bad metad address '" << meta << "': " << s.message() << std::endl;
    return nullptr;
  }
  return NewThriftMetaApi(hp, CtlRpcOptions(c, rpc_timeout_ms));
}

}  // namespace

int RunFsctl(int argc, char** argv, std::ostream& out, std::ostream& err) {
  Flags f;
  CLI::App app{"fsctl: operate a replfs cluster", "fsctl"};
  app.add_option("--meta", f.meta, "metad address HOST:PORT (default: config cluster.meta)");
  app.add_option("--config", f.config, "config file (default /etc/replfs/replfs.conf if present)");
  app.add_option("--set", f.sets, "override a config key: section.key=value (repeatable)");
  app.require_subcommand(1);
  CLI::App* status =
      app.add_subcommand("status", "cluster health; exit 0 healthy, 1 degraded, 2 unavailable");
  status->add_flag("--json", f.json, "machine-readable output");
  CLI::App* fsck = app.add_subcommand(
      "fsck", "replica report of a file or tree (a path under a mount or inside the fs)");
  fsck->add_option("path", f.path, "path (default: / of the file system)");
  fsck->add_flag("--json", f.json, "machine-readable output");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    err << "fsctl: " << e.what() << "\n\n" << app.help();
    return kExitUnavailable;
  }

  Config config;
  Status s = LoadConfig(f.config, f.sets, &config);
  if (!s.ok()) {
    err << "fsctl: " << s.ToString() << std::endl;
    return kExitUnavailable;
  }
  std::string meta = f.meta.empty() ? config.meta : f.meta;

  if (status->parsed()) {
    std::unique_ptr<MetaApi> api = Connect(meta, config, 5000, err);
    return api ? RunStatus(api.get(), f.json, out, err) : kExitUnavailable;
  }

  FsTarget target;
  s = ResolveTarget(ParseMountInfo(ReadMountInfo()), f.path, Cwd(), &target);
  if (!s.ok()) {
    err << "fsctl: " << f.path << ": " << s.message() << std::endl;
    return kExitUnavailable;
  }
  if (f.meta.empty() && !target.meta.empty()) meta = target.meta;
  // metad checks every replica of a file in one Fsck call: allow it time.
  std::unique_ptr<MetaApi> api = Connect(meta, config, 120000, err);
  return api ? RunFsck(api.get(), target.fs_path, f.json, out, err) : kExitUnavailable;
}

}  // namespace replfs::ctl
