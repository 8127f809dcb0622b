// Clang thread-safety annotations (no-ops on other compilers) and a mutex
// type the analysis understands.
#pragma once

#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#if defined(__clang__)
#define REPLFS_TSA(x) __attribute__((x))
#else
#define REPLFS_TSA(x)
#endif

#define LOCKABLE REPLFS_TSA(lockable)
#define SCOPED_LOCKABLE REPLFS_TSA(scoped_lockable)
#define GUARDED_BY(x) REPLFS_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) REPLFS_TSA(pt_guarded_by(x))
#define EXCLUSIVE_LOCKS_REQUIRED(...) REPLFS_TSA(exclusive_locks_required(__VA_ARGS__))
#define SHARED_LOCKS_REQUIRED(...) REPLFS_TSA(shared_locks_required(__VA_ARGS__))
#define LOCKS_EXCLUDED(...) REPLFS_TSA(locks_excluded(__VA_ARGS__))
#define EXCLUSIVE_LOCK_FUNCTION(...) REPLFS_TSA(exclusive_lock_function(__VA_ARGS__))
#define SHARED_LOCK_FUNCTION(...) REPLFS_TSA(shared_lock_function(__VA_ARGS__))
#define UNLOCK_FUNCTION(...) REPLFS_TSA(unlock_function(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS REPLFS_TSA(no_thread_safety_analysis)

namespace replfs {

class LOCKABLE Mutex {
 public:
  void Lock() EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() UNLOCK_FUNCTION() { mu_.unlock(); }
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

class SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

class LOCKABLE SharedMutex {
 public:
  void Lock() EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() UNLOCK_FUNCTION() { mu_.unlock(); }
  void LockShared() SHARED_LOCK_FUNCTION() { mu_.lock_shared(); }
  void UnlockShared() UNLOCK_FUNCTION() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

class SCOPED_LOCKABLE WriterLock {
 public:
  explicit WriterLock(SharedMutex* mu) EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~WriterLock() UNLOCK_FUNCTION() { mu_->Unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex* const mu_;
};

class SCOPED_LOCKABLE ReaderLock {
 public:
  explicit ReaderLock(SharedMutex* mu) SHARED_LOCK_FUNCTION(mu) : mu_(mu) { mu_->LockShared(); }
  ~ReaderLock() UNLOCK_FUNCTION() { mu_->UnlockShared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex* const mu_;
};

}  // namespace replfs
