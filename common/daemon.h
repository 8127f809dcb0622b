// What every daemon's main() needs from the service manager: readiness,
// watchdog pings, and waiting for SIGTERM/SIGINT. Works without systemd
// (the notifications are then no-ops).
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace replfs {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (call first thing in
// main(), before any thread starts, so they are delivered only to
// WaitForTermination) and ignores SIGPIPE.
void SetUpDaemonSignals();

// Blocks until SIGTERM or SIGINT arrives; returns the signal number.
int WaitForTermination();

// sd_notify wrappers.
void NotifyReady(const std::string& status);
void NotifyStopping();
void NotifyStatus(const std::string& status);

// Sends WATCHDOG=1 every WATCHDOG_USEC/2 while alive, if systemd asked for a
// watchdog. Stops and joins in the destructor.
class WatchdogPinger {
 public:
  WatchdogPinger();
  ~WatchdogPinger();
  WatchdogPinger(const WatchdogPinger&) = delete;
  WatchdogPinger& operator=(const WatchdogPinger&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace replfs
