// sd_notify without libsystemd: one datagram to the service manager.
//
// notify(path, message): sends `message` in one AF_UNIX SOCK_DGRAM datagram
// to `path`, the value of $NOTIFY_SOCKET. A path that starts with '@' is an
// abstract socket (the '@' becomes a NUL byte), as systemd writes it.
// Throws with the errno name when the socket cannot be made or the send
// fails; RangeError for a path longer than sun_path. Blocking: the datagram
// is tiny and the manager reads it at once (systemd's own sd_notify does the
// same).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "io.h"

namespace vxtap {

Napi::Value Notify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "path");
  std::string msg = ArgString(info, 1, "message");
  sockaddr_un addr;
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    throw Napi::RangeError::New(env, "notify: the socket path must be 1.." + std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw ErrnoError(env, errno, "socket", "notify: a unix datagram socket");
  ssize_t n = sendto(fd, msg.data(), msg.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
  int err = errno;
  close(fd);
  if (n < 0) throw ErrnoError(env, err, "sendto", "notify: sending to " + path);
  return env.Undefined();
}

}  // namespace vxtap
