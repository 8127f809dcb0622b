// Helpers for tests: polling with a deadline (never fixed sleeps) and
// self-deleting temporary directories.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace replfs::testing {

// Polls `pred` every few milliseconds until it returns true or `timeout`
// passes. Returns whether it became true; `what` is for the failure message.
inline bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                    const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(pause);
    if (pause < std::chrono::milliseconds(100)) pause *= 2;
  }
  if (pred()) return true;
  ADD_FAILURE() << "timed out after " << timeout.count() << " ms waiting for: " << what;
  return false;
}

// mkdtemp under $TMPDIR (or /tmp); removed recursively on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "replfs-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace replfs::testing
