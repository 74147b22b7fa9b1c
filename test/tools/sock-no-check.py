#!/usr/bin/env python3
"""Sets SO_NO_CHECK (no UDP checksum on send) on sockets of another process,
taken with pidfd_getfd(2): the kernel then refuses a UDP GSO send on them
with EINVAL, as it refuses GSO where it cannot offload it. The way a test
makes a kernel without IPsec, whose devices all checksum, refuse
well-formed GSO sends.

  sock-no-check.py PID FD...

Needs root (ptrace access to PID) and Linux 5.6 or later."""
import ctypes
import os
import socket
import sys

SYS_PIDFD_GETFD = 438  # x86_64 and aarch64 alike (the generic syscall table)
SO_NO_CHECK = 11

libc = ctypes.CDLL(None, use_errno=True)
pid = int(sys.argv[1])
pidfd = os.pidfd_open(pid)
for target in sys.argv[2:]:
    fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(target), 0)
    if fd < 0:
        raise OSError(ctypes.get_errno(), f'pidfd_getfd {pid} fd {target}')
    s = socket.socket(fileno=fd)
    s.setsockopt(socket.SOL_SOCKET, SO_NO_CHECK, 1)
    s.close()  # our copy only: the socket stays open in PID
os.close(pidfd)
print('{"ok": true}')
