#include "fuse/mount_options.h"

#include <map>

namespace replfs::client {
namespace {

// -o shortcuts -> config keys.
const std::map<std::string, std::string>& Shortcuts() {
  static const std::map<std::string, std::string> m = {
      {"attr_timeout", "client.attr_timeout"},
      {"entry_timeout", "client.entry_timeout"},
      {"coherent_timeout", "client.coherent_timeout"},
      {"rpc_timeout_ms", "rpc.timeout_ms"},
      {"connect_timeout_ms", "rpc.connect_timeout_ms"},
      {"retry_budget_ms", "rpc.retry_budget_ms"},
      {"max_backoff_ms", "rpc.max_backoff_ms"},
      {"max_threads", "client.max_threads"},
      {"log_level", "log.level"},
  };
  return m;
}

// Options that belong to mount(8)/fstab/systemd, meaningless to libfuse.
bool IsDropped(const std::string& opt) {
  static const char* const kDropped[] = {"_netdev", "nofail", "noauto", "defaults",
                                         "user",    "users",  "auto",   "nouser"};
  for (const char* d : kDropped)
    if (opt == d) return true;
  return opt.rfind("x-", 0) == 0 || opt.rfind("comment=", 0) == 0;
}

Status AddOption(const std::string& opt, MountArgs* out) {
  if (opt.empty() || IsDropped(opt)) return Status::OK();
  const size_t eq = opt.find('=');
  const std::string key = opt.substr(0, eq);
  const std::string value = eq == std::string::npos ? "" : opt.substr(eq + 1);
  if (opt == "hard" || opt == "soft") {
    out->hard = opt == "hard";
    return Status::OK();
  }
  if (key == "config") {
    if (value.empty()) return Status::Invalid("-o config needs a path (config=PATH)");
    out->config_path = value;
    return Status::OK();
  }
  auto it = Shortcuts().find(key);
  if (it != Shortcuts().end()) {
    if (eq == std::string::npos || value.empty())
      return Status::Invalid("-o " + key + " needs a value (" + key + "=...)");
    out->sets.push_back(it->second + "=" + value);
    return Status::OK();
  }
  if (eq != std::string::npos && key.find('.') != std::string::npos) {
    out->sets.push_back(opt);  // section.key=value
    return Status::OK();
  }
  for (const std::string& have : out->fuse_options)
    if (have == opt) return Status::OK();
  out->fuse_options.push_back(opt);
  return Status::OK();
}

Status AddOptionList(const std::string& list, MountArgs* out) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    REPLFS_RETURN_IF_ERROR(AddOption(list.substr(start, comma - start), out));
    start = comma + 1;
  }
  return Status::OK();
}

bool HasOptionKey(const MountArgs& a, const std::string& key) {
  for (const std::string& o : a.fuse_options)
    if (o == key || o.rfind(key + "=", 0) == 0) return true;
  return false;
}

}  // namespace

Status ParseMountArgs(const std::vector<std::string>& args, MountArgs* out) {
  *out = MountArgs();
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-o" || a == "--config" || a == "--set") {
      if (i + 1 >= args.size()) return Status::Invalid(a + " needs an argument");
      const std::string& v = args[++i];
      if (a == "-o") {
        REPLFS_RETURN_IF_ERROR(AddOptionList(v, out));
      } else if (a == "--config") {
        out->config_path = v;
      } else {
        out->sets.push_back(v);
      }
    } else if (a.rfind("-o", 0) == 0 && a.size() > 2) {
      REPLFS_RETURN_IF_ERROR(AddOptionList(a.substr(2), out));
    } else if (a.rfind("--config=", 0) == 0) {
      out->config_path = a.substr(9);
    } else if (a == "-f") {
      out->foreground = true;
    } else if (a == "-d" || a == "--debug") {
      out->debug = true;
      out->foreground = true;
    } else if (a == "-s") {
      out->single_thread = true;
    } else if (a == "-h" || a == "--help") {
      out->help = true;
    } else if (a == "-V" || a == "--version") {
      out->version = true;
    } else if (a.size() > 1 && a[0] == '-') {
      return Status::Invalid("unknown option '" + a + "'");
    } else {
      positional.push_back(a);
    }
  }
  if (out->help || out->version) return Status::OK();
  if (positional.size() != 2)
    return Status::Invalid("expected META_HOST:PORT and MOUNTPOINT, got " +
                           std::to_string(positional.size()) + " arguments");
  out->meta = positional[0];
  out->mountpoint = positional[1];
  if (!HasOptionKey(*out, "default_permissions")) out->fuse_options.push_back("default_permissions");
  if (!HasOptionKey(*out, "fsname")) out->fuse_options.push_back("fsname=" + out->meta);
  // Always ours: /proc/mounts must say fuse.replfs.
  std::erase_if(out->fuse_options, [](const std::string& o) { return o.rfind("subtype=", 0) == 0; });
  out->fuse_options.push_back("subtype=replfs");
  return Status::OK();
}

Status LoadMountConfig(const MountArgs& args, Config* cfg) {
  std::vector<std::string> sets = args.sets;
  // The address on the command line wins over [cluster] meta of the file.
  if (!args.meta.empty()) sets.push_back("cluster.meta=" + args.meta);
  return LoadConfig(args.config_path, sets, cfg);
}

std::vector<std::string> FuseArgv(const std::string& program, const MountArgs& args) {
  std::vector<std::string> v{program};
  std::string joined;
  for (const std::string& o : args.fuse_options) {
    if (!joined.empty()) joined += ',';
    joined += o;
  }
  if (!joined.empty()) {
    v.push_back("-o");
    v.push_back(joined);
  }
  if (args.debug) v.push_back("-d");
  return v;
}

std::string MountUsage(const std::string& program) {
  return "usage: " + program +
         " META_HOST:PORT MOUNTPOINT [-o OPTIONS] [-f] [-d] [-s]\n"
         "  -f  stay in the foreground   -d  debug (implies -f)   -s  single-threaded\n"
         "replfs options (-o): config=PATH, attr_timeout=S, entry_timeout=S,\n"
         "  coherent_timeout=S (caching while following metad's change feed; 0: off),\n"
         "  rpc_timeout_ms=N, connect_timeout_ms=N, max_threads=N, log_level=L,\n"
         "  retry_budget_ms=N (how long metad calls and writes retry before EIO),\n"
         "  max_backoff_ms=N, soft (default: give up after the budget),\n"
         "  hard (retry metad and writes without a time limit),\n"
         "  section.key=value (any key of replfs.conf)\n"
         "other -o options go to FUSE (allow_other, ro, rw, ...).\n";
}

}  // namespace replfs::client
