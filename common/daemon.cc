#include "common/daemon.h"

#include <signal.h>
#include <systemd/sd-daemon.h>

#include <chrono>

#include "common/log.h"

namespace replfs {

void SetUpDaemonSignals() {
  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTermination() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
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

WatchdogPinger::WatchdogPinger() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
  const auto period = std::chrono::microseconds(usec / 2);
  thread_ = std::thread([this, period] {
    std::unique_lock<std::mutex> l(mu_);
    while (!stop_) {
      sd_notify(0, "WATCHDOG=1");
      cv_.wait_for(l, period, [this] { return stop_; });
    }
  });
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
