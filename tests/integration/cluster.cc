#include "tests/integration/cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>

#include "ctl/mountinfo.h"

#ifndef REPLFS_BIN_DIR
#error "REPLFS_BIN_DIR must name the build's bin directory"
#endif

namespace replfs::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kStartTimeout = seconds(30);
constexpr milliseconds kStopGrace = seconds(15);

// Polls `pred` with a short backoff until it holds or `timeout` passes.
bool Poll(const std::function<bool()>& pred, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto pause = milliseconds(1);
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(pause);
    if (pause < milliseconds(100)) pause *= 2;
  }
  return true;
}

// A loopback port the kernel considers free right now. Another process may
// take it before our daemon binds it: callers retry on EADDRINUSE.
int PickPort(std::set<int>* taken) {
  for (;;) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
    close(fd);
    if (port != 0 && taken->insert(port).second) return port;
  }
}

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::string Addr(int port) { return "127.0.0.1:" + std::to_string(port); }

std::string DescribeExit(int st) {
  if (WIFEXITED(st)) return "exit status " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return std::string("killed by signal ") + strsignal(WTERMSIG(st));
  return "wait status " + std::to_string(st);
}

}  // namespace

std::string IntegrationSkipReason() {
  if (access("/dev/fuse", R_OK | W_OK) != 0) return "/dev/fuse is missing or not accessible";
  if (geteuid() != 0) return "integration tests mount FUSE and chown files: run them as root";
  return "";
}

std::string BinaryPath(const std::string& name) {
  if (const char* env = std::getenv("REPLFS_TEST_BIN_PATH")) {
    std::istringstream dirs(env);
    std::string d;
    while (std::getline(dirs, d, ':')) {
      const std::string p = d + "/" + name;
      if (!d.empty() && access(p.c_str(), X_OK) == 0) return p;
    }
  }
  return std::string(REPLFS_BIN_DIR) + "/" + name;
}

Cluster::Cluster(Options opts) : opts_(opts), tmp_("replfs-it") {
  config_path_ = dir() + "/replfs.conf";
  mountpoint_ = dir() + "/mnt";
  mkdir(mountpoint_.c_str(), 0755);
  std::ofstream conf(config_path_);
  conf << "# written by the integration test harness\n"
       << "[metad]\n"
       << "dead_after_ms = " << opts_.dead_after_ms << "\n"
       << "fsync = " << (opts_.metad_fsync ? "true" : "false") << "\n"
       << "[datad]\n"
       << "heartbeat_interval_ms = " << opts_.heartbeat_interval_ms << "\n";
  if (opts_.chunk_size > 0) conf << "[cluster]\nchunk_size = " << opts_.chunk_size << "\n";
  metad_.data_dir = dir() + "/metad";
  datads_.resize(static_cast<size_t>(opts_.datads));
  for (size_t i = 0; i < datads_.size(); ++i) {
    datads_[i].data_dir = dir() + "/datad" + std::to_string(i);
  }
}

Cluster::~Cluster() {
  if (IsMounted()) RunCommand({"fusermount3", "-u", "-z", mountpoint_}, seconds(20));
  // SIGTERM everyone at once, then give each the rest of one grace period.
  std::vector<ChildProcess*> all;
  if (client_) all.push_back(client_.get());
  if (metad_.proc) all.push_back(metad_.proc.get());
  for (Daemon& d : datads_) {
    if (d.proc) all.push_back(d.proc.get());
  }
  for (ChildProcess* p : all) p->Signal(SIGTERM);
  const auto deadline = Clock::now() + seconds(5);
  for (ChildProcess* p : all) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (!p->WaitExit(std::max(left, milliseconds(0)))) p->Kill();
  }
  if (::testing::Test::HasFailure()) std::cerr << LogTails();
  if (IsMounted()) std::cerr << "cluster: " << mountpoint_ << " is still mounted\n";
}

std::vector<std::string> Cluster::DaemonArgv(const std::string& name, int port,
                                             const std::string& data_dir) const {
  if (name == "metad") {
    return {BinaryPath("metad"), "--config",   config_path_, "--listen",
            Addr(port),          "--data-dir", data_dir};
  }
  return {BinaryPath("datad"), "--config",   config_path_, "--listen", Addr(port), "--meta",
          meta_addr_,          "--data-dir", data_dir};
}

::testing::AssertionResult Cluster::Failure(const std::string& what) const {
  return ::testing::AssertionFailure() << what << "\n--- logs ---\n" << LogTails();
}

::testing::AssertionResult Cluster::StartListening(Daemon* d, const std::string& name,
                                                   bool may_change_port) {
  static std::set<int> taken;  // ports this process handed out already
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (d->port == 0 || (attempt > 0 && may_change_port)) d->port = PickPort(&taken);
    const std::string log = dir() + "/" + name + ".log";
    {
      std::ofstream(log, std::ios::app)
          << "=== harness: starting " << name << " on " << Addr(d->port) << " ===\n";
    }
    d->proc = std::make_unique<ChildProcess>(name, DaemonArgv(name, d->port, d->data_dir), log);
    std::string error;
    if (!d->proc->Start(&error)) return Failure(name + ": " + error);
    ChildProcess* p = d->proc.get();
    const bool settled = Poll([&] { return !p->Running() || Accepts(d->port); }, kStartTimeout);
    if (p->Running() && settled) return ::testing::AssertionSuccess();
    if (p->Running()) return Failure(name + " did not listen on " + Addr(d->port) + " in time");
    const std::string tail = TailFile(log, 20);
    const bool port_taken =
        tail.find("in use") != std::string::npos || tail.find("EADDRINUSE") != std::string::npos;
    if (!port_taken || !may_change_port) {
      return Failure(name + " exited at start (" + DescribeExit(p->wait_status()) + ")");
    }
  }
  return Failure(name + ": no free port after 5 attempts");
}

::testing::AssertionResult Cluster::StartMetad() {
  if (metad_.proc && metad_.proc->Running()) return ::testing::AssertionSuccess();
  const bool first = metad_.port == 0;
  auto r = StartListening(&metad_, "metad", first);
  meta_addr_ = Addr(metad_.port);
  return r;
}

::testing::AssertionResult Cluster::StartDatad(size_t i) {
  Daemon& d = datads_[i];
  if (d.proc && d.proc->Running()) return ::testing::AssertionSuccess();
  // A datad is known to metad by its address: it keeps its port for life.
  return StartListening(&d, "datad" + std::to_string(i), /*may_change_port=*/d.port == 0);
}

::testing::AssertionResult Cluster::Start() {
  for (const char* b : {"metad", "datad", "replfs", "fsctl"}) {
    if (access(BinaryPath(b).c_str(), X_OK) != 0) {
      return ::testing::AssertionFailure()
             << "binary " << BinaryPath(b) << " not found: build target '" << b
             << "' (or set REPLFS_TEST_BIN_PATH)";
    }
  }
  auto r = StartMetad();
  if (!r) return r;
  for (size_t i = 0; i < datads_.size(); ++i) {
    r = StartDatad(i);
    if (!r) return r;
  }
  return WaitServersUp(static_cast<int>(datads_.size()), kStartTimeout);
}

std::vector<std::string> Cluster::datad_addrs() const {
  std::vector<std::string> out;
  for (const Daemon& d : datads_) out.push_back(Addr(d.port));
  return out;
}

CommandResult Cluster::Fsctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BinaryPath("fsctl"), "--config", config_path_, "--meta",
                                   meta_addr_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, seconds(180));
}

bool Cluster::StatusJson(nlohmann::json* out, int* exit_code) {
  CommandResult r = Fsctl({"status", "--json"});
  *exit_code = r.exit_code;
  *out = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  return !out->is_discarded();
}

int64_t Cluster::BytesUsed() {
  nlohmann::json j;
  int rc = 0;
  if (!StatusJson(&j, &rc) || !j.contains("servers")) return -1;
  int64_t sum = 0;
  for (const auto& s : j["servers"]) sum += s["bytes_used"].get<int64_t>();
  return sum;
}

::testing::AssertionResult Cluster::WaitServersUp(int n, milliseconds timeout) {
  const std::vector<std::string> ours = datad_addrs();
  std::string last;
  const bool ok = Poll(
      [&] {
        nlohmann::json j;
        int rc = 0;
        if (!StatusJson(&j, &rc) || !j.contains("servers")) {
          last = j.is_discarded() ? "(no JSON)" : j.dump();
          return false;
        }
        last = j.dump();
        int up = 0;
        for (const auto& s : j["servers"]) {
          const std::string addr = s.value("addr", "");
          if (s.value("state", "") == "up" &&
              std::find(ours.begin(), ours.end(), addr) != ours.end()) {
            ++up;
          }
        }
        return up >= n;
      },
      timeout);
  if (ok) return ::testing::AssertionSuccess();
  return Failure("fewer than " + std::to_string(n) + " datads up after " +
                 std::to_string(timeout.count()) + " ms; last status: " + last);
}

bool Cluster::IsMounted() const {
  for (const ctl::MountEntry& m : ctl::ParseMountInfo(ReadFile("/proc/self/mountinfo"))) {
    if (m.mount_point == mountpoint_) return true;
  }
  return false;
}

::testing::AssertionResult Cluster::Mount() {
  if (mounted_) return ::testing::AssertionSuccess();
  client_ = std::make_unique<ChildProcess>(
      "replfs", std::vector<std::string>{BinaryPath("replfs"), meta_addr_, mountpoint_, "-f"},
      dir() + "/replfs.log");
  std::string error;
  if (!client_->Start(&error)) return Failure("replfs: " + error);
  const auto replfs_mounted = [&] {
    for (const ctl::MountEntry& m : ctl::ParseMountInfo(ReadFile("/proc/self/mountinfo"))) {
      if (m.mount_point == mountpoint_ && m.fs_type == ctl::kReplfsFsType) return true;
    }
    return false;
  };
  if (!Poll([&] { return replfs_mounted() || !client_->Running(); }, kStartTimeout)) {
    return Failure("no fuse.replfs mount at " + mountpoint_ + " after " +
                   std::to_string(kStartTimeout.count()) + " ms");
  }
  if (!replfs_mounted()) {
    return Failure("replfs exited before mounting (" + DescribeExit(client_->wait_status()) + ")");
  }
  mounted_ = true;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult Cluster::Unmount() {
  if (!mounted_) return ::testing::AssertionSuccess();
  mounted_ = false;
  CommandResult r = RunCommand({"fusermount3", "-u", mountpoint_}, seconds(30));
  std::string note;
  if (r.exit_code != 0) {
    note = "fusermount3 -u failed (" + r.Describe() + "); lazy unmount used";
    RunCommand({"fusermount3", "-u", "-z", mountpoint_}, seconds(30));
  }
  if (!Poll([&] { return !IsMounted(); }, seconds(30))) return Failure("still mounted");
  if (!client_->WaitExit(seconds(30))) {
    client_->Kill();
    return Failure("replfs did not exit after unmount");
  }
  if (!note.empty()) return Failure(note);
  return ::testing::AssertionSuccess();
}

Cluster::Daemon* Cluster::Find(const std::string& name) {
  if (name == "metad") return &metad_;
  for (size_t i = 0; i < datads_.size(); ++i) {
    if (name == "datad" + std::to_string(i)) return &datads_[i];
  }
  return nullptr;
}

::testing::AssertionResult Cluster::Stop(const std::string& name) {
  Daemon* d = Find(name);
  if (d == nullptr || !d->proc) return ::testing::AssertionFailure() << "no daemon " << name;
  d->proc->Signal(SIGTERM);
  if (!d->proc->WaitExit(kStopGrace)) {
    d->proc->Kill();
    return Failure(name + " ignored SIGTERM for " + std::to_string(kStopGrace.count()) + " ms");
  }
  const int st = d->proc->wait_status();
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    return Failure(name + " did not shut down cleanly on SIGTERM: " + DescribeExit(st));
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult Cluster::Kill9(const std::string& name) {
  Daemon* d = Find(name);
  if (d == nullptr || !d->proc) return ::testing::AssertionFailure() << "no daemon " << name;
  d->proc->Kill();
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult Cluster::StopAll() {
  // Datads first: they would otherwise log heartbeat failures meanwhile.
  std::vector<Daemon*> all;
  for (Daemon& d : datads_) all.push_back(&d);
  all.push_back(&metad_);
  for (Daemon* d : all) {
    if (d->proc) d->proc->Signal(SIGTERM);
  }
  ::testing::AssertionResult result = ::testing::AssertionSuccess();
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string name = i + 1 == all.size() ? "metad" : "datad" + std::to_string(i);
    if (!all[i]->proc) continue;
    auto r = Stop(name);  // already signalled: this waits and checks the exit
    if (!r && result) result = r;
  }
  return result;
}

void Cluster::Kill9All() {
  for (Daemon& d : datads_) {
    if (d.proc) d.proc->Kill();
  }
  if (metad_.proc) metad_.proc->Kill();
}

std::string Cluster::LogTails() const {
  std::string out;
  std::vector<std::string> names = {"metad"};
  for (size_t i = 0; i < datads_.size(); ++i) names.push_back("datad" + std::to_string(i));
  names.push_back("replfs");
  for (const std::string& n : names) {
    const std::string tail = TailFile(dir() + "/" + n + ".log", 25);
    if (!tail.empty()) out += "--- " + n + ".log (tail) ---\n" + tail;
  }
  return out;
}

void ClusterTest::SetUp() {
  const std::string reason = IntegrationSkipReason();
  if (!reason.empty()) GTEST_SKIP() << reason;
  cluster_ = std::make_unique<Cluster>(options());
  ASSERT_TRUE(cluster_->Start());
  ASSERT_TRUE(cluster_->Mount());
}

void ClusterTest::TearDown() { cluster_.reset(); }

}  // namespace replfs::testing
