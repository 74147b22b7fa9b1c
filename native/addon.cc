// The vxtap addon: the hot buffer path of TAP and UDP I/O.
//
// Contracts are written next to each function (tap.cc, udp.cc, udp-pool.cc
// with pool-send.h, endpoints.h,
// reader.cc with its sources read-tap.cc / read-udp.cc, netlink.cc,
// notify.cc) and mirrored in src/io/native.ts. Rules common to all:
//   - Every fd is close-on-exec, and nonblocking except the rtnetlink socket
//     (netlink.cc says why).
//   - Errors are Error objects with code = errno name (strerrorname_np),
//     errno = number, syscall = the call, message "<what>: <text> (<NAME>)".
//     Bad arguments throw TypeError / RangeError.
//   - Memory (slab, typed arrays) is the caller's; nothing is allocated per
//     frame and JS is called once per batch.
#include <unistd.h>

#include <cerrno>

#include "io.h"
#include "packet-capture.h"
#include "reader.h"
#include "endpoints.h"
#include "pool-send.h"
#include "stamps.h"
#include "super-frames.h"
#include "udp-pool.h"

namespace vxtap {

// close(fd): closes the fd. Throws EBADF if it is not open (the JS wrapper
// makes sure each fd is closed exactly once, after its Reader is stopped).
// EINTR counts as closed: Linux releases the fd before it can occur.
static Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  if (close(fd) != 0 && errno != EINTR) throw ErrnoError(env, errno, "close", "close fd " + std::to_string(fd));
  return env.Undefined();
}

// errnoName(n): string — "EBUSY" for 16, "ERRNO_<n>" when unknown.
static Napi::Value ErrnoNameJs(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), ErrnoName(static_cast<int>(ArgU32(info, 0, "errno"))));
}

// superFrameFields: the super-frame record's field indices as this addon
// reads and writes them (super-frames.h), so that a test can hold
// src/io/super-frames.ts to them.
static Napi::Object SuperFrameFields(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("offset", kSfOffset);
  o.Set("length", kSfLength);
  o.Set("mss", kSfMss);
  o.Set("segments", kSfSegments);
  o.Set("fields", kSfFields);
  return o;
}

// endpointFields: the endpoint record's size, offsets and families as this
// addon uses them (endpoints.h), so that a test can hold src/io/endpoints.ts to them.
static Napi::Object EndpointFields(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("record", kEpRecord);
  o.Set("family", kEpFamily);
  o.Set("port", kEpPort);
  o.Set("addr4", kEpAddr4);
  o.Set("flowinfo6", kEpFlowinfo6);
  o.Set("addr6", kEpAddr6);
  o.Set("scope6", kEpScope6);
  o.Set("afInet", static_cast<uint32_t>(AF_INET));
  o.Set("afInet6", static_cast<uint32_t>(AF_INET6));
  return o;
}

// poolSendFields: the PoolSend request's slot indices (pool-send.h), for src/io/udp-pool.ts's PS_* to be checked against.
static Napi::Object PoolSendFields(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  const std::pair<const char*, uint32_t> refs[] = {
      {"fds", kPsFds}, {"slab", kPsSlab}, {"starts", kPsStarts}, {"lens", kPsLens}, {"endpoints", kPsEndpoints},
      {"eps", kPsEps}, {"srcPorts", kPsSrcPorts}, {"aux", kPsAux}, {"whole", kPsWhole}, {"wholeOf", kPsWholeOf},
      {"errOut", kPsErrOut}, {"gsoOut", kPsGsoOut}, {"status", kPsStatus}, {"scalars", kPsScalars}, {"refs", kPsRefs},
      {"count", kPsCount}, {"gso", kPsGso}, {"portMin", kPsPortMin}, {"scalarSlots", kPsScalarSlots}};
  for (const auto& [name, v] : refs) o.Set(name, v);
  return o;
}

// stamp(point, side, frames): one stamp from JavaScript (stamps.h; the JS
// batch handler's entry and exit). Only called when `stamps` is true.
static Napi::Value StampJs(const Napi::CallbackInfo& info) {
  const uint32_t point = info[0].As<Napi::Number>().Uint32Value();
  const uint32_t side = info[1].As<Napi::Number>().Uint32Value();
  const uint32_t frames = info.Length() > 2 ? info[2].As<Napi::Number>().Uint32Value() : 0;
  Stamp(static_cast<StampPoint>(point), static_cast<StampSide>(side), frames);
  return info.Env().Undefined();
}

}  // namespace vxtap

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace vxtap;
  StampsInit();
  exports.Set("stamps", Napi::Boolean::New(env, g_stampsRing != nullptr));
  exports.Set("stamp", Napi::Function::New(env, StampJs, "stamp"));
  exports.Set("tapOpen", Napi::Function::New(env, TapOpen, "tapOpen"));
  exports.Set("tapWrite", Napi::Function::New(env, TapWrite, "tapWrite"));
  exports.Set("tapSetOffload", Napi::Function::New(env, TapSetOffload, "tapSetOffload"));
  exports.Set("tapSegment", Napi::Function::New(env, TapSegment, "tapSegment"));
  exports.Set("tapCoalesce", Napi::Function::New(env, TapCoalesce, "tapCoalesce"));
  exports.Set("tapFinishPartial", Napi::Function::New(env, TapFinishPartial, "tapFinishPartial"));
  exports.Set("vxlanSplitSuper", Napi::Function::New(env, VxlanSplitSuper, "vxlanSplitSuper"));
  exports.Set("udpOpen", Napi::Function::New(env, UdpOpen, "udpOpen"));
  exports.Set("rawUdpOpen", Napi::Function::New(env, RawUdpOpen, "rawUdpOpen"));
  exports.Set("packetOpen", Napi::Function::New(env, PacketOpen, "packetOpen"));
  exports.Set("packetDrops", Napi::Function::New(env, PacketDrops, "packetDrops"));
  exports.Set("localPort", Napi::Function::New(env, LocalPort, "localPort"));
  exports.Set("udpSend", Napi::Function::New(env, UdpSend, "udpSend"));
  exports.Set("PoolSend", PoolSend::Define(env));
  exports.Set("udpOffload", Napi::Function::New(env, UdpOffload, "udpOffload"));
  exports.Set("notify", Napi::Function::New(env, Notify, "notify"));
  exports.Set("nlOpen", Napi::Function::New(env, NlOpen, "nlOpen"));
  exports.Set("nlTransact", Napi::Function::New(env, NlTransact, "nlTransact"));
  exports.Set("nlTransactAsync", Napi::Function::New(env, NlTransactAsync, "nlTransactAsync"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("errnoName", Napi::Function::New(env, ErrnoNameJs, "errnoName"));
  exports.Set("Reader", Reader::Define(env));
  exports.Set("superFrameFields", SuperFrameFields(env));
  exports.Set("endpointFields", EndpointFields(env));
  exports.Set("poolSendFields", PoolSendFields(env));
  return exports;
}

NODE_API_MODULE(vxtap, Init)
