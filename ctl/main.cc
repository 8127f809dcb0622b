// fsctl: the operator's tool. Everything but the process entry is in cli.cc.
// clang-format off
#include <string>  // thrift/TOutput.h uses std::string without including it
#include <thrift/TOutput.h>
// clang-format on

#include <csignal>
#include <iostream>

#include "ctl/cli.h"

int main(int argc, char **argv) {
  std::signal(SIGPIPE, SIG_IGN);
  // Thrift prints every failed connect to stderr; fsctl reports failures
  // itself, in one line naming metad.
  apache::thrift::GlobalOutput.setOutputFunction([](const char *) {});
  return replfs::ctl::RunFsctl(argc, argv, std::cout, std::cerr);
}
