#include "fuse/mount_tuning.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/mountinfo.h"

namespace replfs::client {

Status SetMountReadahead(const std::string& mountpoint, int kb) {
  std::string dev;
  for (const MountEntry& m : ParseMountInfo(ReadMountInfo()))
    if (m.mount_point == mountpoint) dev = m.dev;  // the last one: ours, on top
  if (dev.empty()) return Status::NotFound(mountpoint + " is not in /proc/self/mountinfo");
  const std::string path = "/sys/class/bdi/" + dev + "/read_ahead_kb";
  std::ofstream f(path);
  if (f) f << kb << "\n";
  if (!f) return Status::IOError("cannot write " + path + ": " + std::strerror(errno));
  return Status::OK();
}

}  // namespace replfs::client
