#include "fuse/stats_reporter.h"

#include <signal.h>

#include <cerrno>
#include <ctime>

#include "common/log.h"

namespace replfs::client {

StatsReporter::StatsReporter() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &s, nullptr);
}

StatsReporter::~StatsReporter() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (meta_ && data_) LOG(INFO) << "at unmount: " << Line(*meta_, *data_);
}

std::string StatsReporter::Line(const RpcCounters& meta, const RpcCounters& data) {
  return "rpc: metad " + meta.ToString() + "; datads " + data.ToString();
}

void StatsReporter::Start(std::shared_ptr<const RpcCounters> meta, std::shared_ptr<const RpcCounters> data) {
  meta_ = std::move(meta);
  data_ = std::move(data);
  thread_ = std::thread([this] {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    // A short timeout so the destructor's stop is seen promptly.
    const timespec tick{0, 200 * 1000 * 1000};
    while (!stop_) {
      if (sigtimedwait(&s, nullptr, &tick) == SIGUSR1) LOG(INFO) << "SIGUSR1: " << Line(*meta_, *data_);
    }
  });
}

}  // namespace replfs::client
