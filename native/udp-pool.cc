// UDP send through a pool of sockets, one per outer source port, with UDP
// GSO (UDP_SEGMENT); UDP offload probes.
//
// Why a pool: RFC 7348 section 5 wants the outer source port to be a hash
// of the inner flow, and a UDP socket sends from its one bound port. The raw
// socket (udp.cc) can write any source port but cannot use UDP GSO. A pool of
// `count` UDP sockets bound to the contiguous ports portMin .. portMin +
// count - 1 can do both: the flow hash picks the port, and so the socket.
#include "io.h"
#include "offload.h"
#include "super-frames.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

namespace vxtap {

namespace {

constexpr uint32_t kUdpHdr = 8;
// The kernel's UDP_MAX_SEGMENTS was 64 before 6.x (128 after): stay at the lower bound.
constexpr uint32_t kMaxGsoSegs = 64;
// A GSO send is one IPv4 datagram until it is cut: UDP payload at most 65535 - 20 - 8.
constexpr uint32_t kMaxGsoPayload = 65507;
constexpr size_t kGsoOutLen = 8;

union GsoCmsg {
  char buf[CMSG_SPACE(sizeof(uint16_t))];
  cmsghdr align;
};

// One datagram to send: list entry `entry`, iovecs iov .. iov + iovs - 1.
struct Dgram {
  uint32_t entry = 0;
  uint32_t iov = 0;
  uint32_t iovs = 0;
  uint32_t len = 0;
  int32_t err = 0;  // the errno that refused it (0: sent, or not tried yet)
};

// Room for one segment's VXLAN header and Ethernet (+ VLAN) + IPv4 + TCP headers.
constexpr uint32_t kMaxHdr = 192;

// Per-thread scratch, grown to the largest batch seen and then reused: no
// allocation per call once warm, none per datagram.
struct PoolScratch {
  std::vector<Dgram> dgrams;
  std::vector<iovec> iovs;
  std::vector<uint8_t> hdrs;  // segment headers written here (whole super-frames)
  std::vector<mmsghdr> msgs;
  std::vector<sockaddr_in> names;
  std::vector<GsoCmsg> cmsgs;
  std::vector<uint32_t> first, segs;  // per message: its first datagram, how many datagrams
  std::vector<int> fds;
  void Reserve(size_t n) {
    if (msgs.size() >= n) return;
    msgs.resize(n);
    names.resize(n);
    cmsgs.resize(n);
    first.resize(n);
    segs.resize(n);
    fds.resize(n);
  }
};
thread_local PoolScratch pool;

}  // namespace

// udpOffload(fd, what: 'gso' | 'gro'): string | null
//   'gso': whether the kernel has UDP_SEGMENT (setsockopt to 0, which leaves
//   sends unsegmented unless a message asks); 'gro': turns UDP_GRO on for a
//   receiving socket (coalesced datagrams then arrive as one buffer with a
//   UDP_GRO cmsg: see read-udp.cc's UdpGroSource). Returns null when taken, else
//   the errno name (ENOPROTOOPT on a kernel without it): not an error, the
//   caller falls back.
Napi::Value UdpOffload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  std::string what = ArgString(info, 1, "what");
  int r;
  if (what == "gso") {
    int zero = 0;
    r = setsockopt(fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof zero);
  } else if (what == "gro") {
    int one = 1;
    r = setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one);
  } else {
    throw Napi::TypeError::New(env, "what must be 'gso' or 'gro', got '" + what + "'");
  }
  if (r != 0) return Napi::String::New(env, ErrnoName(errno));
  return env.Null();
}

// udpSendPool(pool: Int32Array, portMin, slab, starts, lens, addrs: Uint32Array,
//             ports: Uint16Array, srcPorts: Uint16Array, count,
//             gso: boolean | number, errOut?: Int32Array(2), aux?: Buffer,
//             whole?: Uint32Array, wholeOf?: Int32Array, gsoOut?: Int32Array(8),
//             status?: Int32Array): number
//   Sends list entry k < count. Span k = slab[starts[k], +lens[k]) starts with
//   the 8-byte UDP header the caller wrote (as for the raw socket); the
//   kernel writes its own from the socket, so the span is sent from byte 8,
//   from pool[srcPorts[k] - portMin] (bound to srcPorts[k]) to addrs[k]
//   (host-order u32) : ports[k].
//   A whole super-frame (wholeOf[k] = slot i >= 0, see read-tap.cc's
//   tap-vnet-whole: slot i's record in whole, super-frames.h): the
//   span holds segment 0 behind its VXLAN header; segments 1.. are sent as
//   datagrams of their own, each a VXLAN header copied from the span and the
//   segment's headers (WriteTcpSegmentHeader, written here) followed by its
//   payload taken in place from aux: the payload is not copied in user space.
//   gso (true, or the largest datagram to segment; false or 0: off):
//   consecutive datagrams to the same address and ports, of the same length
//   (the last of a run may be shorter), at most 64 and 65507 bytes, go out
//   as one message with UDP_SEGMENT = that length: one skb through the
//   stack, cut by the device or at the receiver (which may take it whole
//   with UDP_GRO). Those limits are the kernel's (UDP_MAX_SEGMENTS, one IPv4
//   datagram), so what the kernel would surely refuse is never asked of it. A
//   datagram longer than the number given (the caller learned that the path
//   MTU is below it) is sent in a message of its own, as without GSO.
//   Messages to one socket go in one sendmmsg(MSG_DONTWAIT).
//   Returns the list entries whose datagrams were all sent. Stops at
//   EAGAIN/ENOBUFS. A message refused for its own sake is skipped with all
//   its datagrams: errOut[0] = datagrams skipped, errOut[1] = errno.
//   A GSO message refused with EIO, EINVAL or EMSGSIZE is sent again one
//   datagram per message (the pool sockets send without DF, so datagrams
//   over the path MTU fragment; one that still cannot be sent is skipped
//   and counted in errOut). That fallback is for that message only; what it
//   says about GSO is in gsoOut, and the caller decides:
//     [0] in and out: well-formed GSO messages refused in a row (EIO or
//         EINVAL: kernels before 6.11 without TX checksum offload on the
//         device, IPsec on the path). Within our limits, so the offload
//         itself is refused. An accepted GSO message resets it to 0.
//         EMSGSIZE does not count: the kernel says a segment plus the IP
//         and UDP headers is over the path MTU, the message's own fault.
//     [1] GSO messages accepted, [2] the datagrams in them,
//     [3] GSO messages refused and sent again one datagram per message,
//     [4] of those, the well-formed ones (EIO/EINVAL),
//     [5] the errno of the last refusal,
//     [6] the smallest segment refused with EMSGSIZE (0: none),
//     [7] datagrams sent alone because longer than `gso`.
//   A srcPort outside the pool: EINVAL, skipped.
//   status (length >= count; common.h: ArgStatus) says which entries went
//   out: status[k] = 0 when all of entry k's datagrams were sent (a whole
//   super-frame: every segment), else the errno that kept the first of them
//   out (its refusal; EAGAIN/ENOBUFS when the send stopped before it). A
//   whole super-frame is taken or not as one entry, even when some of its
//   segments left. The return value counts the zeros, not a prefix.
//   Throws only when a socket is unusable (IsFdFatal), with `sent` =
//   datagrams sent before and status filled as if the send stopped there.
Napi::Value UdpSendPool(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(env, "pool must be an Int32Array of fds");
  }
  Napi::Int32Array fdsArg = info[0].As<Napi::Int32Array>();
  const uint32_t poolSize = static_cast<uint32_t>(fdsArg.ElementLength());
  const uint32_t portMin = ArgU32(info, 1, "portMin");
  Napi::Buffer<uint8_t> slab = ArgBuffer(info, 2, "slab");
  const uint32_t count = ArgU32(info, 8, "count");
  Napi::Uint32Array starts = ArgU32Array(info, 3, "starts", count);
  Napi::Uint32Array lens = ArgU32Array(info, 4, "lens", count);
  Napi::Uint32Array addrs = ArgU32Array(info, 5, "addrs", count);
  Napi::Uint16Array ports = ArgU16Array(info, 6, "ports", count);
  Napi::Uint16Array srcPorts = ArgU16Array(info, 7, "srcPorts", count);
  // gso: the largest datagram to send segmented (true: any; false or 0: none).
  uint32_t gsoMaxSeg = 0;
  if (info[9].IsBoolean()) {
    gsoMaxSeg = info[9].As<Napi::Boolean>().Value() ? kMaxGsoPayload : 0;
  } else if (info[9].IsNumber()) {
    const double v = info[9].As<Napi::Number>().DoubleValue();
    gsoMaxSeg = v <= 0 ? 0 : v >= kMaxGsoPayload ? kMaxGsoPayload : static_cast<uint32_t>(v);
  } else {
    throw Napi::TypeError::New(env, "gso must be a boolean or a number");
  }
  const bool gso = gsoMaxSeg > 0;
  int32_t* errOut = ArgErrOut(info, 10);
  int32_t* status = ArgStatus(info, 15, count);
  int32_t* gsoOut = nullptr;
  if (info.Length() > 14 && !info[14].IsUndefined()) {
    if (!info[14].IsTypedArray() || info[14].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
        info[14].As<Napi::Int32Array>().ElementLength() < kGsoOutLen) {
      throw Napi::TypeError::New(env, "gsoOut must be an Int32Array of length >= 8");
    }
    gsoOut = info[14].As<Napi::Int32Array>().Data();
  }
  const bool hasWhole = info.Length() > 13 && info[11].IsBuffer();
  const uint8_t* aux = nullptr;
  size_t auxLen = 0;
  SuperFrameTable whole;
  const int32_t* wholeOf = nullptr;
  if (hasWhole) {
    Napi::Buffer<uint8_t> auxBuf = ArgBuffer(info, 11, "aux");
    aux = auxBuf.Data();
    auxLen = auxBuf.Length();
    Napi::Uint32Array w = ArgU32Array(info, 12, "whole", 0);
    whole = SuperFrameTable(w.Data(), w.ElementLength());
    if (!info[13].IsTypedArray() || info[13].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
        info[13].As<Napi::Int32Array>().ElementLength() < count) {
      throw Napi::TypeError::New(env, "wholeOf must be an Int32Array of length >= count");
    }
    wholeOf = info[13].As<Napi::Int32Array>().Data();
  }
  CheckSpans(env, slab.Length(), starts.Data(), lens.Data(), count);
  for (uint32_t k = 0; k < count; k++) {
    if (lens[k] < kUdpHdr + 8) throw Napi::RangeError::New(env, "span " + std::to_string(k) + " is shorter than UDP + VXLAN headers");
  }

  PoolScratch& s = pool;
  uint8_t* base = slab.Data();
  const int32_t* fds = fdsArg.Data();
  int32_t skipped = 0, lastErr = 0;
  // What GSO did in this call (gsoOut); the streak comes in from the last call.
  int32_t streak = gsoOut != nullptr ? gsoOut[0] : 0;
  int32_t gsoMsgs = 0, gsoDgrams = 0, fallbacks = 0, wellFormed = 0, refusalErr = 0, tooBigSeg = 0, alone = 0;

  // 1. Datagrams: one per span, or one per segment of a whole super-frame.
  s.dgrams.clear();
  s.iovs.clear();
  uint32_t hdrBytes = 0;
  for (uint32_t k = 0; k < count; k++) {
    const int32_t wi = wholeOf != nullptr ? wholeOf[k] : -1;
    if (wi >= 0) {
      const uint32_t i = static_cast<uint32_t>(wi);
      if (!whole.Has(i) || !whole.IsWhole(i) || static_cast<size_t>(whole.Offset(i)) + whole.Length(i) > auxLen) {
        throw Napi::RangeError::New(env, "wholeOf[" + std::to_string(k) + "] names no super-frame in aux");
      }
      hdrBytes += (whole.Segments(i) - 1) * kMaxHdr;
    }
  }
  if (s.hdrs.size() < hdrBytes) s.hdrs.resize(hdrBytes);
  uint32_t hdrPos = 0;
  for (uint32_t k = 0; k < count; k++) {
    const int32_t wi = wholeOf != nullptr ? wholeOf[k] : -1;
    Dgram d;
    d.entry = k;
    d.iov = static_cast<uint32_t>(s.iovs.size());
    d.iovs = 1;
    d.len = lens[k] - kUdpHdr;
    s.iovs.push_back({base + starts[k] + kUdpHdr, d.len});
    s.dgrams.push_back(d);
    if (wi < 0) continue;
    const uint32_t i = static_cast<uint32_t>(wi);
    const uint8_t* frame = aux + whole.Offset(i);
    TcpGso g;
    if (!ParseTcpGso(frame, whole.Length(i), whole.Mss(i), &g) || g.segments != whole.Segments(i) || g.hdrLen + 8 > kMaxHdr) {
      throw Napi::RangeError::New(env, "wholeOf[" + std::to_string(k) + "]: the super-frame in aux does not parse");
    }
    const uint8_t* vxlanHdr = base + starts[k] + kUdpHdr;
    for (uint32_t j = 1; j < g.segments; j++) {
      uint8_t* h = s.hdrs.data() + hdrPos;
      hdrPos += kMaxHdr;
      std::memcpy(h, vxlanHdr, 8);
      const size_t hl = 8 + WriteTcpSegmentHeader(frame, g, j, h + 8);
      const uint32_t off = j * g.mss;
      const uint32_t chunk = g.payload - off < g.mss ? g.payload - off : g.mss;
      Dgram e;
      e.entry = k;
      e.iov = static_cast<uint32_t>(s.iovs.size());
      e.iovs = 2;
      e.len = static_cast<uint32_t>(hl) + chunk;
      s.iovs.push_back({h, hl});
      s.iovs.push_back({const_cast<uint8_t*>(frame + g.hdrLen + off), chunk});
      s.dgrams.push_back(e);
    }
  }

  // 2. Messages: one per datagram, or one per GSO run of datagrams.
  const uint32_t nd = static_cast<uint32_t>(s.dgrams.size());
  s.Reserve(nd);
  uint32_t msgs = 0;
  for (uint32_t d = 0; d < nd;) {
    const uint32_t k = s.dgrams[d].entry;
    uint32_t n = 1;
    uint32_t iovs = s.dgrams[d].iovs;
    if (gso && s.dgrams[d].len > gsoMaxSeg) {
      alone++;  // over what the path is known to take in one segment: a message of its own (it fragments)
    } else if (gso) {
      const uint32_t seg = s.dgrams[d].len;
      uint32_t total = seg;
      while (d + n < nd && n < kMaxGsoSegs) {
        const Dgram& x = s.dgrams[d + n];
        const uint32_t kx = x.entry;
        if (addrs[kx] != addrs[k] || ports[kx] != ports[k] || srcPorts[kx] != srcPorts[k] || x.len > seg ||
            total + x.len > kMaxGsoPayload) {
          break;
        }
        total += x.len;
        iovs += x.iovs;
        n++;
        if (x.len < seg) break;  // a shorter one ends the run
      }
    }
    const uint32_t slot = srcPorts[k] - portMin;
    if (srcPorts[k] < portMin || slot >= poolSize) {
      for (uint32_t i = 0; i < n; i++) s.dgrams[d + i].err = EINVAL;
      skipped += static_cast<int32_t>(n);
      lastErr = EINVAL;
      d += n;
      continue;
    }
    mmsghdr& m = s.msgs[msgs];
    std::memset(&m, 0, sizeof m);
    s.names[msgs].sin_family = AF_INET;
    s.names[msgs].sin_addr.s_addr = htonl(addrs[k]);
    s.names[msgs].sin_port = htons(ports[k]);
    m.msg_hdr.msg_name = &s.names[msgs];
    m.msg_hdr.msg_namelen = sizeof(sockaddr_in);
    m.msg_hdr.msg_iov = &s.iovs[s.dgrams[d].iov];  // a run's datagrams have consecutive iovecs
    m.msg_hdr.msg_iovlen = iovs;
    if (n > 1) {
      m.msg_hdr.msg_control = s.cmsgs[msgs].buf;
      m.msg_hdr.msg_controllen = sizeof s.cmsgs[msgs].buf;
      cmsghdr* c = CMSG_FIRSTHDR(&m.msg_hdr);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      const uint16_t segSize = static_cast<uint16_t>(s.dgrams[d].len);
      std::memcpy(CMSG_DATA(c), &segSize, sizeof segSize);
    }
    s.first[msgs] = d;
    s.segs[msgs] = n;
    s.fds[msgs] = fds[slot];
    msgs++;
    d += n;
  }

  // 3. Send: one sendmmsg per run of messages to the same socket.
  uint32_t sent = 0;
  uint32_t reached = nd;  // datagrams from here on were not tried (EAGAIN)
  int32_t stopErr = 0;    // why not
  // Per entry (status), from the datagrams' outcomes; returns the entries all sent.
  auto entriesSent = [&]() {
    uint32_t entries = 0;
    for (uint32_t d = 0; d < nd;) {
      const uint32_t k = s.dgrams[d].entry;
      int32_t st = 0;
      for (; d < nd && s.dgrams[d].entry == k; d++) {
        // Its own refusal first: one refused before any send (a srcPort outside the pool) may lie past `reached`.
        if (st == 0) st = s.dgrams[d].err != 0 ? s.dgrams[d].err : d >= reached ? stopErr : 0;
      }
      if (st == 0) entries++;
      if (status != nullptr) status[k] = st;
    }
    return entries;
  };
  for (uint32_t g = 0; g < msgs && reached == nd;) {
    uint32_t end = g + 1;
    while (end < msgs && s.fds[end] == s.fds[g] && end - g < 1024) end++;
    while (g < end) {
      int r = sendmmsg(s.fds[g], &s.msgs[g], end - g, MSG_DONTWAIT);
      if (r > 0) {
        for (int i = 0; i < r; i++) {
          sent += s.segs[g + i];
          if (s.segs[g + i] > 1) {
            gsoMsgs++;
            gsoDgrams += static_cast<int32_t>(s.segs[g + i]);
            streak = 0;
          }
        }
        g += static_cast<uint32_t>(r);
        continue;
      }
      int err = r == 0 ? EAGAIN : errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
        reached = s.first[g];
        stopErr = err;
        break;
      }
      if (IsFdFatal(err)) {
        reached = s.first[g];
        stopErr = err;
        entriesSent();
        if (errOut != nullptr) { errOut[0] = skipped; errOut[1] = lastErr; }
        Napi::Error e = ErrnoError(env, err, "sendmmsg", "sendmmsg fd " + std::to_string(s.fds[g]));
        e.Set("sent", Napi::Number::New(env, sent));
        throw e;
      }
      // The first message of the call was refused.
      if (s.segs[g] > 1 && (err == EIO || err == EINVAL || err == EMSGSIZE)) {
        // GSO refused: this message's datagrams, one per send. EMSGSIZE is
        // about this message's segment size (over the path MTU); EIO and
        // EINVAL, for a message within the kernel's limits, about GSO.
        fallbacks++;
        refusalErr = err;
        if (err == EMSGSIZE) {
          const int32_t seg = static_cast<int32_t>(s.dgrams[s.first[g]].len);
          if (tooBigSeg == 0 || seg < tooBigSeg) tooBigSeg = seg;
        } else {
          wellFormed++;
          streak++;
        }
        for (uint32_t i = 0; i < s.segs[g]; i++) {
          Dgram& dg = s.dgrams[s.first[g] + i];
          mmsghdr one;
          std::memset(&one, 0, sizeof one);
          one.msg_hdr.msg_name = &s.names[g];
          one.msg_hdr.msg_namelen = sizeof(sockaddr_in);
          one.msg_hdr.msg_iov = &s.iovs[dg.iov];
          one.msg_hdr.msg_iovlen = dg.iovs;
          int r1;
          do {
            r1 = sendmmsg(s.fds[g], &one, 1, MSG_DONTWAIT);
          } while (r1 < 0 && errno == EINTR);
          if (r1 == 1) {
            sent++;
          } else {
            dg.err = r1 < 0 ? errno : EAGAIN;
            skipped++;
            lastErr = dg.err;
          }
        }
      } else {
        for (uint32_t i = 0; i < s.segs[g]; i++) s.dgrams[s.first[g] + i].err = err;
        skipped += static_cast<int32_t>(s.segs[g]);
        lastErr = err;
      }
      g++;
    }
    g = end;
  }
  // List entries whose every datagram went out (tried before any EAGAIN, none refused).
  const uint32_t entries = entriesSent();
  if (errOut != nullptr) {
    errOut[0] = skipped;
    errOut[1] = lastErr;
  }
  if (gsoOut != nullptr) {
    const int32_t out[kGsoOutLen] = {streak, gsoMsgs, gsoDgrams, fallbacks, wellFormed, refusalErr, tooBigSeg, alone};
    std::memcpy(gsoOut, out, sizeof out);
  }
  return Napi::Number::New(env, entries);
}

}  // namespace vxtap
