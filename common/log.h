// Logging to stderr (journald adds the timestamp when run under systemd).
// Usage: LOG(INFO) << "datad " << addr << " registered";
#pragma once

#include <sstream>

namespace replfs {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug", "info", "warning", "error".
bool ParseLogLevel(const std::string& s, LogLevel* out);
// Prefix every line with this program name ("metad", "datad 127.0.0.1:2222").
void SetLogPrefix(const std::string& prefix);

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
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
