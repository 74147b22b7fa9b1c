// TAP devices: open/attach (TUNSETIFF), offloads (IFF_VNET_HDR +
// TUNSETOFFLOAD) and batched write, coalescing TCP segments on a vnet TAP.
#include "io.h"
#include "coalesce.h"
#include "offload.h"
#include "stamps.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace vxtap {

// tapOpen(name: string, opts?: {vnetHdr?: boolean}): {fd: number, name: string}
//   Opens /dev/net/tun (O_RDWR | O_NONBLOCK | O_CLOEXEC) and binds it with
//   TUNSETIFF, flags IFF_TAP | IFF_NO_PI, to `name`: the device is created if
//   it does not exist ('' or a '%d' template lets the kernel pick, e.g.
//   tap0), or attached if it is a persistent TAP (`ip tuntap add dev X mode
//   tap user U`: user U may attach without privileges). Returns the fd and
//   the name the kernel used. No per-frame work.
//   Throws: name of 16 bytes or more, or with a NUL -> code EINVAL (checked
//   here); otherwise the kernel's errno: EBUSY (a non-persistent or attached
//   TAP of that name is open elsewhere), EPERM (a persistent TAP owned by
//   another user, or creating one without CAP_NET_ADMIN), EINVAL (bad name,
//   or the name is a device that is not a TAP), EACCES/ENOENT on
//   /dev/net/tun. syscall is "open" or "ioctl(TUNSETIFF)".
//   vnetHdr: also IFF_VNET_HDR, and TUNSETVNETHDRSZ 10 (the plain
//   virtio_net_hdr, offload.h): every read then starts with that header and
//   every write must too (tapWrite's vnetHdr argument). Offloads stay off
//   until tapSetOffload. syscall "ioctl(TUNSETVNETHDRSZ)" if that fails.
Napi::Value TapOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ArgString(info, 0, "name");
  bool vnetHdr = false;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Value v = info[1].As<Napi::Object>().Get("vnetHdr");
    vnetHdr = v.IsBoolean() && v.As<Napi::Boolean>().Value();
  }
  if (name.size() >= IFNAMSIZ || name.find('\0') != std::string::npos) {
    Napi::Error e = ErrnoError(env, EINVAL, "ioctl(TUNSETIFF)",
                               "TUNSETIFF \"" + name + "\": an interface name is at most " +
                                   std::to_string(IFNAMSIZ - 1) + " bytes, this one has " +
                                   std::to_string(name.size()));
    throw e;
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw ErrnoError(env, errno, "open", "open /dev/net/tun");

  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnetHdr ? IFF_VNET_HDR : 0);
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    throw ErrnoError(env, err, "ioctl(TUNSETIFF)", "TUNSETIFF " + (name.empty() ? std::string("(kernel-picked)") : name));
  }
  if (vnetHdr) {
    int sz = static_cast<int>(kVnetHdrLen);
    if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
      int err = errno;
      close(fd);
      throw ErrnoError(env, err, "ioctl(TUNSETVNETHDRSZ)", "TUNSETVNETHDRSZ 10");
    }
  }
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("name", Napi::String::New(env, ifr.ifr_name));
  return out;
}

// tapSetOffload(fd, flags: number): string | null
//   TUNSETOFFLOAD with flags (TUN_F_CSUM 1, TUN_F_TSO4 2, TUN_F_TSO6 4,
//   TUN_F_TSO_ECN 8, ...) on a TAP opened with vnetHdr. Returns null when the
//   kernel took them, else the errno name (EINVAL: flags it does not know, or
//   the fd has no IFF_VNET_HDR): the caller falls back, it is not an error.
Napi::Value TapSetOffload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  uint32_t flags = ArgU32(info, 1, "flags");
  if (ioctl(fd, TUNSETOFFLOAD, static_cast<unsigned long>(flags)) < 0) return Napi::String::New(env, ErrnoName(errno));
  return env.Null();
}

// tapSegment(pkt: Buffer, slab: Buffer, slotSize, headroom, sizes: Uint32Array, slots): number
//   What the tap-vnet Reader does with one read, as a pure function (for
//   tests): pkt is a virtio_net_hdr (10 bytes) + a frame. No GSO: the frame
//   is copied to slot 0 (its checksum completed if NEEDS_CSUM); GSO TCPv4 or TCPv6:
//   its segments go to slots 0.. (slot i at i * slotSize + headroom),
//   sizes[i] = frame length. Returns how many frames, 0 when it is dropped
//   (does not parse, another GSO type, a segment longer than a slot).
//   RangeError when the slots are too few.
Napi::Value TapSegment(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<uint8_t> pkt = ArgBuffer(info, 0, "pkt");
  Napi::Buffer<uint8_t> slab = ArgBuffer(info, 1, "slab");
  uint32_t slotSize = ArgU32(info, 2, "slotSize");
  uint32_t headroom = ArgU32(info, 3, "headroom");
  uint32_t slots = ArgU32(info, 5, "slots");
  Napi::Uint32Array sizes = ArgU32Array(info, 4, "sizes", slots);
  if (headroom >= slotSize || static_cast<uint64_t>(slots) * slotSize > slab.Length()) {
    throw Napi::RangeError::New(env, "slab too small for slots * slotSize, or headroom >= slotSize");
  }
  if (pkt.Length() < kVnetHdrLen) return Napi::Number::New(env, 0);
  const size_t cap = slotSize - headroom;
  const VnetHdr h = ParseVnetHdr(pkt.Data());
  std::vector<uint8_t> frame(pkt.Data() + kVnetHdrLen, pkt.Data() + pkt.Length());
  if (h.gsoType == kGsoNone) {
    if (frame.size() > cap || slots < 1) return Napi::Number::New(env, 0);
    if ((h.flags & kVnetNeedsCsum) && !CompleteCsum(frame.data(), frame.size(), h.csumStart, h.csumOffset)) {
      return Napi::Number::New(env, 0);
    }
    std::memcpy(slab.Data() + headroom, frame.data(), frame.size());
    sizes.Data()[0] = static_cast<uint32_t>(frame.size());
    return Napi::Number::New(env, 1);
  }
  TcpGso g;
  if (!ParseTcpGso(frame.data(), frame.size(), h.gsoSize, &g) || !GsoTypeMatches(h.gsoType, g) || g.hdrLen + g.mss > cap) {
    return Napi::Number::New(env, 0);
  }
  if (g.segments > slots) throw Napi::RangeError::New(env, "needs " + std::to_string(g.segments) + " slots");
  for (uint32_t k = 0; k < g.segments; k++) {
    sizes.Data()[k] = static_cast<uint32_t>(WriteTcpSegment(frame.data(), g, k, slab.Data() + static_cast<size_t>(k) * slotSize + headroom));
  }
  return Napi::Number::New(env, g.segments);
}

// tapWrite(fd, slab: Buffer, starts: Uint32Array, lens: Uint32Array, count, errOut?: Int32Array, vnetHdr?: boolean,
//          status?: Int32Array): number
//   Writes frames k < count, frame k = slab[starts[k], starts[k] + lens[k]),
//   one write() per frame (a TAP takes one frame per write). Returns how many
//   the kernel took. Stops at EAGAIN/ENOBUFS: the caller counts the rest as
//   drops. EINTR is retried. A frame the kernel refuses for its own sake
//   (EINVAL: shorter than an Ethernet header; EIO, ENOMEM, ...) is skipped
//   and counted: errOut[0] = skipped frames, errOut[1] = last such errno.
//   status (length >= count; common.h: ArgStatus) says which: status[k] = 0
//   when frame k was written, else the errno that kept it out (its own
//   refusal; EAGAIN/ENOBUFS for it and every later frame once the queue was
//   full). The return value counts the zeros; a refused frame may sit before
//   written ones, so only status names the refused ones.
//   Throws only when the fd itself is unusable (EBADF, EBADFD after the
//   device is deleted, ...; see IsFdFatal), with `written` = frames written
//   before, and status[k] = that errno from the frame it hit on. Spans
//   outside the slab throw RangeError before any write.
//   vnetHdr: the TAP was opened with it. Consecutive TCP segments of one
//   flow are coalesced (coalesce.h) and written as one GSO super-frame:
//   writev of its virtio_net_hdr, the head frame (its headers rewritten in
//   place in the slab) and the payload of each further segment, no copy.
//   Every other frame goes out as writev of a zeroed virtio_net_hdr and the
//   frame (the kernel treats it as a plain one). A super-frame counts as its
//   segments in the return value and in errOut. errOut of length >= 4 also
//   gets [2] = super-frames written and [3] = the segments in them.
//   Partial TCP/UDP checksums (offload.h: PartialCsum): a frame written
//   alone, on either kind of TAP, has its own finished in place in the slab
//   before the write (FinishPartialCsum); a segment in a super-frame needs
//   nothing (the super-frame's NEEDS_CSUM). A checksum that is neither right
//   nor partial is written as it is, for the kernel to drop. errOut of
//   length >= 5 gets [4] = the written frames (segments) that had one.
//   A super-frame is one write: its segments share one status (all 0, or
//   all the errno that refused it).
Napi::Value TapWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  Napi::Buffer<uint8_t> slab = ArgBuffer(info, 1, "slab");
  uint32_t count = ArgU32(info, 4, "count");
  Napi::Uint32Array starts = ArgU32Array(info, 2, "starts", count);
  Napi::Uint32Array lens = ArgU32Array(info, 3, "lens", count);
  int32_t* errOut = ArgErrOut(info, 5);
  const size_t errLen = errOut == nullptr ? 0 : info[5].As<Napi::Int32Array>().ElementLength();
  const bool vnetHdr = info.Length() > 6 && info[6].IsBoolean() && info[6].As<Napi::Boolean>().Value();
  int32_t* status = ArgStatus(info, 7, count);
  const SendStamps stamps(StampSide::kTap, count);
  uint8_t vhdr[kVnetHdrLen];
  iovec iov[kMaxGroupSegs + 1];
  CheckSpans(env, slab.Length(), starts.Data(), lens.Data(), count);

  uint8_t* base = slab.Data();
  const uint32_t* st = starts.Data();
  const uint32_t* ln = lens.Data();
  Coalescer plan(base, st, ln, count);
  uint32_t written = 0;
  int32_t skipped = 0, lastErr = 0, groups = 0, grouped = 0, partials = 0;
  auto report = [&]() {
    if (errOut == nullptr) return;
    errOut[0] = skipped;
    errOut[1] = lastErr;
    if (errLen >= 4) {
      errOut[2] = groups;
      errOut[3] = grouped;
    }
    if (errLen >= 5) errOut[4] = partials;
  };
  for (uint32_t k = 0; k < count;) {
    uint32_t n = 1;
    uint32_t partial = 0;
    ssize_t r;
    if (vnetHdr) {
      n = plan.Next(k, vhdr);
      partial = plan.partials();
      iov[0].iov_base = vhdr;
      iov[0].iov_len = kVnetHdrLen;
      iov[1].iov_base = base + st[k];
      iov[1].iov_len = ln[k];
      const uint32_t hdrLen = plan.head().hdrLen;
      for (uint32_t i = 1; i < n; i++) {
        iov[i + 1].iov_base = base + st[k + i] + hdrLen;
        iov[i + 1].iov_len = ln[k + i] - hdrLen;
      }
      do {
        r = writev(fd, iov, static_cast<int>(n + 1));
      } while (r < 0 && errno == EINTR);
    } else {
      PartialCsum p;
      if (FindPartialCsum(base + st[k], ln[k], &p) && FinishPartialCsum(base + st[k], p)) partial = 1;
      do {
        r = write(fd, base + st[k], ln[k]);
      } while (r < 0 && errno == EINTR);
    }
    if (r >= 0) {
      MarkStatus(status, k, n, 0);
      written += n;
      partials += static_cast<int32_t>(partial);
      if (n > 1) {
        groups++;
        grouped += static_cast<int32_t>(n);
      }
      k += n;
      continue;
    }
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
      MarkStatus(status, k, count - k, err);  // not tried: the queue is full
      break;
    }
    if (IsFdFatal(err)) {
      MarkStatus(status, k, count - k, err);
      report();
      Napi::Error e = ErrnoError(env, err, "write", "write to TAP fd " + std::to_string(fd));
      e.Set("written", Napi::Number::New(env, written));
      throw e;
    }
    MarkStatus(status, k, n, err);
    skipped += static_cast<int32_t>(n);
    lastErr = err;
    k += n;
  }
  report();
  return Napi::Number::New(env, written);
}

// vxlanSplitSuper(msg: Buffer, slab: Buffer, slotSize, headroom, first, slots, sizes: Uint32Array, mtu): number
//   A received VXLAN datagram too long for a slot, as the udp readers cut it
//   (read-udp.cc, offload.h: ParseVxlanTcpSuper): when it holds one TCP
//   super-frame (a kernel vxlan peer's TSO across a veth), its segments go
//   to slots first .. first+n-1 (slot i at i * slotSize + headroom), each
//   the VXLAN header + a finished frame, sizes[i] = its length; returns n.
//   0 when it is not that, or it needs more than `slots - first` slots
//   (nothing written). For the dgram port, which receives in JavaScript.
Napi::Value VxlanSplitSuper(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<uint8_t> msg = ArgBuffer(info, 0, "msg");
  Napi::Buffer<uint8_t> slab = ArgBuffer(info, 1, "slab");
  uint32_t slotSize = ArgU32(info, 2, "slotSize");
  uint32_t headroom = ArgU32(info, 3, "headroom");
  uint32_t first = ArgU32(info, 4, "first");
  uint32_t slots = ArgU32(info, 5, "slots");
  Napi::Uint32Array sizes = ArgU32Array(info, 6, "sizes", slots);
  uint32_t mtu = ArgU32(info, 7, "mtu");
  if (headroom >= slotSize || static_cast<uint64_t>(slots) * slotSize > slab.Length()) {
    throw Napi::RangeError::New(env, "slab too small for slots * slotSize, or headroom >= slotSize");
  }
  TcpGso g;
  if (first >= slots || !ParseVxlanTcpSuper(msg.Data(), msg.Length(), mtu, slotSize - headroom, &g) || g.segments > slots - first) {
    return Napi::Number::New(env, 0);
  }
  for (uint32_t k = 0; k < g.segments; k++) {
    uint8_t* slot = slab.Data() + static_cast<size_t>(first + k) * slotSize + headroom;
    std::memcpy(slot, msg.Data(), 8);
    sizes.Data()[first + k] = static_cast<uint32_t>(8 + WriteTcpSegment(msg.Data() + 8, g, k, slot + 8));
  }
  return Napi::Number::New(env, g.segments);
}

// tapFinishPartial(slab: Buffer, starts: Uint32Array, lens: Uint32Array, count): number
//   What tapWrite without vnetHdr does to these frames before writing them,
//   as a pure function (for tests): finishes each partial TCP/UDP checksum
//   in place (offload.h: FindPartialCsum, FinishPartialCsum). Returns how
//   many it finished; every other frame is left byte for byte.
Napi::Value TapFinishPartial(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<uint8_t> slab = ArgBuffer(info, 0, "slab");
  uint32_t count = ArgU32(info, 3, "count");
  Napi::Uint32Array starts = ArgU32Array(info, 1, "starts", count);
  Napi::Uint32Array lens = ArgU32Array(info, 2, "lens", count);
  CheckSpans(env, slab.Length(), starts.Data(), lens.Data(), count);
  uint32_t finished = 0;
  for (uint32_t k = 0; k < count; k++) {
    PartialCsum p;
    uint8_t* f = slab.Data() + starts.Data()[k];
    if (FindPartialCsum(f, lens.Data()[k], &p) && FinishPartialCsum(f, p)) finished++;
  }
  return Napi::Number::New(env, finished);
}

// tapCoalesce(slab: Buffer, starts: Uint32Array, lens: Uint32Array, count): Buffer[]
//   What tapWrite with vnetHdr writes for these frames, as a pure function
//   (for tests): one Buffer per write, virtio_net_hdr + frame. Seals group
//   heads and finishes lone partial checksums in the slab as tapWrite does.
//   Allocates; not for the data path.
Napi::Value TapCoalesce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<uint8_t> slab = ArgBuffer(info, 0, "slab");
  uint32_t count = ArgU32(info, 3, "count");
  Napi::Uint32Array starts = ArgU32Array(info, 1, "starts", count);
  Napi::Uint32Array lens = ArgU32Array(info, 2, "lens", count);
  CheckSpans(env, slab.Length(), starts.Data(), lens.Data(), count);
  uint8_t* base = slab.Data();
  const uint32_t* st = starts.Data();
  const uint32_t* ln = lens.Data();
  Coalescer plan(base, st, ln, count);
  Napi::Array out = Napi::Array::New(env);
  uint8_t vhdr[kVnetHdrLen];
  for (uint32_t k = 0; k < count;) {
    const uint32_t n = plan.Next(k, vhdr);
    std::vector<uint8_t> pkt(vhdr, vhdr + kVnetHdrLen);
    pkt.insert(pkt.end(), base + st[k], base + st[k] + ln[k]);
    for (uint32_t i = 1; i < n; i++) {
      pkt.insert(pkt.end(), base + st[k + i] + plan.head().hdrLen, base + st[k + i] + ln[k + i]);
    }
    out.Set(out.Length(), Napi::Buffer<uint8_t>::Copy(env, pkt.data(), pkt.size()));
    k += n;
  }
  return out;
}

}  // namespace vxtap
