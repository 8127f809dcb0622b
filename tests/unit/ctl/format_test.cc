#include "ctl/format.h"

#include <gtest/gtest.h>

namespace replfs::ctl {
namespace {

TEST(FormatTest, Bytes) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(1024), "1.0 KiB");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(300ll << 20), "300.0 MiB");
  EXPECT_EQ(FormatBytes(5ll << 30), "5.0 GiB");
  EXPECT_EQ(FormatBytes(3ll << 40), "3.0 TiB");
}

TEST(FormatTest, Durations) {
  EXPECT_EQ(FormatDuration(-1), "-");
  EXPECT_EQ(FormatDuration(0), "0.0s");
  EXPECT_EQ(FormatDuration(200), "0.2s");
  EXPECT_EQ(FormatDuration(9'950), "9.9s");
  EXPECT_EQ(FormatDuration(42'000), "42s");
  EXPECT_EQ(FormatDuration(187'000), "3m 07s");
  EXPECT_EQ(FormatDuration((5 * 3600 + 2 * 60 + 9) * 1000ll), "5h 02m");
  EXPECT_EQ(FormatDuration((3 * 86400 + 4 * 3600) * 1000ll), "3d 04h");
}

TEST(FormatTest, RateAndEta) {
  EXPECT_EQ(FormatRate(0), "0 B/s");
  EXPECT_EQ(FormatRate(3ll << 20), "3.0 MiB/s");
  EXPECT_EQ(FormatEta(0, 0), "0s");
  EXPECT_EQ(FormatEta(1, 0), "unknown");
  EXPECT_EQ(FormatEta(100ll << 20, 10ll << 20), "10s");
  EXPECT_EQ(FormatEta(1, 1 << 20), "1.0s"); // rounded up to a whole second
  EXPECT_EQ(FormatEta(3600ll << 20, 1ll << 20), "1h 00m");
  EXPECT_EQ(EtaSeconds(5, 2), 3);
  EXPECT_EQ(EtaSeconds(5, 0), -1);
  EXPECT_EQ(EtaSeconds(0, 0), 0);
}

} // namespace
} // namespace replfs::ctl
