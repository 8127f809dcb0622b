#include "common/host_port.h"

#include <gtest/gtest.h>

namespace replfs {
namespace {

TEST(HostPortTest, ParsesNamesIpv4AndBracketedIpv6) {
  HostPort hp;
  ASSERT_TRUE(ParseHostPort("node1:2222", &hp).ok());
  EXPECT_EQ(hp, (HostPort{"node1", 2222}));
  ASSERT_TRUE(ParseHostPort("127.0.0.1:9190", &hp).ok());
  EXPECT_EQ(hp, (HostPort{"127.0.0.1", 9190}));
  ASSERT_TRUE(ParseHostPort("[::1]:9190", &hp).ok());
  EXPECT_EQ(hp, (HostPort{"::1", 9190}));
  EXPECT_EQ(hp.ToString(), "[::1]:9190");
  EXPECT_FALSE(ParseHostPort("node1:0", &hp).ok());
  EXPECT_TRUE(ParseHostPort("node1:0", &hp, /*allow_zero_port=*/true).ok());
}

TEST(HostPortTest, RefusesWhatWouldNotParseBack) {
  HostPort hp;
  for (const char* bad : {"[[a]:5", "[a]b]:5", "a]:5", "no port", ":5", "a:", "a:65536", "a:-1",
                          "a b:5", "[::1]5", "::1:5", "a\t:5", "a/b:5", "user@a:5", "[]:5"}) {
    Status st = ParseHostPort(bad, &hp);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.message().find(bad), std::string::npos) << st.message();
  }
}

TEST(HostPortTest, EveryAcceptedAddressRoundTrips) {
  for (const char* text : {"a:1", "*:9190", "0.0.0.0:1", "[fe80::1]:2", "[::ffff:1.2.3.4]:3"}) {
    HostPort hp, again;
    ASSERT_TRUE(ParseHostPort(text, &hp, true).ok()) << text;
    ASSERT_TRUE(ParseHostPort(hp.ToString(), &again, true).ok()) << hp.ToString();
    EXPECT_EQ(hp, again);
  }
}

}  // namespace
}  // namespace replfs
