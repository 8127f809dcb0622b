#include "common/log.h"

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

namespace replfs {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_syslog{false};
std::mutex g_prefix_mu;  // protects g_prefix and g_ident
std::string g_prefix = "replfs";
// openlog() keeps a pointer to this: assigned only before syslog is used.
std::string g_ident;

const char* LevelTag(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "D";
    case LogLevel::kInfo: return "I";
    case LogLevel::kWarning: return "W";
    case LogLevel::kError: return "E";
  }
  return "?";
}

// For syslog(3), and as the "<N>" prefix journald understands when stderr
// is the journal.
int SyslogPriority(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return LOG_DEBUG;
    case LogLevel::kInfo: return LOG_INFO;
    case LogLevel::kWarning: return LOG_WARNING;
    case LogLevel::kError: return LOG_ERR;
  }
  return LOG_INFO;
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

bool ParseLogLevel(const std::string& s, LogLevel* out) {
  if (s == "debug") *out = LogLevel::kDebug;
  else if (s == "info") *out = LogLevel::kInfo;
  else if (s == "warning" || s == "warn") *out = LogLevel::kWarning;
  else if (s == "error") *out = LogLevel::kError;
  else return false;
  return true;
}

void SetLogPrefix(const std::string& prefix) {
  std::lock_guard<std::mutex> l(g_prefix_mu);
  g_prefix = prefix;
}

void LogToSyslog(const std::string& ident) {
  std::lock_guard<std::mutex> l(g_prefix_mu);
  if (g_syslog) closelog();
  g_ident = ident;
  openlog(g_ident.c_str(), LOG_PID, LOG_DAEMON);
  g_syslog = true;
}

void LogToStderr() {
  std::lock_guard<std::mutex> l(g_prefix_mu);
  if (!g_syslog) return;
  g_syslog = false;
  closelog();
}

LogMessage::LogMessage(LogLevel level, const char* file, int line) : level_(level) {
  const char* base = file;
  for (const char* p = file; *p; ++p)
    if (*p == '/') base = p + 1;
  std::string prefix;
  {
    std::lock_guard<std::mutex> l(g_prefix_mu);
    prefix = g_prefix;
    to_syslog_ = g_syslog;
    if (to_syslog_ && prefix == g_ident) prefix.clear();
  }
  static const bool journal = getenv("JOURNAL_STREAM") != nullptr;
  if (to_syslog_) {
    if (!prefix.empty()) stream_ << prefix << ' ';
    stream_ << LevelTag(level) << ' ' << base << ':' << line << "] ";
  } else if (journal) {
    stream_ << '<' << SyslogPriority(level) << '>' << prefix << ' ' << LevelTag(level) << ' '
            << base << ':' << line << "] ";
  } else {
    auto now = std::chrono::system_clock::now();
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    struct tm tm;
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    char msbuf[8];
    std::snprintf(msbuf, sizeof msbuf, ".%03d", static_cast<int>(ms.count()));
    stream_ << buf << msbuf << ' ' << prefix << ' ' << LevelTag(level) << ' ' << base << ':'
            << line << "] ";
  }
}

LogMessage::~LogMessage() {
  if (to_syslog_) {
    syslog(SyslogPriority(level_), "%s", stream_.str().c_str());
    return;
  }
  stream_ << '\n';
  const std::string s = stream_.str();
  // One write per line so concurrent threads do not interleave.
  ssize_t ignored = ::write(STDERR_FILENO, s.data(), s.size());
  (void)ignored;
}

}  // namespace replfs
