// The underlay capture: packetOpen and the 'packet' read source. Contract in
// packet-capture.h.
#include "packet-capture.h"

#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace vxtap {

namespace {

// Offsets in an Ethernet frame (no VLAN tag: the underlay is untagged here).
constexpr uint32_t kEtherTypeOff = 12;
constexpr uint32_t kIpOff = 14;
constexpr uint32_t kIpProtoOff = kIpOff + 9;
constexpr uint32_t kIpFragOff = kIpOff + 6;

// "ip and udp and not a later fragment and (udp src port N or udp dst port N)",
// as tcpdump -d compiles `udp port N` for IPv4. The ports are read past the
// IPv4 header's real length (BPF_MSH: 4 * IHL).
std::vector<sock_filter> UdpPortFilter(uint16_t port) {
  return {
      /* 0 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, kEtherTypeOff),
      /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 10),
      /* 2 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, kIpProtoOff),
      /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 8),
      /* 4 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, kIpFragOff),
      /* 5 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 6, 0),  // a later fragment has no UDP header
      /* 6 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, kIpOff),
      /* 7 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, kIpOff),          // source port
      /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 2, 0),
      /* 9 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, kIpOff + 2),      // destination port
      /* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 1),
      /* 11 */ BPF_STMT(BPF_RET | BPF_K, 0x40000),                // accept: up to 256 KB, the whole frame
      /* 12 */ BPF_STMT(BPF_RET | BPF_K, 0),                      // drop
  };
}

constexpr uint32_t kMaxMsgs = 64;
constexpr size_t kCtlSize = CMSG_SPACE(sizeof(timespec)) + CMSG_SPACE(sizeof(tpacket_auxdata));

// Closes the fd unless released (an exception on the way out of packetOpen).
class Guard {
 public:
  explicit Guard(int fd) : fd_(fd) {}
  ~Guard() {
    if (fd_ >= 0) close(fd_);
  }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

void PutU32(uint8_t* p, uint32_t v) {
  p[0] = v & 0xff;
  p[1] = (v >> 8) & 0xff;
  p[2] = (v >> 16) & 0xff;
  p[3] = (v >> 24) & 0xff;
}

class PacketSource : public ReadSource {
 public:
  PacketSource(int fd, const ReadBatch& b) : fd_(fd), b_(b) {
    n_ = b.slots < kMaxMsgs ? b.slots : kMaxMsgs;
    msgs_.resize(n_);
    iov_.resize(n_);
    names_.resize(n_);
    ctl_.resize(n_ * kCtlSize);
  }

  uint32_t Fill(bool* more, int* err) override {
    for (uint32_t i = 0; i < n_; i++) {
      iov_[i].iov_base = b_.Slot(i);
      iov_[i].iov_len = b_.Cap();
      std::memset(&msgs_[i], 0, sizeof msgs_[i]);
      msghdr& h = msgs_[i].msg_hdr;
      h.msg_name = &names_[i];
      h.msg_namelen = sizeof(sockaddr_ll);
      h.msg_iov = &iov_[i];
      h.msg_iovlen = 1;
      h.msg_control = ctl_.data() + i * kCtlSize;
      h.msg_controllen = kCtlSize;
    }
    int r;
    do {
      // MSG_TRUNC: each msg_len is the frame's real length, even when the slot cut it.
      r = recvmmsg(fd_, msgs_.data(), n_, MSG_DONTWAIT | MSG_TRUNC, nullptr);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      const int e = errno;
      if (e != EAGAIN && e != EWOULDBLOCK) *err = e;
      return 0;
    }
    for (int i = 0; i < r; i++) {
      const uint32_t wire = msgs_[i].msg_len;
      const uint32_t cap = wire < b_.Cap() ? wire : static_cast<uint32_t>(b_.Cap());
      if (cap < wire) truncated_++;
      b_.sizes[i] = cap;
      uint8_t* meta = b_.Slot(i) - kPacketMetaLen;
      std::memset(meta, 0, kPacketMetaLen);
      meta[0] = names_[i].sll_pkttype;
      timespec ts{0, 0};
      msghdr& h = msgs_[i].msg_hdr;
      for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
        } else if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
          tpacket_auxdata aux;
          std::memcpy(&aux, CMSG_DATA(c), sizeof aux);
          if (aux.tp_status & TP_STATUS_CSUMNOTREADY) meta[1] |= 1;
        }
      }
      if (ts.tv_sec == 0) clock_gettime(CLOCK_REALTIME, &ts);  // no stamp: now, close enough
      PutU32(meta + 4, static_cast<uint32_t>(ts.tv_sec));
      PutU32(meta + 8, static_cast<uint32_t>(ts.tv_nsec));
      PutU32(meta + 12, wire);
      frames_++;
    }
    *more = static_cast<uint32_t>(r) == n_;
    return static_cast<uint32_t>(r);
  }

  const char* Syscall() const override { return "recvmmsg"; }
  const char* FdKind() const override { return "AF_PACKET"; }
  double Truncated() const override { return 0; }  // cut, not dropped: see Counters

  PollFault OnPollError(int err) override {
    int soErr = 0;
    socklen_t len = sizeof soErr;
    if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soErr, &len) == 0 && soErr != 0) return {soErr, "recvmmsg", true};
    return {err, "poll", false};
  }

  PortOffload Offload() const override { return PortOffload{}; }

  size_t Counters(SourceCounter* out) const override {
    out[0] = {"frames", frames_};
    out[1] = {"cut", truncated_};
    return 2;
  }

 private:
  int fd_;
  ReadBatch b_;
  uint32_t n_ = 0;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iov_;
  std::vector<sockaddr_ll> names_;
  std::vector<uint8_t> ctl_;
  double frames_ = 0;
  double truncated_ = 0;
};

}  // namespace

std::unique_ptr<ReadSource> NewPacketSource(int fd, const ReadBatch& b) {
  return std::make_unique<PacketSource>(fd, b);
}

Napi::Value PacketOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string ifname = ArgString(info, 0, "ifname");
  const uint32_t port = ArgU32(info, 1, "port");
  if (port < 1 || port > 65535) throw Napi::RangeError::New(env, "port must be in 1 .. 65535");
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) throw Napi::RangeError::New(env, "ifname must be 1 .. 15 bytes");

  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) throw ErrnoError(env, errno, "socket", "socket(AF_PACKET, SOCK_RAW, ETH_P_ALL)");
  Guard guard(fd);
  std::vector<sock_filter> code = UdpPortFilter(static_cast<uint16_t>(port));
  sock_fprog prog{static_cast<unsigned short>(code.size()), code.data()};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) {
    throw ErrnoError(env, errno, "setsockopt", "setsockopt SO_ATTACH_FILTER");
  }
  const int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0) {
    throw ErrnoError(env, errno, "setsockopt", "setsockopt SO_TIMESTAMPNS");
  }
  if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) != 0) {
    throw ErrnoError(env, errno, "setsockopt", "setsockopt PACKET_AUXDATA");
  }
  // A deep queue: on a veth with GSO a TCP burst arrives as 64 KB
  // super-packets, and the default buffer (rmem_default, about 208 KB) holds
  // three of them; a daemon busy with the data plane then loses frames.
  // FORCE goes past rmem_max with CAP_NET_ADMIN; without it, what rmem_max
  // allows. Losses are still counted (PacketDrops).
  const int want = kPacketRcvBuf;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
  }
  const unsigned idx = if_nametoindex(ifname.c_str());
  if (idx == 0) throw ErrnoError(env, errno, "if_nametoindex", "interface " + ifname);
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(idx);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
    throw ErrnoError(env, errno, "bind", "bind AF_PACKET to " + ifname);
  }
  // Frames queued between socket() and the filter (any protocol, any interface) are not ours.
  uint8_t sink[1];
  while (recv(fd, sink, sizeof sink, MSG_DONTWAIT | MSG_TRUNC) >= 0) {
  }
  return Napi::Number::New(env, guard.release());
}

Napi::Value PacketDrops(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "packetDrops(fd)");
  const int fd = info[0].As<Napi::Number>().Int32Value();
  tpacket_stats st{};
  socklen_t len = sizeof st;
  if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0) {
    throw ErrnoError(env, errno, "getsockopt", "getsockopt PACKET_STATISTICS");
  }
  return Napi::Number::New(env, st.tp_drops);
}

}  // namespace vxtap
