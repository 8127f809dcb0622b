// fsctl's command line: flags, config, picking the metad address, dispatch.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace replfs::ctl {

// What the command line asked for. Fields a command does not use keep their
// defaults.
struct Invocation {
  std::string command; // "status", "fsck", "scrub", ...
  // Global flags.
  std::string meta;
  std::string config;
  std::vector<std::string> sets;
  // Command flags and arguments.
  bool json = false;
  bool prometheus = false;
  std::string path = "/"; // fsck default: the whole namespace
  std::string server;     // scrub --server, corrupt --server
  std::string addr;       // drain, undrain, remove
  bool wait = false;
  double timeout_s = 3600;
  int64_t block = 0;
  std::string mode = "flip";
  bool force = false;
  int goal = 0;
  bool recursive = false;
  // ca init|issue
  std::string ca_command;  // "init" or "issue"
  std::string ca_dir;
  std::string cert_name;
  std::string role;
  std::vector<std::string> hosts;
  int days = 825;
};

// Parses argv into *inv. Returns true when a command should run; otherwise
// *exit_code is set: 0 after --help (printed on `out`), 2 after a usage error
// (message and usage printed on `err`).
bool ParseFsctlArgs(int argc, const char *const *argv, Invocation *inv,
                    std::ostream &out, std::ostream &err, int *exit_code);

// Parses argv and runs the command. Usage errors print the usage on `err`
// and return 2.
int RunFsctl(int argc, char **argv, std::ostream &out, std::ostream &err);

} // namespace replfs::ctl
