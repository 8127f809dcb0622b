#include "tests/integration/net_emulator.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>

#include "tests/integration/process.h"

namespace replfs::testing {
namespace {

constexpr int kMtu = 9000;        // fewer frames (and syscalls) per byte than 1500
constexpr size_t kMaxFrame = 65536;
constexpr int kReadBurst = 64;    // frames read from one port before looking at the others

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

CommandResult RunIp(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, std::chrono::seconds(30));
}

// Runs `fn` on a thread that has entered network namespace `netns` (setns
// changes only the calling thread), so the caller's own namespace is never
// touched. Returns false if the namespace cannot be entered.
bool InNetns(const std::string& netns, const std::function<void()>& fn) {
  bool entered = false;
  std::thread t([&] {
    const int fd = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    entered = setns(fd, CLONE_NEWNET) == 0;
    close(fd);
    if (entered) fn();
  });
  t.join();
  return entered;
}

// Namespaces of earlier test processes that died before cleaning up.
void DeleteStaleNamespaces() {
  DIR* d = opendir("/run/netns");
  if (d == nullptr) return;
  std::vector<std::string> stale;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.rfind("rfs-", 0) != 0) continue;
    const pid_t pid = static_cast<pid_t>(std::strtol(name.c_str() + 4, nullptr, 10));
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) stale.push_back(name);
  }
  closedir(d);
  for (const std::string& n : stale) RunIp({"netns", "del", n});
}

}  // namespace

struct EmulatedNetwork::Pending {
  int64_t due_us;
  uint64_t seq;
  size_t port;
  std::string frame;
};

std::string EmulatedNetwork::SkipReason() {
  if (geteuid() != 0) return "network namespaces need root";
  if (access("/dev/net/tun", R_OK | W_OK) != 0) return "/dev/net/tun is missing";
  if (RunCommand({"nsenter", "--version"}).exit_code != 0) return "nsenter (util-linux) is missing";
  const std::string probe = "rfs-" + std::to_string(getpid()) + "-probe";
  CommandResult r = RunIp({"netns", "add", probe});
  if (r.exit_code != 0) return "cannot create a network namespace: " + r.Describe();
  RunIp({"netns", "del", probe});
  return "";
}

EmulatedNetwork::EmulatedNetwork(uint64_t seed)
    : prefix_([] {
        static std::atomic<int> n{0};
        return "rfs-" + std::to_string(getpid()) + "-" + std::to_string(n++) + "-";
      }()),
      rng_(seed) {
  DeleteStaleNamespaces();
}

EmulatedNetwork::~EmulatedNetwork() {
  stop_ = true;
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  for (Port& p : ports_) {
    if (p.fd >= 0) close(p.fd);
    RunIp({"netns", "del", prefix_ + p.host});
  }
  if (wake_fd_ >= 0) close(wake_fd_);
}

::testing::AssertionResult EmulatedNetwork::AddHost(const std::string& name) {
  if (started_) return ::testing::AssertionFailure() << "AddHost(" << name << ") after Start()";
  const std::string ns = prefix_ + name;
  CommandResult r = RunIp({"netns", "add", ns});
  if (r.exit_code != 0) return ::testing::AssertionFailure() << "ip netns add " << ns << ": " << r.Describe();
  Port p;
  p.host = name;
  p.ip = "10.231.0." + std::to_string(10 + ports_.size());
  ports_.push_back(p);  // from here on the destructor deletes the namespace
  Port& port = ports_.back();
  std::string error;
  const bool entered = InNetns(ns, [&] {
    port.fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (port.fd < 0) {
      error = std::string("open /dev/net/tun: ") + std::strerror(errno);
      return;
    }
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::strncpy(ifr.ifr_name, "eth0", IFNAMSIZ - 1);
    if (ioctl(port.fd, TUNSETIFF, &ifr) != 0) error = std::string("TUNSETIFF: ") + std::strerror(errno);
  });
  if (!entered) return ::testing::AssertionFailure() << "cannot enter namespace " << ns;
  if (!error.empty()) return ::testing::AssertionFailure() << name << ": " << error;
  for (const std::vector<std::string>& cmd :
       {std::vector<std::string>{"-n", ns, "link", "set", "lo", "up"},
        std::vector<std::string>{"-n", ns, "link", "set", "eth0", "mtu", std::to_string(kMtu), "up"},
        std::vector<std::string>{"-n", ns, "addr", "add", port.ip + "/24", "dev", "eth0"}}) {
    r = RunIp(cmd);
    if (r.exit_code != 0) return ::testing::AssertionFailure() << "ip " << cmd[2] << " in " << ns << ": " << r.Describe();
  }
  std::lock_guard<std::mutex> l(mu_);
  links_[name] = Link{};
  counters_.bytes_from[name] = 0;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult EmulatedNetwork::Start() {
  if (started_) return ::testing::AssertionSuccess();
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return ::testing::AssertionFailure() << "eventfd: " << std::strerror(errno);
  started_ = true;
  thread_ = std::thread([this] { SwitchLoop(); });
  return ::testing::AssertionSuccess();
}

size_t EmulatedNetwork::PortOf(const std::string& host) const {
  for (size_t i = 0; i < ports_.size(); ++i)
    if (ports_[i].host == host) return i;
  ADD_FAILURE() << "EmulatedNetwork: no host " << host;
  return ports_.size();
}

const std::string& EmulatedNetwork::Ip(const std::string& host) const {
  static const std::string kNone;
  const size_t i = PortOf(host);
  return i < ports_.size() ? ports_[i].ip : kNone;
}

std::string EmulatedNetwork::Netns(const std::string& host) const { return prefix_ + host; }

bool EmulatedNetwork::Run(const std::string& host, const std::function<void()>& fn) const {
  return InNetns(Netns(host), fn);
}

std::vector<std::string> EmulatedNetwork::Prefix(const std::string& host) const {
  return {"nsenter", "--net=/run/netns/" + Netns(host), "--"};
}

bool EmulatedNetwork::Accepts(const std::string& from, const std::string& ip, int port,
                              int timeout_ms) const {
  bool ok = false;
  InNetns(Netns(from), [&] {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      ok = true;
    } else if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      ok = poll(&p, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    close(fd);
  });
  return ok;
}

void EmulatedNetwork::SetLink(const std::string& host, const Link& link) {
  std::lock_guard<std::mutex> l(mu_);
  links_[host] = link;
}

EmulatedNetwork::Link EmulatedNetwork::GetLink(const std::string& host) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = links_.find(host);
  return it == links_.end() ? Link{} : it->second;
}

void EmulatedNetwork::Down(const std::string& host) {
  Link k = GetLink(host);
  k.down = true;
  SetLink(host, k);
}

void EmulatedNetwork::Up(const std::string& host) {
  Link k = GetLink(host);
  k.down = false;
  SetLink(host, k);
}

void EmulatedNetwork::Block(const std::string& a, const std::string& b, bool blocked) {
  const size_t pa = PortOf(a), pb = PortOf(b);
  std::lock_guard<std::mutex> l(mu_);
  for (auto pair : {std::make_pair(pa, pb), std::make_pair(pb, pa)}) {
    if (blocked) {
      blocked_.insert(pair);
    } else {
      blocked_.erase(pair);
    }
  }
}

EmulatedNetwork::Counters EmulatedNetwork::counters() const {
  std::lock_guard<std::mutex> l(mu_);
  return counters_;
}

bool EmulatedNetwork::Later(const std::unique_ptr<Pending>& a, const std::unique_ptr<Pending>& b) {
  return a->due_us != b->due_us ? a->due_us > b->due_us : a->seq > b->seq;
}

int64_t EmulatedNetwork::DelayUs(const Link& a, const Link& b) {
  int64_t us = 1000ll * (a.delay_ms + b.delay_ms);
  for (const Link* k : {&a, &b}) {
    if (k->jitter_ms <= 0) continue;
    std::uniform_int_distribution<int64_t> j(-1000ll * k->jitter_ms, 1000ll * k->jitter_ms);
    us += j(rng_);
  }
  return std::max<int64_t>(us, 0);
}

void EmulatedNetwork::Forward(size_t in, const std::string& frame, int64_t now_us) {
  if (frame.size() < 14) return;
  const std::string dst = frame.substr(0, 6), src = frame.substr(6, 6);
  macs_[src] = in;
  {
    std::lock_guard<std::mutex> l(mu_);
    counters_.bytes_from[ports_[in].host] += static_cast<int64_t>(frame.size());
  }
  std::vector<size_t> targets;
  auto known = macs_.find(dst);
  if ((static_cast<uint8_t>(dst[0]) & 1) != 0 || known == macs_.end()) {
    for (size_t t = 0; t < ports_.size(); ++t)
      if (t != in) targets.push_back(t);
  } else if (known->second != in) {
    targets.push_back(known->second);
  }
  for (size_t t : targets) {
    int64_t delay = 0;
    {
      std::lock_guard<std::mutex> l(mu_);
      const Link& a = links_[ports_[in].host];
      const Link& b = links_[ports_[t].host];
      const double keep = (1 - a.loss) * (1 - b.loss);
      if (a.down || b.down || blocked_.count({in, t}) ||
          std::uniform_real_distribution<double>(0, 1)(rng_) >= keep) {
        ++counters_.dropped;
        continue;
      }
      delay = DelayUs(a, b);
      ++counters_.forwarded;
    }
    int64_t& last = last_due_us_[{in, t}];
    const int64_t due = std::max(now_us + delay, last);
    last = due;
    if (due <= now_us) {
      (void)!write(ports_[t].fd, frame.data(), frame.size());  // a full TAP queue drops, like a NIC
      continue;
    }
    queue_.push_back(std::make_unique<Pending>(Pending{due, seq_++, t, frame}));
    std::push_heap(queue_.begin(), queue_.end(), Later);
  }
}

void EmulatedNetwork::SwitchLoop() {
  std::vector<pollfd> fds(ports_.size() + 1);
  for (size_t i = 0; i < ports_.size(); ++i) fds[i] = {ports_[i].fd, POLLIN, 0};
  fds.back() = {wake_fd_, POLLIN, 0};
  std::string buf(kMaxFrame, '\0');
  while (!stop_) {
    int64_t now = NowUs();
    while (!queue_.empty() && queue_.front()->due_us <= now) {
      std::pop_heap(queue_.begin(), queue_.end(), Later);
      const Pending& p = *queue_.back();
      (void)!write(ports_[p.port].fd, p.frame.data(), p.frame.size());
      queue_.pop_back();
    }
    timespec ts{0, 100 * 1000 * 1000};  // idle: look again every 100 ms
    if (!queue_.empty()) {
      const int64_t wait = std::max<int64_t>(queue_.front()->due_us - now, 0);
      ts = {static_cast<time_t>(wait / 1000000), static_cast<long>((wait % 1000000) * 1000)};
    }
    if (ppoll(fds.data(), fds.size(), &ts, nullptr) < 0 && errno != EINTR) break;
    now = NowUs();
    for (size_t i = 0; i < ports_.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      for (int n = 0; n < kReadBurst; ++n) {
        const ssize_t got = read(ports_[i].fd, buf.data(), buf.size());
        if (got <= 0) break;
        Forward(i, buf.substr(0, static_cast<size_t>(got)), now);
      }
    }
  }
}

}  // namespace replfs::testing
