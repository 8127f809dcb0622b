#include "common/status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <set>

namespace replfs {
namespace {

TEST(StatusTest, OkIsCheapAndOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_EQ(StatusToErrno(s), 0);
}

TEST(StatusTest, EveryCodeMapsToAPreciseErrno) {
  const std::pair<Status::Code, int> table[] = {
      {Status::Code::kNotFound, ENOENT},      {Status::Code::kExists, EEXIST},
      {Status::Code::kNotDir, ENOTDIR},       {Status::Code::kIsDir, EISDIR},
      {Status::Code::kNotEmpty, ENOTEMPTY},   {Status::Code::kPermission, EACCES},
      {Status::Code::kInvalid, EINVAL},       {Status::Code::kNoSpace, ENOSPC},
      {Status::Code::kIOError, EIO},          {Status::Code::kCorruption, EIO},
      {Status::Code::kStale, ESTALE},         {Status::Code::kUnavailable, EIO},
      {Status::Code::kTimedOut, ETIMEDOUT},   {Status::Code::kInternal, EIO},
      {Status::Code::kNameTooLong, ENAMETOOLONG}, {Status::Code::kNotSupported, EOPNOTSUPP},
      {Status::Code::kNoData, ENODATA},       {Status::Code::kRange, ERANGE},
      {Status::Code::kTooManyLinks, EMLINK},  {Status::Code::kTooBig, EFBIG},
  };
  std::set<Status::Code> seen;
  for (auto [code, err] : table) {
    EXPECT_EQ(StatusToErrno(Status(code, "x")), err) << Status::CodeName(code);
    seen.insert(code);
  }
  // Every code but OK is in the table.
  EXPECT_EQ(seen.size(), static_cast<size_t>(Status::kNumCodes - 1));
}

TEST(StatusTest, FromErrnoRoundTripsTheCommonCodes) {
  for (int err : {ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, EINVAL, ENOSPC, ETIMEDOUT,
                  ENAMETOOLONG, EOPNOTSUPP, ENODATA, ERANGE, EMLINK, EFBIG, ESTALE}) {
    EXPECT_EQ(StatusToErrno(Status::FromErrno(err, "op")), err) << err;
  }
  EXPECT_EQ(Status::FromErrno(ENOENT, "open /x").message(), "open /x: No such file or directory");
}

TEST(StatusTest, RetryableOnlyForTransientFailures) {
  EXPECT_TRUE(Status::Unavailable("x").IsRetryable());
  EXPECT_TRUE(Status::TimedOut("x").IsRetryable());
  EXPECT_FALSE(Status::NotFound("x").IsRetryable());
  EXPECT_FALSE(Status::Corruption("x").IsRetryable());
}

TEST(StatusTest, WithContextPrefixes) {
  EXPECT_EQ(Status::IOError("disk").WithContext("write chunk 7").ToString(),
            "IOError: write chunk 7: disk");
  EXPECT_TRUE(Status::OK().WithContext("x").ok());
}

}  // namespace
}  // namespace replfs
