// Helpers shared by the libFuzzer targets (tests/fuzz/README.md): scratch
// directories on /dev/shm, quiet logging, the input format of the RPC
// targets (a sequence of calls) and feeding one Thrift message to a
// generated processor the way the server would.
#pragma once

#include <thrift/TProcessor.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace replfs::fuzz {

// A fresh directory under /dev/shm (else $TMPDIR, else /tmp),
// "<prefix>-<pid>-XXXXXX", removed with its contents on destruction; those
// of dead processes (a crash skips destructors) are removed on creation.
// Aborts if it cannot be made: a fuzz target without its scratch space
// finds nothing.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  // Removes everything inside the directory (the directory stays).
  void Clear();

 private:
  std::string path_;
};

// $name as an integer, or `dflt` when unset or not a number.
int64_t EnvInt(const char* name, int64_t dflt);

// Logging at ERROR only, unless REPLFS_FUZZ_LOG names a level ("debug"...):
// a daemon's INFO/WARNING lines on every input would slow the fuzzer tenfold.
// Thrift's own diagnostics go to LOG(DEBUG).
void QuietLogs();

// FNV-1a, for deterministic pseudo-random choices derived from the input.
uint64_t Hash(std::string_view s, uint64_t seed = 0);

// LLVMFuzzerTestOneInput of the RPC targets: runs the input through a World
// (the target's servers and stores, with `void Run(const uint8_t*,
// size_t)`), made fresh for every input, or for every REPLFS_FUZZ_PERSIST
// inputs; dropping it closes its stores and removes their directory.
template <class World>
void RunInWorld(const uint8_t* data, size_t size) {
  static std::unique_ptr<World> world;
  static int64_t inputs_left = 0;
  if (world == nullptr) {
    world = std::make_unique<World>();
    inputs_left = std::max<int64_t>(EnvInt("REPLFS_FUZZ_PERSIST", 1), 1);
  }
  world->Run(data, size);
  if (--inputs_left <= 0) world.reset();
}

// The input format of the RPC targets:
//
//   input := knobs:u8 call*
//   call  := op:u8 len:u16 (little endian) body[len]   (len clipped to what is left)
//
// `knobs` parameterises the fakes (which calls fail). For op % (methods + 2):
//   < methods    kMethod: body is the arguments struct (TBinaryProtocol) of
//                methods[op]; the harness writes the message header, so the
//                fuzzer gets past the method-name lookup.
//   == methods   kRaw: body is a whole message, header included.
//   == methods+1 kSpecial: a target-specific action (see the target).
// At most kMaxCalls calls are read; the rest of the input is ignored.
struct Call {
  enum Kind { kMethod, kRaw, kSpecial };
  Kind kind = kRaw;
  size_t method = 0;  // index into the method list (kMethod)
  std::string_view body;
};
inline constexpr size_t kMaxCalls = 64;

// Splits `data` (after the knobs byte) into calls for a service with
// `methods` methods.
std::vector<Call> ParseCalls(const uint8_t* data, size_t size, size_t methods, uint8_t* knobs);
// The inverse, used by the seed generator: appends one call.
void AppendCall(std::string* input, uint8_t op, std::string_view body);

// A T_CALL message header for `name` followed by `body`.
std::string FrameMessage(const std::string& name, std::string_view body, int32_t seqid);

// How one message ended.
enum class Outcome {
  kReply,          // a T_REPLY (a result or a declared RpcError)
  kUnknownMethod,  // TApplicationException UNKNOWN_METHOD
  kDropped,        // the processor threw (malformed message): the server closes the connection
};

// Runs `message` through `processor` as the server does (buffered input,
// binary protocol with the server's string limit and `container_limit`
// (net::ServerOptions::max_container_elements), replfs's TConfiguration). A reply that is a
// TApplicationException for a known method means the handler let an
// exception other than RpcError escape: that aborts (a finding; the style
// allows only RpcError out of a handler).
Outcome RunMessage(apache::thrift::TProcessor* processor, std::string_view message,
                   int32_t container_limit);

}  // namespace replfs::fuzz
