#include "common/host_port.h"

#include <charconv>

namespace replfs {
namespace {

// A host is a name, an IPv4 or (bracketed) IPv6 address, or "*": printable
// ASCII without brackets, spaces or '/', so that ToString() parses back.
bool ValidHostChars(const std::string& host) {
  for (unsigned char c : host)
    if (c <= ' ' || c >= 0x7f || c == '[' || c == ']' || c == '/' || c == '@') return false;
  return true;
}

}  // namespace

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Status ParseHostPort(const std::string& text, HostPort* out, bool allow_zero_port) {
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return Status::Invalid("bad address '" + text + "': expected [IPv6]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0)
      return Status::Invalid("bad address '" + text + "': expected HOST:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos)
      return Status::Invalid("bad address '" + text + "': put IPv6 hosts in brackets");
  }
  int p = -1;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || ptr != port.data() + port.size() || p < 0 || p > 65535 ||
      (p == 0 && !allow_zero_port))
    return Status::Invalid("bad port in address '" + text + "'");
  if (host.empty()) return Status::Invalid("empty host in address '" + text + "'");
  if (!ValidHostChars(host))
    return Status::Invalid("bad host '" + host + "' in address '" + text +
                           "': a host name or an IP address, without spaces or brackets");
  out->host = host;
  out->port = p;
  return Status::OK();
}

}  // namespace replfs
