#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace replfs {
namespace {

TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(zeros), 0x8A9136AAu);
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  std::mt19937 rng(42);
  std::string data(100000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t split : {0ul, 1ul, 7ul, 8ul, 4095ul, 65536ul, 99999ul}) {
    uint32_t a = Crc32c(data.data(), split);
    uint32_t b = Crc32cExtend(a, data.data() + split, data.size() - split);
    EXPECT_EQ(b, Crc32c(data)) << split;
  }
}

TEST(Crc32cTest, DetectsSingleBitFlip) {
  std::string data(65536, 'a');
  uint32_t good = Crc32c(data);
  data[12345] ^= 0x10;
  EXPECT_NE(Crc32c(data), good);
}

}  // namespace
}  // namespace replfs
