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

TEST(XattrHintsTest, AbsentNamesAreTrustedForTheirLifetimeAndForgottenOnChange) {
  XattrHints h(milliseconds(60000));
  EXPECT_FALSE(h.KnownAbsent(5, "security.capability"));
  h.NoteAbsent(5, "security.capability");
  EXPECT_TRUE(h.KnownAbsent(5, "security.capability"));
  EXPECT_FALSE(h.KnownAbsent(5, "user.other"));  // only that name
  EXPECT_FALSE(h.KnownEmpty(5));
  h.Note(5, 0);  // has none at all: every name is absent
  EXPECT_TRUE(h.KnownAbsent(5, "user.other"));
  h.Note(5, 1);  // another client set one: which, we don't know
  EXPECT_FALSE(h.KnownAbsent(5, "security.capability"));
  h.NoteAbsent(5, "user.a");
  h.Forget(5);  // this client set one
  EXPECT_FALSE(h.KnownAbsent(5, "user.a"));
  for (int i = 0; i < 100; ++i) h.NoteAbsent(6, "user." + std::to_string(i));  // bounded per inode
  EXPECT_TRUE(h.KnownAbsent(6, "user.99"));
  XattrHints off(milliseconds(0));
  off.NoteAbsent(8, "user.a");
  EXPECT_FALSE(off.KnownAbsent(8, "user.a"));
}

TEST(XattrHintsTest, HintsExpire) {
  XattrHints h(milliseconds(30));
  h.Note(7, 0);
  EXPECT_TRUE(h.KnownEmpty(7));
  h.NoteAbsent(7, "user.a");
  EXPECT_TRUE(replfs::testing::PollUntil([&] { return !h.KnownEmpty(7) && !h.KnownAbsent(7, "user.a"); },
                                         milliseconds(5000)));
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
