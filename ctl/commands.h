// fsctl's commands, independent of flag parsing and of Thrift: each takes the
// MetaApi to talk to and the streams to write, and returns the exit code.
#pragma once

#include <ostream>
#include <string>

#include "ctl/meta_api.h"

namespace replfs::ctl {

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitProblems = 1;     // degraded / fsck found problems
inline constexpr int kExitUnavailable = 2;  // metad unreachable, path not found, usage

// `fsctl status [--json]`: exit code is HealthExitCode() of the verdict, 2
// (with one line on `err` naming the address) when metad cannot be reached.
int RunStatus(MetaApi* api, bool json, std::ostream& out, std::ostream& err);

// `fsctl fsck [PATH] [--json]` on a path inside the file system: 0 when every
// replica is ok and every chunk has its goal of ok replicas on distinct
// servers, 1 otherwise, 2 when metad is unreachable or the path is not found.
int RunFsck(MetaApi* api, const std::string& fs_path, bool json, std::ostream& out,
            std::ostream& err);

// One line describing a failed call, naming metad for transport failures.
std::string DescribeError(const Status& s, const std::string& meta_addr);

}  // namespace replfs::ctl
