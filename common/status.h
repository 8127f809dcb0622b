// Status: the one error type of replfs. OK costs nothing; an error carries a
// code a network file system needs and a human-readable message.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace replfs {

class [[nodiscard]] Status {
 public:
  enum class Code : int {
    kOk = 0,
    kNotFound,
    kExists,
    kNotDir,
    kIsDir,
    kNotEmpty,
    kPermission,
    kInvalid,
    kNoSpace,
    kIOError,
    kCorruption,
    kStale,
    kUnavailable,
    kTimedOut,
    kInternal,
    kNameTooLong,
    kNotSupported,
    kNoData,
    kRange,
    kTooManyLinks,
    kTooBig,
  };
  static constexpr int kNumCodes = static_cast<int>(Code::kTooBig) + 1;

  Status() = default;
  Status(Code code, std::string msg) : code_(code), msg_(std::move(msg)) {}

  static Status OK() { return Status(); }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status Exists(std::string m) { return {Code::kExists, std::move(m)}; }
  static Status NotDir(std::string m) { return {Code::kNotDir, std::move(m)}; }
  static Status IsDir(std::string m) { return {Code::kIsDir, std::move(m)}; }
  static Status NotEmpty(std::string m) { return {Code::kNotEmpty, std::move(m)}; }
  static Status Permission(std::string m) { return {Code::kPermission, std::move(m)}; }
  static Status Invalid(std::string m) { return {Code::kInvalid, std::move(m)}; }
  static Status NoSpace(std::string m) { return {Code::kNoSpace, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status Stale(std::string m) { return {Code::kStale, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status TimedOut(std::string m) { return {Code::kTimedOut, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
  static Status NameTooLong(std::string m) { return {Code::kNameTooLong, std::move(m)}; }
  static Status NotSupported(std::string m) { return {Code::kNotSupported, std::move(m)}; }
  static Status NoData(std::string m) { return {Code::kNoData, std::move(m)}; }
  static Status Range(std::string m) { return {Code::kRange, std::move(m)}; }
  static Status TooManyLinks(std::string m) { return {Code::kTooManyLinks, std::move(m)}; }
  static Status TooBig(std::string m) { return {Code::kTooBig, std::move(m)}; }

  // errno -> Status: the one place where an OS error becomes a Status.
  // `context` says what was being done ("open /x", "fsync store").
  static Status FromErrno(int err, std::string_view context);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return msg_; }

  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  // Transient failures worth retrying against the same or another server.
  bool IsRetryable() const {
    return code_ == Code::kUnavailable || code_ == Code::kTimedOut;
  }

  // "NotFound: lookup 'x' in 1"
  std::string ToString() const;
  static const char* CodeName(Code c);

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string msg_;
};

// Status -> errno at the FUSE boundary (and for tools printing strerror).
int StatusToErrno(const Status& s);

}  // namespace replfs

// Propagate, never drop silently.
#define REPLFS_RETURN_IF_ERROR(expr)           \
  do {                                         \
    ::replfs::Status _replfs_s = (expr);       \
    if (!_replfs_s.ok()) return _replfs_s;     \
  } while (0)
