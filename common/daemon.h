// What every daemon's main() needs from the service manager: readiness,
// watchdog pings while the daemon is healthy, and waiting for SIGTERM/SIGINT.
// Works without systemd (the notifications are then no-ops).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace replfs {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (call first thing in
// main(), before any thread starts, so they are delivered only to
// WaitForTermination) and ignores SIGPIPE.
void SetUpDaemonSignals();

// Blocks until SIGTERM or SIGINT arrives and returns the signal number. With
// `keep_running`, also calls it about once a second (on the calling thread)
// and returns 0 as soon as it returns false.
int WaitForTermination(const std::function<bool()>& keep_running = nullptr);

// sd_notify wrappers.
void NotifyReady(const std::string& status);
void NotifyStopping();
void NotifyStatus(const std::string& status);

// Sends WATCHDOG=1 to systemd while the daemon is healthy, so that systemd
// (WatchdogSec=, Restart=on-failure) restarts a daemon that is alive but
// cannot do its work, not only one that is dead.
//
// Every period the pinger runs `probe` and sends one ping only if it passed.
// With systemd's watchdog the period is WATCHDOG_USEC/4: systemd restarts
// the daemon after about three consecutive failed probes, and one slow probe
// costs nothing (with WATCHDOG_USEC/2, a single failure would already let
// the deadline pass). Without a watchdog (no WATCHDOG_USEC, e.g. run by hand)
// no thread is started and `probe` is never called.
//
// A change between passing and failing is logged; the probe logs why it
// failed. Thread-safe: the destructor stops and joins the thread, waiting for
// a probe in progress to return.
class WatchdogPinger {
 public:
  // Returns whether the daemon can serve right now. Runs on the pinger's
  // thread, without locks held; must return well within the period (bound
  // its own timeouts).
  using Probe = std::function<bool()>;
  // Sends one ping. The default: sd_notify(0, "WATCHDOG=1").
  using Notify = std::function<void()>;

  // Pings systemd, if it asked for a watchdog.
  explicit WatchdogPinger(Probe probe);
  // Pings through `notify` every `period` (tests).
  WatchdogPinger(Probe probe, std::chrono::milliseconds period, Notify notify);
  ~WatchdogPinger();
  WatchdogPinger(const WatchdogPinger&) = delete;
  WatchdogPinger& operator=(const WatchdogPinger&) = delete;

 private:
  void Start(std::chrono::milliseconds period);
  void Run(std::chrono::milliseconds period);

  // Constant after construction.
  const Probe probe_;
  const Notify notify_;

  std::mutex mu_;  // protects stop_ (std::mutex: used with a condition variable)
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace replfs
