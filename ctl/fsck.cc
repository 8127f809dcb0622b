#include "ctl/fsck.h"

#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "ctl/format.h"

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
          {"ok", s.clean()}};
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
        out_ << (i ? ", " : "") << r.addr << " " << ReplicaStateName(r.state);
        if (r.state != ReplicaState::kOk && !r.detail.empty())
          out_ << " (" << r.detail << ")";
      }
      if (c.replicas.empty())
        out_ << "no replicas";
      if (v.below_goal)
        out_ << "  [" << v.ok_distinct << "/" << f.goal << " ok]";
      out_ << "\n";
    }
    out_.flush();
  }

  void Finish(const FsckSummary &s) override {
    out_ << "summary: " << s.files << " files, " << s.chunks << " chunks, "
         << s.replicas << " replicas (" << s.replicas_ok << " ok, "
         << s.replicas_bad << " bad), " << s.chunks_below_goal
         << " chunks below goal, " << s.chunks_unavailable << " unavailable";
    if (s.skipped)
      out_ << ", " << s.skipped << " skipped";
    out_ << ": " << (s.clean() ? "OK" : "PROBLEMS FOUND") << "\n";
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
                             {"state", ReplicaStateName(r.state)}};
        if (!r.detail.empty())
          jr["detail"] = r.detail;
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
    out_ << (first_ ? "{\"files\":[\n" : ",\n") << jf.dump();
    first_ = false;
    out_.flush();
  }

  void Finish(const FsckSummary &s) override {
    out_ << (first_ ? "{\"files\":[" : "\n")
         << "],\n\"summary\":" << SummaryJson(s).dump() << "}\n";
  }

private:
  std::ostream &out_;
  bool first_ = true;
};

} // namespace

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
