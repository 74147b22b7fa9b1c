// TAP devices: open/attach (TUNSETIFF) and batched write.
//
// Later work (not built yet): IFF_VNET_HDR + TUNSETOFFLOAD would add a
// virtio_net_hdr in front of each frame; the reader's headroom already leaves
// the room for it.
#include "io.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vxtap {

// tapOpen(name: string): {fd: number, name: string}
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
Napi::Value TapOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ArgString(info, 0, "name");
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
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    throw ErrnoError(env, err, "ioctl(TUNSETIFF)", "TUNSETIFF " + (name.empty() ? std::string("(kernel-picked)") : name));
  }
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("name", Napi::String::New(env, ifr.ifr_name));
  return out;
}

// tapWrite(fd, slab: Buffer, starts: Uint32Array, lens: Uint32Array, count, errOut?: Int32Array): number
//   Writes frames k < count, frame k = slab[starts[k], starts[k] + lens[k]),
//   one write() per frame (a TAP takes one frame per write). Returns how many
//   the kernel took. Stops at EAGAIN/ENOBUFS: the caller counts the rest as
//   drops. EINTR is retried. A frame the kernel refuses for its own sake
//   (EINVAL: shorter than an Ethernet header; EIO, ENOMEM, ...) is skipped
//   and counted: errOut[0] = skipped frames, errOut[1] = last such errno.
//   Throws only when the fd itself is unusable (EBADF, EBADFD after the
//   device is deleted, ...; see IsFdFatal), with `written` = frames written
//   before. Spans outside the slab throw RangeError before any write.
Napi::Value TapWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  Napi::Buffer<uint8_t> slab = ArgBuffer(info, 1, "slab");
  uint32_t count = ArgU32(info, 4, "count");
  Napi::Uint32Array starts = ArgU32Array(info, 2, "starts", count);
  Napi::Uint32Array lens = ArgU32Array(info, 3, "lens", count);
  int32_t* errOut = ArgErrOut(info, 5);
  CheckSpans(env, slab.Length(), starts.Data(), lens.Data(), count);

  const uint8_t* base = slab.Data();
  const uint32_t* st = starts.Data();
  const uint32_t* ln = lens.Data();
  uint32_t written = 0;
  int32_t skipped = 0, lastErr = 0;
  for (uint32_t k = 0; k < count;) {
    ssize_t r = write(fd, base + st[k], ln[k]);
    if (r >= 0) {
      written++;
      k++;
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) break;
    if (IsFdFatal(err)) {
      if (errOut != nullptr) { errOut[0] = skipped; errOut[1] = lastErr; }
      Napi::Error e = ErrnoError(env, err, "write", "write to TAP fd " + std::to_string(fd));
      e.Set("written", Napi::Number::New(env, written));
      throw e;
    }
    skipped++;
    lastErr = err;
    k++;
  }
  if (errOut != nullptr) { errOut[0] = skipped; errOut[1] = lastErr; }
  return Napi::Number::New(env, written);
}

}  // namespace vxtap
