// A fake metad for fsctl's unit tests: an in-memory namespace with file
// reports, scripted Status answers, and a record of the actions asked for.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "ctl/meta_api.h"
#include "ctl/progress.h"

namespace replfs::ctl {

// An in-memory namespace: directories hold sorted entries, files a report.
class FakeMetaApi : public MetaApi {
public:
  FakeMetaApi() { dirs_[1]; }

  int64_t AddDir(int64_t parent, const std::string &name) {
    const int64_t ino = next_++;
    dirs_[parent][name] = {name, ino, FileType::kDirectory};
    dirs_[ino];
    return ino;
  }
  int64_t AddFile(int64_t parent, const std::string &name,
                  std::vector<ChunkInfo> chunks) {
    const int64_t ino = next_++;
    dirs_[parent][name] = {name, ino, FileType::kRegular};
    FileInfo f;
    f.ino = ino;
    f.size = static_cast<int64_t>(chunks.size()) << 20;
    f.goal = 3;
    f.chunks = std::move(chunks);
    files_[ino] = f;
    return ino;
  }
  void Symlink(int64_t parent, const std::string &name) {
    dirs_[parent][name] = {name, next_++, FileType::kOther};
  }
  void Forget(int64_t ino) { files_.erase(ino); }

  // Every call fails as a call without an answer (connection refused).
  bool unreachable = false;
  int readdir_calls = 0;
  int readdir_fail_at = -1; // this ReadDir call (1, 2, ...) gets no answer

  // What a transport failure looks like through the real MetaApi.
  Status NoAnswerError() const {
    return NoAnswer(addr_, "call", 5000,
                    Status::Unavailable("connection refused"));
  }

  const std::string &addr() const override { return addr_; }
  // Answers statuses[0], statuses[1], ... and then repeats the last one.
  Status GetStatus(ClusterStatus *out) override {
    if (unreachable)
      return NoAnswerError();
    if (statuses.empty())
      return Status::Internal("no status scripted");
    *out = statuses[std::min(status_calls, statuses.size() - 1)];
    ++status_calls;
    return Status::OK();
  }
  Status ResolvePath(const std::string &path, int64_t *ino) override {
    if (unreachable)
      return NoAnswerError();
    int64_t cur = 1;
    size_t pos = 1;
    while (pos < path.size()) {
      size_t end = path.find('/', pos);
      if (end == std::string::npos)
        end = path.size();
      auto d = dirs_.find(cur);
      if (d == dirs_.end())
        return Status::NotDir(path);
      auto e = d->second.find(path.substr(pos, end - pos));
      if (e == d->second.end())
        return Status::NotFound(path);
      cur = e->second.ino;
      pos = end + 1;
    }
    *ino = cur;
    return Status::OK();
  }
  Status GetType(int64_t ino, FileType *type) override {
    if (dirs_.count(ino)) {
      *type = FileType::kDirectory;
    } else if (files_.count(ino)) {
      *type = FileType::kRegular;
    } else {
      return Status::NotFound("ino " + std::to_string(ino));
    }
    return Status::OK();
  }
  Status ReadDir(int64_t ino, const std::string &after, int max,
                 std::vector<DirEntryInfo> *entries, bool *eof) override {
    ++readdir_calls;
    if (readdir_calls == readdir_fail_at)
      return NoAnswerError();
    const auto &d = dirs_.at(ino);
    entries->clear();
    for (auto it = d.upper_bound(after); it != d.end(); ++it) {
      if (static_cast<int>(entries->size()) == max) {
        *eof = false;
        return Status::OK();
      }
      entries->push_back(it->second);
    }
    *eof = true;
    return Status::OK();
  }
  Status Fsck(int64_t ino, FileInfo *out) override {
    auto answer = fsck_answers.find(ino);
    if (answer != fsck_answers.end())
      return answer->second;
    auto it = files_.find(ino);
    if (it == files_.end())
      return Status::NotFound("ino " + std::to_string(ino));
    *out = it->second;
    return Status::OK();
  }
  Status GetGoal(int64_t ino, int *goal) override {
    if (!dirs_.count(ino) && !files_.count(ino))
      return Status::NotFound("ino");
    auto it = goals.find(ino);
    *goal = it == goals.end() ? 3 : it->second;
    return Status::OK();
  }
  Status Corrupt(const CorruptRequest &req, CorruptResult *out) override {
    corrupt_requests.push_back(req);
    if (!corrupt_answer.ok())
      return corrupt_answer;
    *out = corrupt_result;
    return Status::OK();
  }
  Status StartScrub(const std::string &server) override {
    scrub_servers.push_back(server);
    return action_answer;
  }
  Status Heal() override {
    ++heal_calls;
    return action_answer;
  }
  Status Drain(const std::string &addr) override {
    return ServerOp("drain " + addr);
  }
  Status Undrain(const std::string &addr) override {
    return ServerOp("undrain " + addr);
  }
  Status RemoveServer(const std::string &addr) override {
    return ServerOp("remove " + addr);
  }
  Status SetGoal(int64_t ino, int goal, bool recursive,
                 int64_t *changed) override {
    if (!action_answer.ok())
      return action_answer;
    goals[ino] = goal;
    set_goal_recursive = recursive;
    *changed = recursive ? 7 : 1;
    return Status::OK();
  }

  // Scripted answers and what was asked.
  std::map<int64_t, Status> fsck_answers; // ino -> error Fsck answers
  std::vector<ClusterStatus> statuses;
  size_t status_calls = 0;
  Status
      action_answer; // StartScrub, Heal, Drain, Undrain, RemoveServer, SetGoal
  Status corrupt_answer;
  CorruptResult corrupt_result;
  std::vector<CorruptRequest> corrupt_requests;
  std::vector<std::string> scrub_servers;
  std::vector<std::string> server_ops;
  int heal_calls = 0;
  std::map<int64_t, int> goals;
  bool set_goal_recursive = false;

private:
  Status ServerOp(const std::string &what) {
    server_ops.push_back(what);
    return action_answer;
  }

  std::string addr_ = "127.0.0.1:9190";
  int64_t next_ = 2;
  std::map<int64_t, std::map<std::string, DirEntryInfo>> dirs_;
  std::map<int64_t, FileInfo> files_;
};

// Time that passes only when slept.
class FakeClock : public Clock {
public:
  int64_t NowMs() override { return now_ms; }
  void SleepMs(int64_t ms) override {
    now_ms += ms;
    ++sleeps;
  }
  int64_t now_ms = 1'700'000'000'000;
  int sleeps = 0;
};

} // namespace replfs::ctl
