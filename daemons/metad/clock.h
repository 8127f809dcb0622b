// A monotonic millisecond clock, injectable so tests control time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace replfs::metad {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;  // monotonic
};

class SteadyClock : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

// Tests: time moves only when told to. Thread-safe.
class FakeClock : public Clock {
 public:
  int64_t NowMs() const override { return now_.load(); }
  void Advance(int64_t ms) { now_ += ms; }

 private:
  std::atomic<int64_t> now_{1000000};
};

}  // namespace replfs::metad
