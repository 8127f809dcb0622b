// fsctl's command line: flags, config, picking the metad address, dispatch.
#pragma once

#include <ostream>

namespace replfs::ctl {

// Parses argv and runs the command. Usage errors print the usage on `err`
// and return 2.
int RunFsctl(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace replfs::ctl
