// Every RPC of the IDL has an authorization rule, and the rules say what
// the roles may do (thrift/authz.h, MetadPolicy, DatadPolicy).
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "daemons/datad/data_service.h"
#include "daemons/metad/meta_service.h"

namespace replfs {
namespace {

using net::Mask;
using net::Role;

// The method names of `service` in the IDL.
std::set<std::string> MethodsOf(const std::string& service) {
  std::ifstream f(REPLFS_IDL);
  std::stringstream all;
  all << f.rdbuf();
  const std::string text = all.str();
  const size_t start = text.find("service " + service + " {");
  EXPECT_NE(start, std::string::npos) << service << " not in " << REPLFS_IDL;
  const size_t end = text.find("\n}", start);
  std::set<std::string> out;
  std::stringstream body(text.substr(start, end - start));
  std::string line;
  const std::regex method(R"(^\s+[A-Za-z0-9_<>, ]+\s+([A-Z][A-Za-z0-9]*)\()");
  while (std::getline(body, line)) {
    std::smatch m;
    if (std::regex_search(line, m, method)) out.insert(m[1]);
  }
  return out;
}

void ExpectCovered(const std::string& service, const net::Policy& policy) {
  const std::set<std::string> methods = MethodsOf(service);
  EXPECT_GT(methods.size(), 10u) << "the IDL parser found too few methods";
  for (const std::string& m : methods) EXPECT_TRUE(policy.count(m)) << service << "." << m << " has no rule";
  for (const auto& [m, roles] : policy) EXPECT_TRUE(methods.count(m)) << m << " is not a method of " << service;
}

TEST(PolicyTest, EveryMetadAndDatadRpcHasARule) {
  ExpectCovered("MetaService", metad::MetadPolicy());
  ExpectCovered("DataService", datad::DatadPolicy());
}

bool May(const net::Policy& p, const std::string& m, Role r) { return (p.at(m) & Mask(r)) != 0; }

TEST(PolicyTest, RolesMayDoWhatTheIssueSays) {
  const net::Policy& m = metad::MetadPolicy();
  for (const char* admin_only : {"Corrupt", "Drain", "Undrain", "RemoveServer", "SetGoal", "StartScrub", "Heal"}) {
    EXPECT_TRUE(May(m, admin_only, Role::kAdmin)) << admin_only;
    for (Role r : {Role::kClient, Role::kDatad, Role::kMetad}) EXPECT_FALSE(May(m, admin_only, r)) << admin_only;
  }
  for (const char* datad_only : {"RegisterServer", "Heartbeat", "BlockReport"}) {
    EXPECT_TRUE(May(m, datad_only, Role::kDatad)) << datad_only;
    for (Role r : {Role::kClient, Role::kAdmin, Role::kMetad}) EXPECT_FALSE(May(m, datad_only, r)) << datad_only;
  }
  for (const char* mount : {"Lookup", "Open", "AllocChunk", "CommitWrite"}) {
    EXPECT_TRUE(May(m, mount, Role::kClient) && May(m, mount, Role::kAdmin)) << mount;
    EXPECT_FALSE(May(m, mount, Role::kDatad)) << mount;
  }
  const net::Policy& d = datad::DatadPolicy();
  EXPECT_TRUE(May(d, "Read", Role::kClient));
  EXPECT_TRUE(May(d, "Write", Role::kDatad));  // forwarded writes, repair copies
  for (const char* metad_only : {"InjectFault", "SetVersion", "PushChunk", "CheckChunk", "StartScrub"}) {
    EXPECT_TRUE(May(d, metad_only, Role::kMetad)) << metad_only;
    for (Role r : {Role::kClient, Role::kAdmin, Role::kDatad}) EXPECT_FALSE(May(d, metad_only, r)) << metad_only;
  }
}

TEST(PolicyTest, WithoutTlsOnlyLoopbackUnlessInsecure) {
  net::PeerInfo local, remote;
  local.loopback = true;
  local.addr = "127.0.0.1:5000";
  remote.addr = "10.0.0.7:5000";
  net::AuthzOptions plain;
  EXPECT_EQ(net::Refusal(metad::MetadPolicy(), plain, local, "Corrupt"), "");
  EXPECT_NE(net::Refusal(metad::MetadPolicy(), plain, remote, "Lookup").find("loopback"), std::string::npos);
  plain.insecure = true;
  EXPECT_EQ(net::Refusal(metad::MetadPolicy(), plain, remote, "Lookup"), "");
}

}  // namespace
}  // namespace replfs
