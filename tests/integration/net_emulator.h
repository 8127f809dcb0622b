// EmulatedNetwork: test "hosts" on one machine, each a network namespace of
// its own with one interface (eth0, an address in 10.231.0.0/24), joined by
// a switch that runs as a thread of the test process. Each host's eth0 is a
// TAP device; the switch reads every Ethernet frame from it, learns source
// MACs, and forwards the frame to the port of its destination (all other
// ports for broadcasts and unknown destinations) after applying the link
// settings of both ends: delay with jitter, random loss, link down, and
// blocks between two given hosts (a partition that leaves every process
// running). This kernel has no netem qdisc, so the impairments live here.
//
// Traffic never leaves these namespaces: the root namespace has no interface
// on the switch. Processes run in a host with Prefix(host) + argv (nsenter
// into the network namespace only: the mount namespace is shared, so a FUSE
// mount made by a client "host" is visible to the test).
//
// Cleanup: the destructor stops the switch (closing the TAP devices) and
// deletes the namespaces; namespaces left by a test process that died are
// deleted by the next EmulatedNetwork (their names carry the pid).
//
// Thread-safe: link settings may change while the switch forwards.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace replfs::testing {

class EmulatedNetwork {
 public:
  // One end of a host's link, applied to frames to and from that host.
  struct Link {
    int delay_ms = 0;   // one way, added to every frame in each direction
    int jitter_ms = 0;  // +- uniformly; frames between two ports keep their order
    double loss = 0;    // probability that a frame is dropped, each direction
    bool down = false;  // every frame to or from the host is dropped
  };
  struct Counters {
    int64_t forwarded = 0;
    int64_t dropped = 0;
    std::map<std::string, int64_t> bytes_from;  // host -> bytes of frames it sent
  };

  // Why no EmulatedNetwork can be made here ("" if it can): needs root, the
  // `ip` and `nsenter` tools, network namespaces and /dev/net/tun.
  static std::string SkipReason();

  // `seed` drives loss and jitter (printed by tests that use them).
  explicit EmulatedNetwork(uint64_t seed = 1);
  ~EmulatedNetwork();
  EmulatedNetwork(const EmulatedNetwork&) = delete;
  EmulatedNetwork& operator=(const EmulatedNetwork&) = delete;

  // Creates host `name` (a namespace with lo and eth0 up) and gives it the
  // next address. Call before Start().
  ::testing::AssertionResult AddHost(const std::string& name);
  // Starts forwarding. Hosts cannot be added afterwards.
  ::testing::AssertionResult Start();

  const std::string& Ip(const std::string& host) const;
  // The network namespace's name (`ip netns` / /run/netns).
  std::string Netns(const std::string& host) const;
  // Runs `fn` on a thread inside `host`'s network namespace (sockets it
  // opens live there) and waits for it; false if the namespace is gone.
  bool Run(const std::string& host, const std::function<void()>& fn) const;
  // argv prefix that runs a command inside `host`'s network namespace.
  std::vector<std::string> Prefix(const std::string& host) const;
  // Whether a TCP connection from `from` to ip:port succeeds within
  // `timeout_ms` (the connect is made from inside `from`'s namespace).
  bool Accepts(const std::string& from, const std::string& ip, int port, int timeout_ms = 1000) const;

  void SetLink(const std::string& host, const Link& link);
  Link GetLink(const std::string& host) const;
  // Drops every frame between hosts a and b (both ways) while `blocked`.
  void Block(const std::string& a, const std::string& b, bool blocked);
  // Down(host) / Up(host): SetLink with `down` toggled.
  void Down(const std::string& host);
  void Up(const std::string& host);
  Counters counters() const;

 private:
  struct Port {
    std::string host;
    std::string ip;
    int fd = -1;
  };
  struct Pending;  // a frame waiting for its delivery time
  // Min-heap order of the delivery queue: (due, seq).
  static bool Later(const std::unique_ptr<Pending>& a, const std::unique_ptr<Pending>& b);

  void SwitchLoop();
  // Forwards one frame read from port `in` (called by the switch thread).
  void Forward(size_t in, const std::string& frame, int64_t now_us);
  int64_t DelayUs(const Link& a, const Link& b);
  size_t PortOf(const std::string& host) const;

  const std::string prefix_;  // "rfs-<pid>-<n>-": namespace names start with it
  std::vector<Port> ports_;   // fixed once Start() ran
  std::thread thread_;
  int wake_fd_ = -1;  // eventfd: stops the switch
  std::atomic<bool> stop_{false};
  bool started_ = false;

  mutable std::mutex mu_;  // protects everything below
  std::map<std::string, Link> links_;
  std::set<std::pair<size_t, size_t>> blocked_;
  Counters counters_;
  std::mt19937_64 rng_;

  // Switch thread only.
  std::map<std::string, size_t> macs_;                // MAC (6 bytes) -> port
  std::map<std::pair<size_t, size_t>, int64_t> last_due_us_;  // keeps order per port pair
  std::vector<std::unique_ptr<Pending>> queue_;       // min-heap by due time
  uint64_t seq_ = 0;                                  // arrival order, for the heap
};

}  // namespace replfs::testing
