// The configuration file shipped in the package must load, and uncommenting
// every key (i.e. setting each to its documented default) must give exactly
// the built-in defaults: the file documents every key and no stale ones.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "common/config.h"
#include "tests/util/test_util.h"

namespace replfs {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(ShippedConfigTest, LoadsAsIs) {
  Config c;
  Status s = LoadConfig(REPLFS_SHIPPED_CONFIG, {}, &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

TEST(ShippedConfigTest, DocumentsEveryKeyWithItsDefault) {
  std::string text = ReadFile(REPLFS_SHIPPED_CONFIG);
  ASSERT_FALSE(text.empty());
  // Uncomment "#key = value" lines.
  text = std::regex_replace(text, std::regex("^#([a-z_]+ =)", std::regex::multiline), "$1");
  testing::TempDir dir;
  std::string path = dir.path() + "/replfs.conf";
  std::ofstream(path) << text;
  Config c;
  Status s = LoadConfig(path, {}, &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.Dump(), Config().Dump());
  // Every key appears.
  std::string dump = Config().Dump();
  std::istringstream lines(dump);
  std::string line;
  while (std::getline(lines, line)) {
    std::string key = line.substr(line.find('.') + 1);
    key = key.substr(0, key.find(' '));
    EXPECT_NE(text.find("\n" + key + " ="), std::string::npos) << "undocumented key " << line;
  }
}

}  // namespace
}  // namespace replfs
