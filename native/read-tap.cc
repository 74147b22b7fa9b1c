// The TAP read sources (read-source.h): plain, and the two of a vnet TAP.
//
// Truncation: a TAP read() returns only the bytes it copied, so each read is
// a readv into the slot plus one spare byte (plain) or the rest of a 64 KB
// super-frame plus one spare byte (vnet): a frame that reaches the spare
// byte was longer than it may be, and is dropped and counted (truncated).
// Truncated and dropped frames take no slot; at most 2 * slots reads per
// batch bound a wakeup.
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "offload.h"
#include "read-source.h"

namespace vxtap {

namespace {

// What every TAP source shares: the fd, the batch, truncation, and how a poll error is found.
class TapBase : public ReadSource {
 public:
  TapBase(int fd, const ReadBatch& b) : fd_(fd), b_(b) {}

  const char* Syscall() const override { return "read"; }
  const char* FdKind() const override { return "TAP"; }
  double Truncated() const override { return truncated_; }

  // A TAP whose device was deleted fails a read with EBADFD; a zero-length
  // read finds that without consuming a frame.
  PollFault OnPollError(int err) override {
    if (read(fd_, &spare_, 0) < 0 && errno != EAGAIN && errno != EINTR) return {errno, "read", false};
    return {err, "poll", false};
  }

 protected:
  int fd_;
  ReadBatch b_;
  uint8_t spare_ = 0;
  double truncated_ = 0;
};

// tap: one readv() per frame (slot, spare byte) until EAGAIN or the slots are full.
class TapSource final : public TapBase {
 public:
  using TapBase::TapBase;

  uint32_t Fill(bool* more, int* err) override {
    uint32_t n = 0;
    iovec iov[2];
    iov[0].iov_len = b_.Cap();
    iov[1].iov_base = &spare_;
    iov[1].iov_len = 1;
    for (uint32_t tries = 0; n < b_.slots && tries < 2 * b_.slots; tries++) {
      iov[0].iov_base = b_.Slot(n);
      const ssize_t r = readv(fd_, iov, 2);
      if (r < 0) {
        const int e = errno;
        if (e == EINTR) continue;
        if (e != EAGAIN && e != EWOULDBLOCK) *err = e;
        return n;
      }
      if (static_cast<size_t>(r) > b_.Cap()) {
        truncated_++;
        continue;
      }
      b_.sizes[n++] = static_cast<uint32_t>(r);
    }
    *more = true;
    return n;
  }

  PortOffload Offload() const override { return {}; }

  size_t Counters(SourceCounter* out) const override {
    out[0] = {"truncated", truncated_};
    return 1;
  }
};

// A TAP opened with IFF_VNET_HDR (offloads on): each read gives a
// virtio_net_hdr (10 bytes, offload.h) and a frame. A frame without GSO goes
// straight into its slot; with NEEDS_CSUM its checksum is completed at
// csum_start + csum_offset. A TCP GSO super-frame (TCPv4 or TCPv6, up to
// 64 KB) is what the two vnet sources differ on. Other GSO types (never asked
// for: only TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 is set), frames whose headers
// do not parse and reads shorter than the header are dropped and counted.
class VnetBase : public TapBase {
 public:
  using TapBase::TapBase;

 protected:
  enum class Got { kFrame, kSkip, kStop };

  // One readv into iov (virtio_net_hdr, slot, the rest). kFrame: a frame of
  // *len bytes with header *h; kSkip: a read that was counted and dropped (or
  // EINTR); kStop: nothing more now (*err set on a real error).
  Got ReadOne(iovec* iov, VnetHdr* h, size_t* len, int* err) {
    const ssize_t r = readv(fd_, iov, 3);
    if (r < 0) {
      const int e = errno;
      if (e == EINTR) return Got::kSkip;
      if (e != EAGAIN && e != EWOULDBLOCK) *err = e;
      return Got::kStop;
    }
    if (static_cast<size_t>(r) < kVnetHdrLen) {
      dropped_++;
      return Got::kSkip;
    }
    *len = static_cast<size_t>(r) - kVnetHdrLen;
    if (*len > b_.Cap() + kMaxGsoFrame) {
      truncated_++;
      return Got::kSkip;
    }
    *h = ParseVnetHdr(vhdr_);
    return Got::kFrame;
  }

  // A frame without GSO in its slot: too long for it (truncated), or its
  // partial checksum completed when NEEDS_CSUM. True when it is ready.
  bool FinishPlain(uint8_t* slot, size_t len, const VnetHdr& h) {
    if (len > b_.Cap()) {
      truncated_++;
      return false;
    }
    if ((h.flags & kVnetNeedsCsum) != 0) {
      if (!CompleteCsum(slot, len, h.csumStart, h.csumOffset)) {
        dropped_++;
        return false;
      }
      csumCompleted_++;
    }
    return true;
  }

  // A super-frame whose head is at frame[0, cap) and the rest behind it:
  // parsed into *g, or counted as dropped (false). Its segments must each
  // fit a slot.
  bool ParseSuper(const uint8_t* frame, size_t len, const VnetHdr& h, TcpGso* g) {
    if (!ParseTcpGso(frame, len, h.gsoSize, g) || !GsoTypeMatches(h.gsoType, *g) || g->hdrLen + g->mss > b_.Cap()) {
      dropped_++;
      return false;
    }
    superFrames_++;
    return true;
  }

  uint8_t vhdr_[kVnetHdrLen] = {};  // the virtio_net_hdr of the last read
  double superFrames_ = 0;          // TCP GSO super-frames read (and parsed)
  double csumCompleted_ = 0;        // frames without GSO whose NEEDS_CSUM checksum was completed
  double dropped_ = 0;              // reads that gave no usable frame (see above)
};

// tap-vnet: a super-frame is assembled in a scratch buffer and cut into
// gso_size segments, one finished frame per slot (WriteTcpSegment). Segments
// that do not fit this batch are kept and fill the next batch first (Pending):
// nothing is dropped for lack of slots.
class TapVnetSource final : public VnetBase {
 public:
  TapVnetSource(int fd, const ReadBatch& b) : VnetBase(fd, b), scratch_(b.Cap() + kMaxGsoFrame + 1) {}

  uint32_t Fill(bool* more, int* err) override {
    const size_t cap = b_.Cap();
    uint32_t n = 0;
    if (pending_) {
      n = EmitPending(0);
      if (pending_) {
        *more = true;
        return n;
      }
    }
    uint8_t* scratch = scratch_.data();
    // The slot part, then room for the rest of a 64 KB super-frame, then the spare byte.
    iovec iov[3];
    iov[0].iov_base = vhdr_;
    iov[0].iov_len = kVnetHdrLen;
    iov[1].iov_len = cap;
    iov[2].iov_base = scratch + cap;
    iov[2].iov_len = scratch_.size() - cap;
    for (uint32_t tries = 0; n < b_.slots && tries < 2 * b_.slots; tries++) {
      uint8_t* slot = b_.Slot(n);
      iov[1].iov_base = slot;
      VnetHdr h;
      size_t len = 0;
      const Got got = ReadOne(iov, &h, &len, err);
      if (got == Got::kStop) return n;
      if (got == Got::kSkip) continue;
      if (h.gsoType == kGsoNone) {
        if (FinishPlain(slot, len, h)) b_.sizes[n++] = static_cast<uint32_t>(len);
        continue;
      }
      // A super-frame: make it contiguous in scratch, then cut it.
      std::memcpy(scratch, slot, len < cap ? len : cap);
      if (!ParseSuper(scratch, len, h, &gso_)) continue;
      next_ = 0;
      pending_ = true;
      n = EmitPending(n);
      if (pending_) break;
    }
    *more = true;
    return n;
  }

  bool Pending() const override { return pending_; }

  PortOffload Offload() const override {
    PortOffload o;
    o.gsoFrames = superFrames_;
    o.segments = segments_;
    o.csumCompleted = csumCompleted_;
    o.dropped = dropped_;
    return o;
  }

  size_t Counters(SourceCounter* out) const override {
    out[0] = {"truncated", truncated_};
    out[1] = {"superFrames", superFrames_};
    out[2] = {"segments", segments_};
    out[3] = {"csumCompleted", csumCompleted_};
    out[4] = {"dropped", dropped_};
    return 5;
  }

 private:
  // Segments of the super-frame in scratch into slots n.. while there are
  // free slots. Returns the new slot count; pending_ is false when all are out.
  uint32_t EmitPending(uint32_t n) {
    while (next_ < gso_.segments && n < b_.slots) {
      b_.sizes[n] = static_cast<uint32_t>(WriteTcpSegment(scratch_.data(), gso_, next_++, b_.Slot(n)));
      n++;
      segments_++;
    }
    pending_ = next_ < gso_.segments;
    return n;
  }

  std::vector<uint8_t> scratch_;  // the super-frame being cut
  TcpGso gso_;                    // its parse
  bool pending_ = false;          // segments next_.. of it are not delivered yet
  uint32_t next_ = 0;
  double segments_ = 0;  // frames cut from super-frames
};

// tap-vnet-whole: a super-frame is not cut here. It is read straight into the
// aux buffer and kept whole; its slot gets segment 0 as a finished frame (what
// JS decides on: the other segments share its headers), and its record in
// the table (super-frames.h) = {aux offset, length, MSS, segments}: the UDP send
// (udp-pool.cc) cuts it, taking each payload in place. A super-frame of one
// segment is a finished frame like any other (table entry 0). The batch ends
// when aux has no room for another 64 KB.
class TapVnetWholeSource final : public VnetBase {
 public:
  TapVnetWholeSource(int fd, const ReadBatch& b, const WholeArea& w) : VnetBase(fd, b), w_(w) {}

  uint32_t Fill(bool* more, int* err) override {
    const size_t cap = b_.Cap();
    const size_t need = WholeAreaMin(b_);
    size_t pos = 0;  // the next free byte of aux this batch
    uint32_t n = 0;
    iovec iov[3];
    iov[0].iov_base = vhdr_;
    iov[0].iov_len = kVnetHdrLen;
    iov[1].iov_len = cap;
    for (uint32_t tries = 0; n < b_.slots && tries < 2 * b_.slots; tries++) {
      if (w_.size - pos < need) break;
      uint8_t* slot = b_.Slot(n);
      uint8_t* whole = w_.aux + pos;
      iov[1].iov_base = slot;
      iov[2].iov_base = whole + cap;  // the rest of a super-frame lands behind where its head will be copied
      iov[2].iov_len = need - cap;
      VnetHdr h;
      size_t len = 0;
      const Got got = ReadOne(iov, &h, &len, err);
      if (got == Got::kStop) return n;
      if (got == Got::kSkip) continue;
      if (h.gsoType == kGsoNone) {
        if (!FinishPlain(slot, len, h)) continue;
        w_.table.SetPlain(n);
        b_.sizes[n++] = static_cast<uint32_t>(len);
        continue;
      }
      std::memcpy(whole, slot, len < cap ? len : cap);
      TcpGso g;
      if (!ParseSuper(whole, len, h, &g)) continue;
      b_.sizes[n] = static_cast<uint32_t>(WriteTcpSegment(whole, g, 0, slot));
      if (g.segments == 1) {
        w_.table.SetPlain(n);
        n++;
        continue;
      }
      whole_++;
      w_.table.SetWhole(n, static_cast<uint32_t>(pos), static_cast<uint32_t>(len), g.mss, g.segments);
      n++;
      pos += (len + 63) & ~static_cast<size_t>(63);
    }
    *more = true;
    return n;
  }

  PortOffload Offload() const override {
    PortOffload o;
    o.gsoFrames = superFrames_;
    o.csumCompleted = csumCompleted_;
    o.dropped = dropped_;
    o.whole = whole_;
    return o;
  }

  size_t Counters(SourceCounter* out) const override {
    out[0] = {"truncated", truncated_};
    out[1] = {"superFrames", superFrames_};
    out[2] = {"keptWhole", whole_};
    out[3] = {"csumCompleted", csumCompleted_};
    out[4] = {"dropped", dropped_};
    return 5;
  }

 private:
  WholeArea w_;
  double whole_ = 0;  // super-frames of more than one segment delivered whole (cut at the send)
};

}  // namespace

std::unique_ptr<ReadSource> NewTapSource(int fd, const ReadBatch& b) { return std::make_unique<TapSource>(fd, b); }

std::unique_ptr<ReadSource> NewTapVnetSource(int fd, const ReadBatch& b) {
  return std::make_unique<TapVnetSource>(fd, b);
}

std::unique_ptr<ReadSource> NewTapVnetWholeSource(int fd, const ReadBatch& b, const WholeArea& w) {
  return std::make_unique<TapVnetWholeSource>(fd, b, w);
}

}  // namespace vxtap
