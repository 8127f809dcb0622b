// Finding the replfs mount a local path lives under (/proc/self/mountinfo)
// and turning the local path into a path inside the file system.
#pragma once

#include <string>
#include <vector>

#include "common/mountinfo.h"
#include "common/status.h"

namespace replfs::ctl {

inline constexpr char kReplfsFsType[] = "fuse.replfs";

using replfs::MountEntry;
using replfs::ParseMountInfo;

// Where an fsck target lives.
struct FsTarget {
  std::string meta;    // metad address of the mount, empty if not under one
  std::string fs_path; // absolute path inside the file system
};

// `abs_path` must be absolute and normalised (no "." / ".." / "//").
// If it lies under a replfs mount (the innermost mount containing it, the
// last one listed when several share a mount point), sets meta to the mount
// source and fs_path to the path relative to the mount point. Otherwise the
// path is taken as a path inside the file system as is (meta empty).
FsTarget TranslatePath(const std::vector<MountEntry> &mounts,
                       const std::string &abs_path);

// Resolves a command-line PATH: absolute or relative to `cwd`, symlinks of
// existing components resolved (std::filesystem::weakly_canonical) when the
// path exists locally, else normalised lexically; then TranslatePath().
// An absolute path that is not under a replfs mount is an in-fs path.
Status ResolveTarget(const std::vector<MountEntry> &mounts,
                     const std::string &arg, const std::string &cwd,
                     FsTarget *out);

} // namespace replfs::ctl
