// new Reader(fd, kind: 'tap' | 'tap-vnet' | 'tap-vnet-whole' | 'udp' | 'udp-gro', slab: Buffer, slotSize, headroom,
//            sizes: Uint32Array, addrs: Uint32Array | null, ports: Uint16Array | null,
//            slots, onBatch: (n: number) => void, onError: (err: Error) => void,
//            aux?: Buffer, whole?: Uint32Array, mtu?: number)
//
// Watches fd with a uv_poll (readable) on the Node event loop. On each
// wakeup it reads up to `slots` frames into the caller's slab, slot i at
// i * slotSize + headroom, at most slotSize - headroom bytes:
//   - tap: one read() per frame until EAGAIN or the slots are full;
//   - udp: one recvmmsg(MSG_DONTWAIT) for up to `slots` (at most 128)
//     datagrams, which also fills addrs[i] (sender IPv4, host-order u32)
//     and ports[i] (sender port).
//   - tap-vnet: a TAP opened with IFF_VNET_HDR (offloads on): each read
//     gives a virtio_net_hdr (10 bytes, offload.h) and a frame. A frame
//     without GSO goes straight into the slot (readv: header, slot, scratch);
//     with NEEDS_CSUM its checksum is completed at csum_start + csum_offset.
//     A TCP GSO super-frame (TCPv4 or TCPv6, up to 64 KB) is assembled in a scratch buffer
//     and cut into gso_size segments, one full frame per slot
//     (WriteTcpSegment). Segments that do not fit this batch are kept and
//     fill the next batch first: nothing is dropped for lack of slots. Other
//     GSO types (never asked for: only TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 is set) and
//     frames that do not parse are dropped and counted (offload.dropped).
//   - tap-vnet-whole (args aux, whole): as tap-vnet, but a super-frame is
//     kept whole in the caller's aux buffer and only its segment 0 goes in
//     the slot; whole[4i..] says where it is (FillTapVnetWhole). The UDP
//     send cuts it (udp-pool.cc).
//   - udp-gro: udp with UDP_GRO on the socket: one message may hold many
//     datagrams (a UDP_GRO cmsg gives their size); they are cut into slots
//     (FillUdpMsgs), and those that do not fit fill the next batch. A
//     zero-length datagram gets an empty slot, as in the udp kind.
//   - udp and udp-gro: recvmmsg goes into message buffers of 64 KB, then
//     each datagram is copied into its slot. A datagram too long for a slot
//     that holds one VXLAN TCP super-frame (a kernel vxlan peer's TSO, passed
//     whole by a veth: offload.h, ParseVxlanTcpSuper) is cut into finished
//     segments, each behind a copy of the VXLAN header, one per slot (MSS:
//     the overlay MTU, the optional 14th argument `mtu`, else the slot);
//     counted as offload.gsoFrames / segments. Any other is truncated.
// sizes[i] is the frame length. Then it calls onBatch(n) once: one N-API
// crossing per batch, no JS call and no allocation per frame. When the batch
// was full it reads again, at most 8 batches per wakeup, then yields to the
// event loop (the poll is level-triggered: it fires again if data is left).
// tap-vnet: segments of a super-frame still pending after 8 batches are
// delivered in further batches before yielding (they are in our memory, not
// in the fd, so no poll would fire for them).
//
// Every frame or datagram read is either delivered (zero-length ones too)
// or counted here: the switch folds these counts into its drops
// (switch/switch.ts foldPortDrops), so that every one is accounted for.
// Truncation: a frame or datagram longer than a slot is dropped, not
// delivered, and counted in `reader.truncated` (a TAP read is a readv into
// the slot plus one spare byte, since the kernel returns only the bytes it
// copied; recvmmsg flags MSG_TRUNC). A udp batch is compacted
// so the delivered slots stay 0 .. n-1.
//
// Errors: EAGAIN/EINTR are not errors. Transient ones (ENOBUFS, ENOMEM, and
// ICMP-reported ones such as ECONNREFUSED) go to onError(err) with
// err.fatal = false and the reader goes on. Any other errno is fatal: the
// reader stops first, then calls onError(err) with err.fatal = true.
// err.code is the errno name, err.errno the number, err.syscall "read",
// "recvmmsg" or "poll". A TAP whose device is deleted (`ip link del`) fails
// with EBADFD, fatal. (libuv reports EPOLLERR as EBADF and stops the poll;
// the reader looks up the real errno: see PollFailed.)
//
// If onBatch or onError throws, the exception goes to the process
// ('uncaughtException') and the reader stops reading for that wakeup.
//
// stop(): stops the poll and closes the handle (uv_poll_stop + uv_close),
// drops the references to the slab, arrays and callbacks, and lets the event
// loop exit. Idempotent; safe inside onBatch (no further frame is read, no
// further call made). It never closes fd: the owner closes it after stop().
// A reader that is not stopped keeps itself, its slab and the loop alive.
#include "reader.h"

#include <netinet/udp.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vxtap {

namespace {

constexpr uint32_t kMaxSlots = 1024;  // UIO_MAXIOV: one recvmmsg takes at most this many
constexpr int kMaxBatchesPerWakeup = 8;
constexpr size_t kMaxGsoFrame = 65536 + 256;  // a TAP's GSO frames are at most 64 KB + headers
constexpr uint32_t kGroMsgs = 8;              // udp-gro: messages per recvmmsg
constexpr uint32_t kUdpMsgs = 128;            // udp: at most this many messages per recvmmsg
constexpr size_t kGroBufSize = 65536;         // a UDP payload is at most 65507 bytes
constexpr size_t kGroCtl = CMSG_SPACE(sizeof(int));

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

bool IsTransientRead(int err) {
  switch (err) {
    case ENOBUFS:
    case ENOMEM:
    case ECONNREFUSED:
    case ECONNRESET:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
      return true;
    default:
      return false;
  }
}

}  // namespace

Napi::Function Reader::Define(Napi::Env env) {
  return DefineClass(env, "Reader",
                     {
                         InstanceMethod<&Reader::Stop>("stop"),
                         InstanceAccessor<&Reader::GetTruncated>("truncated"),
                         InstanceAccessor<&Reader::GetActive>("active"),
                         InstanceAccessor<&Reader::GetOffload>("offload"),
                     });
}

Reader::Reader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Reader>(info) {
  Napi::Env env = info.Env();
  fd_ = ArgFd(info, 0);
  std::string kind = ArgString(info, 1, "kind");
  if (kind == "tap") {
    kind_ = Kind::kTap;
  } else if (kind == "tap-vnet") {
    kind_ = Kind::kTapVnet;
  } else if (kind == "tap-vnet-whole") {
    kind_ = Kind::kTapVnetWhole;
  } else if (kind == "udp") {
    kind_ = Kind::kUdp;
  } else if (kind == "udp-gro") {
    kind_ = Kind::kUdpGro;
  } else {
    throw Napi::TypeError::New(env, "kind must be 'tap', 'tap-vnet', 'tap-vnet-whole', 'udp' or 'udp-gro', got '" + kind + "'");
  }
  Napi::Buffer<uint8_t> slab = ArgBuffer(info, 2, "slab");
  slotSize_ = ArgU32(info, 3, "slotSize");
  headroom_ = ArgU32(info, 4, "headroom");
  slots_ = ArgU32(info, 8, "slots");
  if (slots_ < 1 || slots_ > kMaxSlots) {
    throw Napi::RangeError::New(env, "slots must be in 1 .. " + std::to_string(kMaxSlots));
  }
  if (headroom_ >= slotSize_) throw Napi::RangeError::New(env, "headroom must be smaller than slotSize");
  if (static_cast<uint64_t>(slots_) * slotSize_ > slab.Length()) {
    throw Napi::RangeError::New(env, "slab has " + std::to_string(slab.Length()) + " bytes, needs slots * slotSize = " +
                                         std::to_string(static_cast<uint64_t>(slots_) * slotSize_));
  }
  Napi::Uint32Array sizes = ArgU32Array(info, 5, "sizes", slots_);
  if (!info[9].IsFunction() || !info[10].IsFunction()) {
    throw Napi::TypeError::New(env, "onBatch and onError must be functions");
  }

  slab_ = slab.Data();
  sizes_ = sizes.Data();
  slabRef_ = Napi::Persistent(slab.As<Napi::Object>());
  sizesRef_ = Napi::Persistent(sizes.As<Napi::Object>());
  const bool udp = kind_ == Kind::kUdp || kind_ == Kind::kUdpGro;
  if (udp) {
    Napi::Uint32Array addrs = ArgU32Array(info, 6, "addrs", slots_);
    Napi::Uint16Array ports = ArgU16Array(info, 7, "ports", slots_);
    addrs_ = addrs.Data();
    ports_ = ports.Data();
    addrsRef_ = Napi::Persistent(addrs.As<Napi::Object>());
    portsRef_ = Napi::Persistent(ports.As<Napi::Object>());
  }
  if (udp) {
    groMsgCount_ = kind_ == Kind::kUdpGro ? kGroMsgs : (slots_ < kUdpMsgs ? slots_ : kUdpMsgs);
    groBuf_.reset(new uint8_t[static_cast<size_t>(groMsgCount_) * kGroBufSize]);  // not zeroed: committed as used
    groIov_.resize(groMsgCount_);
    groMsgs_.resize(groMsgCount_);
    groNames_.resize(groMsgCount_);
    groCtl_.resize(static_cast<size_t>(groMsgCount_) * kGroCtl);
    groSeg_.resize(groMsgCount_);
    for (uint32_t i = 0; i < groMsgCount_; i++) {
      groIov_[i].iov_base = groBuf_.get() + static_cast<size_t>(i) * kGroBufSize;
      groIov_[i].iov_len = kGroBufSize;
      std::memset(&groMsgs_[i], 0, sizeof groMsgs_[i]);
      groMsgs_[i].msg_hdr.msg_name = &groNames_[i];
      groMsgs_[i].msg_hdr.msg_iov = &groIov_[i];
      groMsgs_[i].msg_hdr.msg_iovlen = 1;
    }
    if (info.Length() > 13 && info[13].IsNumber()) mtu_ = info[13].As<Napi::Number>().Uint32Value();
  }
  if (kind_ == Kind::kTapVnetWhole) {
    Napi::Buffer<uint8_t> aux = ArgBuffer(info, 11, "aux");
    Napi::Uint32Array table = ArgU32Array(info, 12, "whole", static_cast<size_t>(slots_) * 4);
    if (aux.Length() < static_cast<size_t>(slotSize_ - headroom_) + kMaxGsoFrame + 1) {
      throw Napi::RangeError::New(env, "aux must hold at least one 64 KB super-frame");
    }
    aux_ = aux.Data();
    auxSize_ = aux.Length();
    wholeTable_ = table.Data();
    auxRef_ = Napi::Persistent(aux.As<Napi::Object>());
    wholeRef_ = Napi::Persistent(table.As<Napi::Object>());
  }
  if (kind_ == Kind::kTapVnet) {
    // The slot part, then room for the rest of a 64 KB super-frame, then the spare byte.
    scratch_.resize(static_cast<size_t>(slotSize_ - headroom_) + kMaxGsoFrame + 1);
  }
  onBatch_ = Napi::Persistent(info[9].As<Napi::Function>());
  onError_ = Napi::Persistent(info[10].As<Napi::Function>());
  ctx_ = std::make_unique<Napi::AsyncContext>(env, "vxtap.Reader", info.This().As<Napi::Object>());

  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "no uv event loop");
  PollBox* box = new PollBox;
  int r = uv_poll_init(loop, &box->poll, fd_);
  if (r < 0) {
    delete box;
    throw ErrnoError(env, -r, "uv_poll_init", "watch fd " + std::to_string(fd_));
  }
  box->poll.data = box;
  r = uv_poll_start(&box->poll, UV_READABLE, OnPoll);
  if (r < 0) {
    CloseBox(box);
    throw ErrnoError(env, -r, "uv_poll_start", "watch fd " + std::to_string(fd_));
  }
  // If the environment ends (process exit, a Worker terminated) while this
  // reader is active, the handle must be closed before Node unloads the addon.
  if (napi_add_async_cleanup_hook(env, OnEnvTeardown, box, &box->hook) != napi_ok) box->hook = nullptr;
  box->owner = this;
  box_ = box;
  active_ = true;
  Ref();  // while polling, the wrapper (and with it the slab) cannot be collected
  refd_ = true;
}

Reader::~Reader() { Halt(); }

Napi::Value Reader::Stop(const Napi::CallbackInfo& info) {
  Halt();
  Release();
  return info.Env().Undefined();
}

Napi::Value Reader::GetTruncated(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), truncated_); }

Napi::Value Reader::GetActive(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), active_); }

// {gsoFrames, segments, csumCompleted, dropped, whole}: tap-vnet's; udp-gro's and udp's
// gsoFrames / segments: coalesced messages and super-datagrams, and the datagrams cut from them.
Napi::Value Reader::GetOffload(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("gsoFrames", Napi::Number::New(info.Env(), gsoFrames_));
  o.Set("segments", Napi::Number::New(info.Env(), segments_));
  o.Set("csumCompleted", Napi::Number::New(info.Env(), csumCompleted_));
  o.Set("dropped", Napi::Number::New(info.Env(), offloadDropped_));
  o.Set("whole", Napi::Number::New(info.Env(), whole_));
  return o;
}

// Stops watching; touches no JS. Safe from a destructor.
void Reader::Halt() {
  active_ = false;
  if (box_ == nullptr) return;
  PollBox* box = box_;
  box_ = nullptr;
  box->owner = nullptr;
  CloseBox(box);
}

// Stops the poll and closes the handle; OnClosed frees the box later.
void Reader::CloseBox(PollBox* box) {
  if (box->closing) return;
  box->closing = true;
  uv_poll_stop(&box->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&box->poll), OnClosed);
}

// Drops the pins on caller memory and callbacks; the wrapper becomes collectable.
void Reader::Release() {
  slab_ = nullptr;
  sizes_ = nullptr;
  addrs_ = nullptr;
  ports_ = nullptr;
  slabRef_.Reset();
  sizesRef_.Reset();
  addrsRef_.Reset();
  portsRef_.Reset();
  auxRef_.Reset();
  wholeRef_.Reset();
  aux_ = nullptr;
  wholeTable_ = nullptr;
  onBatch_.Reset();
  onError_.Reset();
  if (refd_) {
    refd_ = false;
    Unref();
  }
}

// The handle is closed: tell Node the cleanup hook is done (it waits for
// that before tearing the environment down), then free the box.
void Reader::OnClosed(uv_handle_t* handle) {
  PollBox* box = static_cast<PollBox*>(handle->data);
  if (box->hook != nullptr) napi_remove_async_cleanup_hook(box->hook);
  delete box;
}

// The environment is ending with this handle still open.
void Reader::OnEnvTeardown(napi_async_cleanup_hook_handle /*hook*/, void* arg) {
  PollBox* box = static_cast<PollBox*>(arg);
  if (box->owner != nullptr) {
    box->owner->active_ = false;
    box->owner->box_ = nullptr;
    box->owner = nullptr;
  }
  CloseBox(box);  // no-op if already closing: its OnClosed removes the hook
}

void Reader::OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  Reader* self = static_cast<PollBox*>(handle->data)->owner;
  if (self == nullptr || !self->active_) return;
  Napi::HandleScope scope(self->Env());
  Napi::Object keep = self->Value();  // the wrapper outlives any stop() made from JS below
  (void)keep;
  if (status < 0) {
    self->PollFailed(-status);
    return;
  }
  self->Drain();
}

// libuv reports EPOLLERR as UV_EBADF and stops the poll itself. Find the real
// error: a TAP whose device was deleted fails a read with EBADFD (a
// zero-length read consumes no frame); a socket has it in SO_ERROR (which
// clears it). A transient socket error re-arms the poll; anything else is fatal.
void Reader::PollFailed(int err) {
  const char* syscall = "poll";
  if (kind_ == Kind::kTap || kind_ == Kind::kTapVnet || kind_ == Kind::kTapVnetWhole) {
    if (read(fd_, &spare_, 0) < 0 && errno != EAGAIN && errno != EINTR) {
      err = errno;
      syscall = "read";
    }
  } else {
    int soErr = 0;
    socklen_t len = sizeof soErr;
    if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soErr, &len) == 0 && soErr != 0) {
      err = soErr;
      syscall = "recvmmsg";
      if (IsTransientRead(soErr) && uv_poll_start(&box_->poll, UV_READABLE, OnPoll) == 0) {
        Fail(err, syscall, false);
        return;
      }
    }
  }
  Fail(err, syscall, true);
}

void Reader::Drain() {
  // Segments of a super-frame left over are in our memory, not in the fd:
  // the poll would not fire for them, so they are delivered before leaving.
  for (int round = 0; (round < kMaxBatchesPerWakeup || pending_) && active_; round++) {
    bool more = false;
    int err = 0;
    uint32_t n = kind_ == Kind::kTap ? FillTap(&more, &err)
                 : kind_ == Kind::kTapVnet ? FillTapVnet(&more, &err)
                 : kind_ == Kind::kTapVnetWhole ? FillTapVnetWhole(&more, &err)
                 : FillUdpMsgs(&more, &err);
    if (n > 0 && !Deliver(n)) return;
    if (err != 0) {
      const bool udp = kind_ == Kind::kUdp || kind_ == Kind::kUdpGro;
      Fail(err, udp ? "recvmmsg" : "read", !IsTransientRead(err));
      return;
    }
    if (!more) return;
  }
}

// read() per frame. `more` is true when it stopped for lack of slots, not EAGAIN.
uint32_t Reader::FillTap(bool* more, int* err) {
  const size_t cap = slotSize_ - headroom_;
  uint32_t n = 0;
  // A TAP read() returns only what fits, so the slot is followed by one
  // spare byte: a frame that reaches it is longer than the slot.
  iovec iov[2];
  iov[0].iov_len = cap;
  iov[1].iov_base = &spare_;
  iov[1].iov_len = 1;
  // Truncated frames do not take a slot; the cap on attempts bounds a wakeup.
  for (uint32_t tries = 0; n < slots_ && tries < 2 * slots_; tries++) {
    iov[0].iov_base = slab_ + static_cast<size_t>(n) * slotSize_ + headroom_;
    ssize_t r = readv(fd_, iov, 2);
    if (r < 0) {
      int e = errno;
      if (e == EINTR) continue;
      if (e != EAGAIN && e != EWOULDBLOCK) *err = e;
      return n;
    }
    if (static_cast<size_t>(r) > cap) {
      truncated_++;
      continue;
    }
    sizes_[n++] = static_cast<uint32_t>(r);
  }
  *more = true;
  return n;
}

// One read from a vnet TAP into iov (virtio_net_hdr, slot, the rest).
// kFrame: a frame of *len bytes with header *h; kSkip: a read that was
// counted and dropped (or EINTR); kStop: nothing more now (*err set on a
// real error).
Reader::VnetRead Reader::ReadVnet(iovec* iov, VnetHdr* h, size_t* len, int* err) {
  const size_t cap = slotSize_ - headroom_;
  const ssize_t r = readv(fd_, iov, 3);
  if (r < 0) {
    const int e = errno;
    if (e == EINTR) return VnetRead::kSkip;
    if (e != EAGAIN && e != EWOULDBLOCK) *err = e;
    return VnetRead::kStop;
  }
  if (static_cast<size_t>(r) < kVnetHdrLen) {
    offloadDropped_++;
    return VnetRead::kSkip;
  }
  *len = static_cast<size_t>(r) - kVnetHdrLen;
  if (*len > cap + kMaxGsoFrame) {
    truncated_++;
    return VnetRead::kSkip;
  }
  *h = ParseVnetHdr(vhdr_);
  return VnetRead::kFrame;
}

// A frame without GSO in its slot: too long for it (truncated), or its
// partial checksum completed when NEEDS_CSUM. True when it is ready.
bool Reader::FinishPlain(uint8_t* slot, size_t len, const VnetHdr& h) {
  if (len > slotSize_ - headroom_) {
    truncated_++;
    return false;
  }
  if ((h.flags & kVnetNeedsCsum) != 0) {
    if (!CompleteCsum(slot, len, h.csumStart, h.csumOffset)) {
      offloadDropped_++;
      return false;
    }
    csumCompleted_++;
  }
  return true;
}

// Emits segments of the pending super-frame into slots n.. while there are
// free slots. Returns the new slot count; pending_ is false when all are out.
uint32_t Reader::EmitPending(uint32_t n) {
  const TcpGso& g = pendingGso_;
  while (pendingNext_ < g.segments && n < slots_) {
    uint8_t* dst = slab_ + static_cast<size_t>(n) * slotSize_ + headroom_;
    sizes_[n++] = static_cast<uint32_t>(WriteTcpSegment(scratch_.data(), g, pendingNext_++, dst));
    segments_++;
  }
  pending_ = pendingNext_ < g.segments;
  return n;
}

// read() per frame from a vnet TAP (see the top of this file). `more` is true
// when it stopped for lack of slots, not EAGAIN.
uint32_t Reader::FillTapVnet(bool* more, int* err) {
  const size_t cap = slotSize_ - headroom_;
  uint32_t n = 0;
  if (pending_) {
    n = EmitPending(0);
    if (pending_) {
      *more = true;
      return n;
    }
  }
  uint8_t* scratch = scratch_.data();
  iovec iov[3];
  iov[0].iov_base = vhdr_;
  iov[0].iov_len = kVnetHdrLen;
  iov[1].iov_len = cap;
  iov[2].iov_base = scratch + cap;
  iov[2].iov_len = scratch_.size() - cap;  // kMaxGsoFrame + the spare byte
  for (uint32_t tries = 0; n < slots_ && tries < 2 * slots_; tries++) {
    uint8_t* slot = slab_ + static_cast<size_t>(n) * slotSize_ + headroom_;
    iov[1].iov_base = slot;
    VnetHdr h;
    size_t len = 0;
    const VnetRead got = ReadVnet(iov, &h, &len, err);
    if (got == VnetRead::kStop) return n;
    if (got == VnetRead::kSkip) continue;
    if (h.gsoType == kGsoNone) {
      if (FinishPlain(slot, len, h)) sizes_[n++] = static_cast<uint32_t>(len);
      continue;
    }
    // A super-frame: make it contiguous in scratch, then cut it.
    std::memcpy(scratch, slot, len < cap ? len : cap);
    if (!ParseTcpGso(scratch, len, h.gsoSize, &pendingGso_) || !GsoTypeMatches(h.gsoType, pendingGso_) ||
        pendingGso_.hdrLen + pendingGso_.mss > cap) {
      offloadDropped_++;
      continue;
    }
    gsoFrames_++;
    pendingNext_ = 0;
    pending_ = true;
    n = EmitPending(n);
    if (pending_) break;
  }
  *more = true;
  return n;
}

// tap-vnet-whole: as FillTapVnet, but a super-frame is not cut here. It is
// read straight into the aux buffer and kept whole; its slot gets segment 0
// as a finished frame (what JS decides on: the other segments share its
// headers), and whole_[4n..] = {aux offset, length, MSS, segments}: the send
// (udp-pool.cc) cuts it, taking each payload in place. The batch ends when
// aux has no room for another 64 KB.
uint32_t Reader::FillTapVnetWhole(bool* more, int* err) {
  const size_t cap = slotSize_ - headroom_;
  const size_t need = cap + kMaxGsoFrame + 1;  // the largest read, and its spare byte
  uint32_t n = 0;
  auxPos_ = 0;
  iovec iov[3];
  iov[0].iov_base = vhdr_;
  iov[0].iov_len = kVnetHdrLen;
  iov[1].iov_len = cap;
  for (uint32_t tries = 0; n < slots_ && tries < 2 * slots_; tries++) {
    if (auxSize_ - auxPos_ < need) break;
    uint8_t* slot = slab_ + static_cast<size_t>(n) * slotSize_ + headroom_;
    uint8_t* whole = aux_ + auxPos_;
    iov[1].iov_base = slot;
    iov[2].iov_base = whole + cap;  // the rest of a super-frame lands behind where its head will be copied
    iov[2].iov_len = need - cap;
    VnetHdr h;
    size_t len = 0;
    const VnetRead got = ReadVnet(iov, &h, &len, err);
    if (got == VnetRead::kStop) return n;
    if (got == VnetRead::kSkip) continue;
    uint32_t* w = wholeTable_ + static_cast<size_t>(n) * 4;
    if (h.gsoType == kGsoNone) {
      if (!FinishPlain(slot, len, h)) continue;
      w[0] = w[1] = w[2] = w[3] = 0;
      sizes_[n++] = static_cast<uint32_t>(len);
      continue;
    }
    std::memcpy(whole, slot, len < cap ? len : cap);
    TcpGso g;
    if (!ParseTcpGso(whole, len, h.gsoSize, &g) || !GsoTypeMatches(h.gsoType, g) || g.hdrLen + g.mss > cap) {
      offloadDropped_++;
      continue;
    }
    gsoFrames_++;
    if (g.segments == 1) {  // nothing to cut: a finished frame like any other
      sizes_[n] = static_cast<uint32_t>(WriteTcpSegment(whole, g, 0, slot));
      w[0] = w[1] = w[2] = w[3] = 0;
      n++;
      continue;
    }
    whole_++;
    sizes_[n] = static_cast<uint32_t>(WriteTcpSegment(whole, g, 0, slot));
    w[0] = static_cast<uint32_t>(auxPos_);
    w[1] = static_cast<uint32_t>(len);
    w[2] = g.mss;
    w[3] = g.segments;
    n++;
    auxPos_ += (len + 63) & ~static_cast<size_t>(63);
  }
  *more = true;
  return n;
}

// One recvmmsg for all slots. `more` is true when it filled every slot.
// Cuts the received messages into slots n.. while there are free slots. A
// message holds datagrams of groSeg_ bytes (the last may be shorter), all
// from one sender, or one VXLAN TCP super-frame to cut into segments.
// Returns the new slot count; sets pending_ while some are left.
uint32_t Reader::SplitGro(uint32_t n) {
  const size_t cap = slotSize_ - headroom_;
  while (groNext_ < groCount_ && n < slots_) {
    const uint32_t i = groNext_;
    const uint32_t len = groMsgs_[i].msg_len;
    if (len == 0 && groSeg_[i] != 0) {
      // A zero-length datagram is a datagram: it gets a slot of its own, so
      // that the switch counts it (a drop) like any other.
      sizes_[n] = 0;
      addrs_[n] = ntohl(groNames_[i].sin_addr.s_addr);
      ports_[n] = ntohs(groNames_[i].sin_port);
      n++;
      groNext_++;
      groOff_ = 0;
      continue;
    }
    const uint8_t* msg = groBuf_.get() + static_cast<size_t>(i) * kGroBufSize;
    if (groOff_ >= len) {
      groNext_++;
      groOff_ = 0;
      continue;
    }
    const uint32_t seg = groSeg_[i];
    if (groOff_ == 0 && seg >= len && len > cap) {
      // One datagram longer than a slot: a kernel vxlan peer's TSO super-frame, passed whole by a veth?
      if (superK_ == 0) {
        if (!ParseVxlanTcpSuper(msg, len, mtu_, cap, &super_)) {
          truncated_++;
          groOff_ = len;
          continue;
        }
        gsoFrames_++;
      }
      uint8_t* slot = slab_ + static_cast<size_t>(n) * slotSize_ + headroom_;
      std::memcpy(slot, msg, 8);  // the VXLAN header, for each segment
      sizes_[n] = static_cast<uint32_t>(8 + WriteTcpSegment(msg + 8, super_, superK_, slot + 8));
      addrs_[n] = ntohl(groNames_[i].sin_addr.s_addr);
      ports_[n] = ntohs(groNames_[i].sin_port);
      n++;
      segments_++;
      if (++superK_ == super_.segments) {
        superK_ = 0;
        groOff_ = len;
      }
      continue;
    }
    const uint32_t chunk = len - groOff_ < seg ? len - groOff_ : seg;
    if (chunk <= cap) {
      std::memcpy(slab_ + static_cast<size_t>(n) * slotSize_ + headroom_, msg + groOff_, chunk);
      sizes_[n] = chunk;
      addrs_[n] = ntohl(groNames_[i].sin_addr.s_addr);
      ports_[n] = ntohs(groNames_[i].sin_port);
      n++;
      if (seg < len) segments_++;
    } else {
      truncated_++;
    }
    groOff_ += chunk;
  }
  pending_ = groNext_ < groCount_;
  return n;
}

// udp, udp-gro: one recvmmsg of up to groMsgCount_ messages, each cut into
// slots; datagrams that do not fit this batch fill the next. `more` is true
// when some are left or every message buffer was used.
uint32_t Reader::FillUdpMsgs(bool* more, int* err) {
  uint32_t n = SplitGro(0);
  if (pending_) {
    *more = true;
    return n;
  }
  for (uint32_t i = 0; i < groMsgCount_; i++) {
    msghdr& h = groMsgs_[i].msg_hdr;
    h.msg_namelen = sizeof(sockaddr_in);
    h.msg_control = groCtl_.data() + static_cast<size_t>(i) * kGroCtl;
    h.msg_controllen = kGroCtl;
    h.msg_flags = 0;
  }
  int r;
  do {
    r = recvmmsg(fd_, groMsgs_.data(), groMsgCount_, MSG_DONTWAIT, nullptr);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    int e = errno;
    if (e != EAGAIN && e != EWOULDBLOCK) *err = e;
    return n;
  }
  for (int i = 0; i < r; i++) {
    msghdr& h = groMsgs_[i].msg_hdr;
    uint32_t seg = groMsgs_[i].msg_len;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
        int g = 0;
        std::memcpy(&g, CMSG_DATA(c), sizeof g);
        if (g > 0) seg = static_cast<uint32_t>(g);
      }
    }
    if (h.msg_flags & MSG_TRUNC) {  // cannot happen with 64 KB buffers; counted if it does
      truncated_++;
      groMsgs_[i].msg_len = 0;
      groSeg_[i] = 0;  // 0: nothing left to deliver (SplitGro)
      continue;
    }
    if (seg == 0) seg = 1;  // a zero-length datagram: one empty slot
    if (seg < groMsgs_[i].msg_len) gsoFrames_++;
    groSeg_[i] = seg;
  }
  groCount_ = static_cast<uint32_t>(r);
  groNext_ = 0;
  groOff_ = 0;
  n = SplitGro(n);
  *more = pending_ || static_cast<uint32_t>(r) == groMsgCount_;
  return n;
}

// Calls onBatch(n). Returns false when the reader must not go on (stopped, or JS threw).
bool Reader::Deliver(uint32_t n) {
  Napi::Env env = Env();
  try {
    onBatch_.MakeCallback(Value(), {Napi::Number::New(env, n)}, *ctx_);
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
    return false;
  }
  return active_;
}

void Reader::Fail(int err, const char* syscall, bool fatal) {
  Napi::Env env = Env();
  const bool udp = kind_ == Kind::kUdp || kind_ == Kind::kUdpGro;
  std::string what = std::string(syscall) + (udp ? " UDP fd " : " TAP fd ") + std::to_string(fd_);
  Napi::Error e = ErrnoError(env, err, syscall, what);
  e.Set("fatal", Napi::Boolean::New(env, fatal));
  Napi::Function onError = onError_.Value();
  if (fatal) {
    Halt();
    Release();
  }
  try {
    onError.MakeCallback(Value(), {e.Value()}, *ctx_);
  } catch (const Napi::Error& x) {
    napi_fatal_exception(env, x.Value());
  }
}

}  // namespace vxtap
