// The command line of `replfs META_HOST:PORT MOUNTPOINT [-o OPTS] [-f] [-d] [-s]`
// as mount(8)/mount.fuse3 and people call it. Our own -o options are taken
// out (libfuse rejects unknown ones), fstab-only options are dropped, and
// default_permissions, fsname=<meta> and subtype=replfs are always added.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"

namespace replfs::client {

struct MountArgs {
  std::string meta;          // "host:port" of metad
  std::string mountpoint;
  bool foreground = false;   // -f
  bool debug = false;        // -d (implies -f)
  bool single_thread = false;  // -s
  bool help = false;         // -h / --help
  bool version = false;      // -V / --version
  std::string config_path;   // -o config=PATH or --config PATH ("" = default)
  // -o hard: metad calls and writes retry without a time limit (like NFS
  // hard mounts; kill -9 or umount -l still end them). -o soft (default):
  // they give up after rpc.retry_budget_ms (-o retry_budget_ms=N) with EIO.
  bool hard = false;
  // "section.key=value" settings, in order (shortcuts already translated).
  std::vector<std::string> sets;
  // Options for libfuse's -o, in order, without ours.
  std::vector<std::string> fuse_options;
};

// Parses argv[1..] (argv[0] excluded). Errors name the offending argument.
Status ParseMountArgs(const std::vector<std::string>& args, MountArgs* out);

// Loads the config file and settings of `args` into `cfg` (LoadConfig).
Status LoadMountConfig(const MountArgs& args, Config* cfg);

// The argv to hand fuse_session_new: program, "-o", joined options, and
// "-d" when debugging.
std::vector<std::string> FuseArgv(const std::string& program, const MountArgs& args);

std::string MountUsage(const std::string& program);

}  // namespace replfs::client
