// A read source: one read strategy of the Reader (reader.h), behind a small
// interface. The Reader is the shell: it owns the uv_poll, the batch loop, the
// error classification and the one N-API crossing per batch; a source only
// fills the batch's slots from its fd and keeps its own counters. Sources know
// nothing of N-API, so each one is plain C++ over caller memory.
//
// The five strategies (each source's contract is at its class):
//   TAP   read-tap.cc   TapSource           read() per frame
//                       TapVnetSource       IFF_VNET_HDR: super-frames cut into slots
//                       TapVnetWholeSource  IFF_VNET_HDR: super-frames kept whole in aux
//   UDP   read-udp.cc   UdpSource           recvmmsg, one datagram per message
//                       UdpGroSource        recvmmsg with UDP_GRO: many datagrams per message
// Both UDP sources also cut a kernel vxlan peer's whole VXLAN TCP
// super-datagram (offload.h, ParseVxlanTcpSuper).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "endpoints.h"
#include "super-frames.h"

namespace vxtap {

// A TAP's GSO frames are at most 64 KB + headers: room for one behind a slot.
constexpr size_t kMaxGsoFrame = 65536 + 256;

// The caller's batch: slot i at slab + i * slotSize + headroom, at most
// slotSize - headroom bytes; sizes[i] its length. Pinned by the shell while
// the reader is active.
struct ReadBatch {
  uint8_t* slab = nullptr;
  uint32_t slotSize = 0;
  uint32_t headroom = 0;
  uint32_t slots = 0;
  uint32_t* sizes = nullptr;

  uint8_t* Slot(uint32_t i) const { return slab + static_cast<size_t>(i) * slotSize + headroom; }
  size_t Cap() const { return slotSize - headroom; }
};

// UDP: the sender of slot i, as the endpoint record at names + i * kEpRecord
// (endpoints.h: the socket address as recvmmsg wrote it). FrameBatch.names.
struct UdpSenders {
  uint8_t* names = nullptr;
};

// tap-vnet-whole: where super-frames are kept whole (aux, size bytes), and
// per slot its record {aux offset, length, MSS, segments} (super-frames.h;
// 0 segments: a plain frame). FrameBatch.superFrames on the JS side.
struct WholeArea {
  uint8_t* aux = nullptr;
  size_t size = 0;
  SuperFrameTable table;
};

// The smallest aux that holds one super-frame (the largest read and its spare byte).
inline size_t WholeAreaMin(const ReadBatch& b) { return b.Cap() + kMaxGsoFrame + 1; }

// What the port counters call a source's work (README "Offloads", `vxtap
// stats`): TAP offload.{gsoFrames, segments, whole, csumCompleted, dropped};
// UDP gro.messages = gsoFrames, gro.datagrams = segments. Each source maps
// its own counters onto these names in one place (its Offload()).
struct PortOffload {
  double gsoFrames = 0;
  double segments = 0;
  double csumCompleted = 0;
  double dropped = 0;
  double whole = 0;
};

// One of a source's own counters.
struct SourceCounter {
  const char* name;
  double value;
};
constexpr size_t kMaxSourceCounters = 8;

// What the poll's error (libuv's EPOLLERR, reported as EBADF) really was.
struct PollFault {
  int err;
  const char* syscall;
  bool rearm;  // the error was taken off the fd (a socket's SO_ERROR): polling again makes sense
};

class ReadSource {
 public:
  virtual ~ReadSource() = default;

  // Fills slots 0 .. n-1 of the batch and returns n. *more: it stopped with
  // the batch full or frames pending, not because the fd had nothing more.
  // *err: an errno other than EAGAIN / EINTR, met after the n slots.
  // Every frame read is delivered or counted (Truncated, Counters).
  virtual uint32_t Fill(bool* more, int* err) = 0;

  // Frames the source holds in its own memory, not in the fd: the shell
  // delivers them before it yields, since no poll would fire for them.
  virtual bool Pending() const { return false; }

  // The system call Fill makes ("read", "recvmmsg") and the fd's kind ("TAP", "UDP").
  virtual const char* Syscall() const = 0;
  virtual const char* FdKind() const = 0;

  // The real error behind a poll error `err`.
  virtual PollFault OnPollError(int err) = 0;

  // Frames / datagrams dropped for being longer than a slot (rxTruncated).
  virtual double Truncated() const = 0;

  virtual PortOffload Offload() const = 0;

  // The source's own counters (at most kMaxSourceCounters), each name
  // meaning one thing; returns how many it wrote.
  virtual size_t Counters(SourceCounter* out) const = 0;
};

std::unique_ptr<ReadSource> NewTapSource(int fd, const ReadBatch& b);
std::unique_ptr<ReadSource> NewTapVnetSource(int fd, const ReadBatch& b);
std::unique_ptr<ReadSource> NewTapVnetWholeSource(int fd, const ReadBatch& b, const WholeArea& w);
// mtu: the overlay's (0: unknown), the size a super-datagram's segments are cut to.
std::unique_ptr<ReadSource> NewUdpSource(int fd, const ReadBatch& b, const UdpSenders& s, uint32_t mtu);
std::unique_ptr<ReadSource> NewUdpGroSource(int fd, const ReadBatch& b, const UdpSenders& s, uint32_t mtu);

}  // namespace vxtap
