#include "daemons/metad/redo_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "common/crc32c.h"
#include "common/log.h"

namespace replfs::metad {
namespace {

constexpr std::string_view kLogMagic = "RPLFSL01";
constexpr size_t kRecordHead = 16;  // u32 length, u32 crc, u64 seq
// A record larger than this is not one metad wrote (a group is bounded by
// the RPC limits long before): the log ends there.
constexpr uint32_t kMaxRecord = 1u << 30;
enum : uint8_t { kPut = 1, kDelete = 2 };

void PutLe(std::string* s, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetLe(const char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string EncodeRecord(uint64_t seq, const std::vector<LogWrite>& writes) {
  std::string payload;
  PutLe(&payload, writes.size(), 4);
  for (const LogWrite& w : writes) {
    payload.push_back(static_cast<char>(w.value ? kPut : kDelete));
    PutLe(&payload, w.key.size(), 4);
    payload.append(w.key);
    if (w.value) {
      PutLe(&payload, w.value->size(), 4);
      payload.append(*w.value);
    }
  }
  std::string seq_bytes;
  PutLe(&seq_bytes, seq, 8);
  const uint32_t crc = Crc32cExtend(Crc32c(seq_bytes), payload.data(), payload.size());
  std::string rec;
  rec.reserve(kRecordHead + payload.size());
  PutLe(&rec, payload.size(), 4);
  PutLe(&rec, crc, 4);
  rec.append(seq_bytes);
  rec.append(payload);
  return rec;
}

// Decodes a payload whose CRC matched; false if it does not parse (which a
// matching CRC makes a bug or deliberate damage, treated like a torn record).
bool DecodePayload(std::string_view p, std::vector<LogWrite>* out) {
  auto take = [&](size_t n, std::string_view* v) {
    if (p.size() < n) return false;
    *v = p.substr(0, n);
    p.remove_prefix(n);
    return true;
  };
  auto u32 = [&](uint64_t* v) {
    std::string_view b;
    if (!take(4, &b)) return false;
    *v = GetLe(b.data(), 4);
    return true;
  };
  uint64_t count = 0;
  if (!u32(&count)) return false;
  out->clear();
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view op, key, value;
    uint64_t n = 0;
    if (!take(1, &op) || !u32(&n) || !take(n, &key)) return false;
    LogWrite w{std::string(key), std::nullopt};
    if (op[0] == kPut) {
      if (!u32(&n) || !take(n, &value)) return false;
      w.value = std::string(value);
    } else if (op[0] != kDelete) {
      return false;
    }
    out->push_back(std::move(w));
  }
  return p.empty();
}

Status ReadWhole(int fd, const std::string& path, std::string* out) {
  out->clear();
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "read " + path);
    if (n == 0) return Status::OK();
    out->append(buf, static_cast<size_t>(n));
  }
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "write " + path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

}  // namespace

RedoLog::RedoLog(std::string path, int fd, int64_t size, uint64_t last_seq)
    : path_(std::move(path)), fd_(fd), size_(size), last_seq_(last_seq), synced_seq_(last_seq) {}

RedoLog::~RedoLog() { ::close(fd_); }

Status RedoLog::Open(const std::string& path, uint64_t applied, const ReplayFn& replay,
                     std::unique_ptr<RedoLog>* out) {
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  const bool created = fd < 0 && errno == ENOENT;
  if (created) fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno(errno, "open " + path);
  std::unique_ptr<RedoLog> log(new RedoLog(path, fd, 0, applied));
  std::string data;
  REPLFS_RETURN_IF_ERROR(ReadWhole(fd, path, &data));
  if (data.empty()) {
    if (!created && applied > 0)
      LOG(WARNING) << "redo log " << path << " is empty; the store holds records up to "
                   << applied << ", continuing from there";
    REPLFS_RETURN_IF_ERROR(WriteAll(fd, kLogMagic, path));
    if (::fsync(fd) != 0) return Status::FromErrno(errno, "fsync " + path);
    log->size_ = static_cast<int64_t>(kLogMagic.size());
    *out = std::move(log);
    return Status::OK();
  }
  if (data.size() < kLogMagic.size() || std::string_view(data).substr(0, kLogMagic.size()) != kLogMagic)
    return Status::Corruption("metadata redo log " + path +
                              " has no replfs header; refusing to start, the file is left untouched");
  size_t pos = kLogMagic.size();
  uint64_t expect = 0;  // the sequence number the next record must have (0: not known yet)
  int64_t replayed = 0;
  std::vector<LogWrite> writes;
  std::string why;  // why the log ended before the end of the file
  while (pos < data.size()) {
    if (data.size() - pos < kRecordHead) {
      why = "a short record header";
      break;
    }
    const char* h = data.data() + pos;
    const uint32_t len = static_cast<uint32_t>(GetLe(h, 4));
    const uint32_t crc = static_cast<uint32_t>(GetLe(h + 4, 4));
    const uint64_t seq = GetLe(h + 8, 8);
    if (len > kMaxRecord || data.size() - pos - kRecordHead < len) {
      why = "a short record";
      break;
    }
    std::string_view payload(h + kRecordHead, len);
    if (Crc32cExtend(Crc32c(h + 8, 8), payload.data(), payload.size()) != crc) {
      why = "a record with a bad checksum";
      break;
    }
    if (expect != 0 && seq != expect) {
      why = "record " + std::to_string(seq) + " where " + std::to_string(expect) + " was due";
      break;
    }
    if (!DecodePayload(payload, &writes)) {
      why = "a record that does not parse";
      break;
    }
    if (seq > applied) {
      if (replayed == 0 && seq != applied + 1)
        return Status::Corruption("metadata redo log " + path + ": the store holds records up to " +
                                  std::to_string(applied) + " but the log continues at " +
                                  std::to_string(seq) + "; records are missing, refusing to start");
      REPLFS_RETURN_IF_ERROR(replay(seq, &writes));
      ++replayed;
      log->last_seq_ = seq;
    }
    expect = seq + 1;
    pos += kRecordHead + len;
  }
  if (pos < data.size()) {
    LOG(WARNING) << "redo log " << path << ": ends at byte " << pos << " of " << data.size()
                 << " (" << why << "); dropping the " << data.size() - pos
                 << " bytes after it (a write torn by a crash of the machine, or old records)";
    if (::ftruncate(fd, static_cast<off_t>(pos)) != 0 || ::fsync(fd) != 0)
      return Status::FromErrno(errno, "cutting " + path);
  }
  if (replayed == 0 && pos > kLogMagic.size()) {
    // Every record is in the store already (a checkpoint whose reset did not
    // happen): drop them, so that new records do not follow older ones with
    // a gap between.
    if (::ftruncate(fd, static_cast<off_t>(kLogMagic.size())) != 0 || ::fsync(fd) != 0)
      return Status::FromErrno(errno, "truncating " + path);
    pos = kLogMagic.size();
  }
  if (replayed > 0)
    LOG(INFO) << "redo log " << path << ": replayed " << replayed << " records (" << applied + 1
              << ".." << log->last_seq_.load() << ")";
  log->size_ = static_cast<int64_t>(pos);
  {
    MutexLock l(&log->sync_mu_);
    log->synced_seq_ = log->last_seq_.load();
  }
  *out = std::move(log);
  return Status::OK();
}

Status RedoLog::Append(const std::vector<LogWrite>& writes, uint64_t* seq) {
  const uint64_t next = last_seq_.load() + 1;
  const std::string rec = EncodeRecord(next, writes);
  const int64_t before = size_.load();
  Status s = WriteAll(fd_, rec, path_);
  if (!s.ok()) {
    // A partial record would end the log at the next start anyway; cut it
    // now so that the next record is not written after it.
    if (::ftruncate(fd_, static_cast<off_t>(before)) != 0)
      return Status::IOError(s.message() + "; and cutting the partial record failed: " +
                             std::strerror(errno));
    return s;
  }
  size_ = before + static_cast<int64_t>(rec.size());
  last_seq_ = next;
  *seq = next;
  return Status::OK();
}

Status RedoLog::Sync() {
  MutexLock l(&sync_mu_);
  const uint64_t target = last_seq_.load();
  if (target <= synced_seq_) return Status::OK();
  if (::fdatasync(fd_) != 0) return Status::FromErrno(errno, "fdatasync " + path_);
  syncs_.fetch_add(1);
  synced_seq_ = target;
  return Status::OK();
}

Status RedoLog::Reset(bool durable) {
  MutexLock l(&sync_mu_);
  if (::ftruncate(fd_, static_cast<off_t>(kLogMagic.size())) != 0)
    return Status::FromErrno(errno, "truncate " + path_);
  size_ = static_cast<int64_t>(kLogMagic.size());
  if (durable && ::fsync(fd_) != 0) return Status::FromErrno(errno, "fsync " + path_);
  synced_seq_ = last_seq_.load();
  return Status::OK();
}

}  // namespace replfs::metad
