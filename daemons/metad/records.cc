#include "daemons/metad/records.h"

#include <cstring>

namespace replfs::metad {
namespace {

void PutBE64(std::string* s, uint64_t v) {
  for (int i = 7; i >= 0; --i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Little-endian value writer.
class Writer {
 public:
  explicit Writer(uint8_t version) { s_.push_back(static_cast<char>(version)); }
  void U8(uint8_t v) { s_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) { Fixed(v, 4); }
  void U64(uint64_t v) { Fixed(v, 8); }
  void I64(int64_t v) { Fixed(static_cast<uint64_t>(v), 8); }
  void Str(std::string_view v) {
    U32(static_cast<uint32_t>(v.size()));
    s_.append(v);
  }
  std::string Take() { return std::move(s_); }

 private:
  void Fixed(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) s_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string s_;
};

// Little-endian value reader: every read checks the remaining length.
class Reader {
 public:
  Reader(std::string_view v, const char* what) : v_(v), what_(what) {}
  Status Version() {
    uint8_t ver = 0;
    REPLFS_RETURN_IF_ERROR(U8(&ver));
    if (ver != kRecordVersion)
      return Status::Corruption(std::string(what_) + " record has unknown format version " +
                                std::to_string(ver));
    return Status::OK();
  }
  Status U8(uint8_t* out) {
    uint64_t v = 0;
    REPLFS_RETURN_IF_ERROR(Fixed(1, &v));
    *out = static_cast<uint8_t>(v);
    return Status::OK();
  }
  Status U32(uint32_t* out) {
    uint64_t v = 0;
    REPLFS_RETURN_IF_ERROR(Fixed(4, &v));
    *out = static_cast<uint32_t>(v);
    return Status::OK();
  }
  Status U64(uint64_t* out) { return Fixed(8, out); }
  Status I64(int64_t* out) {
    uint64_t v = 0;
    REPLFS_RETURN_IF_ERROR(Fixed(8, &v));
    *out = static_cast<int64_t>(v);
    return Status::OK();
  }
  Status Str(std::string* out) {
    uint32_t n = 0;
    REPLFS_RETURN_IF_ERROR(U32(&n));
    if (v_.size() - pos_ < n) return Short();
    out->assign(v_.substr(pos_, n));
    pos_ += n;
    return Status::OK();
  }
  bool AtEnd() const { return pos_ == v_.size(); }
  Status Done() {
    if (pos_ != v_.size()) return Status::Corruption(std::string(what_) + " record has trailing bytes");
    return Status::OK();
  }

 private:
  Status Fixed(int n, uint64_t* out) {
    if (v_.size() - pos_ < static_cast<size_t>(n)) return Short();
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(v_[pos_ + i])) << (8 * i);
    pos_ += n;
    *out = v;
    return Status::OK();
  }
  Status Short() { return Status::Corruption(std::string(what_) + " record is truncated"); }

  std::string_view v_;
  const char* what_;
  size_t pos_ = 0;
};

std::string TagIno(char tag, Ino ino) {
  std::string k(1, tag);
  PutBE64(&k, ino);
  return k;
}

}  // namespace

bool IsValidFileType(int t) { return t >= 1 && t <= 7; }

std::string HeaderKey() { return "M"; }
std::string AppliedKey() { return "L"; }
std::string CounterKey(std::string_view name) { return "N" + std::string(name); }
std::string InodeKey(Ino ino) { return TagIno('i', ino); }
std::string DentryPrefix(Ino parent) { return TagIno('d', parent); }
std::string DentryKey(Ino parent, std::string_view name) { return DentryPrefix(parent).append(name); }
std::string XattrPrefix(Ino ino) { return TagIno('x', ino); }
std::string XattrKey(Ino ino, std::string_view name) { return XattrPrefix(ino).append(name); }
std::string ChunkPrefix(Ino ino) { return TagIno('c', ino); }
std::string ChunkKey(Ino ino, int64_t index) {
  std::string k = ChunkPrefix(ino);
  PutBE64(&k, static_cast<uint64_t>(index));
  return k;
}
std::string ServerKey(std::string_view addr) { return "s" + std::string(addr); }
std::string OrphanKey(Ino ino) { return TagIno('o', ino); }

Status KeyU64(std::string_view key, size_t pos, uint64_t* out) {
  if (key.size() < pos + 8) return Status::Corruption("store key too short");
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(key[pos + i]);
  *out = v;
  return Status::OK();
}

std::string EncodeInode(const Inode& in) {
  Writer w(kRecordVersion);
  w.U8(static_cast<uint8_t>(in.type));
  w.U32(in.mode);
  w.U32(in.uid);
  w.U32(in.gid);
  w.I64(in.size);
  w.U32(in.nlink);
  w.I64(in.atime_ns);
  w.I64(in.mtime_ns);
  w.I64(in.ctime_ns);
  w.I64(in.rdev);
  w.U32(static_cast<uint32_t>(in.goal));
  w.U64(in.parent);
  w.Str(in.symlink_target);
  w.U32(in.xattrs);
  return w.Take();
}

Status DecodeInode(std::string_view v, Inode* out) {
  Reader r(v, "inode");
  uint8_t type = 0;
  uint32_t goal = 0;
  REPLFS_RETURN_IF_ERROR(r.Version());
  REPLFS_RETURN_IF_ERROR(r.U8(&type));
  if (!IsValidFileType(type)) return Status::Corruption("inode record has bad type");
  out->type = static_cast<FileType>(type);
  REPLFS_RETURN_IF_ERROR(r.U32(&out->mode));
  REPLFS_RETURN_IF_ERROR(r.U32(&out->uid));
  REPLFS_RETURN_IF_ERROR(r.U32(&out->gid));
  REPLFS_RETURN_IF_ERROR(r.I64(&out->size));
  REPLFS_RETURN_IF_ERROR(r.U32(&out->nlink));
  REPLFS_RETURN_IF_ERROR(r.I64(&out->atime_ns));
  REPLFS_RETURN_IF_ERROR(r.I64(&out->mtime_ns));
  REPLFS_RETURN_IF_ERROR(r.I64(&out->ctime_ns));
  REPLFS_RETURN_IF_ERROR(r.I64(&out->rdev));
  REPLFS_RETURN_IF_ERROR(r.U32(&goal));
  out->goal = static_cast<int32_t>(goal);
  REPLFS_RETURN_IF_ERROR(r.U64(&out->parent));
  REPLFS_RETURN_IF_ERROR(r.Str(&out->symlink_target));
  // Added later: records written before carry no count.
  out->xattrs = kXattrsUnknown;
  if (!r.AtEnd()) REPLFS_RETURN_IF_ERROR(r.U32(&out->xattrs));
  return r.Done();
}

std::string EncodeDentry(Ino child, FileType type) {
  Writer w(kRecordVersion);
  w.U64(child);
  w.U8(static_cast<uint8_t>(type));
  return w.Take();
}

Status DecodeDentry(std::string_view v, Ino* child, FileType* type) {
  Reader r(v, "dentry");
  uint8_t t = 0;
  REPLFS_RETURN_IF_ERROR(r.Version());
  REPLFS_RETURN_IF_ERROR(r.U64(child));
  REPLFS_RETURN_IF_ERROR(r.U8(&t));
  if (!IsValidFileType(t)) return Status::Corruption("dentry record has bad type");
  *type = static_cast<FileType>(t);
  return r.Done();
}

std::string EncodeChunk(const ChunkInfo& c) {
  Writer w(kRecordVersion);
  w.U64(c.id);
  w.U64(c.version);
  w.U32(static_cast<uint32_t>(c.goal));
  w.U32(static_cast<uint32_t>(c.replicas.size()));
  for (const auto& r : c.replicas) w.Str(r);
  return w.Take();
}

Status DecodeChunk(std::string_view v, ChunkInfo* out) {
  Reader r(v, "chunk");
  uint32_t n = 0, goal = 0;
  REPLFS_RETURN_IF_ERROR(r.Version());
  REPLFS_RETURN_IF_ERROR(r.U64(&out->id));
  REPLFS_RETURN_IF_ERROR(r.U64(&out->version));
  REPLFS_RETURN_IF_ERROR(r.U32(&goal));
  out->goal = static_cast<int32_t>(goal);
  REPLFS_RETURN_IF_ERROR(r.U32(&n));
  if (n > 64) return Status::Corruption("chunk record has too many replicas");
  out->replicas.assign(n, "");
  for (auto& rep : out->replicas) REPLFS_RETURN_IF_ERROR(r.Str(&rep));
  return r.Done();
}

std::string EncodeU64(uint64_t v) {
  Writer w(kRecordVersion);
  w.U64(v);
  return w.Take();
}

Status DecodeU64(std::string_view v, uint64_t* out) {
  Reader r(v, "counter");
  REPLFS_RETURN_IF_ERROR(r.Version());
  REPLFS_RETURN_IF_ERROR(r.U64(out));
  return r.Done();
}

std::string EncodeHeader() {
  std::string s(kStoreMagic);
  s.push_back(static_cast<char>(kRecordVersion));
  return s;
}

Status CheckHeader(std::string_view v) {
  if (v != EncodeHeader())
    return Status::Corruption("store header is not '" + std::string(kStoreMagic) +
                              "' format version " + std::to_string(kRecordVersion));
  return Status::OK();
}

}  // namespace replfs::metad
