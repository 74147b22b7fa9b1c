// UDP send through a pool of sockets, one per outer source port, with UDP
// GSO (UDP_SEGMENT); UDP offload probes.
//
// Why a pool: RFC 7348 section 5 wants the outer source port to be a hash
// of the inner flow, and a UDP socket sends from its one bound port. The raw
// socket (udp.cc) can write any source port but cannot use UDP GSO. A pool of
// `count` UDP sockets bound to the contiguous ports portMin .. portMin +
// count - 1 can do both: the flow hash picks the port, and so the socket.
#include "endpoints.h"
#include "io.h"
#include "offload.h"
#include "pool-send.h"
#include "stamps.h"
#include "super-frames.h"
#include "udp-pool.h"

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
  std::vector<GsoCmsg> cmsgs;
  std::vector<uint32_t> first, segs;  // per message: its first datagram, how many datagrams
  std::vector<int> fds;
  void Reserve(size_t n) {
    if (msgs.size() >= n) return;
    msgs.resize(n);
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

// new PoolSend(refs: Array): one pool send request (pool-send.h names the
//   slots of refs and of its scalars), every array pinned and its address
//   kept until the object is collected. Throws TypeError for a slot of the
//   wrong type. The caller makes a new one when an array changes (a larger
//   send list, a grown endpoint table), never per send.
// PoolSend.send(): number, reads scalars [count, gso, portMin] and:
//   Sends list entry k < count. Span k = slab[starts[k], +lens[k]) starts with
//   the 8-byte UDP header the caller wrote (as for the raw socket); the
//   kernel writes its own from the socket, so the span is sent from byte 8,
//   from fds[srcPorts[k] - portMin] (bound to srcPorts[k]) to the endpoint
//   record eps[k] (endpoints.h: msg_name is the record). An index outside
//   the table, or naming an empty record, is a RangeError before any send.
//   A whole super-frame (wholeOf[k] = slot i >= 0, see read-tap.cc's
//   tap-vnet-whole: slot i's record in whole, super-frames.h): the
//   span holds segment 0 behind its VXLAN header; segments 1.. are sent as
//   datagrams of their own, each a VXLAN header copied from the span and the
//   segment's headers (WriteTcpSegmentHeader, written here) followed by its
//   payload taken in place from aux: the payload is not copied in user space.
//   gso (the largest datagram to segment; 0: off):
//   consecutive datagrams to the same endpoint index from the same source
//   port, of the same length
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

namespace {

// One slot of refs as a typed array of `type`, or a TypeError that names it.
template <typename T>
T RefTyped(Napi::Env env, const Napi::Array& refs, uint32_t i, napi_typedarray_type type, const char* name) {
  Napi::Value v = refs.Get(i);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Napi::TypeError::New(env, std::string("PoolSend refs[") + std::to_string(i) + "] (" + name + ") has the wrong type");
  }
  return v.As<T>();
}

Napi::Buffer<uint8_t> RefBuffer(Napi::Env env, const Napi::Array& refs, uint32_t i, const char* name) {
  Napi::Value v = refs.Get(i);
  if (!v.IsBuffer()) throw Napi::TypeError::New(env, std::string("PoolSend refs[") + std::to_string(i) + "] (" + name + ") must be a Buffer");
  return v.As<Napi::Buffer<uint8_t>>();
}

}  // namespace

Napi::Function PoolSend::Define(Napi::Env env) {
  return DefineClass(env, "PoolSend", {InstanceMethod<&PoolSend::Send>("send")});
}

PoolSend::PoolSend(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PoolSend>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray() || info[0].As<Napi::Array>().Length() < kPsRefs) {
    throw Napi::TypeError::New(env, "PoolSend needs an Array of " + std::to_string(kPsRefs) + " refs (pool-send.h)");
  }
  Napi::Array refs = info[0].As<Napi::Array>();
  auto pin = [&](Napi::Value v) { pins_.push_back(Napi::Persistent(v.As<Napi::Object>())); };
  auto fds = RefTyped<Napi::Int32Array>(env, refs, kPsFds, napi_int32_array, "fds");
  auto slab = RefBuffer(env, refs, kPsSlab, "slab");
  auto starts = RefTyped<Napi::Uint32Array>(env, refs, kPsStarts, napi_uint32_array, "starts");
  auto lens = RefTyped<Napi::Uint32Array>(env, refs, kPsLens, napi_uint32_array, "lens");
  auto table = RefBuffer(env, refs, kPsEndpoints, "endpoints");
  auto eps = RefTyped<Napi::Int32Array>(env, refs, kPsEps, napi_int32_array, "eps");
  auto srcPorts = RefTyped<Napi::Uint16Array>(env, refs, kPsSrcPorts, napi_uint16_array, "srcPorts");
  auto wholeOf = RefTyped<Napi::Int32Array>(env, refs, kPsWholeOf, napi_int32_array, "wholeOf");
  auto errOut = RefTyped<Napi::Int32Array>(env, refs, kPsErrOut, napi_int32_array, "errOut");
  auto gsoOut = RefTyped<Napi::Int32Array>(env, refs, kPsGsoOut, napi_int32_array, "gsoOut");
  auto status = RefTyped<Napi::Int32Array>(env, refs, kPsStatus, napi_int32_array, "status");
  auto scalars = RefTyped<Napi::Int32Array>(env, refs, kPsScalars, napi_int32_array, "scalars");
  if (errOut.ElementLength() < 2) throw Napi::RangeError::New(env, "PoolSend errOut needs 2 elements");
  if (gsoOut.ElementLength() < kGsoOutLen) throw Napi::RangeError::New(env, "PoolSend gsoOut needs 8 elements");
  if (scalars.ElementLength() < kPsScalarSlots) throw Napi::RangeError::New(env, "PoolSend scalars needs 3 elements");
  for (Napi::Value v : {Napi::Value(fds), Napi::Value(slab), Napi::Value(starts), Napi::Value(lens), Napi::Value(table),
                        Napi::Value(eps), Napi::Value(srcPorts), Napi::Value(wholeOf), Napi::Value(errOut),
                        Napi::Value(gsoOut), Napi::Value(status), Napi::Value(scalars)}) {
    pin(v);
  }
  r_.fds = fds.Data();
  r_.poolSize = static_cast<uint32_t>(fds.ElementLength());
  r_.slab = slab.Data();
  r_.slabLen = slab.Length();
  r_.starts = starts.Data();
  r_.lens = lens.Data();
  r_.table = table.Data();
  r_.tableLen = table.Length();
  r_.eps = eps.Data();
  r_.srcPorts = srcPorts.Data();
  r_.wholeOf = wholeOf.Data();
  r_.errOut = errOut.Data();
  r_.gsoOut = gsoOut.Data();
  r_.status = status.Data();
  r_.scalars = scalars.Data();
  size_t cap = starts.ElementLength();
  for (size_t n : {lens.ElementLength(), eps.ElementLength(), srcPorts.ElementLength(), wholeOf.ElementLength(), status.ElementLength()}) {
    if (n < cap) cap = n;
  }
  r_.capacity = static_cast<uint32_t>(cap);
  Napi::Value aux = refs.Get(kPsAux);
  if (aux.IsBuffer()) {
    auto auxBuf = aux.As<Napi::Buffer<uint8_t>>();
    auto w = RefTyped<Napi::Uint32Array>(env, refs, kPsWhole, napi_uint32_array, "whole");
    pin(auxBuf);
    pin(w);
    r_.aux = auxBuf.Data();
    r_.auxLen = auxBuf.Length();
    r_.whole = SuperFrameTable(w.Data(), w.ElementLength());
    r_.hasWhole = true;
  }
}

Napi::Value PoolSend::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const PoolRequest& q = r_;
  const int32_t countArg = q.scalars[kPsCount];
  if (countArg < 0 || static_cast<uint32_t>(countArg) > q.capacity) {
    throw Napi::RangeError::New(env, "PoolSend count " + std::to_string(countArg) + " is outside 0 .. " + std::to_string(q.capacity));
  }
  const uint32_t count = static_cast<uint32_t>(countArg);
  const SendStamps stamps(StampSide::kUdp, count);
  const int32_t gsoArg = q.scalars[kPsGso];
  const uint32_t gsoMaxSeg = gsoArg <= 0 ? 0 : static_cast<uint32_t>(gsoArg) >= kMaxGsoPayload ? kMaxGsoPayload : static_cast<uint32_t>(gsoArg);
  const bool gso = gsoMaxSeg > 0;
  const uint32_t portMin = static_cast<uint32_t>(q.scalars[kPsPortMin]);
  const uint32_t poolSize = q.poolSize;
  const uint32_t* starts = q.starts;
  const uint32_t* lens = q.lens;
  const int32_t* eps = q.eps;
  const uint16_t* srcPorts = q.srcPorts;
  int32_t* errOut = q.errOut;
  int32_t* gsoOut = q.gsoOut;
  int32_t* status = q.status;
  const uint8_t* aux = q.hasWhole ? q.aux : nullptr;
  const size_t auxLen = q.auxLen;
  const SuperFrameTable& whole = q.whole;
  const int32_t* wholeOf = q.hasWhole ? q.wholeOf : nullptr;
  const EndpointView ep(q.table, q.tableLen);
  CheckSpans(env, q.slabLen, starts, lens, count);
  CheckEndpoints(env, q.table, q.tableLen, eps, count);
  for (uint32_t k = 0; k < count; k++) {
    if (lens[k] < kUdpHdr + 8) throw Napi::RangeError::New(env, "span " + std::to_string(k) + " is shorter than UDP + VXLAN headers");
  }

  PoolScratch& s = pool;
  uint8_t* base = q.slab;
  const int32_t* fds = q.fds;
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
        if (eps[kx] != eps[k] || srcPorts[kx] != srcPorts[k] || x.len > seg ||
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
    m.msg_hdr.msg_name = ep.Name(eps[k]);
    m.msg_hdr.msg_namelen = ep.NameLen(eps[k]);
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
          one.msg_hdr.msg_name = s.msgs[g].msg_hdr.msg_name;
          one.msg_hdr.msg_namelen = s.msgs[g].msg_hdr.msg_namelen;
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
