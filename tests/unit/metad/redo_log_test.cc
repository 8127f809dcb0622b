// The redo log of metad: replay in order, torn tails cut, gaps and foreign
// files refused.
#include "daemons/metad/redo_log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "tests/unit/metad/metad_test_util.h"

namespace replfs::metad {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

struct Replayed {
  std::vector<uint64_t> seqs;
  std::vector<LogWrite> writes;
};

Status OpenLog(const std::string& path, uint64_t applied, Replayed* r, std::unique_ptr<RedoLog>* log) {
  return RedoLog::Open(path, applied,
                       [r](uint64_t seq, std::vector<LogWrite>* w) {
                         r->seqs.push_back(seq);
                         for (auto& x : *w) r->writes.push_back(std::move(x));
                         return Status::OK();
                       },
                       log);
}

class RedoLogTest : public ::testing::Test {
 protected:
  // Three records: {a=1}, {b=2, a deleted}, {c=""}.
  void WriteThree() {
    Replayed r;
    std::unique_ptr<RedoLog> log;
    ASSERT_OK(OpenLog(path_, 0, &r, &log));
    EXPECT_TRUE(r.seqs.empty());
    uint64_t seq = 0;
    ASSERT_OK(log->Append({{"a", "1"}}, &seq));
    EXPECT_EQ(seq, 1u);
    ASSERT_OK(log->Append({{"b", "2"}, {"a", std::nullopt}}, &seq));
    ASSERT_OK(log->Append({{"c", ""}}, &seq));
    EXPECT_EQ(seq, 3u);
    EXPECT_EQ(log->bytes(), static_cast<int64_t>(ReadFile(path_).size()));
  }
  replfs::testing::TempDir dir_;
  const std::string path_ = dir_.path() + "/meta.log";
};

TEST_F(RedoLogTest, RecordsComeBackInOrderPastWhatIsApplied) {
  WriteThree();
  Replayed all;
  std::unique_ptr<RedoLog> log;
  ASSERT_OK(OpenLog(path_, 0, &all, &log));
  EXPECT_EQ(all.seqs, (std::vector<uint64_t>{1, 2, 3}));
  ASSERT_EQ(all.writes.size(), 4u);
  EXPECT_EQ(all.writes[1].key, "b");
  EXPECT_EQ(all.writes[1].value, std::optional<std::string>("2"));
  EXPECT_EQ(all.writes[2].key, "a");
  EXPECT_FALSE(all.writes[2].value.has_value());
  EXPECT_EQ(all.writes[3].value, std::optional<std::string>(""));
  EXPECT_EQ(log->last_seq(), 3u);
  log.reset();
  Replayed past2;
  ASSERT_OK(OpenLog(path_, 2, &past2, &log));
  EXPECT_EQ(past2.seqs, (std::vector<uint64_t>{3}));
}

// A record cut short or damaged at the end (a power loss mid-write) ends
// the log there; the file is cut so the next record follows the good ones.
TEST_F(RedoLogTest, TornOrDamagedTailIsCutAndAppendingGoesOn) {
  WriteThree();
  const std::string whole = ReadFile(path_);
  for (size_t cut : {size_t{1}, size_t{5}, size_t{17}}) {
    WriteFile(path_, whole.substr(0, whole.size() - cut));
    Replayed r;
    std::unique_ptr<RedoLog> log;
    ASSERT_OK(OpenLog(path_, 0, &r, &log));
    EXPECT_EQ(r.seqs, (std::vector<uint64_t>{1, 2})) << cut;
    uint64_t seq = 0;
    ASSERT_OK(log->Append({{"d", "4"}}, &seq));
    EXPECT_EQ(seq, 3u);
    log.reset();
    Replayed again;
    ASSERT_OK(OpenLog(path_, 0, &again, &log));
    EXPECT_EQ(again.seqs, (std::vector<uint64_t>{1, 2, 3})) << cut;
    EXPECT_EQ(again.writes.back().key, "d");
  }
  std::string flipped = whole;
  flipped[flipped.size() - 1] ^= 0x40;  // inside the last record's payload
  WriteFile(path_, flipped);
  Replayed r;
  std::unique_ptr<RedoLog> log;
  ASSERT_OK(OpenLog(path_, 0, &r, &log));
  EXPECT_EQ(r.seqs, (std::vector<uint64_t>{1, 2}));
}

TEST_F(RedoLogTest, MissingRecordsAndForeignFilesAreRefusedUntouched) {
  WriteThree();
  Replayed r;
  std::unique_ptr<RedoLog> log;
  // After a reset the log starts at record 4: a store that holds only up to
  // record 1 misses 2 and 3.
  {
    Replayed x;
    ASSERT_OK(OpenLog(path_, 3, &x, &log));
    ASSERT_OK(log->Reset(true));
    uint64_t seq = 0;
    ASSERT_OK(log->Append({{"e", "5"}}, &seq));
    EXPECT_EQ(seq, 4u);
    log.reset();
  }
  const std::string after_reset = ReadFile(path_);
  Status s = OpenLog(path_, 1, &r, &log);
  EXPECT_CODE(s, kCorruption);
  EXPECT_NE(s.message().find("records are missing"), std::string::npos) << s.ToString();
  EXPECT_EQ(ReadFile(path_), after_reset);
  const std::string foreign = "not a log at all, just some bytes";
  WriteFile(path_, foreign);
  s = OpenLog(path_, 0, &r, &log);
  EXPECT_CODE(s, kCorruption);
  EXPECT_NE(s.message().find(path_), std::string::npos) << s.ToString();
  EXPECT_EQ(ReadFile(path_), foreign);
}

// Records the store already holds (a checkpoint whose reset was lost) are
// dropped at open, so that new records never follow them with a gap.
TEST_F(RedoLogTest, RecordsTheStoreHoldsAreDroppedAtOpen) {
  WriteThree();
  Replayed r;
  std::unique_ptr<RedoLog> log;
  ASSERT_OK(OpenLog(path_, 10, &r, &log));  // the store holds up to 10
  EXPECT_TRUE(r.seqs.empty());
  uint64_t seq = 0;
  ASSERT_OK(log->Append({{"f", "6"}}, &seq));
  EXPECT_EQ(seq, 11u);
  log.reset();
  Replayed again;
  ASSERT_OK(OpenLog(path_, 10, &again, &log));
  EXPECT_EQ(again.seqs, (std::vector<uint64_t>{11}));
}

TEST_F(RedoLogTest, SyncIsOneFdatasyncForEverythingAppended) {
  Replayed r;
  std::unique_ptr<RedoLog> log;
  ASSERT_OK(OpenLog(path_, 0, &r, &log));
  ASSERT_OK(log->Sync());
  EXPECT_EQ(log->syncs(), 0);  // nothing new
  uint64_t seq = 0;
  for (int i = 0; i < 5; ++i) ASSERT_OK(log->Append({{"k" + std::to_string(i), "v"}}, &seq));
  ASSERT_OK(log->Sync());
  ASSERT_OK(log->Sync());
  EXPECT_EQ(log->syncs(), 1);
}

}  // namespace
}  // namespace replfs::metad
