// Helpers for tests: polling with a deadline (never fixed sleeps) and
// self-deleting temporary directories.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace replfs::testing {

// The one polling loop of the tests: calls `pred` until it returns true or
// `timeout` passes, pausing `first_pause`, doubling up to `max_pause`, in
// between. Returns whether it became true; reports nothing.
inline bool PollUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                      std::chrono::milliseconds first_pause = std::chrono::milliseconds(1),
                      std::chrono::milliseconds max_pause = std::chrono::milliseconds(100)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = first_pause;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, max_pause);
  }
  return true;
}

// PollUntil that records a test failure naming `what` on timeout.
inline bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                    const std::string& what) {
  if (PollUntil(pred, timeout)) return true;
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
