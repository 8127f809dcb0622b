#include "common/log.h"

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
std::mutex g_prefix_mu;
std::string g_prefix = "replfs";

const char* LevelTag(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "D";
    case LogLevel::kInfo: return "I";
    case LogLevel::kWarning: return "W";
    case LogLevel::kError: return "E";
  }
  return "?";
}

// journald understands "<N>" priority prefixes when stderr is the journal.
int SyslogPriority(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return 7;
    case LogLevel::kInfo: return 6;
    case LogLevel::kWarning: return 4;
    case LogLevel::kError: return 3;
  }
  return 6;
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

LogMessage::LogMessage(LogLevel level, const char* file, int line) : level_(level) {
  const char* base = file;
  for (const char* p = file; *p; ++p)
    if (*p == '/') base = p + 1;
  std::string prefix;
  {
    std::lock_guard<std::mutex> l(g_prefix_mu);
    prefix = g_prefix;
  }
  static const bool journal = getenv("JOURNAL_STREAM") != nullptr;
  if (journal) {
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
  stream_ << '\n';
  const std::string s = stream_.str();
  // One write per line so concurrent threads do not interleave.
  ssize_t ignored = ::write(STDERR_FILENO, s.data(), s.size());
  (void)ignored;
}

}  // namespace replfs
