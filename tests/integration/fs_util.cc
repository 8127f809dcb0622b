#include "tests/integration/fs_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <vector>

#include "tests/integration/process.h"

namespace replfs::testing {

std::string ErrnoText(int err) {
  return "errno " + std::to_string(err) + " (" + std::strerror(err) + ")";
}

std::string Sha256Hex(const void* data, size_t len) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_Digest(data, len, md, &md_len, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < md_len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

std::string Sha256Sum(const std::string& path) {
  CommandResult r = RunCommand({"sha256sum", path}, std::chrono::seconds(300));
  if (r.exit_code != 0) return "sha256sum failed: " + r.Describe();
  return r.out.substr(0, r.out.find(' '));
}

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  for (; i < n; ++i) s[i] = static_cast<char>(rng());
  return s;
}

uint64_t TestSeed() {
  uint64_t seed = std::random_device{}();
  if (const char* env = std::getenv("REPLFS_TEST_SEED")) seed = std::strtoull(env, nullptr, 0);
  std::cout << "[ seed ] REPLFS_TEST_SEED=" << seed << std::endl;
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

::testing::AssertionResult WriteFile(const std::string& path, const std::string& data, int mode) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return ::testing::AssertionFailure() << "open " << path << ": " << ErrnoText(errno);
  size_t done = 0;
  while (done < data.size()) {
    const size_t n = std::min<size_t>(data.size() - done, 1 << 20);
    const ssize_t w = write(fd, data.data() + done, n);
    if (w <= 0) {
      const int err = errno;
      close(fd);
      return ::testing::AssertionFailure()
             << "write " << path << " at " << done << ": " << ErrnoText(err);
    }
    done += static_cast<size_t>(w);
  }
  if (fsync(fd) != 0) {
    const int err = errno;
    close(fd);
    return ::testing::AssertionFailure() << "fsync " << path << ": " << ErrnoText(err);
  }
  if (close(fd) != 0) {
    return ::testing::AssertionFailure() << "close " << path << ": " << ErrnoText(errno);
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult ReadFile(const std::string& path, std::string* out) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ::testing::AssertionFailure() << "open " << path << ": " << ErrnoText(errno);
  out->clear();
  std::vector<char> buf(1 << 20);
  for (;;) {
    const ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      const int err = errno;
      close(fd);
      return ::testing::AssertionFailure() << "read " << path << ": " << ErrnoText(err);
    }
    if (n == 0) break;
    out->append(buf.data(), static_cast<size_t>(n));
  }
  close(fd);
  return ::testing::AssertionSuccess();
}

namespace {

std::string Xattrs(const std::string& path) {
  std::vector<char> names(65536);
  const ssize_t n = llistxattr(path.c_str(), names.data(), names.size());
  if (n < 0) return "listxattr: " + ErrnoText(errno);
  std::map<std::string, std::string> all;
  for (ssize_t i = 0; i < n;) {
    const std::string name(&names[static_cast<size_t>(i)]);
    i += static_cast<ssize_t>(name.size()) + 1;
    std::vector<char> value(65536);
    const ssize_t v = lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    all[name] = v < 0 ? "getxattr: " + ErrnoText(errno)
                      : Sha256Hex(value.data(), static_cast<size_t>(v)).substr(0, 16);
  }
  std::string out;
  for (const auto& [k, v] : all) out += k + "=" + v + ";";
  return out;
}

void Walk(const std::string& root, const std::string& rel, std::map<std::string, std::string>* out,
          std::map<ino_t, std::string>* first_link) {
  const std::string path = rel.empty() ? root : root + "/" + rel;
  const std::string key = rel.empty() ? "." : rel;
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    (*out)[key] = "lstat: " + ErrnoText(errno);
    return;
  }
  std::ostringstream rec;
  rec << "mode=" << std::oct << st.st_mode << std::dec << " uid=" << st.st_uid
      << " gid=" << st.st_gid << " nlink=" << st.st_nlink << " mtime=" << st.st_mtim.tv_sec << "."
      << st.st_mtim.tv_nsec;
  if (!S_ISDIR(st.st_mode)) rec << " size=" << st.st_size;
  if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
    auto [it, inserted] = first_link->emplace(st.st_ino, key);
    if (!inserted) rec << " same_inode_as=" << it->second;
  }
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    const ssize_t n = readlink(path.c_str(), target, sizeof(target));
    rec << " target=" << (n < 0 ? ErrnoText(errno) : std::string(target, static_cast<size_t>(n)));
  } else {
    rec << " xattrs=" << Xattrs(path);
  }
  if (S_ISREG(st.st_mode)) {
    std::string data;
    auto r = ReadFile(path, &data);
    rec << " sha256=" << (r ? Sha256Hex(data) : std::string(r.message()));
  }
  (*out)[key] = rec.str();
  if (!S_ISDIR(st.st_mode)) return;
  DIR* d = opendir(path.c_str());
  if (d == nullptr) {
    (*out)[key] += " opendir: " + ErrnoText(errno);
    return;
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());  // hard-link groups need a stable order
  for (const std::string& n : names) Walk(root, rel.empty() ? n : rel + "/" + n, out, first_link);
}

}  // namespace

std::map<std::string, std::string> SnapshotTree(const std::string& root) {
  std::map<std::string, std::string> out;
  std::map<ino_t, std::string> first_link;
  Walk(root, "", &out, &first_link);
  return out;
}

}  // namespace replfs::testing
