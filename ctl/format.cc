#include "ctl/format.h"

#include <cstdio>

namespace replfs::ctl {

std::string FormatBytes(int64_t bytes) {
  static constexpr const char *kUnits[] = {"KiB", "MiB", "GiB",
                                           "TiB", "PiB", "EiB"};
  if (bytes < 1024)
    return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  int unit = -1;
  while (v >= 1024 && unit + 1 < static_cast<int>(std::size(kUnits))) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f %s", v, kUnits[unit]);
  return buf;
}

std::string FormatDuration(int64_t ms) {
  if (ms < 0)
    return "-";
  char buf[32];
  if (ms < 10'000) {
    std::snprintf(buf, sizeof(buf), "%.1fs", static_cast<double>(ms) / 1000);
    return buf;
  }
  const int64_t s = ms / 1000;
  if (s < 60) {
    std::snprintf(buf, sizeof(buf), "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof(buf), "%lldm %02llds",
                  static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof(buf), "%lldh %02lldm",
                  static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%lldd %02lldh",
                  static_cast<long long>(s / 86400),
                  static_cast<long long>(s / 3600 % 24));
  }
  return buf;
}

std::string FormatRate(int64_t bytes_per_s) {
  return FormatBytes(bytes_per_s) + "/s";
}

int64_t EtaSeconds(int64_t bytes, int64_t bytes_per_s) {
  if (bytes <= 0)
    return 0;
  if (bytes_per_s <= 0)
    return -1;
  return (bytes + bytes_per_s - 1) / bytes_per_s;
}

std::string FormatEta(int64_t bytes, int64_t bytes_per_s) {
  const int64_t s = EtaSeconds(bytes, bytes_per_s);
  if (s < 0)
    return "unknown";
  if (s == 0)
    return "0s";
  return FormatDuration(s * 1000);
}

} // namespace replfs::ctl
