#include "ctl/progress.h"

#include <gtest/gtest.h>

#include <sstream>

#include "fake_meta_api.h"

namespace replfs::ctl {
namespace {

TEST(ProgressTest, Bar) {
  EXPECT_EQ(RenderBar(0, 10), "[..........]   0.0%");
  EXPECT_EQ(RenderBar(0.5, 10), "[#####.....]  50.0%");
  EXPECT_EQ(RenderBar(1, 10), "[##########] 100.0%");
  EXPECT_EQ(RenderBar(7, 4), "[####] 100.0%"); // clamped
  EXPECT_EQ(RenderBar(-1, 4), "[....]   0.0%");
}

TEST(ProgressTest, Lines) {
  EXPECT_EQ(ProgressPrinter::PlainLine("heal", 0.25, "3 queued"),
            "heal:  25.0%, 3 queued");
  EXPECT_EQ(ProgressPrinter::PlainLine("heal", -1, "3 queued"),
            "heal: 3 queued");
  EXPECT_EQ(ProgressPrinter::TtyLine("scrub", 0.5, "x"),
            "scrub [###############...............]  50.0%  x");
}

TEST(ProgressTest, TtyRedrawsInPlaceAndPadsOverLongerText) {
  FakeClock clock;
  std::ostringstream out;
  ProgressPrinter p(&out, &clock, /*tty=*/true);
  p.Update("heal", 0, "long text here");
  p.Update("heal", 1, "short");
  p.Finish();
  const std::string a = ProgressPrinter::TtyLine("heal", 0, "long text here");
  const std::string b = ProgressPrinter::TtyLine("heal", 1, "short");
  EXPECT_EQ(out.str(),
            "\r" + a + "\r" + b + std::string(a.size() - b.size(), ' ') + "\n");
}

TEST(ProgressTest, PlainPrintsAtMostEveryInterval) {
  FakeClock clock;
  std::ostringstream out;
  ProgressPrinter p(&out, &clock, /*tty=*/false, /*plain_every_ms=*/5000);
  p.Update("scrub", 0.1, "a");
  clock.SleepMs(1000);
  p.Update("scrub", 0.2, "b"); // too soon
  clock.SleepMs(4000);
  p.Update("scrub", 0.3, "c");
  p.Finish();
  EXPECT_EQ(out.str(), "scrub:  10.0%, a\nscrub:  30.0%, c\n");
  EXPECT_EQ(out.str().find('\r'), std::string::npos);
}

} // namespace
} // namespace replfs::ctl
