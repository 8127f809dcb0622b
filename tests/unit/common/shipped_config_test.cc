// The configuration file shipped in the package must load, and uncommenting
// every key (i.e. setting each to its documented default) must give exactly
// the built-in defaults: the file documents every key, in its own section
// and with a comment of its own, and no stale ones.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
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

// The "#key = value" lines of a file like the shipped one, as
// "section.key", each mapped to whether a comment line of its own ("# ...",
// not another key) is right above it.
std::map<std::string, bool> DocumentedKeys(const std::string& text) {
  static const std::regex kSection(R"(^\[([a-z]+)\]\s*$)");
  static const std::regex kKey(R"(^#([a-z_]+) =.*$)");
  std::map<std::string, bool> keys;
  std::string section;
  bool comment_above = false;
  std::istringstream lines(text);
  std::string line;
  std::smatch m;
  while (std::getline(lines, line)) {
    if (std::regex_match(line, m, kSection)) {
      section = m[1];
      comment_above = false;
    } else if (std::regex_match(line, m, kKey)) {
      keys[section + "." + m[1].str()] = comment_above;
      comment_above = false;
    } else {
      comment_above = line.rfind("# ", 0) == 0;
    }
  }
  return keys;
}

TEST(ShippedConfigTest, KeysAreMatchedWithTheirSection) {
  auto keys = DocumentedKeys("[metad]\n# Where.\n#listen = 0.0.0.0:9190\n#fsync = true\n"
                             "[datad]\n#data_dir =\n");
  EXPECT_EQ(keys.count("metad.listen"), 1u);
  EXPECT_EQ(keys.count("datad.listen"), 0u);  // metad.listen does not count
  EXPECT_TRUE(keys["metad.listen"]);
  EXPECT_FALSE(keys["metad.fsync"]);  // shares the comment of the key above
  EXPECT_FALSE(keys["datad.data_dir"]);
}

TEST(ShippedConfigTest, DocumentsEveryKeyWithItsDefault) {
  std::string text = ReadFile(REPLFS_SHIPPED_CONFIG);
  ASSERT_FALSE(text.empty());
  // Every key appears in its section, with a comment of its own.
  const std::map<std::string, bool> documented = DocumentedKeys(text);
  std::istringstream lines(Config().Dump());
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    const std::string key = line.substr(0, line.find(" ="));
    auto it = documented.find(key);
    if (it == documented.end()) {
      ADD_FAILURE() << "undocumented key " << key;
    } else {
      EXPECT_TRUE(it->second) << key << " has no comment of its own";
    }
    ++n;
  }
  EXPECT_EQ(documented.size(), static_cast<size_t>(n)) << "documented keys that do not exist";
  // Uncomment "#key = value" lines: the documented values are the defaults.
  text = std::regex_replace(text, std::regex("^#([a-z_]+ =)", std::regex::multiline), "$1");
  testing::TempDir dir;
  std::string path = dir.path() + "/replfs.conf";
  std::ofstream(path) << text;
  Config c;
  Status s = LoadConfig(path, {}, &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.Dump(), Config().Dump());
}

}  // namespace
}  // namespace replfs
