/**
 * BatchUdpPort: the VXLAN underlay over the addon. Receives on a bound UDP
 * socket with recvmmsg (a batch per event-loop wakeup), sends through a raw
 * IPPROTO_UDP socket with sendmmsg (a batch per call).
 *
 * The raw socket is why `writesUdpHeader` is true: the caller writes the
 * 8-byte UDP header in the headroom (source port = a hash of the inner flow,
 * RFC 7348 section 5, so ECMP spreads flows; destination port; length;
 * checksum 0, valid over IPv4), and the kernel adds the IPv4 header. Opening
 * it needs CAP_NET_RAW (root).
 */
import { SystemError } from '../errors';
import type { DatagramPort, SendList } from './port';
import { loadAddon, toSystemError, type Addon } from './native';
import { NativePort } from './native-port';

export interface BatchUdpOptions {
  /** Address to receive on ('0.0.0.0' = all). */
  bindIp: string;
  /** UDP port to receive on (4789 for VXLAN; 0 = ephemeral, see localPort). */
  port: number;
  /** IPv4 source of sent datagrams. Default: bindIp, or the route's choice when bindIp is '0.0.0.0'. */
  srcIp?: string;
  /** Receive buffer in bytes (SO_RCVBUFFORCE as root). */
  rcvbuf?: number;
  /** Send buffer in bytes (SO_SNDBUFFORCE as root). */
  sndbuf?: number;
}

export class BatchUdpPort extends NativePort implements DatagramPort {
  readonly writesUdpHeader = true;

  private constructor(
    addon: Addon,
    /** The bound receive socket. */
    readonly fd: number,
    /** The raw send socket. */
    readonly rawFd: number,
    /** The bound UDP port (the real one when port 0 was asked). */
    readonly localPort: number,
  ) {
    super(addon, fd, 'udp', 'the UDP port');
  }

  /** Opens both sockets. Throws SystemError (EADDRINUSE, EADDRNOTAVAIL, EPERM without CAP_NET_RAW, ...). */
  static open(opts: BatchUdpOptions): BatchUdpPort {
    const addon = loadAddon();
    const bufs = { rcvbuf: opts.rcvbuf, sndbuf: opts.sndbuf };
    let fd = -1;
    try {
      fd = addon.udpOpen(opts.bindIp, opts.port, bufs);
      const rawFd = addon.rawUdpOpen(opts.srcIp ?? opts.bindIp, { sndbuf: opts.sndbuf });
      return new BatchUdpPort(addon, fd, rawFd, addon.localPort(fd));
    } catch (err) {
      if (fd >= 0) addon.close(fd);
      throw toSystemError(err);
    }
  }


  /**
   * Sends each span (UDP header first) to list.addrs[k] with one sendmmsg.
   * list.ports is not used by the kernel here: the destination port is the
   * one in the caller's UDP header. Returns how many were sent; the rest are
   * drops (after EAGAIN, or refused one by one: stats.txSkipped).
   */
  send(slab: Buffer, list: SendList): number {
    if (this.closed) throw new SystemError('sendmmsg', 'EBADF', 'send on a closed UDP port');
    if (list.count === 0) return 0;
    let n: number;
    try {
      n = this.addon.udpSend(this.rawFd, slab, list.starts, list.lens, list.addrs, list.ports, list.count, this.errOut);
    } catch (err) {
      throw toSystemError(err);
    }
    return this.afterTx(n);
  }

  /** Stops the reader, then closes both sockets. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.stop();
    try {
      this.addon.close(this.fd);
      this.addon.close(this.rawFd);
    } catch (err) {
      throw toSystemError(err);
    }
  }
}
