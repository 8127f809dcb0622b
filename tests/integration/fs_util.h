// File-system helpers for integration tests: direct syscalls with errno in
// the failure message, deterministic random data, content digests and a
// snapshot of a whole tree for before/after comparisons.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>

namespace replfs::testing {

// SHA-256 as lowercase hex.
std::string Sha256Hex(const void* data, size_t len);
inline std::string Sha256Hex(const std::string& s) { return Sha256Hex(s.data(), s.size()); }
// `sha256sum PATH` (read through the kernel like any user would).
std::string Sha256Sum(const std::string& path);

// `n` pseudo-random bytes from `rng`.
std::string RandomBytes(std::mt19937_64& rng, size_t n);
// A seed for this run, printed so a failure can be replayed
// (REPLFS_TEST_SEED=... overrides it).
uint64_t TestSeed();

// Whole-file write (create/truncate, fsync, close) and read.
::testing::AssertionResult WriteFile(const std::string& path, const std::string& data,
                                     int mode = 0644);
::testing::AssertionResult ReadFile(const std::string& path, std::string* out);

// A textual record of every entry under `root` (relative path -> type, mode,
// owner, size, nlink, mtime, symlink target, xattrs, content digest, hard
// link group). atime is left out: reads change it.
std::map<std::string, std::string> SnapshotTree(const std::string& root);

// "errno 2 (No such file or directory)".
std::string ErrnoText(int err);

}  // namespace replfs::testing
