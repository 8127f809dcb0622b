#include "ctl/commands.h"

#include <algorithm>
#include <cstring>

#include "ctl/fsck.h"
#include "ctl/status_report.h"

namespace replfs::ctl {

std::string DescribeError(const Status& s, const std::string& meta_addr) {
  std::string line;
  if (s.IsRetryable()) {
    line = "cannot reach metad at " + meta_addr + ": " + s.ToString();
  } else if (s.IsNotFound()) {
    line = s.message() + ": " + std::strerror(ENOENT);
  } else {
    line = s.ToString();
  }
  std::replace(line.begin(), line.end(), '\n', ' ');
  return "fsctl: " + line;
}

int RunStatus(MetaApi* api, bool json, std::ostream& out, std::ostream& err) {
  ClusterStatus status;
  Status s = api->GetStatus(&status);
  if (!s.ok()) {
    err << DescribeError(s, api->addr()) << std::endl;
    if (json) out << UnreachableJson(api->addr(), s.ToString()).dump(2) << std::endl;
    return kExitUnavailable;
  }
  const HealthVerdict verdict = ClassifyHealth(status);
  if (json) {
    out << StatusToJson(status, verdict, api->addr()).dump(2) << std::endl;
  } else {
    PrintStatus(out, status, verdict, api->addr());
    out.flush();
  }
  return HealthExitCode(verdict.health);
}

int RunFsck(MetaApi* api, const std::string& fs_path, bool json, std::ostream& out,
            std::ostream& err) {
  std::unique_ptr<FsckSink> sink = json ? NewJsonSink(&out) : NewTextSink(&out);
  FsckWalker walker(api, sink.get());
  Status s = walker.Run(fs_path);
  if (!s.ok()) {
    out.flush();
    err << DescribeError(s, api->addr()) << std::endl;
    return kExitUnavailable;
  }
  out.flush();
  return walker.summary().clean() ? kExitOk : kExitProblems;
}

}  // namespace replfs::ctl
