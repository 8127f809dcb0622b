// ProcessOfThread: the process (thread group) a thread belongs to, for the
// write-behind's question "does this flush come from the process that
// wrote?" (FileSystem::Flush). FUSE tells each request the thread id of its
// caller (fuse_ctx.pid, in the mount's pid namespace), not its process.
#pragma once

#include <cstdint>

namespace replfs::client {

// The thread group id of thread `tid` from /proc/<tid>/status, or 0 when it
// cannot be told: tid 0 (the kernel could not map the caller into this pid
// namespace), the thread is gone, a kernel thread (it acts for a process it
// does not name), or no /proc of this pid namespace.
uint32_t ProcessOfThread(uint32_t tid);

}  // namespace replfs::client
