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

}  // namespace replfs::ctl
