#include "ctl/prometheus.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "test_status.h"

namespace replfs::ctl {
namespace {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels; // unescaped values
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> help;
  std::map<std::string, std::string> type;
  std::vector<Sample> samples;
};

bool ValidName(const std::string &n) {
  static const std::regex kName("[a-zA-Z_:][a-zA-Z0-9_:]*");
  return std::regex_match(n, kName);
}

// A strict reader of the text format: every line is a # HELP, a # TYPE or
// `name{label="value",...} value`; label values may only contain the escapes
// \\, \" and \n. Fails the test on anything else.
void Parse(const std::string &text, Exposition *out) {
  Exposition &e = *out;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    SCOPED_TRACE("line " + std::to_string(n) + ": " + line);
    EXPECT_FALSE(line.empty());
    if (line.rfind("# ", 0) == 0) {
      std::istringstream f(line.substr(2));
      std::string kind, name, rest;
      f >> kind >> name;
      std::getline(f, rest);
      EXPECT_TRUE(ValidName(name));
      if (kind == "HELP") {
        EXPECT_FALSE(rest.empty());
        e.help[name] = rest;
      } else if (kind == "TYPE") {
        EXPECT_TRUE(rest == " gauge" || rest == " counter") << rest;
        EXPECT_TRUE(e.help.count(name)) << "TYPE before HELP";
        e.type[name] = rest.substr(1);
      } else {
        ADD_FAILURE() << "unknown comment";
      }
      continue;
    }
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ')
      ++i;
    s.name = line.substr(0, i);
    EXPECT_TRUE(ValidName(s.name));
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        ASSERT_NE(eq, std::string::npos);
        const std::string label = line.substr(i, eq - i);
        EXPECT_TRUE(ValidName(label)) << label;
        ASSERT_LT(eq + 1, line.size());
        ASSERT_EQ(line[eq + 1], '"');
        std::string value;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\') {
            ASSERT_LT(j + 1, line.size());
            const char c = line[++j];
            ASSERT_TRUE(c == '\\' || c == '"' || c == 'n') << "bad escape";
            value += c == 'n' ? '\n' : c;
          } else {
            value += line[j];
          }
        }
        ASSERT_LT(j, line.size()) << "unterminated label value";
        s.labels[label] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',')
          ++i;
      }
      ASSERT_LT(i, line.size());
      ++i; // '}'
    }
    ASSERT_LT(i, line.size());
    ASSERT_EQ(line[i], ' ');
    const std::string v = line.substr(i + 1);
    char *end = nullptr;
    s.value = std::strtod(v.c_str(), &end);
    EXPECT_TRUE(!v.empty() && *end == '\0') << "value '" << v << "'";
    EXPECT_TRUE(e.type.count(s.name)) << "sample before its TYPE";
    e.samples.push_back(std::move(s));
  }
}

double Value(const Exposition &e, const std::string &name,
             const std::map<std::string, std::string> &labels = {}) {
  for (const Sample &s : e.samples) {
    bool match = s.name == name;
    for (const auto &[k, v] : labels) {
      auto it = s.labels.find(k);
      match = match && it != s.labels.end() && it->second == v;
    }
    if (match)
      return s.value;
  }
  ADD_FAILURE() << "no sample " << name;
  return -1;
}

TEST(PrometheusTest, ParsesAndCarriesTheCounts) {
  ClusterStatus s = HealthyStatus();
  s.servers[1].state = ServerState::kDown;
  s.servers[2].addr = "we\"ird\\host\n:1"; // escaped, still parses
  s.servers[0].scrub = {true, 0.5, 1'700'000'000'000, 60'000, 1 << 20, 3};
  s.servers[0].corrupt_found = 3;
  s.chunks.healthy = 3;
  s.chunks.under_replicated = 2;
  s.chunks.under_by_good = {{1, 2}};
  s.chunks.corrupt_replicas = 1;
  s.chunks.stale_replicas = 4;
  s.repair_queued = 2;
  s.repair_done = 9;
  s.repair_bytes_per_s = 1000;
  std::ostringstream out;
  WritePrometheus(out, s, ClassifyHealth(s), "127.0.0.1:9190");
  Exposition e;
  Parse(out.str(), &e);
  if (HasFailure())
    FAIL() << out.str();

  // Every family has HELP and TYPE and at least one sample.
  std::set<std::string> with_samples;
  for (const Sample &x : e.samples)
    with_samples.insert(x.name);
  for (const auto &[name, type] : e.type) {
    EXPECT_TRUE(e.help.count(name)) << name;
    EXPECT_TRUE(with_samples.count(name)) << name;
  }
  EXPECT_EQ(Value(e, "replfs_up"), 1);
  EXPECT_EQ(Value(e, "replfs_health", {{"state", "degraded"}}), 1);
  EXPECT_EQ(Value(e, "replfs_health", {{"state", "healthy"}}), 0);
  EXPECT_EQ(Value(e, "replfs_server_up", {{"addr", "127.0.0.1:3333"}}), 0);
  EXPECT_EQ(Value(e, "replfs_server_up", {{"addr", "we\"ird\\host\n:1"}}), 1);
  EXPECT_EQ(Value(e, "replfs_server_bytes_used", {{"addr", "127.0.0.1:2222"}}),
            300 << 20);
  EXPECT_EQ(Value(e, "replfs_server_chunks", {{"addr", "127.0.0.1:2222"}}), 5);
  EXPECT_EQ(Value(e, "replfs_server_corrupt_found_total",
                  {{"addr", "127.0.0.1:2222"}}),
            3);
  EXPECT_EQ(e.type.at("replfs_server_corrupt_found_total"), "counter");
  EXPECT_EQ(Value(e, "replfs_chunks_known"), 5);
  EXPECT_EQ(e.type.count("replfs_chunks_total"), 0u);
  EXPECT_EQ(
      Value(e, "replfs_server_scrub_progress", {{"addr", "127.0.0.1:2222"}}),
      0.5);
  EXPECT_EQ(Value(e, "replfs_chunks", {{"state", "under_replicated"}}), 2);
  EXPECT_EQ(Value(e, "replfs_chunks", {{"state", "healthy"}}), 3);
  EXPECT_EQ(Value(e, "replfs_chunks_under_by_good", {{"good", "1"}}), 2);
  EXPECT_EQ(Value(e, "replfs_chunks_under_by_good", {{"good", "0"}}), 0);
  EXPECT_EQ(Value(e, "replfs_corrupt_replicas"), 1);
  EXPECT_EQ(Value(e, "replfs_stale_replicas"), 4);
  EXPECT_EQ(Value(e, "replfs_repair_queued"), 2);
  EXPECT_EQ(Value(e, "replfs_repair_done_total"), 9);
  EXPECT_EQ(Value(e, "replfs_repair_bytes_per_second"), 1000);
  EXPECT_EQ(e.type.at("replfs_repair_done_total"), "counter");
}

// The naming rules of `promtool check metrics` (client_golang's promlint),
// checked on every family fsctl writes.
std::vector<std::string> LintProblems(const Exposition &e) {
  static const std::regex kCamel("[a-z][A-Z]");
  static const char *const kAbbreviations[] = {"s",  "ms", "us", "ns", "sec",
                                               "b",  "kb", "mb", "gb", "tb",
                                               "pb", "m",  "h",  "d"};
  static const char *const kNonBaseUnits[] = {
      "minutes",     "hours",     "days",       "weeks",        "bits",
      "inches",      "yards",     "miles",      "calories",     "pounds",
      "ounces",      "kelvins",   "fahrenheit", "milliseconds", "microseconds",
      "nanoseconds", "kilobytes", "megabytes",  "gigabytes"};
  const auto ends = [](const std::string &n, const std::string &suffix) {
    return n.size() >= suffix.size() &&
           n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  const auto has_word = [&](const std::string &n, const std::string &w) {
    return n.find("_" + w + "_") != std::string::npos || ends(n, "_" + w);
  };
  std::vector<std::string> problems;
  for (const auto &[name, type] : e.type) {
    const auto bad = [&](const std::string &why) {
      problems.push_back(name + ": " + why);
    };
    if (type == "counter" && !ends(name, "_total"))
      bad("counter metrics should have \"_total\" suffix");
    if (type != "counter" && ends(name, "_total"))
      bad("non-counter metrics should not have \"_total\" suffix");
    for (const char *reserved : {"_count", "_sum", "_bucket"}) {
      if (ends(name, reserved))
        bad(std::string("reserved suffix ") + reserved);
    }
    for (const char *t : {"counter", "gauge", "histogram", "summary"}) {
      if (has_word(name, t))
        bad(std::string("metric name should not include type '") + t + "'");
    }
    for (const char *a : kAbbreviations) {
      if (has_word(name, a))
        bad("metric names should not contain abbreviated units");
    }
    for (const char *u : kNonBaseUnits) {
      if (has_word(name, u))
        bad(std::string("use a base unit instead of ") + u);
    }
    if (std::regex_search(name, kCamel) || name.find(':') != std::string::npos)
      bad("not snake_case");
    if (!e.help.count(name) || e.help.at(name).size() < 2)
      bad("no help text");
    if (type == "gauge" || type == "counter")
      continue;
    bad("unexpected type " + type);
  }
  return problems;
}

TEST(PrometheusTest, NamesFollowThePrometheusConventions) {
  ClusterStatus s = HealthyStatus();
  s.servers[0].corrupt_found = 2;
  std::ostringstream out;
  WritePrometheus(out, s, ClassifyHealth(s), "127.0.0.1:9190");
  Exposition e;
  Parse(out.str(), &e);
  ASSERT_FALSE(HasFailure()) << out.str();
  std::string all;
  for (const std::string &p : LintProblems(e))
    all += p + "\n";
  EXPECT_EQ(all, "") << out.str();

  // The checker itself catches what it is there for.
  Exposition wrong;
  wrong.type = {{"x_chunks_total", "gauge"},
                {"x_found", "counter"},
                {"x_age_ms", "gauge"}};
  wrong.help = {
      {"x_chunks_total", " h"}, {"x_found", " h"}, {"x_age_ms", " h"}};
  EXPECT_EQ(LintProblems(wrong).size(), 3u);
}

TEST(PrometheusTest, NoHeartbeatSinceMetadStartedHasNoAgeSample) {
  ClusterStatus s = HealthyStatus();
  s.servers[1].state = ServerState::kDown;
  s.servers[1].last_heartbeat_ms = -1;
  std::ostringstream out;
  WritePrometheus(out, s, ClassifyHealth(s), "127.0.0.1:9190");
  Exposition e;
  Parse(out.str(), &e);
  ASSERT_FALSE(HasFailure()) << out.str();
  int ages = 0;
  for (const Sample &x : e.samples) {
    if (x.name != "replfs_server_heartbeat_age_seconds")
      continue;
    ++ages;
    EXPECT_GE(x.value, 0) << x.labels.at("addr");
    EXPECT_NE(x.labels.at("addr"), "127.0.0.1:3333");
  }
  EXPECT_EQ(ages, 2) << out.str();
  EXPECT_EQ(out.str().find("-0.001"), std::string::npos) << out.str();
  // The server itself is still there.
  EXPECT_EQ(Value(e, "replfs_server_up", {{"addr", "127.0.0.1:3333"}}), 0);
}

TEST(PrometheusTest, UnreachableParses) {
  std::ostringstream out;
  WritePrometheusUnreachable(out, "127.0.0.1:1");
  Exposition e;
  Parse(out.str(), &e);
  EXPECT_EQ(Value(e, "replfs_up"), 0);
  EXPECT_EQ(Value(e, "replfs_health", {{"state", "unavailable"}}), 1);
}

TEST(PrometheusTest, EscapesLabelValues) {
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(EscapeLabelValue("127.0.0.1:2222"), "127.0.0.1:2222");
}

} // namespace
} // namespace replfs::ctl
