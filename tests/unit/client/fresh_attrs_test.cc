// FreshAttrs: attributes from the answer to a change or an open, used once,
// within the attribute lifetime, newest first.
#include "fuse/fresh_attrs.h"

#include <gtest/gtest.h>


namespace replfs::client {
namespace {

using std::chrono::milliseconds;

Attr Dir(uint64_t ino, int64_t ctime_ns, uint32_t nlink = 2) {
  Attr a;
  a.ino = ino;
  a.type = FileType::kDirectory;
  a.mtime_ns = a.ctime_ns = ctime_ns;
  a.nlink = nlink;
  return a;
}

TEST(FreshAttrsTest, AnswersOnceWithWhatTheChangeReturned) {
  FreshAttrs d(milliseconds(60000));
  Attr got;
  EXPECT_FALSE(d.Take(7, &got));  // nothing noted: ask metad
  d.Note(Dir(7, 100, 3));
  ASSERT_TRUE(d.Take(7, &got));
  EXPECT_EQ(got.ctime_ns, 100);
  EXPECT_EQ(got.nlink, 3u);
  EXPECT_FALSE(d.Take(7, &got)) << "an entry answers one GETATTR only";
  d.Note(Dir(7, 200));  // the next change
  ASSERT_TRUE(d.Take(7, &got));
  EXPECT_EQ(got.ctime_ns, 200);
}

TEST(FreshAttrsTest, ALateAnswerNeverReplacesANewerOne) {
  FreshAttrs d(milliseconds(60000));
  d.Note(Dir(7, 200));
  d.Note(Dir(7, 100));  // an earlier change whose answer came second
  Attr got;
  ASSERT_TRUE(d.Take(7, &got));
  EXPECT_EQ(got.ctime_ns, 200);
  d.Note(Dir(7, 150));  // also after the newer one was used
  EXPECT_FALSE(d.Take(7, &got));
}

TEST(FreshAttrsTest, ForgetAndNoAttributesAndAZeroLifetimeMeanAskMetad) {
  FreshAttrs d(milliseconds(60000));
  Attr got;
  d.Note(Dir(7, 100));
  d.Note(Dir(8, 100));
  d.Forget(7);  // e.g. a chmod of it through this client
  EXPECT_FALSE(d.Take(7, &got));
  d.ForgetAll();  // a rename
  EXPECT_FALSE(d.Take(8, &got));
  d.Note(Attr{});  // a metad that sent no attributes (ino 0)
  EXPECT_FALSE(d.Take(0, &got));
  FreshAttrs off(milliseconds(0));  // attr_timeout=0: never cached
  off.Note(Dir(7, 100));
  EXPECT_FALSE(off.Take(7, &got));
}

FreshAttrs::Clock::time_point fake_now;
FreshAttrs::Clock::time_point FakeNow() { return fake_now; }

TEST(FreshAttrsTest, EntriesExpireWithTheAttributeLifetime) {
  FreshAttrs d(milliseconds(1000), &FakeNow);
  Attr got;
  d.Note(Dir(7, 100));
  fake_now += milliseconds(999);
  EXPECT_TRUE(d.Take(7, &got));
  d.Note(Dir(7, 200));
  fake_now += milliseconds(1000);
  EXPECT_FALSE(d.Take(7, &got)) << "older than attr_timeout";
  d.Note(Dir(8, 300));
  ASSERT_TRUE(d.Take(8, &got));
  fake_now += milliseconds(1000);
  // metad's clock stepped back: an expired entry does not hold back what
  // comes next.
  d.Note(Dir(8, 150));
  ASSERT_TRUE(d.Take(8, &got));
  EXPECT_EQ(got.ctime_ns, 150);
}

}  // namespace
}  // namespace replfs::client
