#include "common/config.h"

#include <ini.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>

#include "common/host_port.h"
#include "common/log.h"

namespace replfs {
namespace {

Status ParseInt(const std::string& text, int64_t lo, int64_t hi, int64_t* out) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size())
    return Status::Invalid("'" + text + "' is not an integer");
  if (v < lo || v > hi)
    return Status::Invalid("'" + text + "' is out of range [" + std::to_string(lo) + ", " +
                           std::to_string(hi) + "]");
  *out = v;
  return Status::OK();
}

Status ParseDouble(const std::string& text, double lo, double hi, double* out) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || errno != 0 || *end != '\0' || !std::isfinite(v))
    return Status::Invalid("'" + text + "' is not a number");
  if (v < lo || v > hi) return Status::Invalid("'" + text + "' is out of range");
  *out = v;
  return Status::OK();
}

struct KeyDef {
  const char* section;
  const char* key;
  std::function<Status(Config*, const std::string&)> set;
  std::function<std::string(const Config&)> get;
};

template <typename T>
KeyDef IntKey(const char* sec, const char* key, T Config::*field, int64_t lo, int64_t hi) {
  return {sec, key,
          [=](Config* c, const std::string& v) {
            int64_t x;
            REPLFS_RETURN_IF_ERROR(ParseInt(v, lo, hi, &x));
            c->*field = static_cast<T>(x);
            return Status::OK();
          },
          [=](const Config& c) { return std::to_string(c.*field); }};
}

KeyDef SizeKey(const char* sec, const char* key, int64_t Config::*field, int64_t lo, int64_t hi) {
  return {sec, key,
          [=](Config* c, const std::string& v) {
            int64_t x;
            REPLFS_RETURN_IF_ERROR(ParseSize(v, &x));
            if (x < lo || x > hi)
              return Status::Invalid("'" + v + "' is out of range [" + std::to_string(lo) +
                                     ", " + std::to_string(hi) + "] bytes");
            c->*field = x;
            return Status::OK();
          },
          [=](const Config& c) { return std::to_string(c.*field); }};
}

KeyDef AddrKey(const char* sec, const char* key, std::string Config::*field, bool allow_empty) {
  return {sec, key,
          [=](Config* c, const std::string& v) {
            if (v.empty() && allow_empty) {
              c->*field = v;
              return Status::OK();
            }
            HostPort hp;
            REPLFS_RETURN_IF_ERROR(ParseHostPort(v, &hp, /*allow_zero_port=*/true));
            c->*field = v;
            return Status::OK();
          },
          [=](const Config& c) { return c.*field; }};
}

KeyDef PathKey(const char* sec, const char* key, std::string Config::*field, bool allow_empty) {
  return {sec, key,
          [=](Config* c, const std::string& v) {
            if (v.empty() && !allow_empty) return Status::Invalid("must not be empty");
            if (!v.empty() && v[0] != '/') return Status::Invalid("'" + v + "' is not an absolute path");
            c->*field = v;
            return Status::OK();
          },
          [=](const Config& c) { return c.*field; }};
}

KeyDef BoolKey(const char* sec, const char* key, bool Config::*field) {
  return {sec, key,
          [=](Config* c, const std::string& v) { return ParseBool(v, &(c->*field)); },
          [=](const Config& c) { return std::string(c.*field ? "true" : "false"); }};
}

KeyDef SecondsKey(const char* sec, const char* key, double Config::*field) {
  return {sec, key,
          [=](Config* c, const std::string& v) { return ParseDouble(v, 0, 86400, &(c->*field)); },
          [=](const Config& c) {
            std::ostringstream o;
            o << c.*field;
            return o.str();
          }};
}

const std::vector<KeyDef>& Keys() {
  static const std::vector<KeyDef> keys = {
      AddrKey("cluster", "meta", &Config::meta, false),
      SizeKey("cluster", "chunk_size", &Config::chunk_size, 64 << 10, 1ll << 30),
      SizeKey("cluster", "block_size", &Config::block_size, 4 << 10, 1 << 20),
      IntKey("cluster", "replicas", &Config::replicas, 1, 16),
      IntKey("cluster", "min_write_replicas", &Config::min_write_replicas, 1, 16),
      AddrKey("metad", "listen", &Config::metad_listen, false),
      PathKey("metad", "data_dir", &Config::metad_data_dir, false),
      IntKey("metad", "dead_after_ms", &Config::dead_after_ms, 100, 3600 * 1000),
      BoolKey("metad", "fsync", &Config::metad_fsync),
      IntKey("metad", "fsync_interval_ms", &Config::metad_fsync_interval_ms, 0, 60 * 1000),
      IntKey("metad", "max_connections", &Config::metad_max_connections, 1, 65536),
      IntKey("metad", "repair_max_concurrent", &Config::repair_max_concurrent, 1, 64),
      IntKey("metad", "repair_rate_mb_s", &Config::repair_rate_mb_s, 0, 100000),
      AddrKey("datad", "listen", &Config::datad_listen, false),
      PathKey("datad", "data_dir", &Config::datad_data_dir, true),
      AddrKey("datad", "advertise", &Config::datad_advertise, true),
      IntKey("datad", "heartbeat_interval_ms", &Config::heartbeat_interval_ms, 10, 600 * 1000),
      IntKey("datad", "block_report_interval_ms", &Config::block_report_interval_ms, 100,
             24 * 3600 * 1000),
      IntKey("datad", "max_connections", &Config::datad_max_connections, 1, 65536),
      IntKey("datad", "scrub_rate_mb_s", &Config::scrub_rate_mb_s, 1, 100000),
      IntKey("datad", "scrub_interval_s", &Config::scrub_interval_s, 1, 365ll * 24 * 3600),
      IntKey("rpc", "connect_timeout_ms", &Config::connect_timeout_ms, 1, 600 * 1000),
      IntKey("rpc", "timeout_ms", &Config::rpc_timeout_ms, 1, 3600 * 1000),
      IntKey("rpc", "retry_attempts", &Config::retry_attempts, 1, 100),
      IntKey("rpc", "retry_backoff_ms", &Config::retry_backoff_ms, 0, 60 * 1000),
      IntKey("rpc", "retry_budget_ms", &Config::retry_budget_ms, 0, 3600 * 1000),
      IntKey("rpc", "max_backoff_ms", &Config::max_backoff_ms, 1, 600 * 1000),
      SecondsKey("client", "attr_timeout", &Config::attr_timeout_s),
      SecondsKey("client", "entry_timeout", &Config::entry_timeout_s),
      SecondsKey("client", "coherent_timeout", &Config::coherent_timeout_s),
      IntKey("client", "max_threads", &Config::client_max_threads, 1, 1024),
      PathKey("tls", "ca", &Config::tls_ca, true),
      PathKey("tls", "cert", &Config::tls_cert, true),
      PathKey("tls", "key", &Config::tls_key, true),
      BoolKey("tls", "insecure", &Config::tls_insecure),
      {"log", "level",
       [](Config* c, const std::string& v) {
         LogLevel l;
         if (!ParseLogLevel(v, &l))
           return Status::Invalid("'" + v + "' is not one of debug, info, warning, error");
         c->log_level = v;
         return Status::OK();
       },
       [](const Config& c) { return c.log_level; }},
  };
  return keys;
}

Status SetKey(Config* c, const std::string& section, const std::string& key,
              const std::string& value) {
  bool section_known = false;
  for (const KeyDef& k : Keys()) {
    if (section != k.section) continue;
    section_known = true;
    if (key != k.key) continue;
    Status s = k.set(c, value);
    if (!s.ok()) return Status::Invalid(section + "." + key + ": " + s.message());
    return Status::OK();
  }
  if (!section_known) return Status::Invalid("unknown section [" + section + "]");
  return Status::Invalid("unknown key '" + key + "' in section [" + section + "]");
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// Debian's inih is built without INI_HANDLER_LINENO, so the reader counts
// lines itself: the handler runs right after the line it reports was read.
struct ParseState {
  Config* config;
  std::string path;
  Status status;
  FILE* file;
  int line = 0;
};

char* CountingReader(char* buf, int size, void* stream) {
  auto* st = static_cast<ParseState*>(stream);
  char* r = std::fgets(buf, size, st->file);
  if (r != nullptr) ++st->line;
  return r;
}

int IniHandler(void* user, const char* section, const char* name, const char* value) {
  auto* st = static_cast<ParseState*>(user);
  const int lineno = st->line;
  if (!st->status.ok()) return 0;
  if (section[0] == '\0') {
    st->status = Status::Invalid(st->path + ":" + std::to_string(lineno) + ": key '" + name +
                                 "' outside any section (use [cluster], [metad], [datad], "
                                 "[rpc], [client] or [log])");
    return 0;
  }
  Status s = SetKey(st->config, section, name, Trim(value));
  if (!s.ok()) {
    st->status = Status::Invalid(st->path + ":" + std::to_string(lineno) + ": " + s.message());
    return 0;
  }
  return 1;
}

}  // namespace

Status ParseSize(const std::string& text, int64_t* out) {
  std::string t = Trim(text);
  size_t i = 0;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
  if (i == 0) return Status::Invalid("'" + text + "' is not a size (e.g. 65536, 64K, 64M, 1G)");
  int64_t n;
  REPLFS_RETURN_IF_ERROR(ParseInt(t.substr(0, i), 0, INT64_MAX, &n));
  std::string suffix = t.substr(i);
  int shift = 0;
  if (suffix.empty() || suffix == "B") shift = 0;
  else if (suffix == "K" || suffix == "k" || suffix == "KiB") shift = 10;
  else if (suffix == "M" || suffix == "MiB") shift = 20;
  else if (suffix == "G" || suffix == "GiB") shift = 30;
  else if (suffix == "T" || suffix == "TiB") shift = 40;
  else return Status::Invalid("'" + text + "' has an unknown size suffix (use K, M, G or T)");
  if (shift > 0 && n > (INT64_MAX >> shift)) return Status::Invalid("'" + text + "' is too large");
  *out = n << shift;
  return Status::OK();
}

Status ParseBool(const std::string& text, bool* out) {
  std::string t = Trim(text);
  if (t == "true" || t == "yes" || t == "1" || t == "on") *out = true;
  else if (t == "false" || t == "no" || t == "0" || t == "off") *out = false;
  else return Status::Invalid("'" + text + "' is not a boolean (true/false)");
  return Status::OK();
}

Status Config::LoadFile(const std::string& path, bool missing_ok) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    int err = errno;
    if (err == ENOENT && missing_ok) return Status::OK();
    return Status::FromErrno(err, "config " + path);
  }
  ParseState st{this, path, Status::OK(), f};
  int rc = ini_parse_stream(CountingReader, &st, IniHandler, &st);
  std::fclose(f);
  if (!st.status.ok()) return st.status;
  if (rc > 0) return Status::Invalid(path + ":" + std::to_string(rc) + ": syntax error");
  if (rc < 0) return Status::IOError("config " + path + ": cannot read");
  return Status::OK();
}

Status Config::Set(const std::string& section_key, const std::string& value) {
  size_t dot = section_key.find('.');
  if (dot == std::string::npos)
    return Status::Invalid("setting '" + section_key + "' must be section.key");
  return SetKey(this, section_key.substr(0, dot), section_key.substr(dot + 1), Trim(value));
}

Status Config::SetAssignment(const std::string& assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string::npos)
    return Status::Invalid("setting '" + assignment + "' must be section.key=value");
  return Set(Trim(assignment.substr(0, eq)), assignment.substr(eq + 1));
}

Status Config::Validate() const {
  if ((block_size & (block_size - 1)) != 0)
    return Status::Invalid("cluster.block_size " + std::to_string(block_size) +
                           " is not a power of two");
  if (chunk_size % block_size != 0)
    return Status::Invalid("cluster.chunk_size " + std::to_string(chunk_size) +
                           " is not a multiple of cluster.block_size " +
                           std::to_string(block_size));
  return Status::OK();
}

std::string Config::Dump() const {
  std::string out;
  for (const KeyDef& k : Keys())
    out += std::string(k.section) + "." + k.key + " = " + k.get(*this) + "\n";
  return out;
}

Status LoadConfig(const std::string& path, const std::vector<std::string>& sets, Config* out) {
  Config c;
  if (path.empty()) {
    REPLFS_RETURN_IF_ERROR(c.LoadFile(kDefaultConfigPath, /*missing_ok=*/true));
  } else {
    REPLFS_RETURN_IF_ERROR(c.LoadFile(path, /*missing_ok=*/false));
  }
  for (const std::string& s : sets) {
    Status st = c.SetAssignment(s);
    if (!st.ok()) return Status::Invalid("--set " + s + ": " + st.message());
  }
  REPLFS_RETURN_IF_ERROR(c.Validate());
  *out = std::move(c);
  return Status::OK();
}

}  // namespace replfs
