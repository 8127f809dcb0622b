#include "common/mountinfo.h"

#include <fstream>
#include <iterator>
#include <sstream>

namespace replfs {
namespace {

std::string Unescape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

std::vector<MountEntry> ParseMountInfo(const std::string& text) {
  // 36 35 98:0 /root /mnt/point rw,noatime shared:1 - fstype source opts
  std::vector<MountEntry> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::vector<std::string> fields;
    std::string w;
    while (f >> w) fields.push_back(w);
    size_t sep = 6;
    while (sep < fields.size() && fields[sep] != "-") ++sep;
    if (fields.size() < 6 || sep + 2 >= fields.size()) continue;
    out.push_back({Unescape(fields[4]), Unescape(fields[sep + 1]), Unescape(fields[sep + 2]), fields[2]});
  }
  return out;
}

std::string ReadMountInfo() {
  std::ifstream f("/proc/self/mountinfo");
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace replfs
