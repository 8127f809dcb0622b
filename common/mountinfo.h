// /proc/self/mountinfo (proc(5)): the mounts of this process's mount
// namespace. Used by fsctl (which mount a path lives under) and by the FUSE
// client (its own mount's device number).
#pragma once

#include <string>
#include <vector>

namespace replfs {

struct MountEntry {
  std::string mount_point;  // unescaped ("/mnt/my fs")
  std::string fs_type;      // "fuse.replfs"
  std::string source;       // for replfs: the metad address
  std::string dev;          // "major:minor" of the mounted file system
};

// Parses the text of a mountinfo file; lines that do not parse are skipped.
// Octal escapes (\040 ...) in mount points and sources are decoded.
std::vector<MountEntry> ParseMountInfo(const std::string& text);

// The text of /proc/self/mountinfo ("" if it cannot be read).
std::string ReadMountInfo();

}  // namespace replfs
