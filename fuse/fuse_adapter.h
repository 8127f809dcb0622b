// The FUSE edge of replfs: mounts, serves the low-level FUSE protocol with
// FileSystem, unmounts. The only code that knows libfuse (fuse_adapter.cc).
#pragma once

#include <functional>
#include <memory>

#include "common/config.h"
#include "common/status.h"
#include "fuse/file_system.h"
#include "fuse/mount_options.h"

namespace replfs::client {

// Builds the FileSystem. Called after the mount and the daemonizing fork
// (threads must start in the process that stays).
using FileSystemFactory = std::function<Status(std::unique_ptr<FileSystem>*)>;

// Creates the session, mounts args.mountpoint, daemonizes unless
// args.foreground, serves (multi-threaded unless args.single_thread) until
// unmounted or signalled, then unmounts. Returns the process exit code.
int RunFuse(const MountArgs& args, const Config& cfg, const FileSystemFactory& make_fs);

}  // namespace replfs::client
