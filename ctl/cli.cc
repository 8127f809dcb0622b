#include "ctl/cli.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iterator>
#include <sstream>

#include "common/config.h"
#include "common/host_port.h"
#include "ctl/ca.h"
#include "thrift/tls.h"
#include "ctl/commands.h"
#include "ctl/meta_api.h"
#include "ctl/mountinfo.h"

namespace replfs::ctl {
namespace {

// Receive timeouts: Status is answered from memory; the path commands may
// make metad check replicas (Fsck, Corrupt) or walk a tree (SetGoal -R).
constexpr int64_t kQuickRpcMs = 5000;
constexpr int64_t kActionRpcMs = 30'000;
constexpr int64_t kSlowRpcMs = 120'000;

// fsctl is interactive: fail fast rather than retry for half a minute.
net::RpcOptions CtlRpcOptions(const Config &c, int64_t rpc_timeout_ms) {
  net::RpcOptions o = net::RpcOptions::FromConfig(c);
  o.connect_timeout_ms = std::min<int64_t>(o.connect_timeout_ms, 2000);
  o.rpc_timeout_ms = rpc_timeout_ms;
  o.attempts = 2;
  o.budget_ms = 5000;
  return o;
}

std::string Cwd() {
  char buf[4096];
  return getcwd(buf, sizeof(buf)) ? buf : "/";
}

// Builds the Thrift client for `meta` (already chosen), or prints why not.
std::unique_ptr<MetaApi> Connect(const std::string &meta, const Config &c,
                                 int64_t rpc_timeout_ms, std::ostream &err) {
  HostPort hp;
  Status s = ParseHostPort(meta, &hp);
  if (!s.ok()) {
    err << "fsctl: bad metad address '" << meta << "': " << s.message()
        << std::endl;
    return nullptr;
  }
  net::RpcOptions opts = CtlRpcOptions(c, rpc_timeout_ms);
  s = net::TlsContext::FromConfig(c, &opts.tls);
  if (!s.ok()) {
    err << "fsctl: " << s.message() << std::endl;
    return nullptr;
  }
  return NewThriftMetaApi(hp, opts);
}

FaultMode ParseMode(const std::string &m) {
  if (m == "zero")
    return FaultMode::kZero;
  if (m == "delete")
    return FaultMode::kDelete;
  return FaultMode::kFlip; // the parser admits only flip|zero|delete
}

void AddCommands(CLI::App &app, Invocation *inv) {
  CLI::App *status = app.add_subcommand(
      "status", "cluster health; exit 0 healthy, 1 degraded, 2 unavailable");
  CLI::Option *json =
      status->add_flag("--json", inv->json, "machine-readable output");
  status
      ->add_flag("--prometheus", inv->prometheus,
                 "Prometheus text exposition format")
      ->excludes(json);

  CLI::App *fsck =
      app.add_subcommand("fsck", "replica report of a file or tree (a path "
                                 "under a mount or inside the fs)");
  fsck->add_option("path", inv->path, "path (default: / of the file system)");
  fsck->add_flag("--json", inv->json, "machine-readable output, streamed");

  CLI::App *scrub = app.add_subcommand("scrub", "start a full scrub pass now");
  scrub->add_option("--server", inv->server,
                    "only this datad (default: every up datad)");
  scrub->add_flag("--wait", inv->wait,
                  "show progress until the pass ends, then what it found");
  scrub
      ->add_option("--timeout", inv->timeout_s,
                   "give up waiting after SECONDS (exit 2)")
      ->check(CLI::PositiveNumber);

  CLI::App *corrupt = app.add_subcommand(
      "corrupt", "fault injection: damage one replica of one block of a file");
  corrupt
      ->add_option("path", inv->path, "file (under a mount or inside the fs)")
      ->required();
  corrupt
      ->add_option("--block", inv->block,
                   "file block (offset / block size), default 0")
      ->check(CLI::NonNegativeNumber);
  corrupt->add_option("--server", inv->server,
                      "the replica to damage (default: the primary)");
  corrupt->add_option("--mode", inv->mode, "flip (default), zero or delete")
      ->check(CLI::IsMember({"flip", "zero", "delete"}));
  corrupt->add_flag("--force", inv->force,
                    "damage it even if it is the last good replica");

  CLI::App *heal =
      app.add_subcommand("heal", "repair everything degraded now, unthrottled");
  heal->add_flag("--wait", inv->wait,
                 "show progress until healed, then a summary");
  heal->add_option("--timeout", inv->timeout_s,
                   "give up waiting after SECONDS (exit 2)")
      ->check(CLI::PositiveNumber);

  CLI::App *servers =
      app.add_subcommand("servers", "the datads: state, usage, scrub");
  servers->add_flag("--json", inv->json, "machine-readable output");

  for (const char *name : {"drain", "undrain", "remove"}) {
    const char *help = std::string(name) == "drain"
                           ? "move every replica off a datad"
                       : std::string(name) == "undrain"
                           ? "put a drained datad back in service"
                           : "forget a datad that holds nothing unique";
    app.add_subcommand(name, help)
        ->add_option("addr", inv->addr, "datad HOST:PORT")
        ->required();
  }

  CLI::App *setrepl =
      app.add_subcommand("setrepl", "set the replication goal of a path");
  setrepl->add_option("path", inv->path, "file or directory")->required();
  setrepl->add_option("goal", inv->goal, "replicas, 1..16")
      ->required()
      ->check(CLI::Range(1, 16));
  setrepl->add_flag("-R,--recursive", inv->recursive,
                    "everything below a directory too");

  CLI::App *getrepl =
      app.add_subcommand("getrepl", "show the replication goal of a path");
  getrepl->add_option("path", inv->path, "file or directory")->required();

  CLI::App *ca = app.add_subcommand(
      "ca", "the cluster's certificate authority for mutual TLS (no metad)");
  ca->require_subcommand(1);
  CLI::App *init =
      ca->add_subcommand("init", "create a CA in DIR: ca.crt and ca.key");
  init->add_option("dir", inv->ca_dir, "directory (created 0700)")->required();
  CLI::App *issue = ca->add_subcommand(
      "issue", "issue DIR/NAME.crt and DIR/NAME.key for one process");
  issue->add_option("dir", inv->ca_dir, "the CA's directory")->required();
  issue->add_option("name", inv->cert_name, "certificate name (CN)")
      ->required();
  issue->add_option("--role", inv->role, "metad, datad, client or admin")
      ->required()
      ->check(CLI::IsMember({"metad", "datad", "client", "admin"}));
  issue->add_option("--host", inv->hosts,
                    "an IP address or DNS name of the process (repeatable)");
  issue->add_option("--days", inv->days, "validity in days (default 825)")
      ->check(CLI::Range(1, kCaDays));
}

int RunCa(const Invocation &inv, std::ostream &out, std::ostream &err) {
  std::string summary;
  Status s;
  if (inv.ca_command == "init") {
    s = InitCa(inv.ca_dir, &summary);
  } else {
    CertRequest req;
    req.dir = inv.ca_dir;
    req.name = inv.cert_name;
    req.role = inv.role;
    req.hosts = inv.hosts;
    req.valid_for = std::chrono::hours(24) * inv.days;
    s = IssueCert(req, &summary);
  }
  if (!s.ok()) {
    err << "fsctl: ca " << inv.ca_command << ": " << s.message() << std::endl;
    return kExitProblems;
  }
  out << summary << std::endl;
  return kExitOk;
}

// The commands that take a PATH: resolved against the mounts, and the
// mount's metad is used unless --meta says otherwise.
bool TakesPath(const std::string &command) {
  return command == "fsck" || command == "corrupt" || command == "setrepl" ||
         command == "getrepl";
}

int Execute(const Invocation &inv, const Config &config, std::ostream &out,
            std::ostream &err) {
  if (inv.command == "ca")
    return RunCa(inv, out, err);
  std::string meta = inv.meta.empty() ? config.meta : inv.meta;
  FsTarget target;
  if (TakesPath(inv.command)) {
    Status s = ResolveTarget(ParseMountInfo(ReadMountInfo()), inv.path, Cwd(),
                             &target);
    if (!s.ok()) {
      err << "fsctl: " << inv.path << ": " << s.message() << std::endl;
      return kExitUnavailable;
    }
    if (inv.meta.empty() && !target.meta.empty())
      meta = target.meta;
  }
  const std::string &cmd = inv.command;
  const int64_t timeout = cmd == "fsck" || cmd == "corrupt" || cmd == "setrepl"
                              ? kSlowRpcMs
                          : cmd == "status" || cmd == "servers" ? kQuickRpcMs
                                                                : kActionRpcMs;
  std::unique_ptr<MetaApi> api = Connect(meta, config, timeout, err);
  if (!api)
    return kExitUnavailable;

  WaitOptions wait;
  wait.wait = inv.wait;
  wait.tty = isatty(STDOUT_FILENO) == 1;
  wait.timeout_ms = static_cast<int64_t>(inv.timeout_s * 1000);
  wait.clock = RealClock();

  if (cmd == "status") {
    const OutputFormat f = inv.prometheus ? OutputFormat::kPrometheus
                           : inv.json     ? OutputFormat::kJson
                                          : OutputFormat::kText;
    return RunStatus(api.get(), f, out, err);
  }
  if (cmd == "fsck")
    return RunFsck(api.get(), target.fs_path, inv.json, out, err);
  if (cmd == "scrub")
    return RunScrub(api.get(), inv.server, wait, out, err);
  if (cmd == "corrupt") {
    CorruptRequest req;
    req.block = inv.block;
    req.server = inv.server;
    req.mode = ParseMode(inv.mode);
    req.force = inv.force;
    return RunCorrupt(api.get(), target.fs_path, req, out, err);
  }
  if (cmd == "heal")
    return RunHeal(api.get(), wait, out, err);
  if (cmd == "servers")
    return RunServers(api.get(), inv.json, out, err);
  if (cmd == "drain")
    return RunServerOp(api.get(), ServerOp::kDrain, inv.addr, out, err);
  if (cmd == "undrain")
    return RunServerOp(api.get(), ServerOp::kUndrain, inv.addr, out, err);
  if (cmd == "remove")
    return RunServerOp(api.get(), ServerOp::kRemove, inv.addr, out, err);
  if (cmd == "setrepl") {
    return RunSetRepl(api.get(), target.fs_path, inv.goal, inv.recursive, out,
                      err);
  }
  if (cmd == "getrepl")
    return RunGetRepl(api.get(), target.fs_path, out, err);
  err << "fsctl: unknown command " << cmd << std::endl;
  return kExitUnavailable;
}

} // namespace

bool ParseFsctlArgs(int argc, const char *const *argv, Invocation *inv,
                    std::ostream &out, std::ostream &err, int *exit_code) {
  CLI::App app{"fsctl: operate a replfs cluster", "fsctl"};
  app.add_option("--meta", inv->meta,
                 "metad address HOST:PORT (default: config cluster.meta)");
  app.add_option("--config", inv->config,
                 "config file (default /etc/replfs/replfs.conf if present)");
  app.add_option("--set", inv->sets,
                 "override a config key: section.key=value (repeatable)");
  app.require_subcommand(1);
  AddCommands(app, inv);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &) {
    out << app.help();
    *exit_code = kExitOk;
    return false;
  } catch (const CLI::ParseError &e) {
    // The usage of the command that was being parsed, if it got that far.
    const std::vector<CLI::App *> chosen = app.get_subcommands();
    err << "fsctl: " << e.what() << "\n\n"
        << (chosen.empty() ? app.help() : chosen[0]->help());
    *exit_code = kExitUnavailable;
    return false;
  }
  CLI::App *command = app.get_subcommands().at(0);
  inv->command = command->get_name();
  if (!command->get_subcommands().empty())
    inv->ca_command = command->get_subcommands().at(0)->get_name();
  return true;
}

int RunFsctl(int argc, char **argv, std::ostream &out, std::ostream &err) {
  Invocation inv;
  int code = kExitOk;
  if (!ParseFsctlArgs(argc, argv, &inv, out, err, &code))
    return code;
  Config config;
  Status s = LoadConfig(inv.config, inv.sets, &config);
  if (!s.ok()) {
    err << "fsctl: " << s.ToString() << std::endl;
    return kExitUnavailable;
  }
  return Execute(inv, config, out, err);
}

} // namespace replfs::ctl
