// metad: the replfs metadata daemon. Thin: flags -> config -> Metad.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <iostream>
#include <string>
#include <vector>

#include "MetaService.h"  // generated: the client of the health probe's Ping
#include "common/config.h"
#include "common/daemon.h"
#include "common/log.h"
#include "daemons/metad/metad.h"
#include "thrift/server.h"

namespace {

// mkdir -p with mode 0750 for the directories it creates.
replfs::Status MakeDirs(const std::string& path) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    std::string part = path.substr(0, pos);
    if (::mkdir(part.c_str(), 0750) != 0 && errno != EEXIST)
      return replfs::Status::FromErrno(errno, "create data dir " + part);
  }
  return replfs::Status::OK();
}

int Fail(const replfs::Status& s) {
  std::cerr << "metad: " << s.ToString() << std::endl;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  replfs::SetUpDaemonSignals();
  CLI::App app{"replfs metadata daemon"};
  std::string config_path, listen, data_dir;
  std::vector<std::string> sets;
  bool check_config = false, print_config = false;
  app.add_option("--config", config_path, "config file (default /etc/replfs/replfs.conf)");
  app.add_option("--listen", listen, "HOST:PORT to listen on (metad.listen)");
  app.add_option("--data-dir", data_dir, "metadata directory (metad.data_dir)");
  app.add_option("--set", sets, "override a config key: section.key=value");
  app.add_flag("--check-config", check_config, "validate the configuration and exit");
  app.add_flag("--print-config", print_config, "print the effective configuration and exit");
  CLI11_PARSE(app, argc, argv);

  if (!listen.empty()) sets.push_back("metad.listen=" + listen);
  if (!data_dir.empty()) sets.push_back("metad.data_dir=" + data_dir);
  replfs::Config config;
  replfs::Status s = replfs::LoadConfig(config_path, sets, &config);
  if (!s.ok()) return Fail(s);
  if (print_config) std::cout << config.Dump();
  if (check_config || print_config) return 0;
  replfs::LogLevel level;
  if (replfs::ParseLogLevel(config.log_level, &level)) replfs::SetLogLevel(level);
  replfs::SetLogPrefix("metad");
  s = MakeDirs(config.metad_data_dir);
  if (!s.ok()) return Fail(s);

  replfs::metad::Metad metad(config);
  s = metad.Start();
  if (!s.ok()) return Fail(s);
  std::unique_ptr<replfs::net::SelfProbe> probe;
  s = replfs::net::SelfProbe::Find(
      metad.port(), replfs::net::SelfProbe::PingWith<replfs::rpc::MetaServiceClient>(metad.tls()), &probe);
  if (!s.ok()) return Fail(s);
  replfs::NotifyReady("serving on port " + std::to_string(metad.port()));
  const int rc = probe->ServeUntilSignal("metad");
  metad.Stop();
  return rc;
}
