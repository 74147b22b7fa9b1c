// Stamps: an opt-in record of when each step of the data path ran, for the
// latency budget (bench/latency/). Off unless the process starts with
// VXTAP_STAMPS=<file>; then every step below appends one 16-byte record to
// that file, which is mapped shared, so the records are on disk (in the page
// cache) the moment they are taken and survive any way the process ends.
//
// When off, a stamp site costs one load of a global pointer and one branch
// that is always taken the same way (bench/README.md, "The latency budget", has the
// micro benchmark before and after).
//
// Clock: CLOCK_REALTIME, the clock AF_PACKET (tcpdump) stamps frames with, so
// the budget lines up addon stamps and wire stamps without mapping clocks.
//
// File: a 64-byte header {magic "VXSTAMP1", u64 capacity, u64 count} and
// then `capacity` records (StampRecord). When full, further stamps are lost
// (count stops); 1,048,576 records (16 MB) by default, VXTAP_STAMPS_MAX to change.
#pragma once

#include <cstdint>

namespace vxtap {

// Where a stamp is taken. The numbers are the file format (bench/latency/stamps.ts).
enum class StampPoint : uint8_t {
  kPollWake = 1,   // Reader::OnPoll entered: the event loop woke for the fd
  kReadDone = 2,   // the read system call(s) of one batch returned n > 0 frames
  kJsCall = 3,     // about to call onBatch (the crossing into JavaScript)
  kJsEnter = 4,    // the JavaScript batch handler started (stamp(), from src/io/reader.ts)
  kJsExit = 5,     // the JavaScript batch handler returned
  kJsReturn = 6,   // onBatch's MakeCallback returned (microtasks included)
  kSendEnter = 7,  // a send or write call entered the addon (PoolSend, udpSend, tapWrite)
  kSendExit = 8,   // ... and is about to return
};
// kNone: a reader the budget does not follow (the --pcap-underlay capture,
// kind 'packet'): it takes no stamps, so it cannot pass for the TAP side.
enum class StampSide : uint8_t { kTap = 0, kUdp = 1, kNone = 2 };

#pragma pack(push, 1)
struct StampRecord {
  uint64_t ns;       // CLOCK_REALTIME, ns
  uint16_t icmpId;   // kReadDone: the first frame's ICMP echo id, when it is one
  uint16_t icmpSeq;  // ... and sequence number
  uint8_t point;     // StampPoint
  uint8_t side;      // StampSide
  uint8_t icmpType;  // 8 request, 0 reply, 255: not an ICMP echo (or not a read)
  uint8_t frames;    // frames in the batch (kReadDone, kSendEnter), capped at 255
};
#pragma pack(pop)
static_assert(sizeof(StampRecord) == 16, "the file format's record is 16 bytes");

// Non-null only when stamping is on.
extern StampRecord* g_stampsRing;

void StampsInit();  // reads VXTAP_STAMPS once, at addon load
void StampTake(StampPoint p, StampSide side, uint32_t frames, const uint8_t* frame, uint32_t len);

inline void Stamp(StampPoint p, StampSide side, uint32_t frames = 0, const uint8_t* frame = nullptr, uint32_t len = 0) {
  if (__builtin_expect(g_stampsRing != nullptr, 0)) StampTake(p, side, frames, frame, len);
}

// kSendEnter on construction, kSendExit on every way out (returns and throws).
class SendStamps {
 public:
  SendStamps(StampSide side, uint32_t frames) : side_(side) { Stamp(StampPoint::kSendEnter, side, frames); }
  ~SendStamps() { Stamp(StampPoint::kSendExit, side_); }
  SendStamps(const SendStamps&) = delete;
  SendStamps& operator=(const SendStamps&) = delete;

 private:
  StampSide side_;
};

}  // namespace vxtap
