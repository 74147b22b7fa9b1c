// The super-frame side channel: one record per batch slot, written by the
// tap-vnet-whole reader (read-tap.cc) and read by the UDP send
// (udp-pool.cc), which cuts the super-frame at the send. The JS side is
// src/io/super-frames.ts (SuperFrames); the field indices below are its
// SF_* constants, and test/unit/io/super-frames.test.ts checks that the
// two agree (addon.superFrameFields).
//
// Slot i's record is table[i * kSfFields .. + kSfFields):
//   kSfOffset    where the super-frame starts in aux
//   kSfLength    its length (headers + every segment's payload)
//   kSfMss       the TCP payload per segment
//   kSfSegments  how many segments; 0 (or 1) when slot i is a plain frame
#pragma once

#include <cstddef>
#include <cstdint>

namespace vxtap {

constexpr uint32_t kSfOffset = 0;
constexpr uint32_t kSfLength = 1;
constexpr uint32_t kSfMss = 2;
constexpr uint32_t kSfSegments = 3;
constexpr uint32_t kSfFields = 4;

// A view over the table: the record of each slot, by name. No ownership.
class SuperFrameTable {
 public:
  SuperFrameTable() = default;
  SuperFrameTable(uint32_t* table, size_t len) : t_(table), len_(len) {}

  bool Has(uint32_t slot) const { return (static_cast<size_t>(slot) + 1) * kSfFields <= len_; }
  uint32_t Offset(uint32_t slot) const { return At(slot)[kSfOffset]; }
  uint32_t Length(uint32_t slot) const { return At(slot)[kSfLength]; }
  uint32_t Mss(uint32_t slot) const { return At(slot)[kSfMss]; }
  uint32_t Segments(uint32_t slot) const { return At(slot)[kSfSegments]; }
  // A super-frame the send must cut (more than one segment).
  bool IsWhole(uint32_t slot) const { return Segments(slot) > 1; }

  void SetWhole(uint32_t slot, uint32_t offset, uint32_t length, uint32_t mss, uint32_t segments) {
    uint32_t* r = At(slot);
    r[kSfOffset] = offset;
    r[kSfLength] = length;
    r[kSfMss] = mss;
    r[kSfSegments] = segments;
  }
  // Slot holds a plain frame.
  void SetPlain(uint32_t slot) { SetWhole(slot, 0, 0, 0, 0); }

 private:
  uint32_t* At(uint32_t slot) const { return t_ + static_cast<size_t>(slot) * kSfFields; }
  uint32_t* t_ = nullptr;
  size_t len_ = 0;
};

}  // namespace vxtap
