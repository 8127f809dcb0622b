// Kernel settings of the client's own mount that libfuse does not set.
#pragma once

#include <string>

#include "common/status.h"

namespace replfs::client {

// Readahead of a FUSE mount: the kernel caps it at 128 KiB (the bdi
// default) whatever max_readahead the file system asks for, so a
// sequential reader gets 128 KiB requests, each a round trip to a datad.
inline constexpr int kReadaheadKb = 1024;

// Sets the readahead of the file system mounted at `mountpoint` (an
// absolute, canonical path, already mounted) to `kb` through
// /sys/class/bdi/MAJOR:MINOR/read_ahead_kb. Needs root (sysfs); the caller
// logs a failure and goes on with the default.
Status SetMountReadahead(const std::string& mountpoint, int kb);

}  // namespace replfs::client
