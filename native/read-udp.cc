// The UDP read sources (read-source.h): recvmmsg, with or without UDP_GRO.
//
// Both receive with one recvmmsg(MSG_DONTWAIT) into message buffers of 64 KB
// (a UDP payload is at most 65507 bytes; a kernel vxlan peer's TSO
// super-datagram reaches that), then copy each datagram into its slot and
// fill slot i's endpoint record (FrameBatch.names, endpoints.h) with its sender. Messages not all delivered when
// the slots run out fill the next batch first (Pending). The buffers are not
// zeroed, so only the pages that datagrams reach are ever committed.
//
// Per message:
//   - a zero-length datagram is a datagram: it gets a slot of its own (size 0),
//     so that the switch counts it (a drop) like any other;
//   - one datagram longer than a slot that holds one VXLAN TCP super-frame (a
//     kernel vxlan peer's TSO, passed whole by a veth: offload.h,
//     ParseVxlanTcpSuper) is cut into finished segments, each behind a copy of
//     the VXLAN header, one per slot (MSS: the overlay MTU, else the slot);
//     any other is truncated (and so is a message the kernel flags MSG_TRUNC,
//     which 64 KB buffers should never see);
//   - udp-gro only: a message of many coalesced datagrams (the UDP_GRO cmsg
//     gives their size, the last may be shorter) is cut into one slot per
//     datagram.
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "offload.h"
#include "read-source.h"

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

namespace vxtap {

namespace {

constexpr uint32_t kGroMsgs = 8;       // udp-gro: messages per recvmmsg (each may hold many datagrams)
constexpr uint32_t kUdpMsgs = 128;     // udp: at most this many messages per recvmmsg
constexpr size_t kMsgBufSize = 65536;  // a UDP payload is at most 65507 bytes
constexpr size_t kGroCtl = CMSG_SPACE(sizeof(int));

class UdpSource : public ReadSource {
 public:
  UdpSource(int fd, const ReadBatch& b, const UdpSenders& s, uint32_t mtu)
      : UdpSource(fd, b, s, mtu, b.slots < kUdpMsgs ? b.slots : kUdpMsgs, 0) {}

  uint32_t Fill(bool* more, int* err) override {
    uint32_t n = Emit(0);
    if (Pending()) {
      *more = true;
      return n;
    }
    for (uint32_t i = 0; i < msgCount_; i++) {
      msghdr& h = msgs_[i].msg_hdr;
      h.msg_namelen = sizeof(sockaddr_in6);  // room for either family: names_ are kEpRecord bytes
      h.msg_control = ctlSize_ == 0 ? nullptr : ctl_.data() + static_cast<size_t>(i) * ctlSize_;
      h.msg_controllen = ctlSize_;
      h.msg_flags = 0;
    }
    int r;
    do {
      r = recvmmsg(fd_, msgs_.data(), msgCount_, MSG_DONTWAIT, nullptr);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      const int e = errno;
      if (e != EAGAIN && e != EWOULDBLOCK) *err = e;
      return n;
    }
    for (int i = 0; i < r; i++) {
      if (msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) {
        truncated_++;
        msgs_[i].msg_len = 0;
        seg_[i] = 0;  // 0: nothing left to deliver (Emit)
        continue;
      }
      const uint32_t len = msgs_[i].msg_len;
      const uint32_t seg = SegmentSize(msgs_[i].msg_hdr, len);
      seg_[i] = seg == 0 ? 1 : seg;  // a zero-length datagram: one empty slot
    }
    count_ = static_cast<uint32_t>(r);
    next_ = 0;
    off_ = 0;
    n = Emit(n);
    *more = Pending() || static_cast<uint32_t>(r) == msgCount_;
    return n;
  }

  bool Pending() const override { return next_ < count_; }
  const char* Syscall() const override { return "recvmmsg"; }
  const char* FdKind() const override { return "UDP"; }
  double Truncated() const override { return truncated_; }

  // A socket keeps its error in SO_ERROR (reading it clears it); a transient
  // one lets the poll start again.
  PollFault OnPollError(int err) override {
    int soErr = 0;
    socklen_t len = sizeof soErr;
    if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soErr, &len) == 0 && soErr != 0) return {soErr, "recvmmsg", true};
    return {err, "poll", false};
  }

  PortOffload Offload() const override {
    PortOffload o;
    o.gsoFrames = superDatagrams_;
    o.segments = superSegments_;
    return o;
  }

  size_t Counters(SourceCounter* out) const override {
    out[0] = {"truncated", truncated_};
    out[1] = {"superDatagrams", superDatagrams_};
    out[2] = {"superSegments", superSegments_};
    return 3;
  }

 protected:
  UdpSource(int fd, const ReadBatch& b, const UdpSenders& s, uint32_t mtu, uint32_t msgCount, size_t ctlSize)
      : fd_(fd), b_(b), s_(s), mtu_(mtu), msgCount_(msgCount), ctlSize_(ctlSize) {
    buf_.reset(new uint8_t[static_cast<size_t>(msgCount_) * kMsgBufSize]);  // not zeroed: committed as used
    iov_.resize(msgCount_);
    msgs_.resize(msgCount_);
    names_.resize(msgCount_);
    ctl_.resize(static_cast<size_t>(msgCount_) * ctlSize_);
    seg_.resize(msgCount_);
    for (uint32_t i = 0; i < msgCount_; i++) {
      iov_[i].iov_base = buf_.get() + static_cast<size_t>(i) * kMsgBufSize;
      iov_[i].iov_len = kMsgBufSize;
      std::memset(&msgs_[i], 0, sizeof msgs_[i]);
      msgs_[i].msg_hdr.msg_name = &names_[i];
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
    }
  }

  // The size of the datagrams in a message of len bytes: one datagram, len.
  virtual uint32_t SegmentSize(msghdr& /*h*/, uint32_t len) { return len; }

  double groMessages_ = 0;   // messages of more than one datagram (udp-gro only)
  double groDatagrams_ = 0;  // datagrams cut from them (udp-gro only)

 private:
  // Cuts the received messages into slots n.. while there are free slots.
  // Returns the new slot count; Pending() while some are left.
  uint32_t Emit(uint32_t n) {
    const size_t cap = b_.Cap();
    while (next_ < count_ && n < b_.slots) {
      const uint32_t i = next_;
      const uint32_t len = msgs_[i].msg_len;
      const uint32_t seg = seg_[i];
      if (len == 0 && seg != 0) {
        Sender(n, i);
        b_.sizes[n++] = 0;
        next_++;
        off_ = 0;
        continue;
      }
      if (off_ >= len) {
        next_++;
        off_ = 0;
        continue;
      }
      const uint8_t* msg = buf_.get() + static_cast<size_t>(i) * kMsgBufSize;
      if (off_ == 0 && seg >= len && len > cap) {
        // One datagram longer than a slot: a kernel vxlan peer's TSO super-frame, passed whole by a veth?
        if (superK_ == 0) {
          if (!ParseVxlanTcpSuper(msg, len, mtu_, cap, &super_)) {
            truncated_++;
            off_ = len;
            continue;
          }
          superDatagrams_++;
        }
        uint8_t* slot = b_.Slot(n);
        std::memcpy(slot, msg, 8);  // the VXLAN header, for each segment
        b_.sizes[n] = static_cast<uint32_t>(8 + WriteTcpSegment(msg + 8, super_, superK_, slot + 8));
        Sender(n++, i);
        superSegments_++;
        if (++superK_ == super_.segments) {
          superK_ = 0;
          off_ = len;
        }
        continue;
      }
      const uint32_t chunk = len - off_ < seg ? len - off_ : seg;
      if (chunk <= cap) {
        std::memcpy(b_.Slot(n), msg + off_, chunk);
        b_.sizes[n] = chunk;
        Sender(n++, i);
        if (seg < len) groDatagrams_++;
      } else {
        truncated_++;
      }
      off_ += chunk;
    }
    return n;
  }

  // The record as the kernel wrote it; its bytes past a sockaddr_in stay
  // the zeros names_ started with (an AF_INET socket never writes them).
  void Sender(uint32_t slot, uint32_t msg) {
    std::memcpy(s_.names + static_cast<size_t>(slot) * kEpRecord, &names_[msg], kEpRecord);
  }

  int fd_;
  ReadBatch b_;
  UdpSenders s_;
  uint32_t mtu_;  // the overlay's MTU (0: unknown): cuts super-datagrams (ParseVxlanTcpSuper)
  uint32_t msgCount_;
  size_t ctlSize_;  // control bytes per message (0: none asked for)

  std::unique_ptr<uint8_t[]> buf_;  // msgCount_ buffers of kMsgBufSize
  std::vector<iovec> iov_;
  std::vector<mmsghdr> msgs_;
  std::vector<sockaddr_in6> names_;  // kEpRecord bytes each, zeroed once
  std::vector<uint8_t> ctl_;
  std::vector<uint32_t> seg_;  // per message: its datagrams' size (0: nothing to deliver)
  // Messages next_ .. count_-1 are not all delivered yet: next_ from off_,
  // or from segment superK_ of its super-frame super_.
  uint32_t count_ = 0, next_ = 0, off_ = 0;
  uint32_t superK_ = 0;
  TcpGso super_;

  double truncated_ = 0;
  double superDatagrams_ = 0;  // VXLAN TCP super-datagrams cut
  double superSegments_ = 0;   // segments cut from them
};

// udp-gro: UDP_GRO is on the socket, so one message may hold many datagrams
// of the size its UDP_GRO cmsg gives; fewer, larger messages per recvmmsg.
class UdpGroSource final : public UdpSource {
 public:
  UdpGroSource(int fd, const ReadBatch& b, const UdpSenders& s, uint32_t mtu)
      : UdpSource(fd, b, s, mtu, kGroMsgs, kGroCtl) {}

  // The port's gro.messages / gro.datagrams count both coalesced messages and super-datagrams (README "veth").
  PortOffload Offload() const override {
    PortOffload o = UdpSource::Offload();
    o.gsoFrames += groMessages_;
    o.segments += groDatagrams_;
    return o;
  }

  size_t Counters(SourceCounter* out) const override {
    size_t k = UdpSource::Counters(out);
    out[k++] = {"groMessages", groMessages_};
    out[k++] = {"groDatagrams", groDatagrams_};
    return k;
  }

 protected:
  uint32_t SegmentSize(msghdr& h, uint32_t len) override {
    uint32_t seg = len;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
        int g = 0;
        std::memcpy(&g, CMSG_DATA(c), sizeof g);
        if (g > 0) seg = static_cast<uint32_t>(g);
      }
    }
    if (seg != 0 && seg < len) groMessages_++;
    return seg;
  }
};

}  // namespace

std::unique_ptr<ReadSource> NewUdpSource(int fd, const ReadBatch& b, const UdpSenders& s, uint32_t mtu) {
  return std::make_unique<UdpSource>(fd, b, s, mtu);
}

std::unique_ptr<ReadSource> NewUdpGroSource(int fd, const ReadBatch& b, const UdpSenders& s, uint32_t mtu) {
  return std::make_unique<UdpGroSource>(fd, b, s, mtu);
}

}  // namespace vxtap
