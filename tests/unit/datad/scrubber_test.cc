// Scrubber: finds damage nobody reads, reports progress, honours its rate
// (on a fake clock), yields to client I/O and stops promptly.
#include "daemons/datad/scrubber.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/unit/datad/store_util.h"
#include "tests/util/test_util.h"

namespace replfs::datad {
namespace {

using std::chrono::milliseconds;
using testing::WaitFor;

constexpr int64_t kBs = 4096;
constexpr int64_t kDay = 24ll * 3600 * 1000;

// Time passes only when the scrubber waits: a wait of up to kMaxAutoMs
// advances the clock at once; longer waits (the idle time between passes)
// just block for a moment, so the clock stays put until the test moves it.
class FakeClock : public ScrubClock {
 public:
  static constexpr int64_t kMaxAutoMs = 3600 * 1000;
  void Advance(int64_t ms) { now_.fetch_add(ms); }
  int64_t MonotonicMs() override { return now_.load(); }
  int64_t WallMs() override { return 1'700'000'000'000 + now_.load(); }
  void WaitFor(std::condition_variable* cv, std::unique_lock<std::mutex>* lock, int64_t ms,
               const std::function<bool()>& done) override {
    if (done()) return;
    if (ms <= kMaxAutoMs) now_.fetch_add(ms);
    cv->wait_for(*lock, milliseconds(1), done);
  }

 private:
  std::atomic<int64_t> now_{1'000'000};
};

class ScrubberTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(BlockStore::Open(dir_.path(), kBs, &store_).ok()); }
  // `chunks` chunks of `blocks` full blocks each, ids 1..chunks.
  void Fill(int chunks, int blocks) {
    for (int c = 1; c <= chunks; ++c)
      ASSERT_TRUE(Put(store_.get(), c, 1, 0, std::string(blocks * kBs, static_cast<char>('a' + c))).ok());
  }
  ScrubOptions Options(int64_t rate, ScrubClock* clock = nullptr) {
    ScrubOptions o;
    o.rate_bytes_per_s = rate;
    o.interval_ms = kDay;
    o.clock = clock;
    return o;
  }
  bool WaitPasses(Scrubber* s, int64_t n) {
    return WaitFor([&] { return s->Info().passes >= n; }, milliseconds(30000), "scrub passes");
  }

  testing::TempDir dir_{"datad-scrub"};
  std::unique_ptr<BlockStore> store_;
};

TEST_F(ScrubberTest, BackgroundPassFindsDamageNobodyReads) {
  Fill(3, 4);
  ASSERT_TRUE(store_->InjectFault(2, 3, FaultMode::kFlip).ok());
  ASSERT_TRUE(store_->InjectFault(3, 0, FaultMode::kDelete).ok());
  std::atomic<int> woken{0};
  store_->SetCorruptionListener([&] { woken.fetch_add(1); });
  FakeClock clock;
  Scrubber scrubber(store_.get(), nullptr, Options(50ll << 20, &clock));
  scrubber.Start();  // the first background pass starts at once
  ASSERT_TRUE(WaitPasses(&scrubber, 1));
  const ScrubStatus st = scrubber.Info();
  EXPECT_FALSE(st.running);
  EXPECT_EQ(st.progress, 1.0);
  EXPECT_EQ(st.corrupt_found_pass, 2);
  EXPECT_EQ(st.bytes_verified, 10 * kBs);  // 12 blocks, one flipped is not counted, one gone
  EXPECT_GT(st.last_full_pass_ms, 0);
  EXPECT_EQ(store_->CorruptChunks(), (std::vector<ChunkVersion>{{2, 1}, {3, 1}}));
  EXPECT_EQ(woken.load(), 2);
  store_->SetCorruptionListener(nullptr);
}

TEST_F(ScrubberTest, OnDemandPassRunsToTheEndUnthrottled) {
  Fill(4, 16);  // 256 KiB
  FakeClock clock;
  const int64_t rate = 64 * 1024;
  Scrubber scrubber(store_.get(), nullptr, Options(rate, &clock));
  ScrubStatus st = scrubber.Info();
  EXPECT_EQ(st.last_full_pass_ms, 0);
  EXPECT_EQ(st.progress, 0.0);
  scrubber.Start();
  ASSERT_TRUE(WaitPasses(&scrubber, 1));  // background, throttled
  // Now idle for a day: an on-demand pass starts now and is not rate-limited.
  ASSERT_TRUE(store_->InjectFault(4, 15, FaultMode::kZero).ok());
  scrubber.StartPass();
  ASSERT_TRUE(WaitPasses(&scrubber, 2));
  st = scrubber.Info();
  EXPECT_EQ(st.progress, 1.0);
  EXPECT_EQ(st.corrupt_found_pass, 1);
  EXPECT_EQ(st.bytes_verified, 63 * kBs);
  EXPECT_LT(st.last_pass_duration_ms, 4 * 16 * kBs * 1000 / rate);
  EXPECT_EQ(st.last_full_pass_ms, clock.WallMs());
  EXPECT_EQ(st.oldest_unverified_ms, 0);  // everything verified just now (fake time)
}

TEST_F(ScrubberTest, BackgroundPassHonoursTheRate) {
  Fill(4, 16);  // N = 256 KiB
  const int64_t n = 4 * 16 * kBs;
  const int64_t rate = 64 * 1024;  // so at least 4 s
  FakeClock clock;
  Scrubber scrubber(store_.get(), nullptr, Options(rate, &clock));
  scrubber.Start();
  ASSERT_TRUE(WaitPasses(&scrubber, 1));
  const ScrubStatus st = scrubber.Info();
  EXPECT_EQ(st.bytes_verified, n);
  EXPECT_GE(st.last_pass_duration_ms, n * 1000 / rate);
  // Not much more either: about one millisecond of rounding per batch.
  EXPECT_LE(st.last_pass_duration_ms, n * 1000 / rate + 500);
}

TEST_F(ScrubberTest, NeverVerifiedDataAgesFromTheStart) {
  FakeClock clock;
  Scrubber scrubber(store_.get(), nullptr, Options(0, &clock));
  clock.Advance(5000);
  EXPECT_EQ(scrubber.Info().oldest_unverified_ms, 0);  // nothing stored
  Fill(2, 1);
  EXPECT_EQ(scrubber.Info().oldest_unverified_ms, 5000);  // never verified: since construction
  scrubber.Start();
  ASSERT_TRUE(WaitPasses(&scrubber, 1));
  EXPECT_EQ(scrubber.Info().oldest_unverified_ms, 0);
  clock.Advance(700);
  EXPECT_EQ(scrubber.Info().oldest_unverified_ms, 700);
}

TEST_F(ScrubberTest, YieldsToClientIo) {
  Fill(2, 2);
  FakeClock clock;
  IoActivity activity;
  ScrubOptions o = Options(0, &clock);  // unlimited
  o.max_yield_ms = FakeClock::kMaxAutoMs * 1000;  // yield as long as the client is busy
  Scrubber scrubber(store_.get(), &activity, o);
  {
    IoActivity::Scope busy(&activity);
    scrubber.Start();
    ASSERT_TRUE(WaitFor([&] { return scrubber.Info().running; }, milliseconds(30000), "start"));
    std::this_thread::sleep_for(milliseconds(50));
    EXPECT_EQ(scrubber.Info().bytes_verified, 0);
    EXPECT_EQ(scrubber.Info().passes, 0);
  }
  ASSERT_TRUE(WaitPasses(&scrubber, 1));
  EXPECT_EQ(scrubber.Info().bytes_verified, 4 * kBs);
}

TEST_F(ScrubberTest, StopIsPromptDuringAPass) {
  Fill(1, 64);  // 256 KiB at 4 KiB/s: about a minute
  Scrubber scrubber(store_.get(), nullptr, Options(4096));  // real clock
  scrubber.Start();
  ASSERT_TRUE(WaitFor([&] { return scrubber.Info().bytes_verified > 0; }, milliseconds(30000),
                      "the pass reads"));
  const auto t0 = std::chrono::steady_clock::now();
  scrubber.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(5000));
  const ScrubStatus st = scrubber.Info();
  EXPECT_LT(st.progress, 1.0);
  EXPECT_EQ(st.passes, 0);
}

TEST_F(ScrubberTest, StartPassDuringAThrottledPassLiftsTheLimit) {
  Fill(1, 64);
  Scrubber scrubber(store_.get(), nullptr, Options(4096));  // real clock: a minute
  scrubber.Start();
  ASSERT_TRUE(WaitFor([&] { return scrubber.Info().bytes_verified > 0; }, milliseconds(30000),
                      "the pass reads"));
  scrubber.StartPass();
  ASSERT_TRUE(WaitPasses(&scrubber, 1));  // well within the 30 s deadline
  EXPECT_EQ(scrubber.Info().bytes_verified, 64 * kBs);
}

}  // namespace
}  // namespace replfs::datad
