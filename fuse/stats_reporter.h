// StatsReporter: the client's answer to `kill -USR1 <pid of replfs>`: one
// INFO log line with every call it has sent to metad and to the datads
// since it mounted (by method, retries included), and the same line once
// more when it unmounts. Operators use it to see what a workload costs in
// round trips; the network tests use it to count them.
//
// The constructor blocks SIGUSR1 in the calling thread, and so in every
// thread created after it (construct it in main before the FUSE threads
// start); Start() runs a thread that waits for the signal. The destructor
// stops and joins that thread. Not copyable; Start at most once.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "fuse/rpc_counters.h"

namespace replfs::client {

class StatsReporter {
 public:
  StatsReporter();
  ~StatsReporter();
  StatsReporter(const StatsReporter&) = delete;
  StatsReporter& operator=(const StatsReporter&) = delete;

  // Starts listening; the counters are shared so they may outlive their
  // owners (the FUSE session destroys the client before this object).
  void Start(std::shared_ptr<const RpcCounters> meta, std::shared_ptr<const RpcCounters> data);

  // "rpc: metad total N: ...; datads total M: ..."
  static std::string Line(const RpcCounters& meta, const RpcCounters& data);

 private:
  std::shared_ptr<const RpcCounters> meta_, data_;  // set by Start, before the thread
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace replfs::client
