#include "common/daemon.h"

#include <signal.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "common/log.h"

namespace replfs {

namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void SetUpDaemonSignals() {
  signal(SIGPIPE, SIG_IGN);
  const sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTermination(const std::function<bool()>& keep_running) {
  const sigset_t set = TerminationSignals();
  const timespec tick{1, 0};
  for (;;) {
    int sig = 0;
    if (keep_running) {
      sig = sigtimedwait(&set, nullptr, &tick);
      if (sig < 0) {
        if (errno == EAGAIN && !keep_running()) return 0;
        continue;
      }
    } else if (sigwait(&set, &sig) != 0) {
      continue;
    }
    if (sig == SIGHUP) {
      LOG(INFO) << "SIGHUP ignored (restart the service to apply configuration changes)";
      continue;
    }
    return sig;
  }
}

void NotifyReady(const std::string& status) {
  sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str());
}

void NotifyStopping() { sd_notify(0, "STOPPING=1\nSTATUS=stopping"); }

void NotifyStatus(const std::string& status) { sd_notifyf(0, "STATUS=%s", status.c_str()); }

WatchdogPinger::WatchdogPinger(Probe probe)
    : probe_(std::move(probe)), notify_([] { sd_notify(0, "WATCHDOG=1"); }) {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(/*unset_environment=*/0, &usec) <= 0 || usec == 0) return;
  Start(std::max(std::chrono::milliseconds(1),
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::microseconds(usec / 4))));
}

WatchdogPinger::WatchdogPinger(Probe probe, std::chrono::milliseconds period, Notify notify)
    : probe_(std::move(probe)), notify_(std::move(notify)) {
  Start(period);
}

void WatchdogPinger::Start(std::chrono::milliseconds period) {
  LOG(INFO) << "watchdog: health probe every " << period.count() << " ms";
  thread_ = std::thread([this, period] { Run(period); });
}

void WatchdogPinger::Run(std::chrono::milliseconds period) {
  bool healthy = true;
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    // The probe may take a while (it makes an RPC): run it unlocked so that
    // the destructor only waits for it to return, never for a whole period.
    l.unlock();
    const bool passed = probe_();
    if (passed) notify_();
    if (passed != healthy) {
      if (passed) {
        LOG(INFO) << "watchdog: health probe passes again, WATCHDOG=1 resumed";
      } else {
        LOG(WARNING) << "watchdog: health probe failed, WATCHDOG=1 withheld until it passes "
                        "(systemd restarts a daemon that misses WatchdogSec)";
      }
      healthy = passed;
    }
    l.lock();
    cv_.wait_for(l, period, [this] { return stop_; });
  }
}

WatchdogPinger::~WatchdogPinger() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace replfs
