// Datad: one data daemon. Owns the block store, the forwarding machinery
// (worker pool, connections to other datads, Replicator), the scrubber, the
// DataService handler, the RPC server and the heartbeater; main() builds one
// and Start()s it.
#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "common/status.h"
#include "daemons/datad/block_store.h"
#include "daemons/datad/data_service.h"
#include "daemons/datad/heartbeat.h"
#include "daemons/datad/io_activity.h"
#include "daemons/datad/replicator.h"
#include "daemons/datad/scrubber.h"
#include "common/worker_pool.h"
#include "thrift/server.h"

namespace replfs::datad {

// Fills in the defaults that depend on other keys: an empty datad.data_dir
// becomes /var/lib/replfs/datad-<listen port>.
Status ResolveDataDir(Config* config);

// The address to register as: `advertise` if set, else the listen address
// with a wildcard/empty host replaced by 127.0.0.1 and the bound port.
Status AdvertisedAddress(const std::string& advertise, const std::string& listen, int bound_port,
                         std::string* out);

class Datad {
 public:
  // Threads that forward primary writes to secondaries (WorkerPool: a
  // primary also forwards on its own thread, so this bounds parallelism,
  // never progress).
  static constexpr int kForwardThreads = 32;

  // config.datad_data_dir must be set (see ResolveDataDir).
  explicit Datad(Config config);
  ~Datad();  // Stop()s
  Datad(const Datad&) = delete;
  Datad& operator=(const Datad&) = delete;

  // Creates the data dir if missing (0750), opens the store, starts serving
  // and heartbeating. On failure everything started is stopped again.
  Status Start();
  // Stops heartbeating and serving, syncs and closes the store. Idempotent.
  Status Stop();

  // Valid after Start().
  const std::string& advertised() const { return advertised_; }
  int port() const { return server_ ? server_->port() : 0; }
  // The TLS context loaded from tls.* at Start (null without TLS).
  std::shared_ptr<net::TlsContext> tls() const { return tls_; }
  BlockStore* store() { return store_.get(); }
  Heartbeater* heartbeater() { return heartbeater_.get(); }
  Scrubber* scrubber() { return scrubber_.get(); }

 private:
  const Config config_;
  std::unique_ptr<BlockStore> store_;
  std::unique_ptr<WorkerPool> workers_;
  std::unique_ptr<PeerPools> peers_;
  std::unique_ptr<Replicator> replicator_;
  IoActivity activity_;  // client requests, for the scrubber and idle compaction
  std::unique_ptr<Scrubber> scrubber_;
  std::shared_ptr<DataServiceHandler> handler_;
  std::shared_ptr<net::TlsContext> tls_;
  std::unique_ptr<net::RpcServer> server_;
  std::unique_ptr<Heartbeater> heartbeater_;
  std::string advertised_;
  bool stopped_ = false;  // Stop() ran; Start() and Stop() are called from one thread
};

}  // namespace replfs::datad
