#include "ctl/cli.h"

#include <gtest/gtest.h>

#include <sstream>

namespace replfs::ctl {
namespace {

struct Parsed {
  bool run = false;
  int code = -1;
  Invocation inv;
  std::string out, err;
};

Parsed Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "fsctl");
  std::vector<const char *> argv;
  for (const std::string &a : args)
    argv.push_back(a.c_str());
  Parsed p;
  std::ostringstream out, err;
  p.run = ParseFsctlArgs(static_cast<int>(argv.size()), argv.data(), &p.inv,
                         out, err, &p.code);
  p.out = out.str();
  p.err = err.str();
  return p;
}

void ExpectUsageError(const std::vector<std::string> &args) {
  std::string joined;
  for (const std::string &a : args)
    joined += a + " ";
  Parsed p = Parse(args);
  EXPECT_FALSE(p.run) << joined;
  EXPECT_EQ(p.code, 2) << joined;
  EXPECT_NE(p.err.find("fsctl: "), std::string::npos) << joined;
  EXPECT_NE(p.err.find("Usage"), std::string::npos) << joined << p.err;
}

TEST(CliTest, StatusFlags) {
  Parsed p = Parse({"--meta", "h:1", "status", "--prometheus"});
  ASSERT_TRUE(p.run) << p.err;
  EXPECT_EQ(p.inv.command, "status");
  EXPECT_EQ(p.inv.meta, "h:1");
  EXPECT_TRUE(p.inv.prometheus);
  EXPECT_TRUE(Parse({"status", "--json"}).inv.json);
  ExpectUsageError({"status", "--json", "--prometheus"});
  ExpectUsageError({"status", "--bogus"});
}

TEST(CliTest, FsckDefaultsToTheWholeNamespace) {
  Parsed p = Parse({"fsck"});
  ASSERT_TRUE(p.run);
  EXPECT_EQ(p.inv.path, "/");
  p = Parse({"fsck", "/mnt/replfs/f", "--json"});
  EXPECT_EQ(p.inv.path, "/mnt/replfs/f");
  EXPECT_TRUE(p.inv.json);
  ExpectUsageError({"fsck", "a", "b"});
}

TEST(CliTest, Scrub) {
  Parsed p =
      Parse({"scrub", "--server", "h:2222", "--wait", "--timeout", "60"});
  ASSERT_TRUE(p.run) << p.err;
  EXPECT_EQ(p.inv.server, "h:2222");
  EXPECT_TRUE(p.inv.wait);
  EXPECT_EQ(p.inv.timeout_s, 60);
  p = Parse({"scrub"});
  EXPECT_FALSE(p.inv.wait);
  EXPECT_EQ(p.inv.timeout_s, 3600);
  ExpectUsageError({"scrub", "--timeout", "0"});
  ExpectUsageError({"scrub", "--server"});
  ExpectUsageError({"scrub", "extra"});
}

TEST(CliTest, Corrupt) {
  Parsed p = Parse({"corrupt", "/f"});
  ASSERT_TRUE(p.run) << p.err;
  EXPECT_EQ(p.inv.path, "/f");
  EXPECT_EQ(p.inv.block, 0);
  EXPECT_EQ(p.inv.mode, "flip");
  EXPECT_FALSE(p.inv.force);
  p = Parse({"corrupt", "/f", "--block", "5", "--server", "h:1", "--mode",
             "delete", "--force"});
  ASSERT_TRUE(p.run) << p.err;
  EXPECT_EQ(p.inv.block, 5);
  EXPECT_EQ(p.inv.server, "h:1");
  EXPECT_EQ(p.inv.mode, "delete");
  EXPECT_TRUE(p.inv.force);
  EXPECT_EQ(Parse({"corrupt", "/f", "--mode", "zero"}).inv.mode, "zero");
  ExpectUsageError({"corrupt"});
  ExpectUsageError({"corrupt", "/f", "--mode", "melt"});
  ExpectUsageError({"corrupt", "/f", "--block", "-1"});
  ExpectUsageError({"corrupt", "/f", "--block", "x"});
}

TEST(CliTest, HealAndServers) {
  Parsed p = Parse({"heal", "--wait", "--timeout", "5"});
  ASSERT_TRUE(p.run) << p.err;
  EXPECT_TRUE(p.inv.wait);
  EXPECT_EQ(p.inv.timeout_s, 5);
  ExpectUsageError({"heal", "--now"});
  EXPECT_TRUE(Parse({"servers", "--json"}).inv.json);
  ExpectUsageError({"servers", "x"});
}

TEST(CliTest, ServerOps) {
  for (const char *cmd : {"drain", "undrain", "remove"}) {
    Parsed p = Parse({cmd, "h:2222"});
    ASSERT_TRUE(p.run) << cmd << p.err;
    EXPECT_EQ(p.inv.command, cmd);
    EXPECT_EQ(p.inv.addr, "h:2222");
    ExpectUsageError({cmd});
    ExpectUsageError({cmd, "a:1", "b:2"});
  }
}

TEST(CliTest, Repl) {
  Parsed p = Parse({"setrepl", "/d", "2", "-R"});
  ASSERT_TRUE(p.run) << p.err;
  EXPECT_EQ(p.inv.path, "/d");
  EXPECT_EQ(p.inv.goal, 2);
  EXPECT_TRUE(p.inv.recursive);
  EXPECT_FALSE(Parse({"setrepl", "/d", "4"}).inv.recursive);
  ExpectUsageError({"setrepl", "/d"});
  ExpectUsageError({"setrepl", "/d", "0"});
  ExpectUsageError({"setrepl", "/d", "17"});
  ExpectUsageError({"setrepl", "/d", "two"});
  EXPECT_EQ(Parse({"getrepl", "/d"}).inv.path, "/d");
  ExpectUsageError({"getrepl"});
}

TEST(CliTest, NoOrUnknownCommandIsUsage) {
  ExpectUsageError({});
  ExpectUsageError({"frobnicate"});
  ExpectUsageError({"--meta"});
  Parsed help = Parse({"--help"});
  EXPECT_FALSE(help.run);
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("scrub"), std::string::npos);
}

} // namespace
} // namespace replfs::ctl
