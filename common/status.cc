#include "common/status.h"

#include <cerrno>
#include <cstring>

namespace replfs {

const char* Status::CodeName(Code c) {
  switch (c) {
    case Code::kOk: return "OK";
    case Code::kNotFound: return "NotFound";
    case Code::kExists: return "Exists";
    case Code::kNotDir: return "NotDir";
    case Code::kIsDir: return "IsDir";
    case Code::kNotEmpty: return "NotEmpty";
    case Code::kPermission: return "Permission";
    case Code::kInvalid: return "Invalid";
    case Code::kNoSpace: return "NoSpace";
    case Code::kIOError: return "IOError";
    case Code::kCorruption: return "Corruption";
    case Code::kStale: return "Stale";
    case Code::kUnavailable: return "Unavailable";
    case Code::kTimedOut: return "TimedOut";
    case Code::kInternal: return "Internal";
    case Code::kNameTooLong: return "NameTooLong";
    case Code::kNotSupported: return "NotSupported";
    case Code::kNoData: return "NoData";
    case Code::kRange: return "Range";
    case Code::kTooManyLinks: return "TooManyLinks";
    case Code::kTooBig: return "TooBig";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out = CodeName(code_);
  if (!msg_.empty()) {
    out += ": ";
    out += msg_;
  }
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, std::string(context) + ": " + msg_);
}

Status Status::FromErrno(int err, std::string_view context) {
  std::string msg = std::string(context) + ": " + std::strerror(err);
  switch (err) {
    case 0: return OK();
    case ENOENT: return NotFound(std::move(msg));
    case EEXIST: return Exists(std::move(msg));
    case ENOTDIR: return NotDir(std::move(msg));
    case EISDIR: return IsDir(std::move(msg));
    case ENOTEMPTY: return NotEmpty(std::move(msg));
    case EACCES:
    case EPERM: return Permission(std::move(msg));
    case EINVAL: return Invalid(std::move(msg));
    case ENOSPC:
    case EDQUOT: return NoSpace(std::move(msg));
    case ESTALE: return Stale(std::move(msg));
    case ETIMEDOUT: return TimedOut(std::move(msg));
    case ECONNREFUSED:
    case ECONNRESET:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EAGAIN: return Unavailable(std::move(msg));
    case ENAMETOOLONG: return NameTooLong(std::move(msg));
    case EOPNOTSUPP: return NotSupported(std::move(msg));
    case ENODATA: return NoData(std::move(msg));
    case ERANGE: return Range(std::move(msg));
    case EMLINK: return TooManyLinks(std::move(msg));
    case EFBIG: return TooBig(std::move(msg));
    default: return IOError(std::move(msg));
  }
}

int StatusToErrno(const Status& s) {
  using C = Status::Code;
  switch (s.code()) {
    case C::kOk: return 0;
    case C::kNotFound: return ENOENT;
    case C::kExists: return EEXIST;
    case C::kNotDir: return ENOTDIR;
    case C::kIsDir: return EISDIR;
    case C::kNotEmpty: return ENOTEMPTY;
    case C::kPermission: return EACCES;
    case C::kInvalid: return EINVAL;
    case C::kNoSpace: return ENOSPC;
    case C::kIOError: return EIO;
    case C::kCorruption: return EIO;
    case C::kStale: return ESTALE;
    case C::kUnavailable: return EIO;
    case C::kTimedOut: return ETIMEDOUT;
    case C::kInternal: return EIO;
    case C::kNameTooLong: return ENAMETOOLONG;
    case C::kNotSupported: return EOPNOTSUPP;
    case C::kNoData: return ENODATA;
    case C::kRange: return ERANGE;
    case C::kTooManyLinks: return EMLINK;
    case C::kTooBig: return EFBIG;
  }
  return EIO;
}

}  // namespace replfs
