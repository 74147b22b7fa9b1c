// rtnetlink transport: one socket, one request at a time, the reply bytes
// handed to JavaScript whole. The codec (building requests, parsing replies)
// is src/wire/netlink.ts; the typed calls are src/control/rtnl.ts.
//
// nlOpen(timeoutMs: number): number
//   socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), bound with
//   nl_pid 0 (the kernel picks the port id). SO_RCVTIMEO and SO_SNDTIMEO are
//   set to timeoutMs (0: wait forever). NETLINK_EXT_ACK (the kernel's error
//   text in acks) and NETLINK_CAP_ACK (an ack echoes only the request's
//   header, not its payload) are asked for and silently left off when the
//   kernel lacks them: both only change what an ack carries, and the codec
//   reads either form. Joins no multicast group, so nothing arrives that was
//   not asked for. Unlike the data-plane fds this one is BLOCKING: see below.
//   Returns the fd; close it with close(fd).
//   Throws: the errno of socket/bind/setsockopt(SO_RCVTIMEO) (EMFILE, EPERM).
//
// nlTransact(fd, request: Buffer): Buffer
//   Sends `request`, which must be exactly one netlink message (nlmsg_len ==
//   its length, at least the 16-byte header), to the kernel; then receives
//   until that request is answered and returns the bytes of every message
//   whose nlmsg_seq is the request's and whose nlmsg_pid is this socket's
//   port id, in order, each at its NLMSG_ALIGN'ed offset as the kernel sent
//   it. Messages of any other sequence number (the late answer to a request
//   that timed out earlier) are skipped. "Answered" means:
//     - a dump (NLM_F_DUMP in the request): NLMSG_DONE or NLMSG_ERROR;
//     - NLM_F_ACK in the request: NLMSG_ERROR (the ack, error 0, or the error);
//     - otherwise: the first message of that sequence number.
//   A datagram larger than the receive buffer is not lost: each receive peeks
//   with MSG_PEEK | MSG_TRUNC first and the buffer grows to fit.
//   The returned bytes are not checked beyond the headers needed to walk
//   them (a header whose length runs past the datagram ends the walk of that
//   datagram, and is returned as is for the codec to refuse).
//   Throws: EAGAIN on timeout (no datagram within timeoutMs; syscall "recv"
//   or "sendto"), EINVAL (syscall "nlTransact") for a request that is not one
//   message, otherwise the errno of sendto/recv (ENOBUFS: the socket
//   overran, EBADF). A kernel refusal is NOT thrown: it is an NLMSG_ERROR in
//   the returned bytes, with the kernel's errno and extended ack, for the
//   codec to read.
//
// nlTransactAsync(fd, request: Buffer): Promise<Buffer>
//   The same transaction on a libuv pool thread; resolves with the same
//   bytes, rejects with the same errors. The request is copied first, so the
//   caller may reuse its Buffer at once. It holds one libuv pool thread (4
//   by default, shared with fs and dns) while it waits, at most timeoutMs per
//   receive. Two transactions on one fd must not
//   overlap (their receives would steal each other's datagrams): the caller
//   serialises them (src/control/rtnl.ts queues them), and must not close
//   the fd while one runs.
//
// Why blocking, and why that is acceptable: rtnetlink answers a request in
// the sender's own system call (the kernel runs the handler inside sendmsg,
// and fills the next part of a dump inside recvmsg), so a transaction waits
// for kernel work, not for a network. The only unbounded wait is for the
// rtnl lock, held by another process's slow change; SO_SNDTIMEO/SO_RCVTIMEO
// bound the socket waits, not that lock. The control plane changes a handful
// of routes per peer event, so the synchronous form is fine for tools and
// tests, and the daemon uses the async form so that even a long rtnl-lock
// wait never stalls the event loop.
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "io.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

namespace vxtap {

namespace {

// A failed step of a transaction, thrown on whichever thread runs it and
// turned into an ErrnoError on the JS thread.
struct NlFailure {
  int err;
  const char* syscall;
  std::string what;
};

// The receive buffer starts at 32 KB, the size of the largest dump datagram
// seen here (the kernel sizes dump datagrams to the reader's buffer); one link
// message with its stats is about 1.5 KB. The MSG_TRUNC peek covers the rest.
constexpr size_t kInitialRecv = 32768;

uint32_t Get32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

uint16_t Get16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// The whole transaction; no N-API calls, so it may run on a pool thread.
std::vector<uint8_t> Transact(int fd, const uint8_t* req, size_t reqLen) {
  if (reqLen < NLMSG_HDRLEN || Get32(req) != reqLen) {
    throw NlFailure{EINVAL, "nlTransact",
                    "nlTransact: the request must be one netlink message (nlmsg_len " +
                        std::to_string(reqLen >= 4 ? Get32(req) : 0) + ", " + std::to_string(reqLen) + " bytes given)"};
  }
  const uint16_t reqFlags = Get16(req + 6);
  const uint32_t seq = Get32(req + 8);
  const bool dump = (reqFlags & NLM_F_DUMP) == NLM_F_DUMP;
  const bool ack = (reqFlags & NLM_F_ACK) != 0;

  sockaddr_nl self{};
  socklen_t selfLen = sizeof self;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&self), &selfLen) != 0) {
    throw NlFailure{errno, "getsockname", "nlTransact: reading the socket's port id"};
  }

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    ssize_t n = sendto(fd, req, reqLen, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    throw NlFailure{errno, "sendto", "nlTransact: sending the request (seq " + std::to_string(seq) + ")"};
  }

  std::vector<uint8_t> out;
  std::vector<uint8_t> buf(kInitialRecv);
  for (;;) {
    ssize_t n = recv(fd, buf.data(), buf.size(), MSG_PEEK | MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw NlFailure{errno, "recv", "nlTransact: waiting for the answer to seq " + std::to_string(seq)};
    }
    if (static_cast<size_t>(n) > buf.size()) {
      buf.resize(static_cast<size_t>(n));
      continue;  // peek again: nothing was taken off the queue
    }
    do {
      n = recv(fd, buf.data(), buf.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) throw NlFailure{errno, "recv", "nlTransact: reading the answer to seq " + std::to_string(seq)};

    bool answered = false;
    size_t off = 0;
    const size_t len = static_cast<size_t>(n);
    while (off + NLMSG_HDRLEN <= len) {
      const uint8_t* h = buf.data() + off;
      const uint32_t mlen = Get32(h);
      const uint16_t type = Get16(h + 4);
      const uint32_t mseq = Get32(h + 8);
      const uint32_t mpid = Get32(h + 12);
      const bool ours = mseq == seq && mpid == self.nl_pid;
      if (mlen < NLMSG_HDRLEN || mlen > len - off) {
        // Malformed: hand the rest over for the codec to name, and stop.
        if (mseq == seq) {
          out.insert(out.end(), h, static_cast<const uint8_t*>(buf.data()) + len);
          answered = true;
        }
        break;
      }
      const size_t step = NLMSG_ALIGN(mlen) <= len - off ? NLMSG_ALIGN(mlen) : len - off;
      if (ours) {
        out.insert(out.end(), h, h + step);
        if (type == NLMSG_ERROR || (dump && type == NLMSG_DONE) || (!dump && !ack)) answered = true;
      }
      off += step;
      if (answered) break;
    }
    if (answered) return out;
  }
}

}  // namespace

Napi::Value NlOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t timeoutMs = ArgU32(info, 0, "timeoutMs");
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) throw ErrnoError(env, errno, "socket", "nlOpen: an AF_NETLINK NETLINK_ROUTE socket");
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    close(fd);
    throw ErrnoError(env, err, "bind", "nlOpen: binding the netlink socket");
  }
  timeval tv{};
  tv.tv_sec = timeoutMs / 1000;
  tv.tv_usec = static_cast<suseconds_t>(timeoutMs % 1000) * 1000;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
    int err = errno;
    close(fd);
    throw ErrnoError(env, err, "setsockopt", "nlOpen: SO_RCVTIMEO/SO_SNDTIMEO " + std::to_string(timeoutMs) + " ms");
  }
  int one = 1;
  // Best effort (see the contract): older kernels answer ENOPROTOOPT.
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  return Napi::Number::New(env, fd);
}

Napi::Value NlTransact(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  Napi::Buffer<uint8_t> req = ArgBuffer(info, 1, "request");
  std::vector<uint8_t> out;
  try {
    out = Transact(fd, req.Data(), req.Length());
  } catch (const NlFailure& f) {
    throw ErrnoError(env, f.err, f.syscall, f.what);
  }
  return Napi::Buffer<uint8_t>::Copy(env, out.data(), out.size());
}

namespace {

class TransactWorker : public Napi::AsyncWorker {
 public:
  TransactWorker(Napi::Env env, int fd, const uint8_t* req, size_t len)
      : Napi::AsyncWorker(env, "vxtap.nlTransact"), deferred_(Napi::Promise::Deferred::New(env)), fd_(fd),
        req_(req, req + len) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      out_ = Transact(fd_, req_.data(), req_.size());
    } catch (const NlFailure& f) {
      failure_ = f;
      failed_ = true;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (failed_) {
      deferred_.Reject(ErrnoError(env, failure_.err, failure_.syscall, failure_.what).Value());
      return;
    }
    deferred_.Resolve(Napi::Buffer<uint8_t>::Copy(env, out_.data(), out_.size()));
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  int fd_;
  std::vector<uint8_t> req_;
  std::vector<uint8_t> out_;
  NlFailure failure_{0, "", ""};
  bool failed_ = false;
};

}  // namespace

Napi::Value NlTransactAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  Napi::Buffer<uint8_t> req = ArgBuffer(info, 1, "request");
  auto* w = new TransactWorker(env, fd, req.Data(), req.Length());
  Napi::Promise p = w->Promise();
  w->Queue();  // the worker deletes itself after OnOK/OnError
  return p;
}

}  // namespace vxtap
