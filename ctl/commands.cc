#include "ctl/commands.h"

#include <algorithm>
#include <cstring>

#include "ctl/fsck.h"
#include "ctl/json.h"
#include "ctl/prometheus.h"
#include "ctl/status_report.h"

namespace replfs::ctl {

std::string DescribeError(const Status &s, const std::string &meta_addr) {
  std::string line;
  if (IsNoAnswer(s)) {
    line = s.message(); // names metad's address already
  } else if (s.IsNotFound()) {
    line = s.message() + ": " + std::strerror(ENOENT);
  } else {
    // metad's own answer: its words, and the code it came with.
    line = s.message() + " (metad " + meta_addr + " answered " +
           Status::CodeName(s.code()) + ")";
  }
  std::replace(line.begin(), line.end(), '\n', ' ');
  return "fsctl: " + line;
}

int ExitCodeFor(const Status &s) {
  return IsNoAnswer(s) ? kExitUnavailable : kExitProblems;
}

bool ResolveOrReport(MetaApi *api, const std::string &fs_path, int64_t *ino,
                     std::ostream &err, int *exit_code) {
  Status s = api->ResolvePath(fs_path, ino);
  if (s.ok())
    return true;
  if (s.IsNotFound()) {
    err << "fsctl: " << fs_path << ": " << std::strerror(ENOENT) << std::endl;
  } else {
    err << DescribeError(s.WithContext(fs_path), api->addr()) << std::endl;
  }
  // A path that cannot be resolved is as fatal as an unreachable metad.
  *exit_code = kExitUnavailable;
  return false;
}

int RunStatus(MetaApi *api, OutputFormat format, std::ostream &out,
              std::ostream &err) {
  ClusterStatus status;
  Status s = api->GetStatus(&status);
  if (!s.ok()) {
    err << DescribeError(s, api->addr()) << std::endl;
    if (format == OutputFormat::kJson) {
      out << DumpJson(UnreachableJson(api->addr(), s.ToString()), 2)
          << std::endl;
    } else if (format == OutputFormat::kPrometheus) {
      WritePrometheusUnreachable(out, api->addr());
      out.flush();
    }
    return kExitUnavailable;
  }
  const HealthVerdict verdict = ClassifyHealth(status);
  switch (format) {
  case OutputFormat::kJson:
    out << DumpJson(StatusToJson(status, verdict, api->addr()), 2) << std::endl;
    break;
  case OutputFormat::kPrometheus:
    WritePrometheus(out, status, verdict, api->addr());
    out.flush();
    break;
  case OutputFormat::kText:
    PrintStatus(out, status, verdict, api->addr());
    out.flush();
    break;
  }
  return HealthExitCode(verdict.health);
}

int RunServers(MetaApi *api, bool json, std::ostream &out, std::ostream &err) {
  ClusterStatus status;
  Status s = api->GetStatus(&status);
  if (!s.ok()) {
    err << DescribeError(s, api->addr()) << std::endl;
    return kExitUnavailable;
  }
  if (json) {
    nlohmann::json servers = nlohmann::json::array();
    for (const ServerInfo &i : status.servers)
      servers.push_back(ServerToJson(i));
    out << DumpJson(nlohmann::json{{"servers", std::move(servers)}}, 2)
        << std::endl;
  } else if (status.servers.empty()) {
    out << "no datads registered" << std::endl;
  } else {
    PrintServerTable(out, status);
    out.flush();
  }
  return kExitOk;
}

int RunFsck(MetaApi *api, const std::string &fs_path, bool json,
            std::ostream &out, std::ostream &err) {
  std::unique_ptr<FsckSink> sink = json ? NewJsonSink(&out) : NewTextSink(&out);
  FsckWalker walker(api, sink.get());
  Status s = walker.Run(fs_path);
  if (!s.ok()) {
    const std::string error = DescribeError(s, api->addr());
    sink->Abort(walker.summary(), error.substr(std::strlen("fsctl: ")));
    out.flush();
    err << error << std::endl;
    return kExitUnavailable;
  }
  out.flush();
  return walker.summary().clean() ? kExitOk : kExitProblems;
}

} // namespace replfs::ctl
