// The FileSystem facade over a fake metad and fake datads.
#include "fuse/file_system.h"

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "fakes.h"
#include "tests/util/test_util.h"

namespace replfs::client::testing {
namespace {

class FileSystemTest : public ::testing::Test {
 protected:
  FileSystemTest() {
    for (auto& d : data_) meta_.handler->replicas.push_back(d.addr);
    fs_ = MakeFs();
  }

  // `known_ttl`: as FileSystem's (coherent_timeout).
  // `meta_rpc`: how its MetaClient retries.
  std::unique_ptr<FileSystem> MakeFs(std::chrono::milliseconds known_ttl = std::chrono::milliseconds(0),
                                     const net::RpcOptions& meta_rpc = FastOptions()) {
    auto meta = std::make_unique<MetaClient>(HostPort{"127.0.0.1", meta_.server->port()},
                                             meta_rpc);
    ClusterInfo info;
    EXPECT_TRUE(meta->GetClusterInfo(&info).ok());
    Geometry g;
    g.chunk_size = info.chunk_size;
    g.block_size = info.block_size;
    g.max_rpc_bytes = info.max_rpc_bytes;
    auto io = std::make_unique<ChunkIo>(meta.get(), g, FastDataOptions(), 4);
    return std::make_unique<FileSystem>(std::move(meta), std::move(io), info, kOpenRenewalInterval,
                                        std::chrono::milliseconds(1000), known_ttl);
  }

  ServedMeta meta_;
  ServedData data_[3];
  std::unique_ptr<FileSystem> fs_;
};

TEST_F(FileSystemTest, WriterSeesItsSizeBeforeCommitAndMetadAfterFlush) {
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "f", 0644, Caller{1000, 1000}, &a).ok());
  EXPECT_EQ(a.uid, 1000u);
  ASSERT_TRUE(fs_->Write(a.ino, 0, std::string(10000, 'q')).ok());
  Attr got;
  ASSERT_TRUE(fs_->GetAttr(a.ino, &got).ok());
  EXPECT_EQ(got.size, 10000);
  EXPECT_GT(got.mtime_ns, 1);
  EXPECT_EQ(meta_.handler->Size(a.ino), 0);  // nothing committed yet
  std::string out;
  ASSERT_TRUE(fs_->Read(a.ino, 9990, 100, &out).ok());
  EXPECT_EQ(out, std::string(10, 'q'));
  ASSERT_TRUE(fs_->Flush(a.ino).ok());
  EXPECT_EQ(meta_.handler->Size(a.ino), 10000);
  for (auto& d : data_) EXPECT_EQ(d.handler->syncs.load(), 1);
  const int commits = meta_.handler->commits;
  ASSERT_TRUE(fs_->Flush(a.ino).ok());  // clean: no second commit
  EXPECT_EQ(meta_.handler->commits.load(), commits);
  ASSERT_TRUE(fs_->Release(a.ino).ok());
  fs_->DrainReleases();
  EXPECT_EQ(meta_.handler->opens.load(), 1);
  EXPECT_EQ(meta_.handler->releases.load(), 1);
}

// fsync of a file and of a directory make metad's namespace changes
// durable (its create may be lazy there); a flush at close does not ask.
TEST_F(FileSystemTest, FsyncAndFsyncDirSyncMetad) {
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "s", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Flush(a.ino).ok());
  EXPECT_EQ(meta_.handler->meta_syncs.load(), 0);
  ASSERT_TRUE(fs_->Fsync(a.ino).ok());  // nothing written: still a Sync
  EXPECT_EQ(meta_.handler->meta_syncs.load(), 1);
  EXPECT_EQ(meta_.handler->commits.load(), 0);
  ASSERT_TRUE(fs_->Write(a.ino, 0, "x").ok());
  ASSERT_TRUE(fs_->Fsync(a.ino).ok());
  EXPECT_EQ(meta_.handler->commits.load(), 1);
  EXPECT_EQ(meta_.handler->meta_syncs.load(), 2);
  ASSERT_TRUE(fs_->FsyncDir().ok());
  EXPECT_EQ(meta_.handler->meta_syncs.load(), 3);
  ASSERT_TRUE(fs_->Release(a.ino).ok());
}

// The kernel asks for a directory's attributes after each change in it
// (default_permissions): the change's answer carries them, so that GETATTR
// costs no metad call, once; a chmod of the directory drops them.
TEST_F(FileSystemTest, ParentAttributesComeWithTheChangeOnce) {
  Attr before;
  ASSERT_TRUE(fs_->GetAttr(1, &before).ok());
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "p", 0644, Caller{}, &a).ok());
  EXPECT_EQ(meta_.handler->creates.load(), 1);
  EXPECT_EQ(meta_.handler->opens.load(), 1);  // made and opened in one call
  const int asked = meta_.handler->getattrs.load();
  Attr dir;
  ASSERT_TRUE(fs_->GetAttr(1, &dir).ok());
  EXPECT_EQ(meta_.handler->getattrs.load(), asked) << "answered from the create";
  EXPECT_GT(dir.mtime_ns, before.mtime_ns);
  Attr again;
  ASSERT_TRUE(fs_->GetAttr(1, &again).ok());
  EXPECT_EQ(meta_.handler->getattrs.load(), asked + 1) << "used once only";
  EXPECT_EQ(again.mtime_ns, dir.mtime_ns);

  Attr n;
  ASSERT_TRUE(fs_->Mknod(1, "q", S_IFREG | 0644, 0, Caller{}, &n).ok());
  SetAttrRequest chmod;
  chmod.ino = 1;
  chmod.mode = 0700;
  Attr changed;
  ASSERT_TRUE(fs_->SetAttr(chmod, &changed).ok());
  ASSERT_TRUE(fs_->GetAttr(1, &dir).ok());
  EXPECT_EQ(meta_.handler->getattrs.load(), asked + 2) << "a chmod drops what the mknod brought";
  EXPECT_EQ(dir.mode, 0700u);
  ASSERT_TRUE(fs_->Release(a.ino).ok());
}

// The fstat(2) after an open is answered from the open's attributes; after
// a write the size is this client's own, asked of metad again.
TEST_F(FileSystemTest, FileAttributesComeWithTheOpenUntilAWrite) {
  Attr a, opened, got;
  ASSERT_TRUE(fs_->Create(1, "o", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Release(a.ino).ok());
  ASSERT_TRUE(fs_->Open(a.ino, &opened).ok());
  const int asked = meta_.handler->getattrs.load();
  ASSERT_TRUE(fs_->GetAttr(a.ino, &got).ok());
  EXPECT_EQ(meta_.handler->getattrs.load(), asked) << "answered from the open";
  EXPECT_EQ(got.size, opened.size);
  ASSERT_TRUE(fs_->GetAttr(a.ino, &got).ok());
  EXPECT_EQ(meta_.handler->getattrs.load(), asked + 1) << "used once only";
  ASSERT_TRUE(fs_->Release(a.ino).ok());
  ASSERT_TRUE(fs_->Open(a.ino, &opened).ok());
  const int reopened = meta_.handler->getattrs.load();  // the fake's Open counts one
  ASSERT_TRUE(fs_->Write(a.ino, 0, "abc").ok());
  ASSERT_TRUE(fs_->GetAttr(a.ino, &got).ok());
  EXPECT_EQ(meta_.handler->getattrs.load(), reopened + 1) << "a write drops what the open brought";
  EXPECT_EQ(got.size, 3);
  ASSERT_TRUE(fs_->Release(a.ino).ok());
}

TEST_F(FileSystemTest, TruncateTrimsReplicasThenTellsMetad) {
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "t", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 0, std::string(3 * kBlockSize, 'z')).ok());
  SetAttrRequest r;
  r.ino = a.ino;
  r.size = 100;
  Attr got;
  ASSERT_TRUE(fs_->SetAttr(r, &got).ok());
  EXPECT_EQ(got.size, 100);
  EXPECT_EQ(meta_.handler->Size(a.ino), 100);
  for (auto& d : data_) EXPECT_EQ(d.handler->truncates.load(), 1);
  // Growing again reads zeros past the old end, never the trimmed bytes.
  r.size = 3 * kBlockSize;
  ASSERT_TRUE(fs_->SetAttr(r, &got).ok());
  std::string out;
  ASSERT_TRUE(fs_->Read(a.ino, 0, 3 * kBlockSize, &out).ok());
  EXPECT_EQ(out, std::string(100, 'z') + std::string(3 * kBlockSize - 100, '\0'));
  ASSERT_TRUE(fs_->Release(a.ino).ok());
}

TEST_F(FileSystemTest, WriteAfterAnotherClientTruncatedCommitsOnlyItsOwnEnd) {
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "shrunk", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 0, std::string(10000, 'a')).ok());
  ASSERT_TRUE(fs_->Flush(a.ino).ok());
  ASSERT_EQ(meta_.handler->Size(a.ino), 10000);
  // Another mount truncates the file while this one keeps it open.
  rpc::SetAttrRequest trunc;
  trunc.ino = static_cast<int64_t>(a.ino);
  trunc.__set_size(0);
  rpc::Attr after;
  meta_.handler->SetAttr(after, trunc);
  // A small write here must not resurrect the old size.
  ASSERT_TRUE(fs_->Write(a.ino, 0, "abc").ok());
  Attr got;
  ASSERT_TRUE(fs_->GetAttr(a.ino, &got).ok());
  EXPECT_EQ(got.size, 3);
  ASSERT_TRUE(fs_->Flush(a.ino).ok());
  EXPECT_EQ(meta_.handler->Size(a.ino), 3);
  ASSERT_TRUE(fs_->Release(a.ino).ok());
  EXPECT_EQ(meta_.handler->Size(a.ino), 3);
}

// Write-behind: the appends of a new small file reach the datads at flush,
// in one Write that syncs every replica, so the flush calls no Sync.
TEST_F(FileSystemTest, SmallNewFilesAreSentInOneSyncedWriteAtFlush) {
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "small", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 0, std::string(4096, 'a')).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 4096, std::string(4096, 'b')).ok());
  for (auto& d : data_) EXPECT_EQ(d.handler->writes.load(), 0);  // held back
  EXPECT_EQ(meta_.handler->alloc_calls.load(), 0);
  Attr got;
  ASSERT_TRUE(fs_->GetAttr(a.ino, &got).ok());
  EXPECT_EQ(got.size, 8192);  // the writer sees its size
  ASSERT_TRUE(fs_->Flush(a.ino).ok());
  int primary = 0, synced = 0;
  for (auto& d : data_) {
    primary += d.handler->primary_writes.load();
    synced += d.handler->synced_writes.load();
    EXPECT_EQ(d.handler->writes.load(), 1);
    EXPECT_EQ(d.handler->syncs.load(), 0);  // the write synced them
  }
  EXPECT_EQ(primary, 1);
  EXPECT_EQ(synced, 3);
  EXPECT_EQ(meta_.handler->Size(a.ino), 8192);
  const rpc::ChunkLocation loc = meta_.handler->Location(static_cast<int64_t>(a.ino), 0);
  for (auto& d : data_)
    EXPECT_EQ(d.handler->Contents(loc.chunk_id), std::string(4096, 'a') + std::string(4096, 'b'));
  ASSERT_TRUE(fs_->Release(a.ino).ok());
}

// An older datad does not know Write's `sync` (its reply never says
// synced): the flush syncs every replica as before.
TEST_F(FileSystemTest, DatadsThatDoNotKnowSyncedWritesAreSyncedAtFlush) {
  for (auto& d : data_) d.handler->knows_sync = false;
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "old", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 0, "x\n").ok());
  ASSERT_TRUE(fs_->Flush(a.ino).ok());
  for (auto& d : data_) EXPECT_EQ(d.handler->syncs.load(), 1);
  EXPECT_EQ(meta_.handler->Size(a.ino), 2);
  ASSERT_TRUE(fs_->Release(a.ino).ok());
}

// Whatever needs the bytes at the datads gets them there first, in order: a
// write past the limit or out of order, a read, a truncation.
TEST_F(FileSystemTest, HeldBytesGoOutBeforeAnythingThatNeedsThem) {
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "big", 0644, Caller{}, &a).ok());
  const std::string first(kHoldBackBytes - 10, 'a');
  ASSERT_TRUE(fs_->Write(a.ino, 0, first).ok());
  EXPECT_EQ(data_[0].handler->writes.load() + data_[1].handler->writes.load() +
                data_[2].handler->writes.load(),
            0);
  auto primary_writes = [&] {
    int n = 0;
    for (auto& d : data_) n += d.handler->primary_writes.load();
    return n;
  };
  ASSERT_TRUE(fs_->Write(a.ino, first.size(), std::string(100, 'b')).ok());  // past the limit
  const int sent = primary_writes();
  EXPECT_GE(sent, 2);  // the held bytes (in max_rpc_bytes pieces), then this write
  // From now on written through.
  ASSERT_TRUE(fs_->Write(a.ino, first.size() + 100, "c").ok());
  EXPECT_EQ(primary_writes(), sent + 1);
  std::string out;
  ASSERT_TRUE(fs_->Read(a.ino, 0, kHoldBackBytes + 91, &out).ok());
  EXPECT_EQ(out, first + std::string(100, 'b') + "c");
  ASSERT_TRUE(fs_->Flush(a.ino).ok());
  for (auto& d : data_) EXPECT_EQ(d.handler->syncs.load(), 1);
  ASSERT_TRUE(fs_->Release(a.ino).ok());

  Attr r;
  ASSERT_TRUE(fs_->Create(1, "read", 0644, Caller{}, &r).ok());
  ASSERT_TRUE(fs_->Write(r.ino, 0, "hello").ok());
  ASSERT_TRUE(fs_->Read(r.ino, 0, 100, &out).ok());  // sent before it reads
  EXPECT_EQ(out, "hello");
  ASSERT_TRUE(fs_->Write(r.ino, 5, " world").ok());  // held again, after the sent part
  SetAttrRequest t;
  t.ino = r.ino;
  t.size = 8;
  Attr got;
  ASSERT_TRUE(fs_->SetAttr(t, &got).ok());  // sent before it truncates
  EXPECT_EQ(got.size, 8);
  ASSERT_TRUE(fs_->Read(r.ino, 0, 100, &out).ok());
  EXPECT_EQ(out, "hello wo");
  ASSERT_TRUE(fs_->Flush(r.ino).ok());
  EXPECT_EQ(meta_.handler->Size(r.ino), 8);
  ASSERT_TRUE(fs_->Release(r.ino).ok());
}

TEST_F(FileSystemTest, WritesToAFileThatWasNotEmptyGoThroughAtOnce) {
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "full", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 0, "abc").ok());
  ASSERT_TRUE(fs_->Release(a.ino).ok());
  const int before = data_[0].handler->writes.load();
  Attr o;
  ASSERT_TRUE(fs_->Open(a.ino, &o).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 3, "def").ok());
  EXPECT_EQ(data_[0].handler->writes.load(), before + 1);
  ASSERT_TRUE(fs_->Release(a.ino).ok());
  EXPECT_EQ(meta_.handler->Size(a.ino), 6);
}

// Held bytes that cannot be written stay held: every flush tries again and
// fails while they cannot (nothing after them is committed), and they are
// written once they can. Meanwhile the mount holds nothing, so that a new
// file's write(2) itself reports the full disk.
TEST_F(FileSystemTest, HeldBytesThatCannotBeWrittenFailEveryFlushUntilTheyAre) {
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "full-disk", 0644, Caller{}, &a).ok());
  for (auto& d : data_) d.handler->fault = FakeData::Fault::kNoSpace;
  ASSERT_TRUE(fs_->Write(a.ino, 0, "abc").ok());  // held: nothing to fail yet
  Status s = fs_->Flush(a.ino);
  EXPECT_EQ(s.code(), Status::Code::kNoSpace) << s.ToString();
  s = fs_->Flush(a.ino);
  EXPECT_EQ(s.code(), Status::Code::kNoSpace) << s.ToString();
  EXPECT_EQ(meta_.handler->Size(a.ino), 0);
  Attr got;
  ASSERT_TRUE(fs_->GetAttr(a.ino, &got).ok());
  EXPECT_EQ(got.size, 3);  // still the writer's
  // A later write waits behind them (and fails with them): never a hole.
  s = fs_->Write(a.ino, 3, "def");
  EXPECT_EQ(s.code(), Status::Code::kNoSpace) << s.ToString();

  Attr b;
  ASSERT_TRUE(fs_->Create(1, "next", 0644, Caller{}, &b).ok());
  s = fs_->Write(b.ino, 0, "x");  // not held now: fails at once
  EXPECT_EQ(s.code(), Status::Code::kNoSpace) << s.ToString();

  for (auto& d : data_) d.handler->fault = FakeData::Fault::kNone;
  ASSERT_TRUE(fs_->Flush(a.ino).ok());
  EXPECT_EQ(meta_.handler->Size(a.ino), 3);
  const rpc::ChunkLocation loc = meta_.handler->Location(static_cast<int64_t>(a.ino), 0);
  EXPECT_EQ(data_[0].handler->Contents(loc.chunk_id), "abc");
  ASSERT_TRUE(fs_->Release(a.ino).ok());
  ASSERT_TRUE(fs_->Release(b.ino).ok());
}

// A truncation that races with a held append leaves it at its offset.
TEST_F(FileSystemTest, TruncateToZeroAfterASendHoldsFromZeroAgain) {
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "again", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 0, "old contents").ok());
  SetAttrRequest t;
  t.ino = a.ino;
  t.size = 0;
  Attr got;
  ASSERT_TRUE(fs_->SetAttr(t, &got).ok());  // sends, then truncates
  const int writes = data_[0].handler->writes.load();
  ASSERT_TRUE(fs_->Write(a.ino, 0, "new").ok());
  EXPECT_EQ(data_[0].handler->writes.load(), writes);  // held again
  ASSERT_TRUE(fs_->Flush(a.ino).ok());
  EXPECT_EQ(meta_.handler->Size(a.ino), 3);
  std::string out;
  ASSERT_TRUE(fs_->Read(a.ino, 0, 100, &out).ok());
  EXPECT_EQ(out, "new");
  ASSERT_TRUE(fs_->Release(a.ino).ok());
}

// The kernel asks for a file's attributes after it was written (the next
// stat, or the permission check of the next open): the commit's answer
// serves that one request.
TEST_F(FileSystemTest, TheCommitsAttributesAnswerTheNextGetAttr) {
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "stat-after", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 0, "12345").ok());
  ASSERT_TRUE(fs_->Flush(a.ino).ok());
  const int before = meta_.handler->getattrs.load();
  Attr got;
  bool cached = false;
  ASSERT_TRUE(fs_->GetAttr(a.ino, &got, &cached).ok());
  EXPECT_TRUE(cached);
  EXPECT_EQ(got.size, 5);
  EXPECT_EQ(meta_.handler->getattrs.load(), before);
  ASSERT_TRUE(fs_->GetAttr(a.ino, &got, &cached).ok());  // used once only
  EXPECT_FALSE(cached);
  EXPECT_EQ(meta_.handler->getattrs.load(), before + 1);
  ASSERT_TRUE(fs_->Release(a.ino).ok());
}

// cat f: the kernel's GETATTR after the open (its fstat) is answered from
// the open's attributes, also for a file this mount has just written.
TEST_F(FileSystemTest, TheGetAttrAfterAnOpenIsAnsweredFromIt) {
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "cat-me", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 0, "x\n").ok());
  ASSERT_TRUE(fs_->Release(a.ino).ok());
  Attr o;
  ASSERT_TRUE(fs_->Open(a.ino, &o).ok());
  const int before = meta_.handler->getattrs.load();
  Attr got;
  bool cached = false;
  ASSERT_TRUE(fs_->GetAttr(a.ino, &got, &cached).ok());
  EXPECT_TRUE(cached);
  EXPECT_EQ(got.size, 2);
  EXPECT_EQ(meta_.handler->getattrs.load(), before);
  ASSERT_TRUE(fs_->Release(a.ino).ok());
}

// A read past the size metad told at the open asks metad again (another
// mount may have grown the file), but not while that answer is fresh: cat's
// read of a whole page right after its open costs no GetAttr. A change of
// another mount ends the trust at once.
TEST_F(FileSystemTest, AReadPastTheSizeJustHeardAtTheOpenAsksNoOne) {
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "eof", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 0, "x\n").ok());
  ASSERT_TRUE(fs_->Release(a.ino).ok());
  Attr o;
  ASSERT_TRUE(fs_->Open(a.ino, &o).ok());
  const int before = meta_.handler->getattrs.load();
  std::string out;
  ASSERT_TRUE(fs_->Read(a.ino, 0, 4096, &out).ok());
  EXPECT_EQ(out, "x\n");
  EXPECT_EQ(meta_.handler->getattrs.load(), before);
  fs_->ChangedElsewhere(a.ino);
  ASSERT_TRUE(fs_->Read(a.ino, 0, 4096, &out).ok());
  EXPECT_EQ(out, "x\n");
  EXPECT_EQ(meta_.handler->getattrs.load(), before + 1);
  ASSERT_TRUE(fs_->Release(a.ino).ok());
}

// ---- ContentCache: small files written here, read back here -------------

class ContentCacheFsTest : public FileSystemTest {
 protected:
  ContentCacheFsTest() { fs_ = MakeFs(std::chrono::milliseconds(30000)); }  // following the feed
  int DataReads() {
    int n = 0;
    for (auto& d : data_) n += d.handler->reads.load();
    return n;
  }
  // A file of `bytes` written through fs_ in one held Write and closed.
  uint64_t WriteSmall(const std::string& name, const std::string& bytes) {
    Attr a;
    EXPECT_TRUE(fs_->Create(1, name, 0644, Caller{}, &a).ok());
    EXPECT_TRUE(fs_->Write(a.ino, 0, bytes).ok());
    EXPECT_TRUE(fs_->Release(a.ino).ok());
    return a.ino;
  }
  // Open (the change feed followed: what was kept may be used), read 4 KiB
  // from `offset`, release.
  std::string ReadBack(uint64_t ino, int64_t offset = 0) {
    Attr o;
    EXPECT_TRUE(fs_->Open(ino, &o, /*use_kept=*/true).ok());
    std::string out;
    EXPECT_TRUE(fs_->Read(ino, offset, 4096, &out).ok());
    EXPECT_TRUE(fs_->Release(ino).ok());
    return out;
  }
};

TEST_F(ContentCacheFsTest, ASmallFileWrittenHereIsReadBackWithoutADatad) {
  const uint64_t ino = WriteSmall("f", "x\n");
  const int before = DataReads();
  EXPECT_EQ(ReadBack(ino), "x\n");
  EXPECT_EQ(ReadBack(ino, 1), "\n");
  EXPECT_EQ(ReadBack(ino, 2), "");
  EXPECT_EQ(ReadBack(ino, 100), "");
  EXPECT_EQ(DataReads(), before);
}

TEST_F(ContentCacheFsTest, AnotherMountsWriteIsReadFromTheDatads) {
  const uint64_t ino = WriteSmall("f", "x\n");
  auto other = MakeFs();
  Attr o;
  ASSERT_TRUE(other->Open(ino, &o).ok());
  ASSERT_TRUE(other->Write(ino, 0, "y").ok());  // same size, a later mtime
  ASSERT_TRUE(other->Release(ino).ok());
  const int before = DataReads();
  EXPECT_EQ(ReadBack(ino), "y\n");
  EXPECT_GT(DataReads(), before);
}

TEST_F(ContentCacheFsTest, NotUsedUnlessTheOpenMayTrustIt) {
  const uint64_t ino = WriteSmall("f", "x\n");
  const int before = DataReads();
  Attr o;
  ASSERT_TRUE(fs_->Open(ino, &o, /*use_kept=*/false).ok());  // the feed not followed
  std::string out;
  ASSERT_TRUE(fs_->Read(ino, 0, 4096, &out).ok());
  EXPECT_EQ(out, "x\n");
  ASSERT_TRUE(fs_->Release(ino).ok());
  EXPECT_GT(DataReads(), before);
  EXPECT_EQ(ReadBack(ino), "x\n");
}

TEST_F(ContentCacheFsTest, AnMtimeSetBackElsewhereStillShowsAsAnotherVersion) {
  const uint64_t ino = WriteSmall("f", "x\n");
  Attr kept;
  ASSERT_TRUE(fs_->GetAttr(ino, &kept).ok());
  auto other = MakeFs();
  Attr o;
  ASSERT_TRUE(other->Open(ino, &o).ok());
  ASSERT_TRUE(other->Write(ino, 0, "y").ok());
  ASSERT_TRUE(other->Release(ino).ok());
  SetAttrRequest back;  // touch -d: the old mtime, same size; ctime moves
  back.ino = ino;
  back.mtime_ns = kept.mtime_ns;
  Attr after;
  ASSERT_TRUE(other->SetAttr(back, &after).ok());
  ASSERT_EQ(after.mtime_ns, kept.mtime_ns);
  ASSERT_EQ(after.size, kept.size);
  EXPECT_EQ(ReadBack(ino), "y\n");
}

TEST_F(ContentCacheFsTest, ATruncateWhileOpenDropsIt) {
  const uint64_t ino = WriteSmall("f", "first\n");
  Attr o;
  ASSERT_TRUE(fs_->Open(ino, &o, true).ok());
  SetAttrRequest t;
  t.ino = ino;
  t.size = 2;
  Attr after;
  ASSERT_TRUE(fs_->SetAttr(t, &after).ok());
  std::string out;
  ASSERT_TRUE(fs_->Read(ino, 0, 4096, &out).ok());
  EXPECT_EQ(out, "fi");
  ASSERT_TRUE(fs_->Release(ino).ok());
  EXPECT_EQ(ReadBack(ino), "fi");
}

// Another mount's write that metad has before this mount's commit of the
// same size: the commit's answer shows this mount's mtime, as if nothing
// else had happened; the change feed's event for it, heard before the
// commit, keeps what was sent from being kept.
TEST_F(ContentCacheFsTest, AChangeHeardBetweenTheSendAndTheCommitKeepsNothing) {
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "f", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 0, "hello").ok());  // held
  std::string out;
  ASSERT_TRUE(fs_->Read(a.ino, 0, 10, &out).ok());  // sent, not committed
  auto other = MakeFs();
  Attr o;
  ASSERT_TRUE(other->Open(a.ino, &o).ok());
  ASSERT_TRUE(other->Write(a.ino, 0, "J").ok());
  ASSERT_TRUE(other->Release(a.ino).ok());
  fs_->ChangedElsewhere(a.ino);           // the feed tells this mount
  ASSERT_TRUE(fs_->Release(a.ino).ok());  // commits: size 5, this mount's mtime
  EXPECT_EQ(ReadBack(a.ino), "Jello");
}

TEST_F(ContentCacheFsTest, WritesAndTruncatesHereDropIt) {
  const uint64_t ino = WriteSmall("f", "abc\n");
  Attr o;
  ASSERT_TRUE(fs_->Open(ino, &o, true).ok());
  std::string out;
  ASSERT_TRUE(fs_->Read(ino, 0, 4096, &out).ok());
  ASSERT_EQ(out, "abc\n");
  ASSERT_TRUE(fs_->Write(ino, 0, "X").ok());  // not empty at open: written through
  ASSERT_TRUE(fs_->Read(ino, 0, 4096, &out).ok());
  EXPECT_EQ(out, "Xbc\n");
  ASSERT_TRUE(fs_->Flush(ino).ok());
  ASSERT_TRUE(fs_->Read(ino, 0, 4096, &out).ok());
  EXPECT_EQ(out, "Xbc\n") << "the commit of a written-through file keeps nothing";
  SetAttrRequest t;
  t.ino = ino;
  t.size = 2;
  Attr after;
  ASSERT_TRUE(fs_->SetAttr(t, &after).ok());
  ASSERT_TRUE(fs_->Read(ino, 0, 4096, &out).ok());
  EXPECT_EQ(out, "Xb");
  ASSERT_TRUE(fs_->Release(ino).ok());
  EXPECT_EQ(ReadBack(ino), "Xb");
}

TEST_F(ContentCacheFsTest, ATruncatedFileWrittenAgainIsKeptWithItsNewContent) {
  const uint64_t ino = WriteSmall("f", "first\n");
  Attr o;
  ASSERT_TRUE(fs_->Open(ino, &o, true).ok());
  SetAttrRequest t;  // O_TRUNC
  t.ino = ino;
  t.size = 0;
  Attr after;
  ASSERT_TRUE(fs_->SetAttr(t, &after).ok());
  ASSERT_TRUE(fs_->Write(ino, 0, "2nd\n").ok());  // held again
  ASSERT_TRUE(fs_->Release(ino).ok());
  const int before = DataReads();
  EXPECT_EQ(ReadBack(ino), "2nd\n");
  EXPECT_EQ(DataReads(), before);
}

TEST_F(ContentCacheFsTest, OnlyAContentSentWholeIsKept) {
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "f", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 0, "a").ok());
  ASSERT_TRUE(fs_->Flush(a.ino).ok());        // [0, 1) sent and committed
  ASSERT_TRUE(fs_->Write(a.ino, 1, "b").ok());  // held after it
  ASSERT_TRUE(fs_->Release(a.ino).ok());      // [1, 2) sent: not the whole file
  const int before = DataReads();
  EXPECT_EQ(ReadBack(a.ino), "ab");
  EXPECT_GT(DataReads(), before);
}

TEST_F(ContentCacheFsTest, OtherMountsChangesAndTheKernelForgettingTheInodeDropIt) {
  const uint64_t ino = WriteSmall("f", "x\n");
  Attr o;
  ASSERT_TRUE(fs_->Open(ino, &o, true).ok());
  fs_->ChangedElsewhere(ino);  // the change feed, while open
  int before = DataReads();
  std::string out;
  ASSERT_TRUE(fs_->Read(ino, 0, 4096, &out).ok());
  EXPECT_EQ(out, "x\n");
  EXPECT_GT(DataReads(), before);
  ASSERT_TRUE(fs_->Release(ino).ok());

  const uint64_t g = WriteSmall("g", "y\n");
  fs_->Forget(g);  // drop_caches
  before = DataReads();
  EXPECT_EQ(ReadBack(g), "y\n");
  EXPECT_GT(DataReads(), before);

  const uint64_t h = WriteSmall("h", "z\n");
  fs_->ChangesLost();
  before = DataReads();
  EXPECT_EQ(ReadBack(h), "z\n");
  EXPECT_GT(DataReads(), before);
}

// A process that exists for as long as this object: the "other process" of
// the tests below (its pid is a thread id of another thread group).
class OtherProcess {
 public:
  OtherProcess() {
    if (pipe(fds_) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {  // only async-signal-safe calls from here
      close(fds_[1]);
      char c;
      while (read(fds_[0], &c, 1) < 0) {
      }
      _exit(0);
    }
    close(fds_[0]);
  }
  ~OtherProcess() {
    close(fds_[1]);  // the child reads EOF and exits
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }
  uint32_t tid() const { return pid_ > 0 ? static_cast<uint32_t>(pid_) : 0; }

 private:
  int fds_[2] = {-1, -1};
  pid_t pid_ = -1;
};

uint32_t Tid() { return static_cast<uint32_t>(syscall(SYS_gettid)); }

// A flush from another process than the writer's (a forked child's exit or
// exec closing its copy of the descriptor) neither sends nor waits for the
// held bytes: the writer's own flush, from any of its threads, does, and a
// Release does when no flush of the writer came.
TEST_F(FileSystemTest, OnlyTheWritersProcessSendsHeldBytesAtFlush) {
  // The writer's send below must still be retrying when metad comes back.
  net::RpcOptions patient = FastOptions();
  patient.budget_ms = 60000;
  fs_ = MakeFs(std::chrono::milliseconds(0), patient);
  OtherProcess child;
  ASSERT_NE(child.tid(), 0u);
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "forked", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 0, "abc", Tid()).ok());
  meta_.Stop();  // what the writer's flush would wait for
  EXPECT_TRUE(fs_->Flush(a.ino, child.tid()).ok());
  for (auto& d : data_) EXPECT_EQ(d.handler->writes.load(), 0);
  meta_.Restart();
  EXPECT_EQ(meta_.handler->Size(a.ino), 0);
  Status s;
  std::thread writer_thread([&] { s = fs_->Flush(a.ino, Tid()); });
  writer_thread.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(meta_.handler->Size(a.ino), 3);
  ASSERT_TRUE(fs_->Release(a.ino).ok());

  Attr r;
  ASSERT_TRUE(fs_->Create(1, "released", 0644, Caller{}, &r).ok());
  ASSERT_TRUE(fs_->Write(r.ino, 0, "xyz", Tid()).ok());
  ASSERT_TRUE(fs_->Flush(r.ino, child.tid()).ok());
  EXPECT_EQ(meta_.handler->Size(r.ino), 0);
  ASSERT_TRUE(fs_->Release(r.ino).ok());
  EXPECT_EQ(meta_.handler->Size(r.ino), 3);

  // Nor does it wait for the writer's own flush, sending them meanwhile.
  Attr w;
  ASSERT_TRUE(fs_->Create(1, "in-flight", 0644, Caller{}, &w).ok());
  ASSERT_TRUE(fs_->Write(w.ino, 0, "late", Tid()).ok());
  auto allocs = [&] {
    const auto snap = fs_->meta().counters()->Snapshot();
    auto it = snap.find("AllocChunk");
    return it == snap.end() ? int64_t{0} : it->second;
  };
  const int64_t allocs_before = allocs();
  meta_.Stop();
  std::atomic<bool> writer_done{false};
  std::thread closer([&] {
    s = fs_->Flush(w.ino, Tid());
    writer_done = true;
  });
  // The writer's send tries to allocate the first chunk (and retries).
  EXPECT_TRUE(replfs::testing::WaitFor([&] { return allocs() > allocs_before; }, std::chrono::seconds(10),
                      "the writer's send to ask metad for a chunk"));
  EXPECT_TRUE(fs_->Flush(w.ino, child.tid()).ok());
  EXPECT_FALSE(writer_done.load());  // returned while the writer still waits
  meta_.Restart();
  closer.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(meta_.handler->Size(w.ino), 4);
  ASSERT_TRUE(fs_->Release(w.ino).ok());
}

// The same for bytes written through and not committed yet.
TEST_F(FileSystemTest, AFlushOfAnotherProcessLeavesWrittenBytesUncommitted) {
  OtherProcess child;
  ASSERT_NE(child.tid(), 0u);
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "through", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 0, "abc", Tid()).ok());
  ASSERT_TRUE(fs_->Release(a.ino).ok());
  Attr o;
  ASSERT_TRUE(fs_->Open(a.ino, &o).ok());  // not empty: written through
  const int writes = data_[0].handler->writes.load();
  ASSERT_TRUE(fs_->Write(a.ino, 3, "def", Tid()).ok());
  EXPECT_EQ(data_[0].handler->writes.load(), writes + 1);
  meta_.Stop();
  EXPECT_TRUE(fs_->Flush(a.ino, child.tid()).ok());  // no CommitWrite tried
  meta_.Restart();
  EXPECT_EQ(meta_.handler->Size(a.ino), 3);
  ASSERT_TRUE(fs_->Flush(a.ino, Tid()).ok());
  EXPECT_EQ(meta_.handler->Size(a.ino), 6);
  // Committed: nothing is pending, so the next writer may be anyone.
  ASSERT_TRUE(fs_->Write(a.ino, 6, "ghi", child.tid()).ok());
  ASSERT_TRUE(fs_->Flush(a.ino, Tid()).ok());
  EXPECT_EQ(meta_.handler->Size(a.ino), 6);  // the child's, left to it
  ASSERT_TRUE(fs_->Flush(a.ino, child.tid()).ok());
  EXPECT_EQ(meta_.handler->Size(a.ino), 9);
  ASSERT_TRUE(fs_->Release(a.ino).ok());
}

// A commit before a setattr (fchmod after writing, as cp -p does) syncs
// nothing: the writer stays the writer, and another process's later write
// makes the writers two, so the first writer's close still syncs.
TEST_F(FileSystemTest, ACommitBeforeASetattrKeepsTheWriter) {
  OtherProcess child;
  ASSERT_NE(child.tid(), 0u);
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "chmod", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 0, "abc", Tid()).ok());
  SetAttrRequest r;
  r.ino = a.ino;
  r.mode = 0600;
  Attr got;
  ASSERT_TRUE(fs_->SetAttr(r, &got).ok());  // sends (unsynced) and commits
  EXPECT_EQ(meta_.handler->Size(a.ino), 3);
  // Past a hole: written through (a synced send would also sync "abc").
  ASSERT_TRUE(fs_->Write(a.ino, 10, "def", child.tid()).ok());
  const int syncs = data_[0].handler->syncs.load();
  ASSERT_TRUE(fs_->Flush(a.ino, Tid()).ok());
  EXPECT_GT(data_[0].handler->syncs.load(), syncs);  // "abc" made durable
  EXPECT_EQ(meta_.handler->Size(a.ino), 13);
  ASSERT_TRUE(fs_->Release(a.ino).ok());
}

// With writes of two processes pending (or of a thread that cannot be
// told), every flush sends and commits them, as without the rule.
TEST_F(FileSystemTest, WritesOfSeveralProcessesAreCommittedByEveryFlush) {
  OtherProcess child;
  ASSERT_NE(child.tid(), 0u);
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "shared", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 0, "one ", Tid()).ok());
  std::thread other_thread([&] { EXPECT_TRUE(fs_->Write(a.ino, 4, "two ", Tid()).ok()); });
  other_thread.join();
  ASSERT_TRUE(fs_->Write(a.ino, 8, "three", child.tid()).ok());
  ASSERT_TRUE(fs_->Flush(a.ino, Tid()).ok());
  EXPECT_EQ(meta_.handler->Size(a.ino), 13);
  ASSERT_TRUE(fs_->Write(a.ino, 13, "!", Tid()).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 14, "?", child.tid()).ok());
  OtherProcess third;
  ASSERT_NE(third.tid(), 0u);
  ASSERT_TRUE(fs_->Flush(a.ino, third.tid()).ok());  // writes of two: anyone's flush
  EXPECT_EQ(meta_.handler->Size(a.ino), 15);
  ASSERT_TRUE(fs_->Write(a.ino, 15, "#", /*tid=*/0).ok());
  ASSERT_TRUE(fs_->Flush(a.ino, third.tid()).ok());  // a writer that cannot be told
  EXPECT_EQ(meta_.handler->Size(a.ino), 16);
  std::string out;
  ASSERT_TRUE(fs_->Read(a.ino, 0, 100, &out).ok());
  EXPECT_EQ(out, "one two three!?#");
  ASSERT_TRUE(fs_->Release(a.ino).ok());
}

TEST_F(FileSystemTest, CreateOfAnExistingNameIsStaleUnlessExclusive) {
  Attr first, again;
  ASSERT_TRUE(fs_->Create(1, "raced", 0644, Caller{}, &first).ok());
  // O_EXCL: EEXIST. Plain O_CREAT: ESTALE, so the kernel looks the name up
  // again and opens the existing file itself.
  EXPECT_EQ(fs_->Create(1, "raced", 0644, Caller{}, &again, /*exclusive=*/true).code(),
            Status::Code::kExists);
  EXPECT_EQ(fs_->Create(1, "raced", 0644, Caller{}, &again, /*exclusive=*/false).code(),
            Status::Code::kStale);
  EXPECT_EQ(StatusToErrno(Status::Stale("x")), ESTALE);
  EXPECT_EQ(meta_.handler->opens.load(), 1);  // the failed creates opened nothing
  ASSERT_TRUE(fs_->Release(first.ino).ok());
}

// A tracked directory's set follows this mount's changes as metad confirms
// them; a change that failed, or a name metad says exists, forgets it.
TEST_F(FileSystemTest, OwnChangesKeepATrackedDirectoryComplete) {
  CompleteDirs& known = fs_->complete_dirs();
  known.Track(1);
  Attr a, n;
  ASSERT_TRUE(fs_->Create(1, "made", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Mknod(1, "fifo", S_IFIFO | 0644, 0, Caller{}, &n).ok());
  EXPECT_FALSE(known.KnownAbsent(1, "made"));
  EXPECT_FALSE(known.KnownAbsent(1, "fifo"));
  EXPECT_TRUE(known.KnownAbsent(1, "other"));
  // Names refused before any call change nothing.
  EXPECT_FALSE(fs_->Create(1, std::string(256, 'n'), 0644, Caller{}, &n).ok());
  EXPECT_TRUE(known.tracked(1));
  // "made" exists: the set was right, but a refused change forgets.
  EXPECT_EQ(fs_->Create(1, "made", 0644, Caller{}, &n).code(), Status::Code::kExists);
  EXPECT_FALSE(known.tracked(1));
  EXPECT_FALSE(known.KnownAbsent(1, "other"));
  known.Track(1);
  Unlinked u;
  EXPECT_FALSE(fs_->Unlink(1, "made", &u).ok());  // this fake refuses unlinks
  EXPECT_FALSE(known.tracked(1));
  known.Track(1);
  fs_->ChangesLost();
  EXPECT_FALSE(known.tracked(1));
  known.Track(1);
  fs_->Forget(1);
  EXPECT_FALSE(known.tracked(1));
  ASSERT_TRUE(fs_->Release(a.ino).ok());
}

// A burst of closes reaches metad as a few ReleaseAll calls, after the
// closes returned; unmounting sends what is still queued.
// After the kernel dropped a file (memory pressure, drop_caches), its
// lookup is answered from what metad last said of it, as long as nothing
// may have changed it since: not while it is open here, nor after another
// mount's change of it or of its name, or this mount's own.
TEST_F(FileSystemTest, FilesStayKnownAfterTheKernelForgetsThemUntilAnythingChanges) {
  fs_ = MakeFs(std::chrono::milliseconds(30000));
  Attr a, got;
  std::chrono::milliseconds left{};
  ASSERT_TRUE(fs_->Create(1, "f", 0644, Caller{}, &a).ok());
  EXPECT_FALSE(fs_->FindKnown(1, "f", &got, &left)) << "open here";
  ASSERT_TRUE(fs_->Write(a.ino, 0, std::string(4096, 'k')).ok());
  ASSERT_TRUE(fs_->Release(a.ino).ok());
  fs_->Forget(a.ino);  // the kernel forgot it
  const int lookups = meta_.handler->lookups;
  ASSERT_TRUE(fs_->FindKnown(1, "f", &got, &left));
  EXPECT_EQ(got.ino, a.ino);
  EXPECT_EQ(got.size, 4096) << "the commit's answer, not the create's";
  EXPECT_GT(left.count(), 0);
  EXPECT_LE(left.count(), 30000);
  EXPECT_EQ(meta_.handler->lookups.load(), lookups);
  EXPECT_FALSE(fs_->FindKnown(1, "g", &got, &left));

  ASSERT_TRUE(fs_->Open(a.ino, &got).ok());
  EXPECT_FALSE(fs_->FindKnown(1, "f", &got, &left)) << "open here";
  ASSERT_TRUE(fs_->Release(a.ino).ok());
  EXPECT_TRUE(fs_->FindKnown(1, "f", &got, &left)) << "the open's answer";

  fs_->ChangedElsewhere(a.ino);
  EXPECT_FALSE(fs_->FindKnown(1, "f", &got, &left));
  ASSERT_TRUE(fs_->Lookup(1, "f", &got).ok());
  EXPECT_TRUE(fs_->FindKnown(1, "f", &got, &left)) << "metad's lookup answer";

  fs_->EntryChangedElsewhere(1, "f");
  EXPECT_FALSE(fs_->FindKnown(1, "f", &got, &left));
  ASSERT_TRUE(fs_->Lookup(1, "f", &got).ok());

  SetAttrRequest chmod;
  chmod.ino = a.ino;
  chmod.mode = 0600;
  ASSERT_TRUE(fs_->SetAttr(chmod, &got).ok());
  EXPECT_FALSE(fs_->FindKnown(1, "f", &got, &left));
  ASSERT_TRUE(fs_->GetAttr(a.ino, &got).ok());
  ASSERT_TRUE(fs_->FindKnown(1, "f", &got, &left)) << "metad's getattr answer";
  EXPECT_EQ(got.mode & 07777, 0600u);

  fs_->ChangesLost();
  EXPECT_FALSE(fs_->FindKnown(1, "f", &got, &left));
}

TEST_F(FileSystemTest, NothingIsKnownWithoutALifetime) {
  Attr a, got;
  std::chrono::milliseconds left{};
  ASSERT_TRUE(fs_->Create(1, "f", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Release(a.ino).ok());
  EXPECT_FALSE(fs_->FindKnown(1, "f", &got, &left));
}

TEST_F(FileSystemTest, ClosesAreReleasedAtMetadTogether) {
  std::vector<uint64_t> inos;
  for (int i = 0; i < 50; ++i) {
    Attr a;
    ASSERT_TRUE(fs_->Create(1, "burst" + std::to_string(i), 0644, Caller{}, &a).ok());
    inos.push_back(a.ino);
  }
  for (uint64_t ino : inos) ASSERT_TRUE(fs_->Release(ino).ok());
  fs_->DrainReleases();
  EXPECT_EQ(meta_.handler->releases.load(), 50);
  EXPECT_LT(meta_.handler->release_calls.load(), 10);
  Attr last;
  ASSERT_TRUE(fs_->Create(1, "last", 0644, Caller{}, &last).ok());
  ASSERT_TRUE(fs_->Release(last.ino).ok());
  fs_.reset();
  EXPECT_EQ(meta_.handler->releases.load(), 51);
}

TEST_F(FileSystemTest, AReleaseQueueSendsAtMostOneBatchPerCall) {
  const int n = static_cast<int>(2 * ReleaseQueue::kMaxBatch + 1);
  {
    ReleaseQueue q(&fs_->meta(), 42, std::chrono::seconds(600));
    for (int i = 0; i < n; ++i) q.Queue(static_cast<uint64_t>(i + 2));
    q.Drain();  // does not wait out the 600 s linger
    EXPECT_EQ(meta_.handler->releases.load(), n);
    EXPECT_EQ(meta_.handler->release_calls.load(), 3);
    q.Queue(7);
  }  // the destructor sends the last one
  EXPECT_EQ(meta_.handler->releases.load(), n + 1);
}

// An older metad refuses ReleaseAll (its policy, with TLS): the batch goes
// again as one Release each, and so does every later one.
TEST_F(FileSystemTest, ReleasesGoOneByOneToAMetadThatRefusesReleaseAll) {
  meta_.handler->refuse_release_all = true;
  ReleaseQueue q(&fs_->meta(), 42, std::chrono::seconds(600));
  q.Queue(2);
  q.Queue(3);
  q.Drain();
  EXPECT_EQ(meta_.handler->releases.load(), 2);
  EXPECT_EQ(meta_.handler->release_calls.load(), 2);
  q.Queue(4);
  q.Drain();
  EXPECT_EQ(meta_.handler->releases.load(), 3);
  EXPECT_EQ(meta_.handler->release_calls.load(), 3);
}

// A metad from before ReleaseAll answers it UNKNOWN_METHOD: the client asks
// once, then releases one inode per call, this batch and every later one.
TEST(ReleaseQueueTest, ReleasesGoOneByOneToAMetadWithoutReleaseAll) {
  ServedOlderMeta old;
  MetaClient meta(HostPort{"127.0.0.1", old.port}, FastOptions());
  ReleaseQueue q(&meta, 42, std::chrono::seconds(600));
  q.Queue(2);
  q.Queue(3);
  q.Drain();
  EXPECT_EQ(old.processor->refused.load(), 1);
  EXPECT_EQ(old.handler->releases.load(), 2);
  EXPECT_EQ(old.handler->release_calls.load(), 2);  // both by Release: ReleaseAll never reached it
  q.Queue(4);
  q.Queue(5);
  q.Drain();
  EXPECT_EQ(old.processor->refused.load(), 1);
  EXPECT_EQ(old.handler->releases.load(), 4);
  EXPECT_EQ(old.handler->release_calls.load(), 4);
}

TEST_F(FileSystemTest, OpenInodesAreAnnouncedAgainEachRound) {
  Attr a, b;
  ASSERT_TRUE(fs_->Create(1, "held", 0644, Caller{}, &a).ok());
  ASSERT_TRUE(fs_->Create(1, "closed", 0644, Caller{}, &b).ok());
  ASSERT_TRUE(fs_->Release(b.ino).ok());
  fs_->DrainReleases();
  ASSERT_EQ(meta_.handler->opens.load(), 2);
  ASSERT_EQ(meta_.handler->releases.load(), 1);
  // First round: one new lease hold, nothing to release yet.
  EXPECT_EQ(fs_->RenewOpenHolds(), 1);
  EXPECT_EQ(meta_.handler->opens.load(), 3);
  EXPECT_EQ(meta_.handler->releases.load(), 1);
  // Each later round opens again before it releases the previous hold, so
  // a live metad never sees the inode unheld.
  EXPECT_EQ(fs_->RenewOpenHolds(), 1);
  EXPECT_EQ(meta_.handler->opens.load(), 4);
  EXPECT_EQ(meta_.handler->releases.load(), 2);
  // The last close releases the renewal hold with its own handle.
  ASSERT_TRUE(fs_->Release(a.ino).ok());
  fs_->DrainReleases();
  EXPECT_EQ(meta_.handler->releases.load(), 4);
  EXPECT_EQ(fs_->RenewOpenHolds(), 0);
  EXPECT_EQ(meta_.handler->opens.load(), 4);
  EXPECT_EQ(meta_.handler->releases.load(), 4);
}

TEST_F(FileSystemTest, RenewalHoldsSurviveAnUnreachableMetadAndGoAtUnmount) {
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "h", 0644, Caller{}, &a).ok());
  EXPECT_EQ(fs_->RenewOpenHolds(), 1);
  meta_.Stop();
  EXPECT_EQ(fs_->RenewOpenHolds(), 0);  // gives up, keeps the hold it has
  meta_.Restart();
  const int releases = meta_.handler->releases.load();
  EXPECT_EQ(fs_->RenewOpenHolds(), 1);
  // Both the old hold and the one the failed round may have made go.
  EXPECT_EQ(meta_.handler->releases.load(), releases + 2);
  const int before = meta_.handler->releases.load();
  fs_.reset();  // gone with the file still open: its renewal hold goes too
  EXPECT_EQ(meta_.handler->releases.load(), before + 1);
}

TEST_F(FileSystemTest, CloseWhileMetadIsDownLeavesTheHoldToTheNextRound) {
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "c", 0644, Caller{}, &a).ok());
  EXPECT_EQ(fs_->RenewOpenHolds(), 1);
  meta_.Stop();
  // The close itself succeeds (nothing to commit); its queued Release is
  // lost, as one that fails on the spot would be.
  EXPECT_TRUE(fs_->Release(a.ino).ok());
  fs_->DrainReleases();
  meta_.Restart();
  const int releases = meta_.handler->releases.load();
  EXPECT_EQ(fs_->RenewOpenHolds(), 0);
  EXPECT_EQ(meta_.handler->releases.load(), releases + 1);
  EXPECT_EQ(fs_->RenewOpenHolds(), 0);
  EXPECT_EQ(meta_.handler->releases.load(), releases + 1);
}

TEST_F(FileSystemTest, LongNamesFailBeforeAnyRpc) {
  Attr a;
  const std::string longname(256, 'n');
  EXPECT_EQ(fs_->Lookup(1, longname, &a).code(), Status::Code::kNameTooLong);
  EXPECT_EQ(fs_->Create(1, longname, 0644, Caller{}, &a).code(), Status::Code::kNameTooLong);
  EXPECT_EQ(meta_.handler->lookups.load(), 0);
  EXPECT_TRUE(fs_->Create(1, std::string(255, 'n'), 0644, Caller{}, &a).ok());
}

TEST_F(FileSystemTest, StatFsReportsUsableCapacity) {
  struct statvfs st;
  ASSERT_TRUE(fs_->StatFs(&st).ok());
  EXPECT_EQ(st.f_frsize, static_cast<unsigned long>(kBlockSize));
  EXPECT_EQ(st.f_blocks * st.f_frsize, (300ull << 30) / 3);
  EXPECT_EQ(st.f_bavail * st.f_frsize, (150ull << 30) / 3);
  EXPECT_EQ(st.f_namemax, 255u);
}

TEST_F(FileSystemTest, SparseFileBlocksCountOnlyAllocatedChunks) {
  Attr a;
  ASSERT_TRUE(fs_->Create(1, "sparse", 0644, Caller{0, 0}, &a).ok());
  ASSERT_TRUE(fs_->Write(a.ino, 10 * kChunkSize, "x").ok());
  ASSERT_TRUE(fs_->Release(a.ino).ok());
  Attr got;
  ASSERT_TRUE(fs_->GetAttr(a.ino, &got).ok());
  EXPECT_EQ(got.size, 10 * kChunkSize + 1);
  EXPECT_EQ(got.allocated_bytes, kChunkSize);
  struct stat st;
  AttrToStat(got, kBlockSize, &st);
  EXPECT_EQ(st.st_blocks, kChunkSize / 512);
  EXPECT_EQ(st.st_size, 10 * kChunkSize + 1);
}

TEST(StatConversionTest, ModesAndTimes) {
  Attr a;
  a.ino = 9;
  a.type = FileType::kDirectory;
  a.mode = 01755;
  a.mtime_ns = 1'500'000'001;
  a.size = 1000;
  a.allocated_bytes = 1000;
  struct stat st;
  AttrToStat(a, 4096, &st);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 01755u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1);
  EXPECT_EQ(st.st_mtim.tv_nsec, 500'000'001);
  EXPECT_EQ(st.st_blocks, 2);
  FileType t;
  EXPECT_TRUE(FileTypeFromMode(S_IFIFO | 0600, &t).ok());
  EXPECT_EQ(t, FileType::kFifo);
  EXPECT_FALSE(FileTypeFromMode(0170000, &t).ok());
}

}  // namespace
}  // namespace replfs::client::testing
