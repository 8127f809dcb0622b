#include "fuse/process_of.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <charconv>
#include <string>
#include <string_view>

namespace replfs::client {
namespace {

// The number after "\n<key>" in `text` (0 when absent or not a number).
uint32_t Field(std::string_view text, std::string_view key) {
  const size_t at = text.find(key);
  if (at == std::string_view::npos) return 0;
  size_t i = at + key.size();
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  uint32_t v = 0;
  const auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), v);
  return ec == std::errc() && end != text.data() + i ? v : 0;
}

// FUSE gives thread ids in the pid namespace of the mount, which is this
// process's; they can be looked up only if /proc is of that namespace too
// (not so after `unshare --pid` without a new /proc).
bool ProcIsOurs() {
  char buf[32];
  const ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);
  if (n <= 0) return false;
  return std::string_view(buf, static_cast<size_t>(n)) == std::to_string(getpid());
}

}  // namespace

uint32_t ProcessOfThread(uint32_t tid) {
  static const bool usable = ProcIsOurs();
  if (tid == 0 || !usable) return 0;
  const std::string path = "/proc/" + std::to_string(tid) + "/status";
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  // Tgid, PPid and Kthread come in the first kilobyte or so.
  char buf[2048];
  const ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  if (n <= 0) return 0;
  const std::string_view text(buf, static_cast<size_t>(n));
  // A kernel thread (an io_uring worker before Linux 5.12, a writeback
  // worker) acts for some process it does not name: unknown. Kernel
  // threads are kthreadd (2) and its children; "Kthread:" says so since
  // Linux 6.x.
  if (Field(text, "\nKthread:") == 1 || Field(text, "\nPid:") == 2 ||
      Field(text, "\nPPid:") == 2)
    return 0;
  return Field(text, "\nTgid:");
}

}  // namespace replfs::client
