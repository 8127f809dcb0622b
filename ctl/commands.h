// fsctl's commands, independent of flag parsing and of Thrift: each takes the
// MetaApi to talk to and the streams to write, and returns the exit code.
#pragma once

#include <ostream>
#include <string>

#include "ctl/meta_api.h"
#include "ctl/progress.h"
#include "ctl/types.h"

namespace replfs::ctl {

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitProblems = 1; // degraded / fsck found problems
inline constexpr int kExitUnavailable =
    2; // no answer from metad, path not found, usage, timeout

enum class OutputFormat { kText, kJson, kPrometheus };

// `fsctl status [--json|--prometheus]`: one Status call; exit code is
// HealthExitCode() of the verdict, 2 (with one line on `err` naming the
// address) when metad cannot be reached.
int RunStatus(MetaApi *api, OutputFormat format, std::ostream &out,
              std::ostream &err);

// `fsctl fsck [PATH] [--json]` on a path inside the file system: 0 when every
// replica is ok and every chunk has its goal of ok replicas on distinct
// servers, 1 otherwise (also when metad could not check a file within its
// budget), 2 when the walk stopped (no answer from metad, path not found);
// the output is then closed (valid JSON with "complete": false).
int RunFsck(MetaApi *api, const std::string &fs_path, bool json,
            std::ostream &out, std::ostream &err);

// `fsctl servers [--json]`: the datad table (JSON: {"servers":[...]} with the
// entries of `status --json`). 0, or 2 when metad is unreachable.
int RunServers(MetaApi *api, bool json, std::ostream &out, std::ostream &err);

// `fsctl corrupt PATH ...`: damages one replica of one block of the file at
// `fs_path` (req.ino is filled in here) and says which. 0 done, 1 refused
// (last good replica without --force, not a regular file, no such replica,
// a block in a hole or past the end), 2 no answer from metad or path not
// found.
int RunCorrupt(MetaApi *api, const std::string &fs_path, CorruptRequest req,
               std::ostream &out, std::ostream &err);

enum class ServerOp { kDrain, kUndrain, kRemove };
// `fsctl drain|undrain|remove ADDR`: 0 done, 1 refused (unknown server,
// remove while it holds last replicas), 2 metad unreachable.
int RunServerOp(MetaApi *api, ServerOp op, const std::string &addr,
                std::ostream &out, std::ostream &err);

// `fsctl setrepl PATH N [-R]` / `fsctl getrepl PATH`: 0 done, 1 refused, 2
// metad unreachable or path not found.
int RunSetRepl(MetaApi *api, const std::string &fs_path, int goal,
               bool recursive, std::ostream &out, std::ostream &err);
int RunGetRepl(MetaApi *api, const std::string &fs_path, std::ostream &out,
               std::ostream &err);

// How `scrub --wait` and `heal --wait` wait.
struct WaitOptions {
  bool wait = false; // without it the command only starts the work
  bool tty = false;  // progress bar redrawn in place, else plain lines
  int64_t timeout_ms = 3'600'000; // give up (exit 2) after this long
  int64_t poll_ms = 1000;         // between Status calls
  int64_t plain_every_ms = 5000;  // between plain progress lines
  Clock *clock = nullptr;         // never null when running
};

// `fsctl scrub [--server ADDR] [--wait]`: starts a full pass on `server` (""
// = every datad metad scrubs: up and draining ones). With wait: progress
// until every targeted datad has no pass running and one ended after the
// start (or was seen running and stopped); if corruption was found, a
// bounded wait for metad to repair it; then what was found and repaired.
// 0 done, 1 refused (unknown or down server: metad's answer), a targeted
// datad went down, or corruption found is still unrepaired; 2 no answer from
// metad or timeout.
int RunScrub(MetaApi *api, const std::string &server, const WaitOptions &w,
             std::ostream &out, std::ostream &err);

// `fsctl heal [--wait]`: repairs everything degraded now. With wait:
// progress (queue, rate, ETA) until nothing is left to repair, or metad has
// stopped healing (heal_running false: the rest cannot be repaired now) and
// no repair finished for a settle period; then a summary naming what is
// still degraded and why. 0 healthy, 1 still degraded, 2 no answer from
// metad or timeout.
int RunHeal(MetaApi *api, const WaitOptions &w, std::ostream &out,
            std::ostream &err);

// One line describing a failed call: "fsctl: cannot reach metad at ..." (or
// "no answer from metad ...") only when metad did not answer (IsNoAnswer);
// an error metad answered is its message and code.
std::string DescribeError(const Status &s, const std::string &meta_addr);
// Exit code for a failed call: 2 when metad did not answer, else 1.
int ExitCodeFor(const Status &s);
// Resolves `fs_path` to an inode; on failure writes "fsctl: PATH: No such
// file or directory" (or DescribeError) to `err` and returns false.
bool ResolveOrReport(MetaApi *api, const std::string &fs_path, int64_t *ino,
                     std::ostream &err, int *exit_code);

} // namespace replfs::ctl
