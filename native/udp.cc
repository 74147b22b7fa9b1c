// UDP sockets: the bound receive socket (read by a Reader with recvmmsg), the
// raw send socket whose UDP header the caller writes, and batched send.
//
// UDP GSO sends and offload probes are in udp-pool.cc.
#include "endpoints.h"
#include "io.h"
#include "stamps.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace vxtap {

namespace {

// Closes fd on scope exit unless released: an open that fails half-way leaks nothing.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() { if (fd_ >= 0) close(fd_); }
  int release() { int fd = fd_; fd_ = -1; return fd; }
 private:
  int fd_;
};

// Sets a buffer size: the *FORCE option first (root / CAP_NET_ADMIN may pass
// net.core.[rw]mem_max), the plain one if that is not permitted.
void SetBuf(Napi::Env env, int fd, int forceOpt, int opt, const char* name, Napi::Value v) {
  if (v.IsUndefined() || v.IsNull()) return;
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d > 0 && d <= INT32_MAX)) throw Napi::RangeError::New(env, std::string(name) + " must be in 1 .. 2^31-1");
  int size = static_cast<int>(d);
  if (setsockopt(fd, SOL_SOCKET, forceOpt, &size, sizeof size) == 0) return;
  if (errno != EPERM) throw ErrnoError(env, errno, "setsockopt", std::string("setsockopt ") + name + "FORCE");
  if (setsockopt(fd, SOL_SOCKET, opt, &size, sizeof size) != 0) {
    throw ErrnoError(env, errno, "setsockopt", std::string("setsockopt ") + name);
  }
}

// A classic BPF filter that accepts nothing (one `ret #0`) on a send-only
// socket, so what arrives for it is never queued; anything queued before the
// filter is drained.
void AttachDropAll(Napi::Env env, int fd) {
  sock_filter dropAll[1] = {{BPF_RET | BPF_K, 0, 0, 0}};
  sock_fprog prog{1, dropAll};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) {
    throw ErrnoError(env, errno, "setsockopt", "setsockopt SO_ATTACH_FILTER");
  }
  uint8_t sink[1];
  while (recv(fd, sink, sizeof sink, MSG_DONTWAIT | MSG_TRUNC) >= 0) {
  }
}

// Outer datagrams leave without DF, as kernel vxlan's do by default (df
// unset): an underlay MTU smaller than planned fragments them instead of
// failing the send with EMSGSIZE. (A UDP GSO send whose segments exceed the
// MTU is still refused, EINVAL: udp-pool.cc then sends them one by one.)
// IPv6 has no DF bit (routers never fragment): IPV6_PMTUDISC_DONT lets this
// host fragment at the interface MTU instead of refusing, the closest match.
void AllowFragments(Napi::Env env, int fd, int family = AF_INET) {
  if (family == AF_INET6) {
    int mode = IPV6_PMTUDISC_DONT;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &mode, sizeof mode) != 0) {
      throw ErrnoError(env, errno, "setsockopt", "setsockopt IPV6_MTU_DISCOVER");
    }
    return;
  }
  int mode = IP_PMTUDISC_DONT;
  if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &mode, sizeof mode) != 0) {
    throw ErrnoError(env, errno, "setsockopt", "setsockopt IP_MTU_DISCOVER");
  }
}

// An address to bind: IPv4 or IPv6 text (IPv6 without a zone), as the
// sockaddr of its family. Throws TypeError for anything else.
struct BindAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
};
BindAddr ParseBindAddr(Napi::Env env, const std::string& text, uint32_t port, const char* name) {
  BindAddr b;
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&b.ss);
  if (text.find(':') != std::string::npos) {
    if (inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) != 1) {
      throw Napi::TypeError::New(env, std::string(name) + " is not an IPv4 or IPv6 address: \"" + text + "\"");
    }
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    b.len = sizeof(sockaddr_in6);
    b.family = AF_INET6;
    return b;
  }
  auto* in4 = reinterpret_cast<sockaddr_in*>(&b.ss);
  in4->sin_family = AF_INET;
  in4->sin_addr.s_addr = ParseIpv4(env, text, name);
  in4->sin_port = htons(static_cast<uint16_t>(port));
  b.len = sizeof(sockaddr_in);
  return b;
}

Napi::Object ArgOpts(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined()) return Napi::Object::New(info.Env());
  if (!info[i].IsObject()) throw Napi::TypeError::New(info.Env(), "opts must be an object");
  return info[i].As<Napi::Object>();
}

// Per-thread scratch for udpSend, grown to the largest batch seen and then
// reused: no allocation per call once warm, none per datagram.
struct SendScratch {
  std::vector<mmsghdr> msgs;
  std::vector<iovec> iov;
  void Reserve(size_t n) {
    if (msgs.size() >= n) return;
    msgs.resize(n);
    iov.resize(n);
  }
};
thread_local SendScratch scratch;

// The kernel caps one sendmmsg at UIO_MAXIOV messages; the loop goes on from there.
constexpr unsigned kMaxPerCall = 1024;

}  // namespace

// udpOpen(ip: string, port: number, opts?: {rcvbuf?: number, sndbuf?: number, sendOnly?: boolean}): number
//   A UDP socket (AF_INET, SOCK_DGRAM, nonblocking, cloexec; AF_INET6 with
//   IPV6_V6ONLY when ip is IPv6, '::' = any: a VTEP's underlay is one family,
//   so no IPv4-mapped senders reach it) with the given
//   buffer sizes (SO_RCVBUFFORCE/SO_SNDBUFFORCE first, SO_RCVBUF/SO_SNDBUF if
//   EPERM; the kernel doubles the value), bound to ip:port ('0.0.0.0' = any
//   address, port 0 = ephemeral: read it with localPort). Returns the fd.
//   sendOnly: a drop-all filter (as on the raw socket) so that nothing
//   received for its port is queued, and no DF (AllowFragments): the send
//   pool, udp-pool.cc.
//   Throws TypeError for a bad ip, errno errors otherwise (EADDRINUSE,
//   EADDRNOTAVAIL: syscall "bind", message "bind 10.0.0.1:4789: ...").
Napi::Value UdpOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ip = ArgString(info, 0, "ip");
  uint32_t port = ArgU32(info, 1, "port");
  if (port > 65535) throw Napi::RangeError::New(env, "port must be in 0 .. 65535");
  Napi::Object opts = ArgOpts(info, 2);
  const BindAddr at = ParseBindAddr(env, ip, port, "ip");

  int raw = socket(at.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (raw < 0) throw ErrnoError(env, errno, "socket", at.family == AF_INET6 ? "socket(AF_INET6, SOCK_DGRAM)" : "socket(AF_INET, SOCK_DGRAM)");
  FdGuard guard(raw);
  if (at.family == AF_INET6) {
    int one = 1;
    if (setsockopt(raw, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) {
      throw ErrnoError(env, errno, "setsockopt", "setsockopt IPV6_V6ONLY");
    }
  }
  SetBuf(env, raw, SO_RCVBUFFORCE, SO_RCVBUF, "SO_RCVBUF", opts.Get("rcvbuf"));
  SetBuf(env, raw, SO_SNDBUFFORCE, SO_SNDBUF, "SO_SNDBUF", opts.Get("sndbuf"));
  Napi::Value sendOnly = opts.Get("sendOnly");
  if (sendOnly.IsBoolean() && sendOnly.As<Napi::Boolean>().Value()) {
    AttachDropAll(env, raw);
    AllowFragments(env, raw, at.family);
  }
  if (bind(raw, reinterpret_cast<const sockaddr*>(&at.ss), at.len) != 0) {
    const std::string where = at.family == AF_INET6 ? "[" + ip + "]:" + std::to_string(port) : ip + ":" + std::to_string(port);
    throw ErrnoError(env, errno, "bind", "bind " + where);
  }
  return Napi::Number::New(env, guard.release());
}

// rawUdpOpen(srcIp: string, opts?: {sndbuf?: number}): number
//   socket(AF_INET, SOCK_RAW, IPPROTO_UDP), nonblocking, cloexec, for
//   sending only: the caller writes the 8-byte UDP header (checksum 0 is
//   valid over IPv4, and what the kernel's vxlan sends by default), so the
//   source port can differ per inner flow (RFC 7348 section 5); the kernel
//   writes the IPv4 header. Bound to srcIp (the IPv4 source) unless it is
//   '0.0.0.0' (then the route picks it). IPv4 only: an IPv6 srcIp is a
//   TypeError (a raw IPv6 socket takes msg_name's port as the protocol
//   number, so the endpoint records could not be sent to as they are, and
//   a zero UDP checksum is not valid over IPv6): an IPv6 underlay sends
//   through the send pool (udp-pool.cc). A drop-all filter (AttachDropAll)
//   keeps received UDP from ever being copied onto this socket; datagrams
//   leave without DF (AllowFragments). Needs
//   CAP_NET_RAW: EPERM otherwise (syscall "socket").
Napi::Value RawUdpOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ip = ArgString(info, 0, "srcIp");
  Napi::Object opts = ArgOpts(info, 1);
  uint32_t addr = ParseIpv4(env, ip, "srcIp");

  int raw = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (raw < 0) throw ErrnoError(env, errno, "socket", "socket(AF_INET, SOCK_RAW, IPPROTO_UDP)");
  FdGuard guard(raw);
  AttachDropAll(env, raw);
  AllowFragments(env, raw);
  SetBuf(env, raw, SO_SNDBUFFORCE, SO_SNDBUF, "SO_SNDBUF", opts.Get("sndbuf"));
  if (addr != htonl(INADDR_ANY)) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = addr;
    if (bind(raw, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      throw ErrnoError(env, errno, "bind", "bind raw " + ip);
    }
  }
  return Napi::Number::New(env, guard.release());
}

// localPort(fd): number — the bound UDP port (getsockname), e.g. after port 0;
//   either family (sin_port and sin6_port sit at the same offset).
Napi::Value LocalPort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  sockaddr_in6 sa{};
  socklen_t len = sizeof sa;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    throw ErrnoError(env, errno, "getsockname", "getsockname fd " + std::to_string(fd));
  }
  return Napi::Number::New(env, ntohs(sa.sin6_port));
}

// udpSend(fd, slab: Buffer, starts: Uint32Array, lens: Uint32Array,
//         endpoints: Buffer, eps: Int32Array, count, errOut?: Int32Array,
//         status?: Int32Array): number
//   Sends datagram k < count = slab[starts[k], starts[k] + lens[k]) to the
//   endpoint record eps[k] of the table `endpoints` (endpoints.h: msg_name
//   points at the record, msg_namelen is its family's) with
//   sendmmsg(MSG_DONTWAIT), one call for the batch (more only if the kernel
//   takes part of it, or past 1024). Returns how many the kernel accepted.
//   An index outside the table, or naming an empty record (a released
//   one: family 0), is a RangeError before any send. Stops at
//   EAGAIN/ENOBUFS (the caller counts the rest as drops); retries EINTR.
//   A datagram refused for its own sake (EHOSTUNREACH, ENETUNREACH,
//   EMSGSIZE, EPERM from a firewall, EINVAL for port 0, ...) is skipped and
//   counted: errOut[0] = skipped, errOut[1] = last such errno. status
//   (length >= count; common.h: ArgStatus) says which: status[k] = 0 when
//   datagram k was accepted, else the errno that kept it out (its own
//   refusal; EAGAIN/ENOBUFS for it and every later one once the socket
//   buffer was full). The return value counts the zeros, not a prefix: a
//   refused datagram may sit before sent ones. Throws only when the fd is
//   unusable (IsFdFatal), with `sent` = datagrams sent before and status[k]
//   = that errno from the first datagram not sent.
//   On a raw socket (rawUdpOpen) the span starts with the caller's UDP
//   header and the kernel ignores the record's port (it reads only the address).
Napi::Value UdpSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  Napi::Buffer<uint8_t> slab = ArgBuffer(info, 1, "slab");
  uint32_t count = ArgU32(info, 6, "count");
  Napi::Uint32Array starts = ArgU32Array(info, 2, "starts", count);
  Napi::Uint32Array lens = ArgU32Array(info, 3, "lens", count);
  Napi::Buffer<uint8_t> table = ArgBuffer(info, 4, "endpoints");
  const int32_t* eps = ArgI32Array(info, 5, "eps", count).Data();
  int32_t* errOut = ArgErrOut(info, 7);
  int32_t* status = ArgStatus(info, 8, count);
  const SendStamps stamps(StampSide::kUdp, count);
  CheckSpans(env, slab.Length(), starts.Data(), lens.Data(), count);
  const EndpointView ep(table.Data(), table.Length());
  CheckEndpoints(env, table.Data(), table.Length(), eps, count);

  SendScratch& s = scratch;
  s.Reserve(count);
  uint8_t* base = slab.Data();
  for (uint32_t k = 0; k < count; k++) {
    s.iov[k].iov_base = base + starts[k];
    s.iov[k].iov_len = lens[k];
    msghdr& h = s.msgs[k].msg_hdr;
    h.msg_name = ep.Name(eps[k]);
    h.msg_namelen = ep.NameLen(eps[k]);
    h.msg_iov = &s.iov[k];
    h.msg_iovlen = 1;
    h.msg_control = nullptr;
    h.msg_controllen = 0;
    h.msg_flags = 0;
  }

  uint32_t done = 0, sent = 0;
  int32_t skipped = 0, lastErr = 0;
  while (done < count) {
    unsigned n = std::min<unsigned>(count - done, kMaxPerCall);
    int r = sendmmsg(fd, &s.msgs[done], n, MSG_DONTWAIT);
    if (r > 0) {
      MarkStatus(status, done, static_cast<uint32_t>(r), 0);
      done += static_cast<uint32_t>(r);
      sent += static_cast<uint32_t>(r);
      continue;
    }
    int err = r == 0 ? EAGAIN : errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
      MarkStatus(status, done, count - done, err);  // not tried: the buffer is full
      break;
    }
    if (IsFdFatal(err)) {
      MarkStatus(status, done, count - done, err);
      if (errOut != nullptr) { errOut[0] = skipped; errOut[1] = lastErr; }
      Napi::Error e = ErrnoError(env, err, "sendmmsg", "sendmmsg fd " + std::to_string(fd));
      e.Set("sent", Napi::Number::New(env, sent));
      throw e;
    }
    // sendmmsg reports an error only for the first message of a call: that
    // one (msgs[done]) was refused. Skip it, go on with the rest.
    MarkStatus(status, done, 1, err);
    skipped++;
    lastErr = err;
    done++;
  }
  if (errOut != nullptr) { errOut[0] = skipped; errOut[1] = lastErr; }
  return Napi::Number::New(env, sent);
}

}  // namespace vxtap
