// Replication goals: SetGoal on files and trees, inheritance, convergence;
// the DRAINING flag survives a restart.
#include "tests/unit/metad/ops_fixture.h"

namespace replfs::metad {
namespace {

TEST_F(OpsTest, SetGoalTwoThenFourConverges) {
  ChunkInfo c = NewChunk(kRootIno, "f");
  int64_t changed = 0;
  ASSERT_OK(core_->SetGoal(c.ino, 2, false, &changed));
  EXPECT_EQ(changed, 1);
  EXPECT_EQ(Attr(c.ino).goal, 2);
  EXPECT_EQ(Get(c.id).goal, 2);
  Converge();
  EXPECT_EQ(Get(c.id).replicas.size(), 2u);
  ASSERT_OK(core_->SetGoal(c.ino, 4, false, &changed));
  Converge();
  ChunkInfo now = Get(c.id);
  EXPECT_EQ(now.replicas.size(), 4u);
  EXPECT_EQ(now.goal, 4);
  EXPECT_EQ(core_->GetStatus().chunks.healthy, 1);
  Inode f = MkFile(kRootIno, "g");  // the root still gives the default
  EXPECT_EQ(f.goal, core_->config().replicas);
}

TEST_F(OpsTest, SetGoalValidates) {
  ChunkInfo c = NewChunk(kRootIno, "f");
  int64_t changed = 0;
  EXPECT_CODE(core_->SetGoal(c.ino, 0, false, &changed), kInvalid);
  EXPECT_CODE(core_->SetGoal(c.ino, 17, false, &changed), kInvalid);
  EXPECT_CODE(core_->SetGoal(999, 2, false, &changed), kNotFound);
  Inode l;
  ASSERT_OK(ns().Symlink(kRootIno, "l", "f", 0, 0, &l));
  EXPECT_CODE(core_->SetGoal(l.ino, 2, false, &changed), kInvalid);
}

TEST_F(OpsTest, DirectoryGoalIsInherited) {
  Inode d = MkDir(kRootIno, "d");
  EXPECT_EQ(d.goal, core_->config().replicas);
  int64_t changed = 0;
  ASSERT_OK(core_->SetGoal(d.ino, 2, false, &changed));
  Inode sub = MkDir(d.ino, "sub");
  EXPECT_EQ(sub.goal, 2);
  ChunkInfo c = NewChunk(sub.ino, "f", 0, /*pin=*/false);
  EXPECT_EQ(c.goal, 2);
  EXPECT_EQ(c.replicas.size(), 2u);  // allocation uses the file's goal
  EXPECT_EQ(Attr(c.ino).goal, 2);
}

TEST_F(OpsTest, RecursiveSetGoalReachesEverythingBelow) {
  Inode d = MkDir(kRootIno, "d"), sub = MkDir(d.ino, "sub");
  std::vector<ChunkInfo> cs;
  for (int i = 0; i < 300; ++i)  // more than one batch
    cs.push_back(NewChunk(i % 2 ? sub.ino : d.ino, "f" + std::to_string(i)));
  ChunkInfo outside = NewChunk(kRootIno, "outside");
  int64_t changed = 0;
  ASSERT_OK(core_->SetGoal(d.ino, 1, true, &changed));
  EXPECT_EQ(changed, 302);  // d, sub and 300 files
  EXPECT_EQ(Attr(sub.ino).goal, 1);
  for (const auto& c : cs) EXPECT_EQ(Get(c.id).goal, 1);
  EXPECT_EQ(Get(outside.id).goal, 3);
  Converge(400);
  for (const auto& c : cs) EXPECT_EQ(Get(c.id).replicas.size(), 1u);
  EXPECT_EQ(Get(outside.id).replicas.size(), 3u);
  ASSERT_OK(core_->SetGoal(d.ino, 1, true, &changed));
  EXPECT_EQ(changed, 0);  // nothing left to change
}

TEST_F(CoreTest, DrainingIsPersisted) {
  AddServer("h:1");
  ASSERT_OK(core_->Drain("h:1"));
  Reopen();
  EXPECT_TRUE(core_->servers().IsDraining("h:1"));
  AddServer("h:1");  // registering again keeps the flag
  EXPECT_TRUE(core_->servers().IsDraining("h:1"));
  EXPECT_EQ(core_->GetStatus().servers[0].state, ServerState::kDraining);
  ASSERT_OK(core_->Undrain("h:1"));
  Reopen();
  EXPECT_FALSE(core_->servers().IsDraining("h:1"));
}

}  // namespace
}  // namespace replfs::metad
