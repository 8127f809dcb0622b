// Human formatting shared by fsctl's commands.
#pragma once

#include <cstdint>
#include <string>

namespace replfs::ctl {

// Binary units with one decimal: "0 B", "512 B", "1.5 KiB", "300.0 MiB".
std::string FormatBytes(int64_t bytes);

// A duration in milliseconds, coarse and short: "0.2s", "42s", "3m 07s",
// "5h 02m", "3d 04h". Negative durations (unknown) print as "-".
std::string FormatDuration(int64_t ms);

// A transfer rate: FormatBytes(bytes_per_s) + "/s".
std::string FormatRate(int64_t bytes_per_s);

// Time left to move `bytes` at `bytes_per_s`, as FormatDuration: "0s" when
// nothing is left, "unknown" when something is left but nothing moves.
std::string FormatEta(int64_t bytes, int64_t bytes_per_s);
// The same in whole seconds (rounded up); -1 when unknown.
int64_t EtaSeconds(int64_t bytes, int64_t bytes_per_s);

} // namespace replfs::ctl
