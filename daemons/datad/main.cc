// datad: the replfs data daemon. Parses flags and config, builds a Datad,
// runs it until SIGTERM/SIGINT.
#include <CLI/CLI.hpp>

#include <iostream>

#include "DataService.h"  // generated: the client of the health probe's Ping
#include "common/config.h"
#include "common/daemon.h"
#include "common/log.h"
#include "daemons/datad/datad.h"
#include "thrift/server.h"

namespace {

struct Flags {
  std::string config_path;
  std::string listen, meta, data_dir, advertise;
  std::vector<std::string> sets;
  bool check_config = false;
  bool print_config = false;
};

// Config file, then --set, then the dedicated flags (which win).
replfs::Status BuildConfig(const Flags& f, replfs::Config* c) {
  std::vector<std::string> sets = f.sets;
  if (!f.listen.empty()) sets.push_back("datad.listen=" + f.listen);
  if (!f.meta.empty()) sets.push_back("cluster.meta=" + f.meta);
  if (!f.data_dir.empty()) sets.push_back("datad.data_dir=" + f.data_dir);
  if (!f.advertise.empty()) sets.push_back("datad.advertise=" + f.advertise);
  REPLFS_RETURN_IF_ERROR(replfs::LoadConfig(f.config_path, sets, c));
  replfs::LogLevel level;
  if (!replfs::ParseLogLevel(c->log_level, &level))
    return replfs::Status::Invalid("bad log.level '" + c->log_level + "'");
  replfs::SetLogLevel(level);
  return replfs::datad::ResolveDataDir(c);
}

}  // namespace

int main(int argc, char** argv) {
  replfs::SetUpDaemonSignals();
  Flags f;
  CLI::App app{"replfs data daemon: stores checksummed chunk replicas"};
  app.add_option("--config", f.config_path, "config file (default /etc/replfs/replfs.conf)");
  app.add_option("--listen", f.listen, "HOST:PORT to serve on (datad.listen)");
  app.add_option("--meta", f.meta, "metad HOST:PORT (cluster.meta)");
  app.add_option("--data-dir", f.data_dir, "block store directory (datad.data_dir)");
  app.add_option("--advertise", f.advertise, "HOST:PORT clients use (datad.advertise)");
  app.add_option("--set", f.sets, "override a config key: section.key=value");
  app.add_flag("--check-config", f.check_config, "validate the configuration and exit");
  app.add_flag("--print-config", f.print_config, "print the effective configuration and exit");
  CLI11_PARSE(app, argc, argv);

  replfs::Config config;
  replfs::Status s = BuildConfig(f, &config);
  if (!s.ok()) {
    std::cerr << "datad: " << s.ToString() << "\n";
    return 1;
  }
  if (f.print_config) std::cout << config.Dump();
  if (f.check_config) std::cout << "datad: configuration OK\n";
  if (f.print_config || f.check_config) return 0;

  replfs::SetLogPrefix("datad " + config.datad_listen);
  replfs::datad::Datad datad(config);
  s = datad.Start();
  if (!s.ok()) {
    LOG(ERROR) << "cannot start: " << s.ToString();
    return 1;
  }
  replfs::SetLogPrefix("datad " + datad.advertised());
  std::unique_ptr<replfs::net::SelfProbe> probe;
  s = replfs::net::SelfProbe::Find(
      datad.port(), replfs::net::SelfProbe::PingWith<replfs::rpc::DataServiceClient>(datad.tls()), &probe);
  if (!s.ok()) {
    LOG(ERROR) << "cannot start: " << s.ToString();
    return 1;
  }
  replfs::NotifyReady("serving as " + datad.advertised());
  const int rc = probe->ServeUntilSignal("datad");
  s = datad.Stop();
  if (!s.ok()) {
    LOG(ERROR) << "shutdown: " << s.ToString();
    return 1;
  }
  return rc;
}
