// IoActivity: how many client requests the DataService handler is serving
// right now and has started in all, so that background work (the scrubber,
// idle compaction) can yield to them. Thread-safe; lock-free.
#pragma once

#include <atomic>
#include <cstdint>

namespace replfs::datad {

class IoActivity {
 public:
  // Counts one request from construction to destruction.
  class Scope {
   public:
    explicit Scope(IoActivity* a) : a_(a) {
      if (a_ == nullptr) return;
      a_->n_.fetch_add(1, std::memory_order_relaxed);
      a_->started_.fetch_add(1, std::memory_order_relaxed);
    }
    ~Scope() {
      if (a_ != nullptr) a_->n_.fetch_sub(1, std::memory_order_relaxed);
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    IoActivity* const a_;  // nullptr: counts nothing
  };

  int64_t in_flight() const { return n_.load(std::memory_order_relaxed); }
  // Requests started since construction: unchanged between two readings
  // means no request came in between.
  int64_t started() const { return started_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> n_{0};
  std::atomic<int64_t> started_{0};
};

}  // namespace replfs::datad
