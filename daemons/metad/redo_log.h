// RedoLog: metad's log of committed metadata writes (`<data-dir>/meta.log`,
// format in FORMAT.md), in front of the Kyoto Cabinet store.
//
// A group commit appends one record (every key it put or deleted, in order)
// with one write(2): once Append() returns the record is in the kernel and
// survives `kill -9` of metad. Sync() makes what was appended durable against
// power loss with one fdatasync, however many records that covers. The store
// applies the records to Kyoto Cabinet in large batches (checkpoints) and then
// Reset()s the log; records carry a sequence number so that a record the
// store already holds is recognised (and skipped) when the log is read again.
//
// Open() reads the log back: records follow each other with consecutive
// sequence numbers and a CRC32C each. The first record that is short, fails
// its CRC or breaks the sequence ends the log (a write torn by a power loss,
// or old bytes left behind by a reset that did not reach the disk); the file
// is cut there, with a WARNING saying how many bytes were dropped.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"

namespace replfs::metad {

// One write of a record: the key's new value, or nullopt for a delete.
struct LogWrite {
  std::string key;
  std::optional<std::string> value;
};

class RedoLog {
 public:
  // Records with a sequence number <= `applied` (what the store already
  // holds) are skipped; the others go to `replay`, in order. The first one
  // must be `applied + 1`: a gap means records were lost (Corruption). A
  // file that is not a replfs redo log is refused and left untouched. A
  // missing file is created (empty).
  using ReplayFn = std::function<Status(uint64_t seq, std::vector<LogWrite>* writes)>;
  static Status Open(const std::string& path, uint64_t applied, const ReplayFn& replay,
                     std::unique_ptr<RedoLog>* out);
  ~RedoLog();
  RedoLog(const RedoLog&) = delete;
  RedoLog& operator=(const RedoLog&) = delete;

  // Appends one record with the next sequence number (returned in `seq`).
  // On an error nothing of it stays in the file. Not thread-safe against
  // other Append/Reset calls (the store's leader is the only writer).
  Status Append(const std::vector<LogWrite>& writes, uint64_t* seq);
  // Makes every record appended so far durable (one fdatasync; nothing if
  // nothing new). Thread-safe, also against Append and Reset.
  Status Sync();
  // Drops every record (they are all applied): truncates the file to its
  // header, fsync'd if `durable`. Sequence numbers go on from where they were.
  Status Reset(bool durable);

  uint64_t last_seq() const { return last_seq_.load(); }
  int64_t bytes() const { return size_.load(); }  // the file's size
  int64_t syncs() const { return syncs_.load(); }  // fdatasync calls made (tests)

 private:
  RedoLog(std::string path, int fd, int64_t size, uint64_t last_seq);

  const std::string path_;
  const int fd_;
  std::atomic<int64_t> size_;
  std::atomic<uint64_t> last_seq_;    // the newest record appended
  Mutex sync_mu_;                     // one fdatasync at a time
  uint64_t synced_seq_ GUARDED_BY(sync_mu_);  // durable up to here
  std::atomic<int64_t> syncs_{0};
};

}  // namespace replfs::metad
