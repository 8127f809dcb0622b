// Logging to stderr (journald adds the timestamp when run under systemd),
// or to syslog for a process that lost its stderr (the FUSE client mounted
// in the background). Usage: LOG(INFO) << "datad " << addr << " registered";
#pragma once

#include <sstream>
#include <string>

namespace replfs {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug", "info", "warning", "error".
bool ParseLogLevel(const std::string& s, LogLevel* out);
// Prefix every line with this program name ("metad", "datad 127.0.0.1:2222").
void SetLogPrefix(const std::string& prefix);

// From now on every line goes to syslog(3) instead of stderr: openlog(ident,
// LOG_PID, LOG_DAEMON), priorities debug/info/warning/error = LOG_DEBUG,
// LOG_INFO, LOG_WARNING, LOG_ERR, no timestamp (syslog adds one), the
// prefix only when it differs from `ident`. For a daemonised process whose
// fd 2 is /dev/null; journald receives syslog as well (`journalctl -t
// ident`). Call it before other threads log (openlog keeps the ident).
void LogToSyslog(const std::string& ident);
// Back to stderr (the default).
void LogToStderr();

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  bool to_syslog_ = false;  // where this line goes, decided when it starts
  std::ostringstream stream_;
};

}  // namespace replfs

#define REPLFS_LOG_DEBUG ::replfs::LogLevel::kDebug
#define REPLFS_LOG_INFO ::replfs::LogLevel::kInfo
#define REPLFS_LOG_WARNING ::replfs::LogLevel::kWarning
#define REPLFS_LOG_ERROR ::replfs::LogLevel::kError

// Turns the stream expression into void so LOG can sit in a ?: (which,
// unlike an if/else macro, is safe inside an unbraced if).
namespace replfs {
struct LogVoidify {
  void operator&(std::ostream&) {}
};
}  // namespace replfs

#define LOG(level)                                                        \
  (REPLFS_LOG_##level < ::replfs::GetLogLevel())                          \
      ? (void)0                                                           \
      : ::replfs::LogVoidify() &                                          \
            ::replfs::LogMessage(REPLFS_LOG_##level, __FILE__, __LINE__).stream()
