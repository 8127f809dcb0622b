// libFuzzer target: the configuration parser (common/config.h).
//
// Input: INI text, then NUL-separated `--set` assignments:
//   <replfs.conf text> \0 <section.key=value> \0 <section.key=value> ...
// The text is loaded the way every binary loads its config (LoadConfig:
// file, then the assignments, then Validate), from a memfd so no file is
// written per input. Each assignment is also fed to the value parsers
// (ParseSize, ParseBool, ParseHostPort).
//
// Oracles besides the sanitizers (each abort is a finding):
//  - a config that loads prints (Dump) lines that load again, as `--set`
//    assignments, into a config that validates and prints the same;
//  - ParseSize never yields a negative size;
//  - an address that parses prints (HostPort::ToString) as text that parses
//    back to the same host and port (but see F2 below).
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/host_port.h"
#include "tests/fuzz/fuzz_util.h"

namespace replfs::fuzz {
namespace {

[[noreturn]] void Finding(const std::string& what) {
  std::fprintf(stderr, "FINDING: %s\n", what.c_str());
  std::abort();
}

int ConfigFd() {
  static const int fd = [] {
    const int f = memfd_create("replfs-fuzz-config", 0);
    if (f < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    return f;
  }();
  return fd;
}

void CheckDumpRoundTrip(const Config& c) {
  const std::string dump = c.Dump();
  Config again;
  size_t pos = 0;
  while (pos < dump.size()) {
    size_t nl = dump.find('\n', pos);
    if (nl == std::string::npos) nl = dump.size();
    const std::string line = dump.substr(pos, nl - pos);
    pos = nl + 1;
    Status s = again.SetAssignment(line);
    if (!s.ok()) Finding("Dump() line '" + line + "' does not load again: " + s.ToString());
  }
  Status s = again.Validate();
  if (!s.ok()) Finding("a dumped config does not validate again: " + s.ToString());
  if (again.Dump() != dump) Finding("Dump() changes after a round trip:\n" + dump + "---\n" + again.Dump());
}

void CheckValueParsers(const std::string& text) {
  int64_t size = 0;
  if (ParseSize(text, &size).ok() && size < 0) Finding("ParseSize('" + text + "') = " + std::to_string(size));
  bool b = false;
  (void)ParseBool(text, &b);
  HostPort hp;
  // Every address that parses prints as text that parses back the same
  // (F2: "[[a]:5" parsed to host "[a" and printed as "[a:5").
  if (ParseHostPort(text, &hp, /*allow_zero_port=*/true).ok()) {
    HostPort back;
    const std::string printed = hp.ToString();
    Status s = ParseHostPort(printed, &back, true);
    if (!s.ok() || !(back == hp))
      Finding("address '" + text + "' parses to host '" + hp.host + "' port " + std::to_string(hp.port) +
              ", printed as '" + printed + "', which " + (s.ok() ? "parses differently" : "does not parse"));
  }
}

}  // namespace
}  // namespace replfs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace replfs;
  using namespace replfs::fuzz;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  const std::string_view text = in.substr(0, nul);
  std::vector<std::string> sets;
  bool multiline = false;  // a value with a line break cannot survive Dump()'s line format
  if (nul != std::string_view::npos) {
    size_t pos = nul + 1;
    while (pos <= in.size() && sets.size() < 64) {
      size_t end = in.find('\0', pos);
      if (end == std::string_view::npos) end = in.size();
      sets.emplace_back(in.substr(pos, end - pos));
      multiline |= sets.back().find_first_of("\r\n") != std::string::npos;
      pos = end + 1;
    }
  }
  const int fd = ConfigFd();
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    std::perror("memfd write");
    std::abort();
  }
  Config c;
  if (LoadConfig("/proc/self/fd/" + std::to_string(fd), sets, &c).ok() && !multiline) CheckDumpRoundTrip(c);
  for (const std::string& s : sets) CheckValueParsers(s);
  return 0;
}
