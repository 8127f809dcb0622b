// Record encoding of the metadata store (documented in FORMAT.md): key
// builders and value (de)serialisation. Pure functions; decoding never trusts
// its input and answers Corruption on anything malformed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "daemons/metad/types.h"

namespace replfs::metad {

inline constexpr uint8_t kRecordVersion = 1;
inline constexpr char kStoreMagic[] = "RPLFSM01";

// Keys. Integers in keys are big endian so byte order equals numeric order.
std::string HeaderKey();                                   // "M"
std::string AppliedKey();                                  // "L": the last redo log record applied
std::string CounterKey(std::string_view name);             // "N" + name
std::string InodeKey(Ino ino);                             // "i" + BE64
std::string DentryPrefix(Ino parent);                      // "d" + BE64
std::string DentryKey(Ino parent, std::string_view name);  // "d" + BE64 + name
std::string XattrPrefix(Ino ino);                          // "x" + BE64
std::string XattrKey(Ino ino, std::string_view name);      // "x" + BE64 + name
std::string ChunkPrefix(Ino ino);                          // "c" + BE64
std::string ChunkKey(Ino ino, int64_t index);              // "c" + BE64 + BE64
std::string ServerKey(std::string_view addr);              // "s" + addr
std::string OrphanKey(Ino ino);                            // "o" + BE64
inline constexpr char kInodeTag = 'i', kChunkTag = 'c', kServerTag = 's', kOrphanTag = 'o';

// Reads the big-endian integer at `pos` of `key`; Corruption if too short.
Status KeyU64(std::string_view key, size_t pos, uint64_t* out);

std::string EncodeInode(const Inode& in);
Status DecodeInode(std::string_view v, Inode* out);  // out->ino left untouched

std::string EncodeDentry(Ino child, FileType type);
Status DecodeDentry(std::string_view v, Ino* child, FileType* type);

std::string EncodeChunk(const ChunkInfo& c);          // id, version, goal, replicas
Status DecodeChunk(std::string_view v, ChunkInfo* out);  // ino/index untouched

std::string EncodeU64(uint64_t v);                    // counters: LE64
Status DecodeU64(std::string_view v, uint64_t* out);

std::string EncodeHeader();
Status CheckHeader(std::string_view v);

}  // namespace replfs::metad
