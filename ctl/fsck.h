// `fsctl fsck`: walks a file or a directory tree through metad, asks for the
// replica report of every regular file and streams it to a sink.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>

#include "common/status.h"
#include "ctl/meta_api.h"
#include "ctl/types.h"

namespace replfs::ctl {

struct FsckSummary {
  int64_t files = 0;
  int64_t chunks = 0;
  int64_t replicas = 0;
  int64_t replicas_ok = 0;
  int64_t replicas_bad = 0; // any state but ok
  int64_t chunks_below_goal =
      0; // fewer ok replicas on distinct servers than the goal
  int64_t chunks_unavailable = 0; // no ok replica at all
  int64_t skipped = 0;            // entries that vanished during the walk
  int64_t unchecked = 0; // files metad could not check within its budget

  bool clean() const {
    return replicas_bad == 0 && chunks_below_goal == 0 && unchecked == 0;
  }
};

// Per-chunk verdict used by both the summary and the renderers.
struct ChunkVerdict {
  int ok_distinct = 0; // ok replicas on distinct servers
  int bad = 0;         // replicas not ok
  bool below_goal = false;
};
ChunkVerdict JudgeChunk(const ChunkInfo &c, int goal);

// Receives the walk's results as they come. Exactly one of Finish() and
// Abort() ends the output.
class FsckSink {
public:
  virtual ~FsckSink() = default;
  virtual void OnFile(const FileInfo &f) = 0;
  // A file metad answered TimedOut for (too many chunks to check within its
  // budget): listed, with metad's message, but it has no report.
  virtual void OnUnchecked(const std::string &path, int64_t ino,
                           const std::string &why) = 0;
  // The walk ended.
  virtual void Finish(const FsckSummary &s) = 0;
  // The walk stopped part-way (or never started) because of `error`: what
  // was written stays valid (JSON: the document is closed), the summary
  // counts what was seen.
  virtual void Abort(const FsckSummary &s, const std::string &error) = 0;
};

// Replica states as fsck prints them: DESIGN.md's ok|corrupt|missing|stale.
// A replica metad could not check (its server down or not answering) is
// "missing", with FsckDetail() saying why.
const char *FsckStateName(ReplicaState s);
// What fsck says about a replica besides its state ("" for an ok one):
// metad's detail, prefixed "unreachable" for a replica that was not checked.
std::string FsckDetail(const ReplicaInfo &r);

// Text: one block per file, one line per chunk, a summary line.
std::unique_ptr<FsckSink> NewTextSink(std::ostream *out);
// JSON: {"files":[...],"summary":{...},"complete":true}, each file written as
// it arrives; a replica not checked also has "unreachable": true; a file
// not checked is {"path","ino","error"}; after Abort() "complete" is false
// and "error" says why.
std::unique_ptr<FsckSink> NewJsonSink(std::ostream *out);

class FsckWalker {
public:
  // `api` and `sink` outlive the walker.
  FsckWalker(MetaApi *api, FsckSink *sink) : api_(api), sink_(sink) {}

  // Checks `fs_path` (a regular file, or a directory: every regular file
  // below it, in name order). Files that vanish during the walk are skipped;
  // a file metad answers TimedOut for is reported unchecked and the walk
  // goes on. On any other error (path not found, no answer from metad)
  // returns it; Finish() is then not called (the caller Abort()s the sink).
  Status Run(const std::string &fs_path);
  const FsckSummary &summary() const { return summary_; }

private:
  // `nested`: reached through a directory listing, so vanishing is no error.
  Status Visit(int64_t ino, FileType type, const std::string &path,
               bool nested);
  Status CheckFile(int64_t ino, const std::string &path, bool nested);
  Status WalkDir(int64_t ino, const std::string &path, bool nested);

  static constexpr int kPageSize = 1024;

  MetaApi *const api_;
  FsckSink *const sink_;
  FsckSummary summary_;
};

} // namespace replfs::ctl
