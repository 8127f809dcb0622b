#include "ctl/mountinfo.h"

#include <filesystem>
#include <sstream>
#include <system_error>

namespace replfs::ctl {
namespace {

// True if `path` is `dir` or below it (component-wise, both normalised).
bool IsUnder(const std::string &path, const std::string &dir) {
  if (dir == "/")
    return !path.empty() && path[0] == '/';
  return path.compare(0, dir.size(), dir) == 0 &&
         (path.size() == dir.size() || path[dir.size()] == '/');
}

} // namespace

FsTarget TranslatePath(const std::vector<MountEntry> &mounts,
                       const std::string &abs_path) {
  const MountEntry *best = nullptr;
  for (const MountEntry &m : mounts) {
    // `>=`: a later mount on the same point hides the earlier one.
    if (IsUnder(abs_path, m.mount_point) &&
        (best == nullptr || m.mount_point.size() >= best->mount_point.size())) {
      best = &m;
    }
  }
  if (best == nullptr || best->fs_type != kReplfsFsType)
    return {"", abs_path};
  const size_t skip = best->mount_point == "/" ? 0 : best->mount_point.size();
  if (skip >= abs_path.size())
    return {best->source, std::string(1, '/')};
  return {best->source, abs_path.substr(skip)};
}

Status ResolveTarget(const std::vector<MountEntry> &mounts,
                     const std::string &arg, const std::string &cwd,
                     FsTarget *out) {
  if (arg.empty())
    return Status::Invalid("empty path");
  namespace fs = std::filesystem;
  fs::path p(arg);
  if (p.is_relative())
    p = fs::path(cwd) / p;
  std::error_code ec;
  fs::path norm = fs::weakly_canonical(p, ec);
  if (ec)
    norm = p.lexically_normal();
  std::string s = norm.string();
  while (s.size() > 1 && s.back() == '/')
    s.pop_back();
  *out = TranslatePath(mounts, s);
  return Status::OK();
}

} // namespace replfs::ctl
