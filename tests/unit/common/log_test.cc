// Log levels, and where lines go: stderr by default, syslog once asked.
#include "common/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace replfs {
namespace {

// Everything written to fd 2 while `fn` runs.
template <class Fn>
std::string CaptureStderr(Fn fn) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const int saved = dup(STDERR_FILENO);
  dup2(fds[1], STDERR_FILENO);
  close(fds[1]);
  fn();
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  return out;
}

TEST(LogTest, ParsesLevels) {
  LogLevel l;
  ASSERT_TRUE(ParseLogLevel("debug", &l));
  EXPECT_EQ(l, LogLevel::kDebug);
  ASSERT_TRUE(ParseLogLevel("warn", &l));
  EXPECT_EQ(l, LogLevel::kWarning);
  EXPECT_FALSE(ParseLogLevel("loud", &l));
}

TEST(LogTest, LinesGoToStderrUntilSyslogIsAskedFor) {
  SetLogPrefix("logtest");
  std::string out = CaptureStderr([] { LOG(WARNING) << "on stderr " << 42; });
  EXPECT_NE(out.find("logtest W log_test.cc:"), std::string::npos) << out;
  EXPECT_NE(out.find("on stderr 42\n"), std::string::npos) << out;

  // A daemonised client: fd 2 is /dev/null, lines go to syslog instead.
  LogToSyslog("logtest");
  out = CaptureStderr([] { LOG(ERROR) << "to syslog"; });
  EXPECT_EQ(out, "");
  LogToStderr();
  out = CaptureStderr([] { LOG(ERROR) << "back on stderr"; });
  EXPECT_NE(out.find("back on stderr"), std::string::npos) << out;
}

TEST(LogTest, LevelsBelowTheThresholdAreDropped) {
  SetLogLevel(LogLevel::kWarning);
  const std::string out = CaptureStderr([] { LOG(INFO) << "quiet"; });
  SetLogLevel(LogLevel::kInfo);
  EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace replfs
