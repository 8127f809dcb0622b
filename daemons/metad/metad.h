// Metad: the metadata daemon as one object: the core (store, namespace,
// chunk map, registry, replica manager), the MetaService RPC server, a
// background thread that marks silent datads down, and the repair scheduler. Built by main(); tests build it on port 0.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "common/config.h"
#include "common/status.h"
#include "daemons/metad/clock.h"
#include "daemons/metad/core.h"
#include "daemons/metad/repair.h"
#include "thrift/server.h"

namespace replfs::metad {

class Metad {
 public:
  // `config.metad_data_dir` must exist. `clock` null: the steady clock.
  explicit Metad(Config config, const Clock* clock = nullptr);
  ~Metad();  // Stop()s
  Metad(const Metad&) = delete;
  Metad& operator=(const Metad&) = delete;

  // Opens the store, binds config.metad_listen (or adopts the systemd
  // socket) and starts the liveness and repair threads. An error names what failed.
  Status Start();
  // Stops serving and joins every thread. Immediate; idempotent.
  void Stop();

  int port() const { return server_ ? server_->port() : 0; }
  MetaCore* core() { return core_.get(); }
  // The TLS context loaded from tls.* at Start (null without TLS).
  std::shared_ptr<net::TlsContext> tls() const { return tls_; }

 private:
  void LivenessLoop();

  const Config config_;
  SteadyClock steady_;
  const Clock* const clock_;
  std::shared_ptr<net::TlsContext> tls_;
  std::unique_ptr<MetaCore> core_;
  std::unique_ptr<RepairScheduler> repair_;  // dies before core_
  std::unique_ptr<net::RpcServer> server_;

  std::mutex mu_;  // protects stop_ (std::mutex: used with a condition variable)
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread liveness_;
};

}  // namespace replfs::metad
