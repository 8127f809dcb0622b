// fsctl's one-shot actions: corrupt, drain/undrain/remove, setrepl/getrepl.
#include <cstring>

#include "ctl/commands.h"

namespace replfs::ctl {

int RunCorrupt(MetaApi *api, const std::string &fs_path, CorruptRequest req,
               std::ostream &out, std::ostream &err) {
  int code = kExitOk;
  if (!ResolveOrReport(api, fs_path, &req.ino, err, &code))
    return code;
  FileType type = FileType::kOther;
  Status s = api->GetType(req.ino, &type);
  if (s.ok() && type != FileType::kRegular) {
    err << "fsctl: corrupt: " << fs_path << ": "
        << (type == FileType::kDirectory ? "is a directory"
                                         : "not a regular file")
        << " (only file blocks can be damaged)" << std::endl;
    return kExitProblems;
  }
  CorruptResult r;
  if (s.ok())
    s = api->Corrupt(req, &r);
  if (!s.ok()) {
    if (s.code() == Status::Code::kInvalid) {
      // The refusal to damage the last good replica (PROTOCOL.md).
      err << "fsctl: corrupt refused: " << fs_path << " block " << req.block
          << ": " << s.message();
      if (!req.force)
        err << " (--force damages the last good replica too)";
      err << std::endl;
    } else if (!IsNoAnswer(s) &&
               (s.IsNotFound() || s.code() == Status::Code::kIsDir)) {
      // The path resolved, so this is about the block: a hole, past the
      // end, or (from metad) not a file. No "No such file or directory".
      err << "fsctl: corrupt: " << fs_path << ": " << s.message() << std::endl;
    } else {
      err << DescribeError(s.WithContext(fs_path), api->addr()) << std::endl;
    }
    return ExitCodeFor(s);
  }
  out << "corrupted block " << req.block << " (chunk " << r.chunk_id
      << " index " << r.chunk_index << " block " << r.block << " v" << r.version
      << ") on " << r.addr << " (mode " << FaultModeName(req.mode) << ")"
      << std::endl;
  return kExitOk;
}

int RunServerOp(MetaApi *api, ServerOp op, const std::string &addr,
                std::ostream &out, std::ostream &err) {
  Status s;
  switch (op) {
  case ServerOp::kDrain:
    s = api->Drain(addr);
    break;
  case ServerOp::kUndrain:
    s = api->Undrain(addr);
    break;
  case ServerOp::kRemove:
    s = api->RemoveServer(addr);
    break;
  }
  if (s.IsNotFound()) {
    err << "fsctl: " << addr << ": unknown server (fsctl servers lists them)"
        << std::endl;
    return kExitProblems;
  }
  if (!s.ok()) {
    const char *what = op == ServerOp::kDrain     ? "drain"
                       : op == ServerOp::kUndrain ? "undrain"
                                                  : "remove";
    if (IsNoAnswer(s)) {
      err << DescribeError(s, api->addr()) << std::endl;
    } else {
      err << "fsctl: cannot " << what << " " << addr << ": " << s.message()
          << std::endl;
    }
    return ExitCodeFor(s);
  }
  switch (op) {
  case ServerOp::kDrain:
    out << addr
        << ": draining; its replicas move elsewhere and new chunks avoid it "
        << "(fsctl servers shows its chunk count fall to 0)" << std::endl;
    break;
  case ServerOp::kUndrain:
    out << addr << ": back in service" << std::endl;
    break;
  case ServerOp::kRemove:
    out << addr << ": removed" << std::endl;
    break;
  }
  return kExitOk;
}

int RunSetRepl(MetaApi *api, const std::string &fs_path, int goal,
               bool recursive, std::ostream &out, std::ostream &err) {
  int code = kExitOk;
  int64_t ino = 0;
  if (!ResolveOrReport(api, fs_path, &ino, err, &code))
    return code;
  int64_t changed = 0;
  Status s = api->SetGoal(ino, goal, recursive, &changed);
  if (!s.ok()) {
    err << DescribeError(s.WithContext(fs_path), api->addr()) << std::endl;
    return ExitCodeFor(s);
  }
  out << fs_path << ": goal " << goal << (recursive ? " (recursive), " : ", ")
      << changed << (changed == 1 ? " inode" : " inodes") << " changed"
      << std::endl;
  return kExitOk;
}

int RunGetRepl(MetaApi *api, const std::string &fs_path, std::ostream &out,
               std::ostream &err) {
  int code = kExitOk;
  int64_t ino = 0;
  if (!ResolveOrReport(api, fs_path, &ino, err, &code))
    return code;
  int goal = 0;
  Status s = api->GetGoal(ino, &goal);
  if (s.IsNotFound()) {
    err << "fsctl: " << fs_path << ": " << std::strerror(ENOENT) << std::endl;
    return kExitUnavailable;
  }
  if (!s.ok()) {
    err << DescribeError(s.WithContext(fs_path), api->addr()) << std::endl;
    return ExitCodeFor(s);
  }
  out << fs_path << ": goal " << goal << std::endl;
  return kExitOk;
}

} // namespace replfs::ctl
