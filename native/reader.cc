// new Reader({fd, kind, slab, slotSize, headroom, slots, sizes, onBatch, onError,
//             names?, aux?, whole?, mtu?})
//   kind: 'tap' | 'tap-vnet' | 'tap-vnet-whole' | 'udp' | 'udp-gro' | 'packet'
//   ('packet': an AF_PACKET capture, packet-capture.h; headroom >= 16)
//   names: Buffer of slots * kEpRecord bytes (udp kinds: each slot's sender
//          as an endpoint record, endpoints.h; FrameBatch.names)
//   aux: Buffer, whole: Uint32Array (tap-vnet-whole: where super-frames are kept)
//   mtu: the overlay's MTU (udp kinds, optional: 0 = the slot's)
//
// Watches fd with a uv_poll (readable) on the Node event loop. On each
// wakeup it asks its source (read-source.h: one per kind, with its contract
// in read-tap.cc / read-udp.cc) to fill up to `slots` slots of the caller's
// slab, slot i at i * slotSize + headroom, at most slotSize - headroom bytes,
// sizes[i] its length. Then it calls onBatch(n) once: one N-API crossing per
// batch, no JS call and no allocation per frame. When the batch was full it
// reads again, at most 8 batches per wakeup, then yields to the event loop
// (the poll is level-triggered: it fires again if data is left). Frames a
// source still holds in its own memory (a super-frame's segments, a GRO
// message's datagrams) are delivered in further batches before yielding: no
// poll would fire for them.
//
// Every frame or datagram read is either delivered (zero-length ones too)
// or counted by the source: the switch folds these counts into its drops
// (switch/switch.ts foldPortDrops), so that every one is accounted for.
// `truncated`: frames longer than a slot, dropped. `offload`: the source's
// work under the port counters' names (PortOffload; zeros for 'tap').
// `counters`: the source's own counters, by name.
//
// Errors: EAGAIN/EINTR are not errors. Transient ones (ENOBUFS, ENOMEM, and
// ICMP-reported ones such as ECONNREFUSED) go to onError(err) with
// err.fatal = false and the reader goes on. Any other errno is fatal: the
// reader stops first, then calls onError(err) with err.fatal = true.
// err.code is the errno name, err.errno the number, err.syscall "read",
// "recvmmsg" or "poll". A TAP whose device is deleted (`ip link del`) fails
// with EBADFD, fatal. (libuv reports EPOLLERR as EBADF and stops the poll;
// the source looks up the real errno: see PollFailed.)
//
// If onBatch or onError throws, the exception goes to the process
// ('uncaughtException') and the reader stops reading for that wakeup.
//
// stop(): stops the poll and closes the handle (uv_poll_stop + uv_close),
// drops the references to the slab, arrays and callbacks, and lets the event
// loop exit. Idempotent; safe inside onBatch (no further frame is read, no
// further call made). It never closes fd: the owner closes it after stop().
// The counters stay readable after stop().
// A reader that is not stopped keeps itself, its slab and the loop alive.
//
// With VXTAP_STAMPS set (stamps.h, the latency budget) each wake-up, read
// and crossing into JS is stamped; otherwise each site is one pointer test.
#include "reader.h"

#include "packet-capture.h"

#include <cerrno>
#include <cstdint>
#include <string>

namespace vxtap {

namespace {

constexpr uint32_t kMaxSlots = 1024;  // UIO_MAXIOV: one recvmmsg takes at most this many
constexpr int kMaxBatchesPerWakeup = 8;

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

// Field checks, with the same errors as common.h's Arg* helpers.
class Options {
 public:
  explicit Options(Napi::Object o) : env_(o.Env()), o_(o) {}

  int Fd() {
    Napi::Value v = o_.Get("fd");
    if (!v.IsNumber()) throw Napi::TypeError::New(env_, "fd must be a number");
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= INT32_MAX) || d != static_cast<double>(static_cast<int32_t>(d))) {
      throw Napi::RangeError::New(env_, "fd must be a non-negative integer");
    }
    return static_cast<int>(d);
  }

  uint32_t U32(const char* name) {
    Napi::Value v = o_.Get(name);
    if (!v.IsNumber()) throw Napi::TypeError::New(env_, std::string(name) + " must be a number");
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= UINT32_MAX) || d != static_cast<double>(static_cast<uint32_t>(d))) {
      throw Napi::RangeError::New(env_, std::string(name) + " must be an integer in 0 .. 2^32-1");
    }
    return static_cast<uint32_t>(d);
  }

  // An optional number: 0 when absent.
  uint32_t OptionalU32(const char* name) {
    Napi::Value v = o_.Get(name);
    return v.IsUndefined() || v.IsNull() ? 0 : U32(name);
  }

  std::string String(const char* name) {
    Napi::Value v = o_.Get(name);
    if (!v.IsString()) throw Napi::TypeError::New(env_, std::string(name) + " must be a string");
    return v.As<Napi::String>().Utf8Value();
  }

  Napi::Buffer<uint8_t> Buffer(const char* name) {
    Napi::Value v = o_.Get(name);
    if (!v.IsBuffer()) throw Napi::TypeError::New(env_, std::string(name) + " must be a Buffer");
    return v.As<Napi::Buffer<uint8_t>>();
  }

  Napi::Uint32Array U32Array(const char* name, size_t minLen) {
    return Typed(name, napi_uint32_array, "Uint32Array", minLen).As<Napi::Uint32Array>();
  }

  Napi::Uint16Array U16Array(const char* name, size_t minLen) {
    return Typed(name, napi_uint16_array, "Uint16Array", minLen).As<Napi::Uint16Array>();
  }

  Napi::Function Function(const char* name) {
    Napi::Value v = o_.Get(name);
    if (!v.IsFunction()) throw Napi::TypeError::New(env_, std::string(name) + " must be a function");
    return v.As<Napi::Function>();
  }

 private:
  Napi::TypedArray Typed(const char* name, napi_typedarray_type type, const char* typeName, size_t minLen) {
    Napi::Value v = o_.Get(name);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
      throw Napi::TypeError::New(env_, std::string(name) + " must be a " + typeName);
    }
    Napi::TypedArray a = v.As<Napi::TypedArray>();
    if (a.ElementLength() < minLen) {
      throw Napi::RangeError::New(env_, std::string(name) + " has " + std::to_string(a.ElementLength()) +
                                            " elements, needs " + std::to_string(minLen));
    }
    return a;
  }

  Napi::Env env_;
  Napi::Object o_;
};

}  // namespace

Napi::Function Reader::Define(Napi::Env env) {
  return DefineClass(env, "Reader",
                     {
                         InstanceMethod<&Reader::Stop>("stop"),
                         InstanceAccessor<&Reader::GetTruncated>("truncated"),
                         InstanceAccessor<&Reader::GetActive>("active"),
                         InstanceAccessor<&Reader::GetOffload>("offload"),
                         InstanceAccessor<&Reader::GetCounters>("counters"),
                     });
}

Reader::Reader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Reader>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "Reader takes one options object");
  Options opt(info[0].As<Napi::Object>());
  fd_ = opt.Fd();
  const std::string kind = opt.String("kind");
  const bool udp = kind == "udp" || kind == "udp-gro";
  if (kind != "tap" && kind != "tap-vnet" && kind != "tap-vnet-whole" && kind != "packet" && !udp) {
    throw Napi::TypeError::New(env, "kind must be 'tap', 'tap-vnet', 'tap-vnet-whole', 'udp', 'udp-gro' or 'packet', got '" + kind + "'");
  }

  // The batch.
  Napi::Buffer<uint8_t> slab = opt.Buffer("slab");
  ReadBatch b;
  b.slotSize = opt.U32("slotSize");
  b.headroom = opt.U32("headroom");
  b.slots = opt.U32("slots");
  if (b.slots < 1 || b.slots > kMaxSlots) {
    throw Napi::RangeError::New(env, "slots must be in 1 .. " + std::to_string(kMaxSlots));
  }
  if (b.headroom >= b.slotSize) throw Napi::RangeError::New(env, "headroom must be smaller than slotSize");
  if (static_cast<uint64_t>(b.slots) * b.slotSize > slab.Length()) {
    throw Napi::RangeError::New(env, "slab has " + std::to_string(slab.Length()) + " bytes, needs slots * slotSize = " +
                                         std::to_string(static_cast<uint64_t>(b.slots) * b.slotSize));
  }
  Napi::Uint32Array sizes = opt.U32Array("sizes", b.slots);
  Napi::Function onBatch = opt.Function("onBatch");
  Napi::Function onError = opt.Function("onError");
  b.slab = slab.Data();
  b.sizes = sizes.Data();
  batch_ = b;
  side_ = udp ? StampSide::kUdp : kind == "packet" ? StampSide::kNone : StampSide::kTap;
  pins_.reserve(4);
  pins_.push_back(Napi::Persistent(slab.As<Napi::Object>()));
  pins_.push_back(Napi::Persistent(sizes.As<Napi::Object>()));

  // The source, with what its kind needs.
  if (udp) {
    Napi::Buffer<uint8_t> names = opt.Buffer("names");
    if (names.Length() < static_cast<size_t>(b.slots) * kEpRecord) {
      throw Napi::RangeError::New(env, "names must hold " + std::to_string(b.slots) + " endpoint records of " +
                                           std::to_string(kEpRecord) + " bytes");
    }
    const UdpSenders s{names.Data()};
    const uint32_t mtu = opt.OptionalU32("mtu");
    pins_.push_back(Napi::Persistent(names.As<Napi::Object>()));
    source_ = kind == "udp" ? NewUdpSource(fd_, b, s, mtu) : NewUdpGroSource(fd_, b, s, mtu);
  } else if (kind == "tap-vnet-whole") {
    Napi::Buffer<uint8_t> aux = opt.Buffer("aux");
    Napi::Uint32Array table = opt.U32Array("whole", static_cast<size_t>(b.slots) * kSfFields);
    if (aux.Length() < WholeAreaMin(b)) throw Napi::RangeError::New(env, "aux must hold at least one 64 KB super-frame");
    pins_.push_back(Napi::Persistent(aux.As<Napi::Object>()));
    pins_.push_back(Napi::Persistent(table.As<Napi::Object>()));
    source_ = NewTapVnetWholeSource(fd_, b, WholeArea{aux.Data(), aux.Length(), SuperFrameTable(table.Data(), table.ElementLength())});
  } else if (kind == "tap-vnet") {
    source_ = NewTapVnetSource(fd_, b);
  } else if (kind == "packet") {
    if (b.headroom < kPacketMetaLen) throw Napi::RangeError::New(env, "headroom must be at least 16 for kind 'packet' (each frame's facts)");
    source_ = NewPacketSource(fd_, b);
  } else {
    source_ = NewTapSource(fd_, b);
  }
  onBatch_ = Napi::Persistent(onBatch);
  onError_ = Napi::Persistent(onError);
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

Napi::Value Reader::GetTruncated(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), source_->Truncated());
}

Napi::Value Reader::GetActive(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), active_); }

// {gsoFrames, segments, csumCompleted, dropped, whole}: the source's work as the port counters name it (PortOffload).
Napi::Value Reader::GetOffload(const Napi::CallbackInfo& info) {
  const PortOffload p = source_->Offload();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("gsoFrames", Napi::Number::New(info.Env(), p.gsoFrames));
  o.Set("segments", Napi::Number::New(info.Env(), p.segments));
  o.Set("csumCompleted", Napi::Number::New(info.Env(), p.csumCompleted));
  o.Set("dropped", Napi::Number::New(info.Env(), p.dropped));
  o.Set("whole", Napi::Number::New(info.Env(), p.whole));
  return o;
}

// The source's own counters: {name: value}.
Napi::Value Reader::GetCounters(const Napi::CallbackInfo& info) {
  SourceCounter c[kMaxSourceCounters];
  const size_t k = source_->Counters(c);
  Napi::Object o = Napi::Object::New(info.Env());
  for (size_t i = 0; i < k; i++) o.Set(c[i].name, Napi::Number::New(info.Env(), c[i].value));
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

// Drops the pins on caller memory and callbacks; the wrapper becomes
// collectable. The source keeps its (now unused) pointers and its counters.
void Reader::Release() {
  pins_.clear();
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
  Stamp(StampPoint::kPollWake, self->side_);
  Napi::HandleScope scope(self->Env());
  Napi::Object keep = self->Value();  // the wrapper outlives any stop() made from JS below
  (void)keep;
  if (status < 0) {
    self->PollFailed(-status);
    return;
  }
  self->Drain();
}

// libuv reports EPOLLERR as UV_EBADF and stops the poll itself. The source
// finds the real error (read-tap.cc, read-udp.cc). One taken off a socket
// (SO_ERROR) that is transient re-arms the poll; anything else is fatal.
void Reader::PollFailed(int err) {
  const PollFault f = source_->OnPollError(err);
  if (f.rearm && IsTransientRead(f.err) && uv_poll_start(&box_->poll, UV_READABLE, OnPoll) == 0) {
    Fail(f.err, f.syscall, false);
    return;
  }
  Fail(f.err, f.syscall, true);
}

void Reader::Drain() {
  for (int round = 0; (round < kMaxBatchesPerWakeup || source_->Pending()) && active_; round++) {
    bool more = false;
    int err = 0;
    const uint32_t n = source_->Fill(&more, &err);
    if (n > 0 && g_stampsRing != nullptr) {
      // A UDP slot holds the VXLAN header (8 bytes) before the inner frame.
      const uint32_t skip = side_ == StampSide::kUdp ? 8 : 0;
      const uint32_t len = batch_.sizes[0];
      StampTake(StampPoint::kReadDone, side_, n, len > skip ? batch_.Slot(0) + skip : nullptr, len > skip ? len - skip : 0);
    }
    if (n > 0 && !Deliver(n)) return;
    if (err != 0) {
      Fail(err, source_->Syscall(), !IsTransientRead(err));
      return;
    }
    if (!more) return;
  }
}

// Calls onBatch(n). Returns false when the reader must not go on (stopped, or JS threw).
bool Reader::Deliver(uint32_t n) {
  Napi::Env env = Env();
  Stamp(StampPoint::kJsCall, side_, n);
  try {
    onBatch_.MakeCallback(Value(), {Napi::Number::New(env, n)}, *ctx_);
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
    return false;
  }
  Stamp(StampPoint::kJsReturn, side_);
  return active_;
}

void Reader::Fail(int err, const char* syscall, bool fatal) {
  Napi::Env env = Env();
  const std::string what = std::string(syscall) + " " + source_->FdKind() + " fd " + std::to_string(fd_);
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
