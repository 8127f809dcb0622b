#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

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

// Three pieces combined give the whole block's CRC: what a ranged read
// checks with only the middle piece's bytes.
TEST(Crc32cTest, CombineEqualsWhole) {
  std::mt19937 rng(7);
  std::string data(65536, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (auto [off, len] : std::vector<std::pair<size_t, size_t>>{
           {0, 0}, {0, 4096}, {4096, 4096}, {61440, 4096}, {1, 65534}, {65536, 0}, {12345, 1}}) {
    const uint32_t p = Crc32c(data.data(), off);
    const uint32_t m = Crc32c(data.data() + off, len);
    const uint32_t s = Crc32c(data.data() + off + len, data.size() - off - len);
    EXPECT_EQ(Crc32cCombine(Crc32cCombine(p, m, len), s, data.size() - off - len), Crc32c(data))
        << off << "+" << len;
  }
  EXPECT_EQ(Crc32cCombine(Crc32c("1234"), Crc32c("56789"), 5), 0xE3069283u);
  EXPECT_EQ(Crc32cCombine(0xdeadbeef, 0, 0), 0xdeadbeefu);  // nothing appended
  std::string flipped = data.substr(4096, 4096);
  flipped[100] ^= 1;
  EXPECT_NE(Crc32cCombine(Crc32cCombine(Crc32c(data.data(), 4096), Crc32c(flipped), 4096),
                          Crc32c(data.data() + 8192, data.size() - 8192), data.size() - 8192),
            Crc32c(data));
}

TEST(Crc32cTest, DetectsSingleBitFlip) {
  std::string data(65536, 'a');
  uint32_t good = Crc32c(data);
  data[12345] ^= 0x10;
  EXPECT_NE(Crc32c(data), good);
}

}  // namespace
}  // namespace replfs
