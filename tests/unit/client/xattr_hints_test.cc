// XattrHints: "no xattrs" answers trusted for the attribute lifetime only;
// SentAttrs: what the kernel was told, for close-to-open.
#include "fuse/xattr_hints.h"

#include <gtest/gtest.h>

#include "fuse/kernel_state.h"
#include "tests/util/test_util.h"

namespace replfs::client {
namespace {

using std::chrono::milliseconds;

TEST(XattrHintsTest, EmptyIsTrustedForItsLifetimeAndForgottenOnChange) {
  XattrHints h(milliseconds(60000));
  EXPECT_FALSE(h.KnownEmpty(5));  // never heard of it: ask metad
  h.Note(5, 0);
  EXPECT_TRUE(h.KnownEmpty(5));
  h.Note(5, 2);  // it has some now
  EXPECT_FALSE(h.KnownEmpty(5));
  h.Note(5, 0);
  h.Forget(5);  // this client set one
  EXPECT_FALSE(h.KnownEmpty(5));
  h.Note(6, -1);  // unknown (an old record)
  EXPECT_FALSE(h.KnownEmpty(6));
}

TEST(XattrHintsTest, HintsExpire) {
  XattrHints h(milliseconds(30));
  h.Note(7, 0);
  EXPECT_TRUE(h.KnownEmpty(7));
  EXPECT_TRUE(replfs::testing::PollUntil([&] { return !h.KnownEmpty(7); }, milliseconds(5000)));
  XattrHints off(milliseconds(0));  // attr_timeout 0: never trusted
  off.Note(8, 0);
  EXPECT_FALSE(off.KnownEmpty(8));
}

TEST(SentAttrsTest, DiffersUntilNotedAndAfterAChange) {
  SentAttrs s;
  EXPECT_TRUE(s.Differs(1, 10, 100));  // unknown
  s.Note(1, 10, 100);
  EXPECT_FALSE(s.Differs(1, 10, 100));
  EXPECT_TRUE(s.Differs(1, 20, 100));  // another client grew it
  EXPECT_TRUE(s.Differs(1, 10, 101));
  s.Erase(1);
  EXPECT_TRUE(s.Differs(1, 10, 100));
}

}  // namespace
}  // namespace replfs::client
