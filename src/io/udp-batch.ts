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
import type { BatchHandler, CallCounts, DatagramPort, FrameBatch, SendList } from './port';
import { loadAddon, toSystemError, type Addon, type PortErrorHandler, type PortStats } from './native';
import { ReaderControl } from './reader';

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

export class BatchUdpPort implements DatagramPort {
  readonly writesUdpHeader = true;
  private readonly reader: ReaderControl;
  private readonly errOut = new Int32Array(2);
  private closed = false;
  private txSkipped = 0;
  private lastTxError: string | null = null;

  private constructor(
    private readonly addon: Addon,
    /** The bound receive socket. */
    readonly fd: number,
    /** The raw send socket. */
    readonly rawFd: number,
    /** The bound UDP port (the real one when port 0 was asked). */
    readonly localPort: number,
  ) {
    this.reader = new ReaderControl(addon, fd, 'udp');
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

  /** See PortErrorHandler. */
  get onError(): PortErrorHandler | null {
    return this.reader.onError;
  }

  set onError(handler: PortErrorHandler | null) {
    this.reader.onError = handler;
  }

  get calls(): CallCounts {
    return this.reader.calls;
  }

  get stats(): PortStats {
    return { rxTruncated: this.reader.truncated, rxErrors: this.reader.rxErrors, txSkipped: this.txSkipped, lastTxError: this.lastTxError };
  }

  /** Delivers batches of datagrams (payload at the headroom, sender in addrs/ports) until stop() or close(). */
  start(batch: FrameBatch, onBatch: BatchHandler): void {
    if (this.closed) throw new SystemError('recvmmsg', 'EBADF', 'the UDP port is closed');
    this.reader.start(batch, onBatch);
  }

  /** Stops delivering batches; the sockets stay open. */
  stop(): void {
    this.reader.stop();
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
    this.reader.calls.txCalls++;
    this.reader.calls.txFrames += n;
    if (this.errOut[0]! > 0) {
      this.txSkipped += this.errOut[0]!;
      this.lastTxError = this.addon.errnoName(this.errOut[1]!);
    }
    return n;
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
