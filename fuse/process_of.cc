#include "fuse/process_of.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <string>
#include <string_view>

namespace replfs::client {

uint32_t ProcessOfThread(uint32_t tid) {
  if (tid == 0) return 0;
  const std::string path = "/proc/" + std::to_string(tid) + "/status";
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  // "Tgid:" is the fourth line, well inside the first kilobyte.
  char buf[1024];
  const ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  if (n <= 0) return 0;
  const std::string_view text(buf, static_cast<size_t>(n));
  constexpr std::string_view kKey = "\nTgid:";
  const size_t at = text.find(kKey);
  if (at == std::string_view::npos) return 0;
  size_t i = at + kKey.size();
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  uint32_t tgid = 0;
  const auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), tgid);
  return ec == std::errc() && end != text.data() + i ? tgid : 0;
}

}  // namespace replfs::client
