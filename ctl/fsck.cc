#include "ctl/fsck.h"

#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "ctl/format.h"
#include "ctl/json.h"

namespace replfs::ctl {
namespace {

std::string Join(const std::string &dir, const std::string &name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

nlohmann::json SummaryJson(const FsckSummary &s) {
  return {{"files", s.files},
          {"chunks", s.chunks},
          {"replicas", s.replicas},
          {"replicas_ok", s.replicas_ok},
          {"replicas_bad", s.replicas_bad},
          {"chunks_below_goal", s.chunks_below_goal},
          {"chunks_unavailable", s.chunks_unavailable},
          {"skipped", s.skipped},
          {"unchecked", s.unchecked},
          {"ok", s.clean()}};
}

std::string SummaryLine(const FsckSummary &s) {
  std::string line =
      std::to_string(s.files) + " files, " + std::to_string(s.chunks) +
      " chunks, " + std::to_string(s.replicas) + " replicas (" +
      std::to_string(s.replicas_ok) + " ok, " + std::to_string(s.replicas_bad) +
      " bad), " + std::to_string(s.chunks_below_goal) + " chunks below goal, " +
      std::to_string(s.chunks_unavailable) + " unavailable";
  if (s.skipped)
    line += ", " + std::to_string(s.skipped) + " skipped";
  if (s.unchecked)
    line += ", " + std::to_string(s.unchecked) + " files not checked";
  return line;
}

class TextSink : public FsckSink {
public:
  explicit TextSink(std::ostream *out) : out_(*out) {}

  void OnFile(const FileInfo &f) override {
    out_ << f.path << "  ino " << f.ino << "  size " << FormatBytes(f.size)
         << "  goal " << f.goal << "  " << f.chunks.size()
         << (f.chunks.size() == 1 ? " chunk" : " chunks") << "\n";
    for (const ChunkInfo &c : f.chunks) {
      const ChunkVerdict v = JudgeChunk(c, f.goal);
      out_ << "  chunk " << c.index << "  id " << c.id << "  v" << c.version
           << "  ";
      for (size_t i = 0; i < c.replicas.size(); ++i) {
        const ReplicaInfo &r = c.replicas[i];
        out_ << (i ? ", " : "") << r.addr << " " << FsckStateName(r.state);
        const std::string detail = FsckDetail(r);
        if (!detail.empty())
          out_ << " (" << detail << ")";
      }
      if (c.replicas.empty())
        out_ << "no replicas";
      if (v.below_goal)
        out_ << "  [" << v.ok_distinct << "/" << f.goal << " ok]";
      out_ << "\n";
    }
    out_.flush();
  }

  void OnUnchecked(const std::string &path, int64_t ino,
                   const std::string &why) override {
    out_ << path << "  ino " << ino << "  NOT CHECKED: " << why << "\n";
    out_.flush();
  }

  void Finish(const FsckSummary &s) override {
    out_ << "summary: " << SummaryLine(s) << ": "
         << (s.clean() ? "OK" : "PROBLEMS FOUND") << "\n";
  }

  void Abort(const FsckSummary &s, const std::string &error) override {
    out_ << "summary: INCOMPLETE, the walk stopped (" << error
         << "); so far: " << SummaryLine(s) << "\n";
  }

private:
  std::ostream &out_;
};

class JsonSink : public FsckSink {
public:
  explicit JsonSink(std::ostream *out) : out_(*out) {}

  void OnFile(const FileInfo &f) override {
    nlohmann::json chunks = nlohmann::json::array();
    for (const ChunkInfo &c : f.chunks) {
      nlohmann::json replicas = nlohmann::json::array();
      for (const ReplicaInfo &r : c.replicas) {
        nlohmann::json jr = {{"addr", r.addr},
                             {"state", FsckStateName(r.state)}};
        const std::string detail = FsckDetail(r);
        if (!detail.empty())
          jr["detail"] = detail;
        if (r.state == ReplicaState::kUnreachable)
          jr["unreachable"] = true;
        replicas.push_back(std::move(jr));
      }
      chunks.push_back({{"index", c.index},
                        {"id", c.id},
                        {"version", c.version},
                        {"replicas", replicas}});
    }
    nlohmann::json jf = {{"path", f.path},
                         {"ino", f.ino},
                         {"size", f.size},
                         {"goal", f.goal},
                         {"chunks", chunks}};
    Write(jf);
  }

  void OnUnchecked(const std::string &path, int64_t ino,
                   const std::string &why) override {
    Write({{"path", path}, {"ino", ino}, {"error", why}});
  }

  void Finish(const FsckSummary &s) override { Close(s, {{"complete", true}}); }

  void Abort(const FsckSummary &s, const std::string &error) override {
    Close(s, {{"complete", false}, {"error", error}});
  }

private:
  void Write(const nlohmann::json &file) {
    out_ << (first_ ? "{\"files\":[\n" : ",\n") << DumpJson(file);
    first_ = false;
    out_.flush();
  }

  // Ends the array and the document: `tail` holds the members after
  // "summary".
  void Close(const FsckSummary &s, const nlohmann::json &tail) {
    out_ << (first_ ? "{\"files\":[" : "\n")
         << "],\n\"summary\":" << DumpJson(SummaryJson(s));
    for (const auto &[k, v] : tail.items())
      out_ << ",\n" << DumpJson(k) << ":" << DumpJson(v);
    out_ << "}\n";
    out_.flush();
  }

  std::ostream &out_;
  bool first_ = true;
};

} // namespace

const char *FsckStateName(ReplicaState s) {
  return s == ReplicaState::kUnreachable ? "missing" : ReplicaStateName(s);
}

std::string FsckDetail(const ReplicaInfo &r) {
  if (r.state == ReplicaState::kOk)
    return "";
  if (r.state == ReplicaState::kUnreachable)
    return r.detail.empty() ? "unreachable, not checked"
                            : "unreachable, not checked: " + r.detail;
  return r.detail;
}

ChunkVerdict JudgeChunk(const ChunkInfo &c, int goal) {
  ChunkVerdict v;
  std::set<std::string> ok_addrs;
  for (const ReplicaInfo &r : c.replicas) {
    if (r.state == ReplicaState::kOk) {
      ok_addrs.insert(r.addr);
    } else {
      ++v.bad;
    }
  }
  v.ok_distinct = static_cast<int>(ok_addrs.size());
  // Without a known goal, a chunk still needs one good copy.
  v.below_goal = v.ok_distinct < (goal > 0 ? goal : 1);
  return v;
}

std::unique_ptr<FsckSink> NewTextSink(std::ostream *out) {
  return std::make_unique<TextSink>(out);
}
std::unique_ptr<FsckSink> NewJsonSink(std::ostream *out) {
  return std::make_unique<JsonSink>(out);
}

Status FsckWalker::Run(const std::string &fs_path) {
  int64_t ino = 0;
  FileType type = FileType::kOther;
  Status s = api_->ResolvePath(fs_path, &ino);
  if (s.ok())
    s = api_->GetType(ino, &type);
  if (!s.ok())
    return s.WithContext(fs_path);
  REPLFS_RETURN_IF_ERROR(Visit(ino, type, fs_path, /*nested=*/false));
  sink_->Finish(summary_);
  return Status::OK();
}

Status FsckWalker::Visit(int64_t ino, FileType type, const std::string &path,
                         bool nested) {
  switch (type) {
  case FileType::kRegular:
    return CheckFile(ino, path, nested);
  case FileType::kDirectory:
    return WalkDir(ino, path, nested);
  case FileType::kOther:
    return Status::OK(); // symlinks, devices: no chunks
  }
  return Status::OK();
}

Status FsckWalker::CheckFile(int64_t ino, const std::string &path,
                             bool nested) {
  FileInfo f;
  Status s = api_->Fsck(ino, &f);
  if (s.IsNotFound() && nested) {
    ++summary_.skipped; // unlinked while we walked
    return Status::OK();
  }
  if (s.code() == Status::Code::kTimedOut && !IsNoAnswer(s)) {
    // metad ran out of its budget for this file: say so, go on with others.
    ++summary_.unchecked;
    sink_->OnUnchecked(path, ino, s.message());
    return Status::OK();
  }
  REPLFS_RETURN_IF_ERROR(s.WithContext(path));
  f.path = path; // the name we reached it by (metad may not know one)
  ++summary_.files;
  for (const ChunkInfo &c : f.chunks) {
    const ChunkVerdict v = JudgeChunk(c, f.goal);
    ++summary_.chunks;
    summary_.replicas += static_cast<int64_t>(c.replicas.size());
    summary_.replicas_bad += v.bad;
    summary_.replicas_ok += static_cast<int64_t>(c.replicas.size()) - v.bad;
    summary_.chunks_below_goal += v.below_goal;
    summary_.chunks_unavailable += v.ok_distinct == 0;
  }
  sink_->OnFile(f);
  return Status::OK();
}

Status FsckWalker::WalkDir(int64_t ino, const std::string &path, bool nested) {
  std::string after;
  for (;;) {
    std::vector<DirEntryInfo> page;
    bool eof = false;
    Status s = api_->ReadDir(ino, after, kPageSize, &page, &eof);
    if (s.IsNotFound() && nested) {
      ++summary_.skipped; // removed while we walked
      return Status::OK();
    }
    REPLFS_RETURN_IF_ERROR(s.WithContext(path));
    for (const DirEntryInfo &e : page) {
      REPLFS_RETURN_IF_ERROR(
          Visit(e.ino, e.type, Join(path, e.name), /*nested=*/true));
    }
    if (eof || page.empty())
      return Status::OK();
    after = page.back().name;
  }
}

} // namespace replfs::ctl
