#include "tests/fuzz/fuzz_util.h"

#include <thrift/TApplicationException.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "common/log.h"
#include "replfs_types.h"
#include "thrift/client_pool.h"
#include "thrift/transport.h"

namespace replfs::fuzz {

using apache::thrift::TApplicationException;
using apache::thrift::TException;
using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::protocol::TMessageType;
using apache::thrift::transport::TMemoryBuffer;

namespace {

// Directories of fuzz processes that died (a crash skips the destructors):
// "<prefix>-<pid>-XXXXXX" whose pid no longer exists.
void RemoveStale(const std::string& base, const std::string& prefix) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(base, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix + "-", 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + prefix.size() + 1, nullptr, 10);
    if (pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
      std::filesystem::remove_all(e.path(), ec);
  }
}

}  // namespace

ScratchDir::ScratchDir(const std::string& prefix) {
  std::string base = "/dev/shm";
  if (!std::filesystem::is_directory(base)) {
    const char* t = std::getenv("TMPDIR");
    base = t != nullptr && *t != '\0' ? t : "/tmp";
  }
  RemoveStale(base, prefix);
  std::string tmpl = base + "/" + prefix + "-" + std::to_string(getpid()) + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror(("mkdtemp " + tmpl).c_str());
    std::abort();
  }
  path_ = tmpl;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void ScratchDir::Clear() {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(path_, ec))
    std::filesystem::remove_all(e.path(), ec);
}

int64_t EnvInt(const char* name, int64_t dflt) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return dflt;
  char* end = nullptr;
  const long long x = std::strtoll(v, &end, 10);
  return *end == '\0' ? x : dflt;
}

void QuietLogs() {
  LogLevel level = LogLevel::kError;
  const char* v = std::getenv("REPLFS_FUZZ_LOG");
  if (v != nullptr && !ParseLogLevel(v, &level)) level = LogLevel::kError;
  SetLogLevel(level);
  net::RouteThriftLogging();  // "received invalid message type" per input otherwise
}

uint64_t Hash(std::string_view s, uint64_t seed) {
  uint64_t h = 14695981039346656037ull ^ seed;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

std::vector<Call> ParseCalls(const uint8_t* data, size_t size, size_t methods, uint8_t* knobs) {
  std::vector<Call> calls;
  *knobs = size > 0 ? data[0] : 0;
  size_t pos = 1;
  while (pos + 3 <= size && calls.size() < kMaxCalls) {
    const uint8_t op = data[pos];
    size_t len = data[pos + 1] | (static_cast<size_t>(data[pos + 2]) << 8);
    pos += 3;
    len = std::min(len, size - pos);
    Call c;
    c.body = std::string_view(reinterpret_cast<const char*>(data + pos), len);
    const size_t sel = op % (methods + 2);
    if (sel < methods) {
      c.kind = Call::kMethod;
      c.method = sel;
    } else {
      c.kind = sel == methods ? Call::kRaw : Call::kSpecial;
    }
    calls.push_back(c);
    pos += len;
  }
  return calls;
}

void AppendCall(std::string* input, uint8_t op, std::string_view body) {
  const size_t len = std::min<size_t>(body.size(), 0xffff);
  input->push_back(static_cast<char>(op));
  input->push_back(static_cast<char>(len & 0xff));
  input->push_back(static_cast<char>(len >> 8));
  input->append(body.substr(0, len));
}

std::string FrameMessage(const std::string& name, std::string_view body, int32_t seqid) {
  auto buf = std::make_shared<TMemoryBuffer>();
  TBinaryProtocol proto(buf);
  proto.writeMessageBegin(name, apache::thrift::protocol::T_CALL, seqid);
  std::string out = buf->getBufferAsString();
  out.append(body);
  return out;
}

namespace {

bool Tracing() {
  static const bool on = EnvInt("REPLFS_FUZZ_TRACE", 0) != 0;
  return on;
}

// Prints "method: ok" or "method: RpcError <code> <message>" from a result
// struct (field 0 success, field 1 the declared RpcError).
void TraceReply(const std::string& name, TBinaryProtocol* p) {
  std::string ignored;
  p->readStructBegin(ignored);
  apache::thrift::protocol::TType t;
  int16_t id = 0;
  p->readFieldBegin(ignored, t, id);
  if (id == 1 && t == apache::thrift::protocol::T_STRUCT) {
    rpc::RpcError e;
    e.read(p);
    std::fprintf(stderr, "trace: %s: RpcError %d %s\n", name.c_str(), static_cast<int>(e.code),
                 e.message.c_str());
    return;
  }
  std::fprintf(stderr, "trace: %s: ok\n", name.c_str());
}

}  // namespace

Outcome RunMessage(apache::thrift::TProcessor* processor, std::string_view message,
                   int32_t container_limit) {
  // TMemoryBuffer only reads from the bytes (OBSERVE): no copy per message.
  auto in = std::make_shared<TMemoryBuffer>(
      reinterpret_cast<uint8_t*>(const_cast<char*>(message.data())),
      static_cast<uint32_t>(message.size()), TMemoryBuffer::OBSERVE, net::MakeConfiguration());
  auto out = std::make_shared<TMemoryBuffer>(net::MakeConfiguration());
  auto iprot = std::make_shared<TBinaryProtocol>(in);
  // The limits the daemon's server sets (thrift/transport.h): without them
  // a few bytes claiming a long string or list allocated gigabytes (F1).
  iprot->setStringSizeLimit(net::kMaxStringBytes);
  iprot->setContainerSizeLimit(container_limit);
  auto oprot = std::make_shared<TBinaryProtocol>(out);
  try {
    processor->process(iprot, oprot, nullptr);
  } catch (const TException& e) {
    // A malformed message (bad header, field types, lengths past the end):
    // TConnectedClient logs it and closes the connection.
    if (Tracing()) std::fprintf(stderr, "trace: dropped: %s\n", e.what());
    return Outcome::kDropped;
  }
  if (out->available_read() == 0) return Outcome::kReply;  // a oneway-style call: no answer
  std::string name;
  TMessageType type;
  int32_t seqid = 0;
  TBinaryProtocol reply(out);
  reply.readMessageBegin(name, type, seqid);
  if (type != apache::thrift::protocol::T_EXCEPTION) {
    if (Tracing()) TraceReply(name, &reply);
    return Outcome::kReply;
  }
  TApplicationException x;
  x.read(&reply);
  if (x.getType() == TApplicationException::UNKNOWN_METHOD) {
    if (Tracing()) std::fprintf(stderr, "trace: %s: unknown method\n", name.c_str());
    return Outcome::kUnknownMethod;
  }
  std::fprintf(stderr, "FINDING: handler of %s let a non-RpcError exception escape: %s\n",
               name.c_str(), x.what());
  std::abort();
}

}  // namespace replfs::fuzz
