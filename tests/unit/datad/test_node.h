// An in-process datad for DataService tests: a BlockStore in `dir`, the
// Replicator with its worker pool and peer connections, the real handler and
// an RpcServer on 127.0.0.1:0, plus a client pool to call it.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/crc32c.h"
#include "daemons/datad/data_service.h"
#include "daemons/datad/replicator.h"
#include "common/worker_pool.h"
#include "tests/unit/datad/store_util.h"
#include "thrift/client_pool.h"
#include "thrift/server.h"

namespace replfs::datad::testnode {

using Client = rpc::DataServiceClient;

inline net::RpcOptions FastOptions() {
  net::RpcOptions o;
  o.connect_timeout_ms = 500;
  o.rpc_timeout_ms = 5000;
  o.attempts = 1;
  o.budget_ms = 5000;
  return o;
}

class TestNode {
 public:
  // Starts serving; `advertise` overrides the address the handler believes
  // is its own (default: the bound one); `peer_timeout_ms` is the RPC
  // timeout of its forwards. Check ok() after construction.
  explicit TestNode(const std::string& dir, int64_t block_size = 4096,
                    const std::string& advertise = "", int64_t peer_timeout_ms = 5000) {
    status_ = BlockStore::Open(dir, block_size, &store_);
    if (!status_.ok()) return;
    workers_ = std::make_unique<WorkerPool>(4);
    net::RpcOptions peer_opts = FastOptions();
    peer_opts.rpc_timeout_ms = peer_timeout_ms;
    peers_ = std::make_unique<PeerPools>(peer_opts);
    replicator_ = std::make_unique<Replicator>(store_.get(), peers_.get(), workers_.get());
    handler_ = std::make_shared<DataServiceHandler>(store_.get(), replicator_.get());
    net::ServerOptions so;
    so.listen = "127.0.0.1:0";
    so.allow_socket_activation = false;
    server_ = std::make_unique<net::RpcServer>(
        std::make_shared<rpc::DataServiceProcessor>(handler_), so);
    status_ = server_->Start();
    if (!status_.ok()) return;
    addr_ = "127.0.0.1:" + std::to_string(server_->port());
    handler_->set_advertised_addr(advertise.empty() ? addr_ : advertise);
    client_ = std::make_unique<net::ClientPool<Client>>(HostPort{"127.0.0.1", server_->port()},
                                                        FastOptions());
  }
  ~TestNode() {
    if (server_) server_->Stop();
    if (workers_) workers_->Stop();
  }
  TestNode(const TestNode&) = delete;
  TestNode& operator=(const TestNode&) = delete;

  const Status& status() const { return status_; }
  const std::string& addr() const { return addr_; }
  BlockStore* store() { return store_.get(); }
  Replicator* replicator() { return replicator_.get(); }

  Status Call(const std::function<void(Client&)>& fn) {
    return client_->Call("test", net::Idempotency::kIdempotent, fn);
  }
  // CreateChunk through this node's DataService (OK if held at `version`).
  Status Create(int64_t chunk, int64_t version) {
    return Call([&](Client& c) { c.CreateChunk(chunk, version); });
  }
  // What metad's allocation does, then the write: creates the chunk (if
  // absent) on this node and on every node in `forward`, then Write().
  Status Put(int64_t chunk, int64_t version, int64_t off, const std::string& data,
             const std::vector<std::string>& forward = {}, rpc::WriteReply* reply = nullptr) {
    REPLFS_RETURN_IF_ERROR(Create(chunk, version));
    for (const std::string& addr : forward) {
      HostPort hp;
      if (!ParseHostPort(addr, &hp).ok()) continue;  // the write itself reports a bad address
      net::ClientPool<Client> peer(hp, FastOptions());
      // A dead peer is the test's business: the write lists it as failed.
      (void)peer.Call("test", net::Idempotency::kIdempotent,
                      [&](Client& c) { c.CreateChunk(chunk, version); });
    }
    return Write(chunk, version, off, data, forward, reply);
  }
  // Write through this node's DataService; *reply (optional) gets the reply.
  Status Write(int64_t chunk, int64_t version, int64_t off, const std::string& data,
               const std::vector<std::string>& forward = {}, rpc::WriteReply* reply = nullptr,
               bool sync = false) {
    const auto crc = static_cast<int32_t>(Crc32c(data));
    rpc::WriteReply r;
    Status s = Call([&](Client& c) { c.Write(r, chunk, version, off, data, crc, forward, sync); });
    if (reply != nullptr) *reply = r;
    return s;
  }

 private:
  Status status_;
  std::unique_ptr<BlockStore> store_;
  std::unique_ptr<WorkerPool> workers_;
  std::unique_ptr<PeerPools> peers_;
  std::unique_ptr<Replicator> replicator_;
  std::shared_ptr<DataServiceHandler> handler_;
  std::unique_ptr<net::RpcServer> server_;
  std::string addr_;
  std::unique_ptr<net::ClientPool<Client>> client_;
};

}  // namespace replfs::datad::testnode
