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

#include <kchashdb.h>

#include <filesystem>
#include <map>

#include "ctl/ca.h"
#include "ctl/mountinfo.h"
#include "tests/integration/fs_util.h"

#ifndef REPLFS_BIN_DIR
#error "REPLFS_BIN_DIR must name the build's bin directory"
#endif

namespace replfs::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kStartTimeout = seconds(30);
constexpr int kNetMetadPort = 9190;
constexpr int kNetDatadPort = 2222;
constexpr milliseconds kStopGrace = seconds(15);

bool Poll(const std::function<bool()>& pred, milliseconds timeout) {
  return PollUntil(pred, timeout);
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
  clients_.resize(1);
  clients_[0].mountpoint = dir() + "/mnt";
  mkdir(clients_[0].mountpoint.c_str(), 0755);
  // section -> "key = value" lines; Options::sets win over the fields.
  std::map<std::string, std::map<std::string, std::string>> keys;
  keys["metad"]["dead_after_ms"] = std::to_string(opts_.dead_after_ms);
  keys["metad"]["fsync"] = opts_.metad_fsync ? "true" : "false";
  keys["datad"]["heartbeat_interval_ms"] = std::to_string(opts_.heartbeat_interval_ms);
  if (opts_.chunk_size > 0) keys["cluster"]["chunk_size"] = std::to_string(opts_.chunk_size);
  if (opts_.tls) keys["tls"]["ca"] = pki_dir() + "/ca.crt";
  for (const std::string& set : opts_.sets) {
    const size_t dot = set.find('.');
    const size_t eq = set.find('=');
    if (dot == std::string::npos || eq == std::string::npos || dot > eq) {
      ADD_FAILURE() << "Cluster::Options::sets: '" << set << "' is not section.key=value";
      continue;
    }
    keys[set.substr(0, dot)][set.substr(dot + 1, eq - dot - 1)] = set.substr(eq + 1);
  }
  std::ofstream conf(config_path_);
  conf << "# written by the integration test harness\n";
  for (const auto& [section, kv] : keys) {
    conf << "[" << section << "]\n";
    for (const auto& [k, v] : kv) conf << k << " = " << v << "\n";
  }
  metad_.data_dir = dir() + "/metad";
  datads_.resize(static_cast<size_t>(opts_.datads));
  for (size_t i = 0; i < datads_.size(); ++i) {
    datads_[i].data_dir = dir() + "/datad" + std::to_string(i);
  }
  if (opts_.tls) {
    auto r = MakePki();
    if (!r) ADD_FAILURE() << r.message();
  }
  if (opts_.datad_store_mib > 0) {
    for (const Daemon& d : datads_) {
      mkdir(d.data_dir.c_str(), 0755);
      CommandResult r = RunCommand({"mount", "-t", "tmpfs", "-o",
                                    "size=" + std::to_string(opts_.datad_store_mib) + "m", "tmpfs", d.data_dir});
      if (r.exit_code != 0) ADD_FAILURE() << "mount tmpfs on " << d.data_dir << ": " << r.Describe();
    }
  }
  if (opts_.network != nullptr) {
    // Every host has the whole port space to itself: fixed ports.
    metad_.host = HostOf("metad");
    metad_.port = kNetMetadPort;
    for (size_t i = 0; i < datads_.size(); ++i) {
      datads_[i].host = HostOf("datad" + std::to_string(i));
      datads_[i].port = kNetDatadPort + static_cast<int>(i);
    }
  }
}

::testing::AssertionResult Cluster::AddHosts(EmulatedNetwork* net, int datads, int clients) {
  std::vector<std::string> hosts = {"meta"};
  for (int i = 0; i < datads; ++i) hosts.push_back("d" + std::to_string(i));
  for (int i = 0; i < clients; ++i) hosts.push_back("c" + std::to_string(i));
  for (const std::string& h : hosts) {
    auto r = net->AddHost(h);
    if (!r) return r;
  }
  return ::testing::AssertionSuccess();
}

std::string Cluster::HostOf(const std::string& name) const {
  if (opts_.network == nullptr) return "";
  if (name == "metad" || name == "fsctl") return "meta";
  if (name.rfind("datad", 0) == 0) return "d" + name.substr(5);
  if (name == "replfs") return "c0";
  if (name.rfind("replfs", 0) == 0) return "c" + name.substr(6);
  return "";
}

std::string Cluster::AddrOf(const Daemon& d) const {
  if (opts_.network == nullptr) return Addr(d.port);
  return opts_.network->Ip(d.host) + ":" + std::to_string(d.port);
}

std::vector<std::string> Cluster::On(const std::string& host) const {
  if (opts_.network == nullptr || host.empty()) return {};
  return opts_.network->Prefix(host);
}

Cluster::~Cluster() {
  for (const Client& c : clients_) {
    if (IsMounted(c.mountpoint)) RunCommand({"fusermount3", "-u", "-z", c.mountpoint}, seconds(20));
  }
  // SIGTERM everyone at once, then give each the rest of one grace period.
  std::vector<ChildProcess*> all;
  for (Client& c : clients_) {
    if (c.proc) all.push_back(c.proc.get());
  }
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
  if (::testing::Test::HasFailure()) {
    std::cerr << LogTails();
    KeepLogs();
  } else if (const char* all = std::getenv("REPLFS_IT_KEEP_ALL"); all != nullptr && *all == '1') {
    KeepLogs();
  }
  for (const Client& c : clients_) {
    if (IsMounted(c.mountpoint)) std::cerr << "cluster: " << c.mountpoint << " is still mounted\n";
  }
  if (opts_.datad_store_mib > 0) {
    for (const Daemon& d : datads_) RunCommand({"umount", "-l", d.data_dir}, seconds(20));
  }
}

::testing::AssertionResult Cluster::MakePki() {
  std::string summary;
  Status s = ctl::InitCa(pki_dir(), &summary);
  std::vector<std::pair<std::string, std::string>> certs = {{"metad", "metad"}, {"client", "client"},
                                                            {"admin", "admin"}};
  for (size_t i = 0; i < datads_.size(); ++i) certs.push_back({"datad" + std::to_string(i), "datad"});
  for (const auto& [name, role] : certs) {
    if (!s.ok()) break;
    ctl::CertRequest req;
    req.dir = pki_dir();
    req.name = name;
    req.role = role;
    s = ctl::IssueCert(req, &summary);
  }
  if (!s.ok()) return ::testing::AssertionFailure() << "test PKI: " << s.ToString();
  return ::testing::AssertionSuccess();
}

std::vector<std::string> Cluster::CertArgs(const std::string& name) const {
  if (!opts_.tls || name.empty()) return {};
  return {"--set", "tls.cert=" + pki_dir() + "/" + name + ".crt", "--set",
          "tls.key=" + pki_dir() + "/" + name + ".key"};
}

std::vector<std::string> Cluster::DaemonArgv(const std::string& name, const Daemon& d) const {
  std::vector<std::string> argv = On(d.host);
  if (name == "metad") {
    for (const std::string& a : {BinaryPath("metad"), std::string("--config"), config_path_,
                                 std::string("--listen"), AddrOf(d), std::string("--data-dir"), d.data_dir})
      argv.push_back(a);
  } else {
    for (const std::string& a : {BinaryPath("datad"), std::string("--config"), config_path_,
                                 std::string("--listen"), AddrOf(d), std::string("--meta"), meta_addr_,
                                 std::string("--data-dir"), d.data_dir})
      argv.push_back(a);
  }
  for (const std::string& a : CertArgs(name)) argv.push_back(a);
  return argv;
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
          << "=== harness: starting " << name << " on " << AddrOf(*d) << " ===\n";
    }
    d->proc = std::make_unique<ChildProcess>(name, DaemonArgv(name, *d), log);
    std::string error;
    if (!d->proc->Start(&error)) return Failure(name + ": " + error);
    ChildProcess* p = d->proc.get();
    const auto accepts = [&] {
      if (opts_.network == nullptr) return Accepts(d->port);
      return opts_.network->Accepts(d->host, opts_.network->Ip(d->host), d->port);
    };
    const bool settled = Poll([&] { return !p->Running() || accepts(); }, kStartTimeout);
    if (p->Running() && settled) return ::testing::AssertionSuccess();
    if (p->Running()) return Failure(name + " did not listen on " + AddrOf(*d) + " in time");
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
  meta_addr_ = AddrOf(metad_);  // known before it listens: fixed ports on a network
  auto r = StartListening(&metad_, "metad", first && opts_.network == nullptr);
  meta_addr_ = AddrOf(metad_);
  return r;
}

::testing::AssertionResult Cluster::StartDatad(size_t i) {
  Daemon& d = datads_[i];
  if (d.proc && d.proc->Running()) return ::testing::AssertionSuccess();
  // A datad is known to metad by its address: it keeps its port for life.
  return StartListening(&d, "datad" + std::to_string(i),
                        /*may_change_port=*/d.port == 0 && opts_.network == nullptr);
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
  for (const Daemon& d : datads_) out.push_back(AddrOf(d));
  return out;
}

CommandResult Cluster::Fsctl(const std::vector<std::string>& args) { return FsctlAs("admin", args); }

CommandResult Cluster::FsctlAs(const std::string& cert, const std::vector<std::string>& args) {
  std::vector<std::string> argv = On(HostOf("fsctl"));
  for (const std::string& a : {BinaryPath("fsctl"), std::string("--config"), config_path_,
                               std::string("--meta"), meta_addr_})
    argv.push_back(a);
  for (const std::string& a : CertArgs(cert)) argv.push_back(a);
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

bool Cluster::IsMounted(const std::string& mountpoint) const {
  for (const ctl::MountEntry& m : ctl::ParseMountInfo(ReadFile("/proc/self/mountinfo"))) {
    if (m.mount_point == mountpoint) return true;
  }
  return false;
}

Cluster::Client& Cluster::ClientAt(size_t i) {
  while (clients_.size() <= i) {
    Client c;
    c.mountpoint = dir() + "/mnt" + std::to_string(clients_.size());
    mkdir(c.mountpoint.c_str(), 0755);
    clients_.push_back(std::move(c));
  }
  return clients_[i];
}

const std::string& Cluster::mountpoint(size_t i) { return ClientAt(i).mountpoint; }

::testing::AssertionResult Cluster::Mount(size_t i) {
  Client& c = ClientAt(i);
  if (c.mounted) return ::testing::AssertionSuccess();
  const std::string name = i == 0 ? "replfs" : "replfs" + std::to_string(i);
  std::vector<std::string> argv = On(HostOf(name));
  for (const std::string& a : {BinaryPath("replfs"), meta_addr_, c.mountpoint, std::string("-f"),
                               std::string("--config"), config_path_})
    argv.push_back(a);
  std::string o = c.options;
  if (o.empty() && opts_.tls) o = "tls.cert=" + pki_dir() + "/client.crt,tls.key=" + pki_dir() + "/client.key";
  if (!o.empty()) {
    argv.push_back("-o");
    argv.push_back(o);
  }
  c.proc = std::make_unique<ChildProcess>(name, argv, dir() + "/" + name + ".log");
  std::string error;
  if (!c.proc->Start(&error)) return Failure(name + ": " + error);
  const auto replfs_mounted = [&] {
    for (const ctl::MountEntry& m : ctl::ParseMountInfo(ReadFile("/proc/self/mountinfo"))) {
      if (m.mount_point == c.mountpoint && m.fs_type == ctl::kReplfsFsType) return true;
    }
    return false;
  };
  if (!Poll([&] { return replfs_mounted() || !c.proc->Running(); }, kStartTimeout)) {
    return Failure("no fuse.replfs mount at " + c.mountpoint + " after " +
                   std::to_string(kStartTimeout.count()) + " ms");
  }
  if (!replfs_mounted()) {
    return Failure(name + " exited before mounting (" + DescribeExit(c.proc->wait_status()) + ")");
  }
  c.mounted = true;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult Cluster::Unmount(size_t i) {
  Client& c = ClientAt(i);
  if (!c.mounted) return ::testing::AssertionSuccess();
  c.mounted = false;
  CommandResult r = RunCommand({"fusermount3", "-u", c.mountpoint}, seconds(30));
  std::string note;
  if (r.exit_code != 0) {
    note = "fusermount3 -u failed (" + r.Describe() + "); lazy unmount used";
    RunCommand({"fusermount3", "-u", "-z", c.mountpoint}, seconds(30));
  }
  if (!Poll([&] { return !IsMounted(c.mountpoint); }, seconds(30))) {
    return Failure(c.mountpoint + " still mounted");
  }
  if (!c.proc->WaitExit(seconds(30))) {
    c.proc->Kill();
    return Failure("replfs did not exit after unmount of " + c.mountpoint);
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

::testing::AssertionResult Cluster::Restart(const std::string& name) {
  if (name == "metad") return StartMetad();
  for (size_t i = 0; i < datads_.size(); ++i) {
    if (name == "datad" + std::to_string(i)) return StartDatad(i);
  }
  return ::testing::AssertionFailure() << "no daemon " << name;
}

bool Cluster::Running(const std::string& name) {
  Daemon* d = Find(name);
  return d != nullptr && d->proc && d->proc->Running();
}

const std::string& Cluster::data_dir(const std::string& name) {
  static const std::string kNone;
  Daemon* d = Find(name);
  return d == nullptr ? kNone : d->data_dir;
}

std::string Cluster::DatadName(const std::string& addr) const {
  for (size_t i = 0; i < datads_.size(); ++i) {
    if (AddrOf(datads_[i]) == addr) return "datad" + std::to_string(i);
  }
  return "";
}

::testing::AssertionResult Cluster::WipeStore(const std::string& name) {
  Daemon* d = Find(name);
  if (d == nullptr) return ::testing::AssertionFailure() << "no daemon " << name;
  if (d->proc && d->proc->Running()) {
    return ::testing::AssertionFailure() << "WipeStore(" << name << "): it is running";
  }
  std::error_code ec;
  std::filesystem::remove_all(d->data_dir, ec);
  if (ec) return ::testing::AssertionFailure() << "rm -r " << d->data_dir << ": " << ec.message();
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult Cluster::CorruptBlocks(
    const std::string& name, const std::vector<std::pair<int64_t, uint32_t>>& blocks) {
  Daemon* d = Find(name);
  if (d == nullptr || name == "metad") return ::testing::AssertionFailure() << "no datad " << name;
  if (d->proc && d->proc->Running()) {
    auto r = Stop(name);
    if (!r) return r;
  }
  const std::string path = d->data_dir + "/blocks.kch";
  std::string error;
  {
    kyotocabinet::HashDB db;
    if (!db.open(path, kyotocabinet::HashDB::OWRITER)) {
      error = std::string("open ") + path + ": " + db.error().name() + " " + db.error().message();
    } else {
      for (const auto& [chunk_id, block] : blocks) {
        // Key and value layout: thrift/PROTOCOL.md, "datad block store".
        std::string key = "b";
        for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>((chunk_id >> (8 * i)) & 0xff));
        for (int i = 3; i >= 0; --i) key.push_back(static_cast<char>((block >> (8 * i)) & 0xff));
        std::string value;
        const std::string what = "chunk " + std::to_string(chunk_id) + " block " +
                                 std::to_string(block);
        if (!db.get(key, &value)) {
          error += what + " is not in " + path + "; ";
        } else if (value.size() <= 4) {
          error += what + ": a record of " + std::to_string(value.size()) + " bytes has no data; ";
        } else {
          // A byte in the middle of the data; the stored CRC stays.
          const size_t at = 4 + (value.size() - 4) / 2;
          value[at] = static_cast<char>(value[at] ^ 0x5a);
          if (!db.set(key, value)) error += what + ": " + db.error().message() + "; ";
        }
      }
      if (!db.synchronize(true)) error += std::string("sync ") + path + "; ";
      if (!db.close()) error += std::string("close ") + path + "; ";
    }
  }
  auto r = Restart(name);
  if (!error.empty()) return Failure("CorruptBlocks(" + name + "): " + error);
  return r;
}

void Cluster::Kill9All() {
  for (Daemon& d : datads_) {
    if (d.proc) d.proc->Kill();
  }
  if (metad_.proc) metad_.proc->Kill();
}

void Cluster::KeepLogs() const {
  const char* keep = std::getenv("REPLFS_IT_KEEP_LOGS");
  if (keep == nullptr || *keep == '\0') return;
  const ::testing::TestInfo* t = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string dest = std::string(keep) + "/" +
                           (t != nullptr ? std::string(t->test_suite_name()) + "." + t->name()
                                         : std::string("cluster")) +
                           "-" + std::to_string(getpid());
  std::error_code ec;
  std::filesystem::create_directories(dest, ec);
  for (const auto& e : std::filesystem::directory_iterator(dir(), ec)) {
    if (e.path().extension() == ".log" || e.path().extension() == ".conf") {
      std::filesystem::copy_file(e.path(), dest + "/" + e.path().filename().string(),
                                 std::filesystem::copy_options::overwrite_existing, ec);
    }
  }
  std::cerr << "cluster: logs kept in " << dest << "\n";
}

std::string Cluster::LogTails() const {
  std::string out;
  std::vector<std::string> names = {"metad"};
  for (size_t i = 0; i < datads_.size(); ++i) names.push_back("datad" + std::to_string(i));
  names.push_back("replfs");
  for (size_t i = 1; i < clients_.size(); ++i) names.push_back("replfs" + std::to_string(i));
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

::testing::AssertionResult ClientRpcs(Cluster& cluster, size_t i, RpcCount* out) {
  const std::string log = cluster.ClientLog(i);
  const auto lines = [&] {
    const std::string text = TailFile(log, 100000);
    int n = 0;
    for (size_t at = 0; (at = text.find("SIGUSR1: rpc:", at)) != std::string::npos; ++at) ++n;
    return n;
  };
  const int before = lines();
  if (kill(cluster.ClientPid(i), SIGUSR1) != 0) return ::testing::AssertionFailure() << "kill: " << ErrnoText(errno);
  if (!PollUntil([&] { return lines() > before; }, seconds(10)))
    return ::testing::AssertionFailure() << "no statistics line in " << log;
  const std::string text = TailFile(log, 100000);
  const size_t at = text.rfind("SIGUSR1: rpc:");
  out->line = text.substr(at, text.find('\n', at) - at);
  const size_t m = out->line.find("metad total "), d = out->line.find("datads total ");
  if (m == std::string::npos || d == std::string::npos)
    return ::testing::AssertionFailure() << "unexpected line: " << out->line;
  out->meta = std::stoll(out->line.substr(m + 12));
  out->data = std::stoll(out->line.substr(d + 13));
  return ::testing::AssertionSuccess();
}

int64_t MetaCalls(const RpcCount& c, const std::string& method) {
  const std::string meta = c.line.substr(0, c.line.find("datads total "));
  const size_t at = meta.find(" " + method + "=");
  return at == std::string::npos ? 0 : std::stoll(meta.substr(at + method.size() + 2));
}

}  // namespace replfs::testing
